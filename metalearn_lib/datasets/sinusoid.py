"""Sinusoid regression tasks (Finn et al., 2017, section 5.1).

A task is ``y = A sin(x - phi)`` with amplitude ``A ~ U[0.1, 5]``, phase ``phi ~ U[0, pi]`` and
inputs ``x ~ U[-5, 5]``; a K-shot episode holds K support and ``n_query`` query points of one task.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from ..episodes import Episode
from ..sampling import FixedEpisodes, episode_stream


@dataclass(frozen=True)
class SinusoidTask:
    """One task ``y = amplitude * sin(x - phase)``."""

    amplitude: float
    phase: float

    def __call__(self, x: Tensor) -> Tensor:
        return self.amplitude * torch.sin(x - self.phase)


@dataclass(frozen=True)
class Sinusoid:
    """The family of sinusoid tasks; ranges default to MAML's."""

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

    def episode(self, k_shot: int, n_query: int, generator: torch.Generator | None = None) -> Episode:
        return self.episode_for(self.sample_task(generator), k_shot, n_query, generator)

    def episodes(self, k_shot: int, n_query: int, seed: int = 0) -> Iterator[Episode]:
        """Endless seeded stream of episodes (meta-training)."""
        return episode_stream(lambda g: self.episode(k_shot, n_query, g), seed)

    def fixed_episodes(self, k_shot: int, n_query: int, n_episodes: int, seed: int = 0) -> FixedEpisodes:
        """``n_episodes`` episodes fixed by ``seed`` (validation and test)."""
        return FixedEpisodes(lambda g: self.episode(k_shot, n_query, g), n_episodes, seed)
