"""Episode sampling: N-way K-shot index lists, collation into :class:`Episode`, seeded streams."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .episodes import Episode

Draw = Callable[[torch.Generator], Episode]


@dataclass(frozen=True)
class EpisodeIndices:
    """Dataset rows of one episode. ``classes`` ``(n_way,)`` are dataset class ids in episode-label
    order; ``support`` ``(n_way * k_shot,)`` and ``query`` ``(n_way * n_query,)`` are grouped by class."""

    classes: Tensor
    support: Tensor
    query: Tensor


class EpisodeSampler:
    """Draws N-way K-shot episodes from a labelled pool (Vinyals et al., 2016).

    Args:
        labels: ``(N,)`` integer class id of every example in the pool.
        n_way: classes per episode.
        k_shot: support examples per class.
        n_query: query examples per class (disjoint from the support examples).
        generator: default source of randomness for :meth:`sample`.

    Raises:
        ValueError: when ``n_way`` exceeds the classes available or a class has fewer than
            ``k_shot + n_query`` examples.
    """

    def __init__(
        self,
        labels: Tensor | Sequence[int],
        n_way: int,
        k_shot: int,
        n_query: int,
        generator: torch.Generator | None = None,
    ) -> None:
        labels = torch.as_tensor(labels)
        if labels.ndim != 1 or torch.is_floating_point(labels):
            raise ValueError(f"labels must be a 1-D integer tensor, got shape {tuple(labels.shape)} {labels.dtype}")
        if n_way < 1 or k_shot < 1 or n_query < 0:
            raise ValueError(f"need n_way >= 1, k_shot >= 1, n_query >= 0; got {n_way}, {k_shot}, {n_query}")
        class_ids, counts = torch.unique(labels, return_counts=True)
        if n_way > len(class_ids):
            raise ValueError(f"n_way={n_way} but only {len(class_ids)} classes are available")
        needed = k_shot + n_query
        short = class_ids[counts < needed]
        if len(short):
            raise ValueError(
                f"k_shot + n_query = {needed} examples per class are needed, but {len(short)} classes have fewer "
                f"(class {short[0].item()} has {counts[class_ids == short[0]].item()})"
            )
        order = torch.argsort(labels, stable=True)
        self.class_ids = class_ids
        self._rows_by_class = list(torch.split(order, counts.tolist()))
        self.n_way, self.k_shot, self.n_query = n_way, k_shot, n_query
        self.generator = generator

    def sample(self, generator: torch.Generator | None = None) -> EpisodeIndices:
        """One episode's indices, drawn with ``generator`` (or the sampler's own)."""
        g = generator if generator is not None else self.generator
        picked = torch.randperm(len(self.class_ids), generator=g)[: self.n_way]
        support, query = [], []
        for c in picked.tolist():
            rows = self._rows_by_class[c]
            chosen = rows[torch.randperm(len(rows), generator=g)[: self.k_shot + self.n_query]]
            support.append(chosen[: self.k_shot])
            query.append(chosen[self.k_shot :])
        return EpisodeIndices(self.class_ids[picked], torch.cat(support), torch.cat(query))

    def __iter__(self) -> Iterator[EpisodeIndices]:
        while True:
            yield self.sample()


def to_float_images(images: Tensor) -> Tensor:
    """uint8 images in ``[0, 255]`` become float32 in ``[0, 1]``; float images are returned as float32."""
    return images.float() / 255.0 if images.dtype == torch.uint8 else images.float()


def collate(images: Tensor, indices: EpisodeIndices) -> Episode:
    """Gather one episode from ``images`` ``(N, C, H, W)``; labels become ``0 .. n_way - 1``."""
    n_way = len(indices.classes)
    k_shot = len(indices.support) // n_way
    n_query = len(indices.query) // n_way
    return Episode(
        support_x=to_float_images(images[indices.support]),
        support_y=torch.arange(n_way).repeat_interleave(k_shot),
        query_x=to_float_images(images[indices.query]),
        query_y=torch.arange(n_way).repeat_interleave(n_query),
    )


def episode_stream(draw: Draw, seed: int) -> Iterator[Episode]:
    """An endless, reproducible stream of episodes for meta-training."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        yield draw(generator)


class FixedEpisodes(Sequence[Episode]):
    """``n_episodes`` episodes fixed by ``seed``: episode ``i`` is redrawn identically on every access,
    so every learner is scored on the very same tasks without holding them all in memory."""

    def __init__(self, draw: Draw, n_episodes: int, seed: int) -> None:
        if n_episodes < 1:
            raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
        self._draw, self._n, self.seed = draw, n_episodes, seed

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> Episode:  # type: ignore[override]
        if not -self._n <= i < self._n:
            raise IndexError(f"episode {i} out of range for {self._n} episodes")
        return self._draw(torch.Generator().manual_seed(self.seed * 1_000_003 + i % self._n))
