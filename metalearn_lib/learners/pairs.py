"""Learners trained on pairs and triplets of examples, then used as nearest-neighbour classifiers.

Both learn an embedding ``f`` in which the Euclidean distance separates classes; at test time a
query takes the label of its nearest support example (logits ``-min_{i: y_i = k} ||f(x) - f(x_i)||``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..backbones import Conv4
from ..episodes import Episode
from .base import MetaLearner, register
from .metric import euclidean, per_class


def contrastive_loss(distance: Tensor, same: Tensor, margin: float) -> Tensor:
    """Contrastive loss of pairs (Hadsell, Chopra & LeCun, 2006), elementwise.

    ``same`` is true where the pair shares a class: such pairs pay ``d^2 / 2`` (pulled together);
    other pairs pay ``max(0, margin - d)^2 / 2`` (pushed at least ``margin`` apart).
    """
    return torch.where(same, 0.5 * distance.pow(2), 0.5 * torch.relu(margin - distance).pow(2))


def triplet_loss(d_anchor_positive: Tensor, d_anchor_negative: Tensor, margin: float) -> Tensor:
    """Triplet loss ``max(0, d(a, p) - d(a, n) + margin)`` elementwise (Schroff et al., 2015): the
    negative must be at least ``margin`` farther from the anchor than the positive."""
    return torch.relu(d_anchor_positive - d_anchor_negative + margin)


def _episode_embeddings(encoder: nn.Module, episode: Episode) -> tuple[Tensor, Tensor]:
    """Embeddings ``(N, D)`` and labels ``(N,)`` of all support and query examples of ``episode``."""
    x = torch.cat([episode.support_x, episode.query_x])
    return encoder(x), torch.cat([episode.support_y, episode.query_y])


def _positive_pairs(same: Tensor) -> Tensor:
    """``(N, N)`` bool: pairs of distinct examples of the same class, from the same-class mask ``same``."""
    return same & ~torch.eye(len(same), dtype=torch.bool, device=same.device)


def hardest_pairs(distance: Tensor, same: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Batch-hard mining (Hermans, Beyer & Leibe, 2017): for every example (row) of the ``(N, N)``
    distance matrix, the distance to its farthest same-class example and to its nearest example of
    another class ``(N,)`` each, and which rows have a same-class example at all ``(N,)`` (bool)."""
    positive = _positive_pairs(same)
    hardest_positive = distance.masked_fill(~positive, float("-inf")).amax(1)
    hardest_negative = distance.masked_fill(same, float("inf")).amin(1)
    return hardest_positive, hardest_negative, positive.any(1)


class NearestSupportLearner(MetaLearner):
    """An embedding scored by nearest support example; subclasses define how it is trained (``meta_loss``)
    from the pairs (``mining="all"``) or the hardest pairs (``mining="hard"``, :func:`hardest_pairs`)
    of an episode's examples."""

    def __init__(self, encoder: nn.Module, margin: float = 1.0, mining: str = "hard") -> None:
        super().__init__()
        if margin <= 0:
            raise ValueError(f"margin must be positive, got {margin}")
        if mining not in ("all", "hard"):
            raise ValueError(f"mining must be 'all' or 'hard', got {mining!r}")
        self.encoder, self.margin, self.mining = encoder, margin, mining

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, **kwargs) -> NearestSupportLearner:
        return cls(Conv4(image_shape), **kwargs)

    def adapt(self, support_x: Tensor, support_y: Tensor) -> tuple[Tensor, Tensor]:
        """Support embeddings ``(S, D)`` and labels ``(S,)``."""
        return self.encoder(support_x), support_y

    def predict(self, state: tuple[Tensor, Tensor], query_x: Tensor) -> Tensor:
        """``-(distance to the nearest support example of class k)`` ``(Q, n_way)``."""
        support, labels = state
        return -per_class(euclidean(self.encoder(query_x), support), labels, "min")

    def _distances(self, episode: Episode) -> tuple[Tensor, Tensor]:
        """Distances ``(N, N)`` between the episode's examples and the same-class mask ``(N, N)``;
        raises when no example has another of its class."""
        z, y = _episode_embeddings(self.encoder, episode)
        same = y[:, None] == y[None, :]
        if not _positive_pairs(same).any():
            raise ValueError("the episode has no same-class pair: use k_shot + n_query >= 2")
        return euclidean(z, z), same


@register("siamese")
class SiameseNetwork(NearestSupportLearner):
    """Siamese network (Bromley et al., 1993; Koch, Zemel & Salakhutdinov, 2015) trained with the
    contrastive loss of Hadsell et al. (2006) on pairs of an episode's examples.

    ``mining="hard"`` (default): every example pays the loss of two pairs, with its farthest
    same-class example and with its nearest example of another class (:func:`hardest_pairs`).
    ``mining="all"``: every pair; same-class pairs are far fewer than different-class pairs, so the
    loss is the mean over same-class pairs plus the mean over different-class pairs, halved.
    The margin must suit the scale of the embedding: the Conv4 features used here are not normalised.
    """

    def __init__(self, encoder: nn.Module, margin: float = 10.0, mining: str = "hard") -> None:
        super().__init__(encoder, margin, mining)

    def meta_loss(self, episode: Episode) -> Tensor:
        d, same = self._distances(episode)
        if self.mining == "hard":
            positive, negative, has_positive = hardest_pairs(d, same)
            losses = contrastive_loss(positive, torch.ones_like(same[0]), self.margin) + contrastive_loss(
                negative, torch.zeros_like(same[0]), self.margin)
            return 0.5 * losses[has_positive].mean()
        pair = torch.triu(torch.ones_like(same), diagonal=1)
        losses = contrastive_loss(d, same, self.margin)
        return 0.5 * (losses[same & pair].mean() + losses[~same & pair].mean())


@register("triplet")
class TripletNetwork(NearestSupportLearner):
    """Triplet network (Hoffer & Ailon, 2015; Schroff, Kalenichenko & Philbin, 2015) trained with
    the triplet loss on an episode's examples.

    ``mining="all"`` averages over every valid triplet (anchor, positive of its class, negative of
    another class); ``mining="hard"`` keeps, per anchor, its farthest positive and its nearest
    negative (batch-hard, :func:`hardest_pairs`).
    """

    def meta_loss(self, episode: Episode) -> Tensor:
        d, same = self._distances(episode)
        if self.mining == "hard":
            positive, negative, has_positive = hardest_pairs(d, same)
            return triplet_loss(positive, negative, self.margin)[has_positive].mean()
        positive = _positive_pairs(same)  # (anchor, positive)
        losses = triplet_loss(d.unsqueeze(2), d.unsqueeze(1), self.margin)  # [a, p, n]
        valid = positive.unsqueeze(2) & ~same.unsqueeze(1)
        return losses[valid].mean()
