"""A labelled pool of images from which few-shot episodes are drawn."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from ..episodes import Episode
from ..sampling import EpisodeSampler, FixedEpisodes, collate, episode_stream


class FewShotDataset:
    """Images ``(N, C, H, W)`` (uint8 in ``[0, 255]`` or float) with class ids ``(N,)`` in ``0 .. n_classes - 1``.

    Episodes come out as float32 tensors; a uint8 pool keeps memory small and sampling cheap.
    """

    def __init__(self, images: Tensor, labels: Tensor, class_names: Sequence[str], name: str = "dataset") -> None:
        if images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must be ({images.shape[0]},), got {tuple(labels.shape)}")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise ValueError(f"labels must lie in 0..{len(class_names) - 1} (one per class name)")
        self.images = images
        self.labels = labels.long()
        self.class_names = tuple(class_names)
        self.name = name

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.n_classes} classes, {len(self)} images of {self.image_shape})"

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def cache_key(self) -> str:
        """The pool's name (file-name safe) and a short hash of its images and labels, for the names of
        cached models: two pools with the same name but other contents get different keys."""
        digest = hashlib.blake2b(digest_size=6)
        digest.update(self.images.contiguous().numpy().tobytes())
        digest.update(self.labels.contiguous().numpy().tobytes())
        slug = re.sub(r"[^A-Za-z0-9.-]+", "_", self.name).strip("_")
        return f"{slug}-{digest.hexdigest()}"

    def sampler(self, n_way: int, k_shot: int, n_query: int) -> EpisodeSampler:
        """An :class:`EpisodeSampler` over this pool (raises ``ValueError`` for impossible shapes)."""
        try:
            return EpisodeSampler(self.labels, n_way, k_shot, n_query)
        except ValueError as err:
            raise ValueError(f"{self.name}: {err}") from None

    def episodes(self, n_way: int, k_shot: int, n_query: int, seed: int = 0) -> Iterator[Episode]:
        """Endless seeded stream of episodes (meta-training)."""
        sampler = self.sampler(n_way, k_shot, n_query)
        return episode_stream(lambda g: collate(self.images, sampler.sample(g)), seed)

    def fixed_episodes(self, n_way: int, k_shot: int, n_query: int, n_episodes: int, seed: int = 0) -> FixedEpisodes:
        """``n_episodes`` episodes fixed by ``seed`` (validation and test)."""
        sampler = self.sampler(n_way, k_shot, n_query)
        return FixedEpisodes(lambda g: collate(self.images, sampler.sample(g)), n_episodes, seed)

    def subset(self, classes: Sequence[int], name: str | None = None) -> FewShotDataset:
        """The pool restricted to ``classes``, relabelled ``0 .. len(classes) - 1`` in the order given."""
        classes = torch.as_tensor(list(classes), dtype=torch.long)
        if len(classes) and (classes.min() < 0 or classes.max() >= self.n_classes):
            raise ValueError(f"class ids must lie in 0..{self.n_classes - 1}")
        relabel = torch.full((self.n_classes,), -1, dtype=torch.long)
        relabel[classes] = torch.arange(len(classes))
        keep = relabel[self.labels] >= 0
        return FewShotDataset(
            self.images[keep],
            relabel[self.labels[keep]],
            [self.class_names[c] for c in classes.tolist()],
            name or f"{self.name}[{len(classes)} classes]",
        )
