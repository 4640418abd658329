"""Metric-based learners: classify a query by comparing its embedding with embedded support examples.

Prototypical networks compare with class means, matching networks attend over support examples,
relation networks learn the comparison itself. The pair- and triplet-trained learners are in
:mod:`metalearn_lib.learners.pairs`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..backbones import Conv4, conv_block
from ..episodes import Episode
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


def euclidean(a: Tensor, b: Tensor, eps: float = 1e-12) -> Tensor:
    """``(N, M)`` matrix of ``||a_i - b_j||``; ``eps`` keeps the gradient finite at distance zero."""
    return squared_euclidean(a, b).clamp_min(eps).sqrt()


def cosine_similarity_matrix(a: Tensor, b: Tensor) -> Tensor:
    """``(N, M)`` matrix of cosine similarities."""
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T


def per_class(scores: Tensor, labels: Tensor, reduce: str) -> Tensor:
    """Reduce ``scores`` ``(Q, S)`` (query against support example) over the support examples of each
    class: ``(Q, n_way)`` with ``reduce`` one of ``"min"``, ``"max"``, ``"logsumexp"``."""
    reducers = {
        "min": (float("inf"), torch.amin),
        "max": (float("-inf"), torch.amax),
        "logsumexp": (float("-inf"), torch.logsumexp),
    }
    if reduce not in reducers:
        raise ValueError(f"reduce must be one of {sorted(reducers)}, got {reduce!r}")
    fill, fn = reducers[reduce]
    n_way = int(labels.max()) + 1
    member = F.one_hot(labels, n_way).T.bool()  # (n_way, S)
    masked = torch.where(member, scores.unsqueeze(1), torch.full_like(scores[:1, None], fill))  # (Q, n_way, S)
    return fn(masked, dim=-1)


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
    def for_images(cls, image_shape: Sequence[int], n_way: int, hidden: int = 64, **kwargs) -> PrototypicalNetwork:
        """Conv4 of width ``hidden`` (Snell et al.: 64) as the embedding."""
        return cls(Conv4(image_shape, hidden=hidden), **kwargs)

    def adapt(self, support_x: Tensor, support_y: Tensor) -> Tensor:
        """Prototypes ``(n_way, D)``."""
        return class_means(self.encoder(support_x), support_y)

    def predict(self, state: Tensor, query_x: Tensor) -> Tensor:
        z = self.encoder(query_x)
        if self.distance == "euclidean":
            return -squared_euclidean(z, state)
        return self.scale * cosine_similarity_matrix(z, state)


class FullContextEmbedding(nn.Module):
    """The full context embeddings of matching networks (Vinyals et al., 2016, appendix A).

    Support: ``g(x_i) = g'(x_i) + h_fwd_i + h_bwd_i``, a bidirectional LSTM read over the support
    embeddings ``(S, D)``. Query: ``steps`` steps of an attention LSTM,
    ``h_k = LSTM([f'(x), r_{k-1}], (h_{k-1}, c_{k-1})) + f'(x)`` with read-out
    ``r_k = softmax(h_k g^T) g``; feeding ``r`` as input (instead of concatenating it to the hidden
    state, as the paper writes) keeps the hidden size at ``D``.
    """

    def __init__(self, dim: int, steps: int = 5) -> None:
        super().__init__()
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.support_lstm = nn.LSTM(dim, dim, bidirectional=True, batch_first=True)
        self.query_cell = nn.LSTMCell(2 * dim, dim)
        self.steps = steps

    def support(self, g: Tensor) -> Tensor:
        """``(S, D)`` support embeddings in context of each other."""
        h, _ = self.support_lstm(g.unsqueeze(0))  # (1, S, 2D): forward and backward halves
        forward, backward = h[0].chunk(2, dim=-1)
        return g + forward + backward

    def query(self, f: Tensor, g: Tensor) -> Tensor:
        """``(Q, D)`` query embeddings ``f`` conditioned on context support embeddings ``g`` ``(S, D)``."""
        h, c, r = torch.zeros_like(f), torch.zeros_like(f), torch.zeros_like(f)
        for _ in range(self.steps):
            h, c = self.query_cell(torch.cat([f, r], dim=-1), (h, c))
            h = h + f
            r = torch.softmax(h @ g.T, dim=-1) @ g
        return h


@register("matching")
class MatchingNetwork(MetaLearner):
    """Matching networks (Vinyals, Blundell, Lillicrap, Kavukcuoglu & Wierstra, 2016).

    A query's class distribution is an attention-weighted vote of the support labels,
    ``p(y = k | x) = sum_i a(x, x_i) [y_i = k]`` with ``a(x, x_i) = softmax_i(scale * cos(f(x), g(x_i)))``;
    the logits returned are ``log p(y = k | x)``. ``fce=True`` adds the full context embeddings.
    ``scale`` (an inverse temperature, not in the paper) lets the attention be sharper than cosines
    in ``[-1, 1]`` allow.
    """

    def __init__(self, encoder: nn.Module, scale: float = 10.0, fce: FullContextEmbedding | None = None) -> None:
        super().__init__()
        self.encoder, self.scale, self.fce = encoder, scale, fce

    @classmethod
    def for_images(
        cls, image_shape: Sequence[int], n_way: int, fce: bool = False, fce_steps: int = 5, **kwargs
    ) -> MatchingNetwork:
        encoder = Conv4(image_shape)
        return cls(encoder, fce=FullContextEmbedding(encoder.feature_dim, fce_steps) if fce else None, **kwargs)

    def adapt(self, support_x: Tensor, support_y: Tensor) -> tuple[Tensor, Tensor]:
        """Support embeddings ``g(x_i)`` ``(S, D)`` and their labels ``(S,)``."""
        g = self.encoder(support_x)
        return (self.fce.support(g) if self.fce is not None else g), support_y

    def log_attention(self, state: tuple[Tensor, Tensor], query_x: Tensor) -> Tensor:
        """``log a(x, x_i)`` ``(Q, S)``: log-attention of every query over the support examples."""
        g, _ = state
        f = self.encoder(query_x)
        if self.fce is not None:
            f = self.fce.query(f, g)
        return torch.log_softmax(self.scale * cosine_similarity_matrix(f, g), dim=-1)

    def predict(self, state: tuple[Tensor, Tensor], query_x: Tensor) -> Tensor:
        """``log p(y = k | x) = log sum_{i: y_i = k} a(x, x_i)`` ``(Q, n_way)``."""
        return per_class(self.log_attention(state, query_x), state[1], "logsumexp")


def relation_encoder(image_shape: Sequence[int], hidden: int = 64) -> nn.Sequential:
    """Embedding module of relation networks: four conv blocks, the last two without pooling,
    ``(B, C, H, W) -> (B, hidden, H // 4, W // 4)`` feature maps (Sung et al., 2018)."""
    c = image_shape[0]
    return nn.Sequential(
        conv_block(c, hidden),
        conv_block(hidden, hidden),
        conv_block(hidden, hidden)[:-1],  # [:-1] drops the max-pooling
        conv_block(hidden, hidden)[:-1],
    )


def relation_module(image_shape: Sequence[int], hidden: int = 64, width: int = 8) -> nn.Sequential:
    """Relation module: two pooled conv blocks on a concatenated pair of feature maps
    ``(B, 2 * hidden, H // 4, W // 4)``, then ``Linear -> ReLU -> Linear`` to one relation logit ``(B, 1)``."""
    _, h, w = image_shape
    if h // 16 < 1 or w // 16 < 1:
        raise ValueError(f"images of {tuple(image_shape)} are too small for the relation network (need >= 16x16)")
    return nn.Sequential(
        conv_block(2 * hidden, hidden), conv_block(hidden, hidden), nn.Flatten(),
        nn.Linear(hidden * (h // 16) * (w // 16), width), nn.ReLU(), nn.Linear(width, 1),
    )


@register("relation")
class RelationNetwork(MetaLearner):
    """Relation networks (Sung, Yang, Zhang, Xiang, Torr & Hospedales, 2018).

    The comparison is learned: a relation module ``g`` scores the concatenation of a query's feature
    map with each class's feature map, ``r_k = sigmoid(g([f(x), c_k]))``; ``c_k`` is the mean of
    the class's support feature maps (the paper sums them, which changes their scale with the shot).
    ``predict`` returns the logits ``g(...)``; the meta-loss is the paper's mean squared error between
    ``r_k`` and the one-hot label (``loss="mse"``) or cross-entropy on the logits (``loss="ce"``).
    """

    def __init__(self, encoder: nn.Module, relation: nn.Module, loss: str = "mse") -> None:
        super().__init__()
        if loss not in ("mse", "ce"):
            raise ValueError(f"loss must be 'mse' or 'ce', got {loss!r}")
        self.encoder, self.relation, self.loss = encoder, relation, loss

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, **kwargs) -> RelationNetwork:
        return cls(relation_encoder(image_shape), relation_module(image_shape), **kwargs)

    def adapt(self, support_x: Tensor, support_y: Tensor) -> Tensor:
        """Class feature maps ``(n_way, C, h, w)``."""
        maps = self.encoder(support_x)
        return class_means(maps.flatten(1), support_y).view(-1, *maps.shape[1:])

    def predict(self, state: Tensor, query_x: Tensor) -> Tensor:
        q = self.encoder(query_x)  # (Q, C, h, w)
        n_query, n_way = len(q), len(state)
        pairs = torch.cat(
            [q.unsqueeze(1).expand(-1, n_way, -1, -1, -1), state.unsqueeze(0).expand(n_query, -1, -1, -1, -1)], dim=2
        )  # (Q, n_way, 2C, h, w)
        return self.relation(pairs.flatten(0, 1)).view(n_query, n_way)

    def meta_loss(self, episode: Episode) -> Tensor:
        logits = self(episode)
        if self.loss == "ce":
            return F.cross_entropy(logits, episode.query_y)
        return F.mse_loss(torch.sigmoid(logits), F.one_hot(episode.query_y, logits.shape[1]).to(logits.dtype))
