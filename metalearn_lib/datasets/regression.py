"""Shared episode plumbing for families of regression tasks (sinusoids, user preferences, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from ..episodes import Episode
from ..sampling import FixedEpisodes, episode_stream


class TaskFamily:
    """A distribution over regression tasks. Subclasses define ``sample_task(generator)`` and
    ``episode_for(task, k_shot, n_query, generator)``; this class derives the episode streams."""

    sample_task: Callable[[torch.Generator | None], Any]
    episode_for: Callable[..., Episode]

    def episode(self, k_shot: int, n_query: int, generator: torch.Generator | None = None) -> Episode:
        """One episode of a freshly drawn task."""
        return self.episode_for(self.sample_task(generator), k_shot, n_query, generator)

    def episodes(self, k_shot: int, n_query: int, seed: int = 0) -> Iterator[Episode]:
        """Endless seeded stream of episodes (meta-training)."""
        return episode_stream(lambda g: self.episode(k_shot, n_query, g), seed)

    def fixed_episodes(self, k_shot: int, n_query: int, n_episodes: int, seed: int = 0) -> FixedEpisodes:
        """``n_episodes`` episodes fixed by ``seed`` (validation and test)."""
        return FixedEpisodes(lambda g: self.episode(k_shot, n_query, g), n_episodes, seed)
