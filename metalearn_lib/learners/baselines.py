"""Learners with nothing meta-learned: the yardsticks of chapter 1."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..backbones import Conv4, reset_parameters
from .base import MetaLearner, register
from .metric import per_class, squared_euclidean


@register("pixel-nn")
class PixelNearestNeighbour(MetaLearner):
    """1-nearest-neighbour on raw pixels: a query takes the label of the closest support image
    (squared Euclidean distance). Logits are ``-min_{support i of class k} ||x - s_i||^2``."""

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int) -> PixelNearestNeighbour:
        return cls()

    def adapt(self, support_x: Tensor, support_y: Tensor) -> tuple[Tensor, Tensor]:
        return support_x.flatten(1), support_y

    def predict(self, state: tuple[Tensor, Tensor], query_x: Tensor) -> Tensor:
        support, labels = state
        return -per_class(squared_euclidean(query_x.flatten(1), support), labels, "min")


@register("scratch")
class ScratchClassifier(MetaLearner):
    """A Conv4 classifier trained from a fresh initialisation on the support set alone, with Adam
    for ``steps`` steps: what plain supervised learning does with one task's few examples."""

    def __init__(self, image_shape: Sequence[int], n_way: int, steps: int = 100, lr: float = 1e-3, seed: int = 0) -> None:
        super().__init__()
        self.image_shape, self.n_way, self.steps, self.lr, self.seed = tuple(image_shape), n_way, steps, lr, seed

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, **kwargs) -> ScratchClassifier:
        return cls(image_shape, n_way, **kwargs)

    def adapt(self, support_x: Tensor, support_y: Tensor) -> nn.Module:
        """A freshly initialised network (same seed for every task) trained on the support set."""
        net = reset_parameters(Conv4(self.image_shape, n_out=self.n_way), self.seed).to(support_x.device)
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr)
        with torch.enable_grad():
            for _ in range(self.steps):
                optimizer.zero_grad(set_to_none=True)
                F.cross_entropy(net(support_x), support_y).backward()
                optimizer.step()
        return net.requires_grad_(False)

    def predict(self, state: nn.Module, query_x: Tensor) -> Tensor:
        return state(query_x)
