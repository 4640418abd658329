"""A tiny synthetic image data set for unit tests: each class is a random template plus noise."""

from __future__ import annotations

import torch

from .base import FewShotDataset


def synthetic_classes(
    n_classes: int = 20,
    n_per_class: int = 20,
    image_shape: tuple[int, int, int] = (1, 28, 28),
    noise: float = 0.3,
    seed: int = 0,
) -> FewShotDataset:
    """``n_classes`` classes of ``n_per_class`` float images ``image_shape``; class ``c`` is a uniform
    random template plus Gaussian noise of standard deviation ``noise``. Separable, so any working
    few-shot learner should beat chance by a wide margin; hard enough that a broken one does not."""
    g = torch.Generator().manual_seed(seed)
    templates = torch.rand(n_classes, *image_shape, generator=g)
    labels = torch.arange(n_classes).repeat_interleave(n_per_class)
    images = templates[labels] + noise * torch.randn(len(labels), *image_shape, generator=g)
    return FewShotDataset(images, labels, [f"class{c:03d}" for c in range(n_classes)], name="synthetic")
