"""A synthetic family of users, each rating items by their own taste: few-shot personalisation.

Items are points ``x`` in a 2-D feature space (think of dishes placed by sweetness and spiciness).
Each user follows the *ideal-point* model of preference (Coombs, 1964): they have a favourite spot
``c`` in that space, and their rating falls off with the distance to it,

    rating(x) = 1 + b + 3 exp(-||x - c||^2 / (2 w^2)) + noise,

with ``c ~ U[-1, 1]^2``, a tolerance ``w ~ U[0.3, 0.7]``, a personal generosity ``b ~ U[0, 1]`` and
Gaussian noise. A K-shot episode is a new user who has rated K items (support) and whose ratings of
``n_query`` other items are to be predicted (query). Averaged over users the ratings are nearly flat,
so a single global model cannot personalise without adapting.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..episodes import Episode
from .regression import TaskFamily


@dataclass(frozen=True)
class UserPreference:
    """One user: favourite point ``ideal``, tolerance ``width``, generosity ``base``."""

    ideal: tuple[float, float]
    width: float
    base: float

    def __call__(self, items: Tensor) -> Tensor:
        """Noise-free ratings ``(n, 1)`` of items ``(n, 2)``, between ``1 + base`` and ``4 + base``."""
        d2 = (items - torch.tensor(self.ideal, dtype=items.dtype)).pow(2).sum(-1, keepdim=True)
        return 1 + self.base + 3 * torch.exp(-d2 / (2 * self.width**2))


@dataclass(frozen=True)
class Preferences(TaskFamily):
    """The family of users; ``noise`` is the standard deviation of observed ratings around the model."""

    ideal_range: tuple[float, float] = (-1.0, 1.0)
    width_range: tuple[float, float] = (0.3, 0.7)
    base_range: tuple[float, float] = (0.0, 1.0)
    item_range: tuple[float, float] = (-1.0, 1.0)
    noise: float = 0.2

    def sample_task(self, generator: torch.Generator | None = None) -> UserPreference:
        u = torch.rand(4, generator=generator, dtype=torch.float64).tolist()
        lerp = lambda r, t: r[0] + (r[1] - r[0]) * t  # noqa: E731
        ideal = (lerp(self.ideal_range, u[0]), lerp(self.ideal_range, u[1]))
        return UserPreference(ideal, lerp(self.width_range, u[2]), lerp(self.base_range, u[3]))

    def sample_items(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``(n, 2)`` item features drawn uniformly from ``item_range`` squared."""
        lo, hi = self.item_range
        return lo + (hi - lo) * torch.rand(n, 2, generator=generator)

    def episode_for(
        self, task: UserPreference, k_shot: int, n_query: int, generator: torch.Generator | None = None,
    ) -> Episode:
        """``k_shot`` rated items (support) and ``n_query`` items to predict (query) of one user:
        x ``(k, 2)`` and noisy ratings y ``(k, 1)``, float32."""
        if k_shot < 1 or n_query < 1:
            raise ValueError(f"need k_shot >= 1 and n_query >= 1, got {k_shot} and {n_query}")
        x = self.sample_items(k_shot + n_query, generator)
        y = task(x) + self.noise * torch.randn(k_shot + n_query, 1, generator=generator)
        return Episode(x[:k_shot], y[:k_shot], x[k_shot:], y[k_shot:])
