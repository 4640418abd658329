"""Sinusoid regression tasks (Finn et al., 2017, section 5.1).

A task is ``y = A sin(x - phi)`` with amplitude ``A ~ U[0.1, 5]``, phase ``phi ~ U[0, pi]`` and
inputs ``x ~ U[-5, 5]``; a K-shot episode holds K support and ``n_query`` query points of one task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..episodes import Episode
from .regression import TaskFamily


@dataclass(frozen=True)
class SinusoidTask:
    """One task ``y = amplitude * sin(x - phase)``."""

    amplitude: float
    phase: float

    def __call__(self, x: Tensor) -> Tensor:
        return self.amplitude * torch.sin(x - self.phase)


@dataclass(frozen=True)
class Sinusoid(TaskFamily):
    """The family of sinusoid tasks; ranges default to MAML's. Episode streams come from
    :class:`~metalearn_lib.datasets.regression.TaskFamily`."""

    amplitude_range: tuple[float, float] = (0.1, 5.0)
    phase_range: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)

    def sample_task(self, generator: torch.Generator | None = None) -> SinusoidTask:
        a, p = torch.rand(2, generator=generator, dtype=torch.float64).tolist()
        (a0, a1), (p0, p1) = self.amplitude_range, self.phase_range
        return SinusoidTask(a0 + (a1 - a0) * a, p0 + (p1 - p0) * p)

    def sample_x(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``(n, 1)`` inputs drawn uniformly from ``x_range``."""
        lo, hi = self.x_range
        return lo + (hi - lo) * torch.rand(n, 1, generator=generator)

    def episode_for(self, task: SinusoidTask, k_shot: int, n_query: int, generator: torch.Generator | None = None) -> Episode:
        """K support and ``n_query`` query points of ``task``: x and y are ``(k, 1)`` float32."""
        if k_shot < 1 or n_query < 1:
            raise ValueError(f"need k_shot >= 1 and n_query >= 1, got {k_shot} and {n_query}")
        x = self.sample_x(k_shot + n_query, generator)
        y = task(x)
        return Episode(x[:k_shot], y[:k_shot], x[k_shot:], y[k_shot:])
