"""The unit of meta-learning: one task, split into a support set and a query set."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Episode:
    """One few-shot task.

    Classification: ``support_x`` is ``(n_way * k_shot, C, H, W)`` float, ``support_y`` is
    ``(n_way * k_shot,)`` int64 with labels ``0 .. n_way - 1``; ``query_x`` / ``query_y`` likewise
    with ``n_way * n_query`` rows. Regression: ``x`` is ``(k, d_in)`` and ``y`` is ``(k, d_out)`` float.
    Examples are grouped by class in support order (class 0 first), which plotting relies on.
    """

    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor

    def __post_init__(self) -> None:
        if self.support_x.shape[0] != self.support_y.shape[0]:
            raise ValueError(
                f"support_x has {self.support_x.shape[0]} rows but support_y has {self.support_y.shape[0]}"
            )
        if self.query_x.shape[0] != self.query_y.shape[0]:
            raise ValueError(f"query_x has {self.query_x.shape[0]} rows but query_y has {self.query_y.shape[0]}")
        if self.support_x.shape[1:] != self.query_x.shape[1:]:
            raise ValueError(
                f"support_x examples are {tuple(self.support_x.shape[1:])} "
                f"but query_x examples are {tuple(self.query_x.shape[1:])}"
            )

    @property
    def is_classification(self) -> bool:
        return not torch.is_floating_point(self.support_y)

    @property
    def n_way(self) -> int:
        """Number of classes (classification episodes only)."""
        if not self.is_classification:
            raise ValueError("n_way is defined for classification episodes only (labels are float here)")
        return int(self.support_y.max().item()) + 1

    @property
    def k_shot(self) -> int:
        """Support examples per class (classification) or support size (regression)."""
        if not self.is_classification:
            return self.support_x.shape[0]
        return self.support_x.shape[0] // self.n_way

    def to(self, device: torch.device | str) -> "Episode":
        """A copy with every tensor on ``device``."""
        return Episode(*(t.to(device) for t in (self.support_x, self.support_y, self.query_x, self.query_y)))
