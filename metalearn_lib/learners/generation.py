"""Learners whose meta-learned part *generates parameters* for the task at hand.

:class:`WeightGenerator` reads the support set and emits the weights of a linear classifier over the
features of a shared encoder (a hypernetwork for the last layer). :class:`MetaNet` generates
per-example fast weights from the loss gradients of a base learner and retrieves them by attention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..backbones import Conv4
from .base import MetaLearner, register
from .metric import class_means, cosine_similarity_matrix


@dataclass(frozen=True)
class LinearHead:
    """A generated classifier: weights ``(n_way, D)`` and biases ``(n_way,)``; logits ``z @ weight.T + bias``."""

    weight: Tensor
    bias: Tensor


@register("weight-generator")
class WeightGenerator(MetaLearner):
    """A parameter-generating network: the support set in, the target classifier's weights out.

    Every support example is encoded, ``z_i = f(x_i)`` ``(D,)``, and mapped by the generator ``g``
    (an MLP, shared across examples and classes) to a vector ``g(z_i)`` ``(D + 1,)``; the classifier
    of class ``k`` is the mean over its support examples, split into weights ``w_k`` ``(D,)`` and a
    bias ``b_k``. Query logits are ``w_k . f(x) + b_k``. The generator sees each class alone and
    classes share it, so relabelling the classes just permutes the generated rows. A
    hypernetwork (Ha, Dai & Le, 2017) for the last layer in the form of Qiao et al. (2018) and
    Gidaris & Komodakis (2018); with ``g(z) = [2z, -||z||^2]`` it would reproduce prototypical networks.
    """

    def __init__(self, encoder: nn.Module, feature_dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.encoder, self.feature_dim = encoder, feature_dim
        self.generator = nn.Sequential(nn.Linear(feature_dim, hidden), nn.ReLU(), nn.Linear(hidden, feature_dim + 1))

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, **kwargs) -> WeightGenerator:
        encoder = Conv4(image_shape)
        return cls(encoder, encoder.feature_dim, **kwargs)

    def generate(self, features: Tensor, labels: Tensor) -> LinearHead:
        """Classifier for support features ``(n_support, D)`` with labels ``(n_support,)``."""
        params = class_means(self.generator(features), labels)  # (n_way, D + 1)
        return LinearHead(params[:, :-1], params[:, -1])

    def adapt(self, support_x: Tensor, support_y: Tensor) -> LinearHead:
        return self.generate(self.encoder(support_x), support_y)

    def predict(self, state: LinearHead, query_x: Tensor) -> Tensor:
        return self.encoder(query_x) @ state.weight.T + state.bias


def softmax_weight_gradients(logits: Tensor, features: Tensor, labels: Tensor) -> Tensor:
    """Per-example gradients of ``cross_entropy(W z_i + b, y_i)`` with respect to ``W``, in closed form:
    ``(softmax(W z_i + b) - onehot(y_i)) z_i^T``. ``logits`` ``(N, n_way)``, ``features`` ``(N, D)``,
    ``labels`` ``(N,)`` -> ``(N, n_way, D)``."""
    error = torch.softmax(logits, dim=-1) - F.one_hot(labels, logits.shape[-1]).to(logits.dtype)
    return error.unsqueeze(-1) * features.unsqueeze(-2)


@dataclass(frozen=True)
class FastWeightMemory:
    """MetaNet's task state: one key ``(n_support, D)`` and one set of fast weights
    ``(n_support, n_way, D)`` per support example."""

    keys: Tensor
    fast_weights: Tensor


@register("metanet")
class MetaNet(MetaLearner):
    """Meta networks (Munkhdalai & Yu, 2017), simplified to fast weights for the output layer.

    Base learner: a shared encoder ``f`` and a linear output layer with slow weights ``W, b``.
    Meta-information: the loss gradient of every support example with respect to ``W``,
    ``grad_i = (softmax(W z_i + b) - onehot(y_i)) z_i^T`` ``(n_way, D)``
    (:func:`softmax_weight_gradients`). The meta-learner ``G`` (an MLP applied to each row of the
    gradient, so shared across classes) turns it into example-level fast weights ``W*_i = G(grad_i)``,
    stored in a memory under the key ``f(x_i)``. A query attends to the keys,
    ``a_i = softmax_i(s * cos(f(x), f(x_i)))``, and is classified with slow and retrieved fast weights
    together (layer augmentation): ``logits = W f(x) + b + (sum_i a_i W*_i) f(x)``.

    Simplified from the paper: no task-level fast weights for the representation (its embedding
    loss on support pairs), fast weights for the output layer only, and a learned attention scale ``s``.
    """

    def __init__(self, encoder: nn.Module, feature_dim: int, n_way: int, hidden: int = 128, scale: float = 10.0) -> None:
        super().__init__()
        self.encoder, self.feature_dim, self.n_way = encoder, feature_dim, n_way
        self.base = nn.Linear(feature_dim, n_way)
        self.meta = nn.Sequential(nn.Linear(feature_dim, hidden), nn.ReLU(), nn.Linear(hidden, feature_dim))
        self.log_scale = nn.Parameter(torch.tensor(float(scale)).log())

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, **kwargs) -> MetaNet:
        encoder = Conv4(image_shape)
        return cls(encoder, encoder.feature_dim, n_way, **kwargs)

    def meta_information(self, features: Tensor, labels: Tensor) -> Tensor:
        """Loss gradients of the base learner's slow weights, one per example: ``(N, n_way, D)``."""
        if labels.max() >= self.n_way:
            raise ValueError(f"labels must lie in 0..{self.n_way - 1} for this {self.n_way}-way MetaNet, got {int(labels.max())}")
        return softmax_weight_gradients(self.base(features), features, labels)

    def adapt(self, support_x: Tensor, support_y: Tensor) -> FastWeightMemory:
        features = self.encoder(support_x)
        return FastWeightMemory(features, self.meta(self.meta_information(features, support_y)))

    def attention(self, state: FastWeightMemory, query_features: Tensor) -> Tensor:
        """Attention of queries ``(n_query, D)`` over the stored examples: ``(n_query, n_support)``."""
        return torch.softmax(self.log_scale.exp() * cosine_similarity_matrix(query_features, state.keys), dim=-1)

    def predict(self, state: FastWeightMemory, query_x: Tensor) -> Tensor:
        z = self.encoder(query_x)
        fast = torch.einsum("qs,skd->qkd", self.attention(state, z), state.fast_weights)  # (n_query, n_way, D)
        return self.base(z) + torch.einsum("qkd,qd->qk", fast, z)
