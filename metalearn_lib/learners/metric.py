"""Metric-based learners: classify a query by its distance to embedded support examples."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..backbones import Conv4
from .base import MetaLearner, register


def class_means(embeddings: Tensor, labels: Tensor, n_way: int | None = None) -> Tensor:
    """Per-class mean ``(n_way, D)`` of ``embeddings`` ``(N, D)`` with labels ``(N,)`` in ``0 .. n_way - 1``."""
    n_way = int(labels.max()) + 1 if n_way is None else n_way
    onehot = F.one_hot(labels, n_way).to(embeddings.dtype)  # (N, n_way)
    counts = onehot.sum(0)
    if (counts == 0).any():
        raise ValueError(f"classes {torch.nonzero(counts == 0).flatten().tolist()} have no support example")
    return onehot.T @ embeddings / counts[:, None]


def squared_euclidean(a: Tensor, b: Tensor) -> Tensor:
    """``(N, M)`` matrix of ``||a_i - b_j||^2`` for ``a`` ``(N, D)`` and ``b`` ``(M, D)``."""
    return (a.unsqueeze(1) - b.unsqueeze(0)).pow(2).sum(-1)


def cosine_similarity_matrix(a: Tensor, b: Tensor) -> Tensor:
    """``(N, M)`` matrix of cosine similarities."""
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T


@register("protonet")
class PrototypicalNetwork(MetaLearner):
    """Prototypical networks (Snell, Swersky & Zemel, 2017).

    A class is represented by the mean embedding of its support examples, its prototype ``c_k``;
    the logits of a query ``x`` are ``-||f(x) - c_k||^2`` (``distance="euclidean"``), or
    ``scale * cos(f(x), c_k)`` (``distance="cosine"``).
    """

    def __init__(self, encoder: nn.Module, distance: str = "euclidean", scale: float = 10.0) -> None:
        super().__init__()
        if distance not in ("euclidean", "cosine"):
            raise ValueError(f"distance must be 'euclidean' or 'cosine', got {distance!r}")
        self.encoder, self.distance, self.scale = encoder, distance, scale

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, **kwargs) -> PrototypicalNetwork:
        return cls(Conv4(image_shape), **kwargs)

    def adapt(self, support_x: Tensor, support_y: Tensor) -> Tensor:
        """Prototypes ``(n_way, D)``."""
        return class_means(self.encoder(support_x), support_y)

    def predict(self, state: Tensor, query_x: Tensor) -> Tensor:
        z = self.encoder(query_x)
        if self.distance == "euclidean":
            return -squared_euclidean(z, state)
        return self.scale * cosine_similarity_matrix(z, state)
