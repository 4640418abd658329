"""Meta-transfer learning (Sun, Liu, Chua & Schiele, 2019): meta-learn how to adapt a frozen,
pretrained encoder, through a few parameters per channel, and train on hard tasks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..backbones import Conv4
from ..datasets.base import FewShotDataset
from ..episodes import Episode
from ..functional import Params, forward_with, gradient_descent
from ..pretraining import Trained, pretrained_conv4
from ..sampling import EpisodeIndices, collate
from .base import MetaLearner, register


@register("mtl")
class MetaTransfer(MetaLearner):
    """Meta-transfer learning, MTL (Sun et al., 2019).

    The encoder is pretrained on all training classes (:meth:`pretrain`) and then **frozen**. What is
    meta-learned is a per-channel scaling ``s`` (init 1) and shifting ``b`` (init 0) of every
    normalisation layer, ``y = s * BN(x) + b`` applied on top of its pretrained affine map. ``adapt``
    trains a new ``n_way`` linear classifier, starting at zero, with ``inner_steps`` SGD steps on the
    support features; the query loss is differentiated through those steps (second order, cheap
    because only the classifier is adapted) into ``s`` and ``b``.

    Two departures from the paper: it scales and shifts the convolution weights, which batch
    normalisation after every convolution would cancel, so here the scaling and shifting act after the
    normalisation; and it also meta-learns the classifier's initialisation, which with labels assigned
    at random in every episode can only learn a bias towards some labels, so here it starts at zero.

    Args:
        encoder: a :class:`~metalearn_lib.backbones.Conv4` without head (its parameters are frozen).
        inner_steps: classifier steps per task.
        inner_lr: their step size.
    """

    def __init__(self, encoder: Conv4, inner_steps: int = 20, inner_lr: float = 0.5) -> None:
        super().__init__()
        norms = [(name, m) for name, m in encoder.named_modules() if isinstance(m, nn.BatchNorm2d) and m.affine]
        if not norms:
            raise ValueError("MetaTransfer scales and shifts batch-norm channels; the encoder has no affine BatchNorm2d")
        if getattr(encoder, "head", None) is not None:
            raise ValueError("MetaTransfer needs an encoder without head (Conv4(..., n_out=None))")
        self.encoder = encoder.requires_grad_(False)
        self.norm_names = [name for name, _ in norms]
        self.scale = nn.ParameterList(nn.Parameter(torch.ones(m.num_features)) for _, m in norms)
        self.shift = nn.ParameterList(nn.Parameter(torch.zeros(m.num_features)) for _, m in norms)
        self.inner_steps, self.inner_lr = inner_steps, inner_lr

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, **kwargs) -> MetaTransfer:
        return cls(Conv4(image_shape), **kwargs)

    def pretrain(self, dataset: FewShotDataset, steps: int, **kwargs: Any) -> Trained:
        """Load the (cached) supervised pretraining of :func:`~metalearn_lib.pretraining.pretrained_conv4`
        into the frozen encoder; ``kwargs`` go there (default: linear classifier, as Baseline)."""
        result = pretrained_conv4(dataset, steps, **kwargs)
        self.encoder.load_state_dict(result.model.state_dict())
        return result

    def features(self, x: Tensor) -> Tensor:
        """Encoder features ``(B, D)`` with every normalisation layer scaled and shifted per channel."""
        params = dict(self.encoder.named_parameters())
        for name, s, b in zip(self.norm_names, self.scale, self.shift):
            params[f"{name}.weight"] = params[f"{name}.weight"] * s
            params[f"{name}.bias"] = params[f"{name}.bias"] * s + b
        return forward_with(self.encoder, params, x)

    def adapt(self, support_x: Tensor, support_y: Tensor) -> Params:
        """The classifier ``{"weight": (n_way, D), "bias": (n_way,)}`` trained on the support features;
        differentiable with respect to ``s`` and ``b`` only when gradients were enabled on entry (training)."""
        create_graph = torch.is_grad_enabled()
        z = self.features(support_x)
        n_way = int(support_y.max()) + 1
        start = {"weight": z.new_zeros(n_way, z.shape[1]), "bias": z.new_zeros(n_way)}
        loss = lambda head: F.cross_entropy(F.linear(z, head["weight"], head["bias"]), support_y)  # noqa: E731
        return gradient_descent(loss, start, self.inner_steps, self.inner_lr, differentiable=create_graph)

    def predict(self, state: Params, query_x: Tensor) -> Tensor:
        return F.linear(self.features(query_x), state["weight"], state["bias"])


def worst_class(learner: MetaLearner, episode: Episode) -> int:
    """Episode label ``0 .. n_way - 1`` of the class with the lowest query accuracy."""
    with torch.no_grad():
        correct = (learner(episode.to(learner.device)).argmax(-1) == episode.query_y.to(learner.device)).float()
    labels = episode.query_y.to(correct.device)
    per_class = torch.zeros(episode.n_way, device=correct.device).index_add_(0, labels, correct)
    return int(per_class.argmin())


def hard_task_stream(
    dataset: FewShotDataset,
    learner: MetaLearner,
    n_way: int,
    k_shot: int,
    n_query: int,
    meta_batch_size: int,
    seed: int = 0,
) -> Iterator[Episode]:
    """Episodes for ``meta_train`` alternating ordinary and hard meta-batches (Sun et al., 2019, "HT
    meta-batch").

    After each ordinary meta-batch of ``meta_batch_size`` episodes has been used for an update, the
    class with the lowest query accuracy of every episode (scored by ``learner`` as it is then) joins
    a pool of failure classes; the next ``meta_batch_size`` episodes are drawn from ``n_way`` of those
    classes (topped up with random classes when fewer failed), with fresh examples of each.
    """
    sampler = dataset.sampler(n_way, k_shot, n_query)
    generator = torch.Generator().manual_seed(seed)
    while True:
        drawn = [sampler.sample(generator) for _ in range(meta_batch_size)]
        episodes = [collate(dataset.images, indices) for indices in drawn]
        yield from episodes
        failed = torch.stack([indices.classes[worst_class(learner, e)] for indices, e in zip(drawn, episodes)])
        failed = failed.unique()
        for _ in range(meta_batch_size):
            classes = _hard_classes(failed, sampler.class_ids, n_way, generator)
            yield collate(dataset.images, _indices_for(dataset, classes, k_shot, n_query, generator))


def _hard_classes(failed: Tensor, all_classes: Tensor, n_way: int, generator: torch.Generator) -> Tensor:
    """``n_way`` classes: failure classes first (a random subset when there are more), then random others."""
    picked = failed[torch.randperm(len(failed), generator=generator)[:n_way]]
    others = all_classes[~torch.isin(all_classes, picked)]
    extra = others[torch.randperm(len(others), generator=generator)[: n_way - len(picked)]]
    return torch.cat([picked, extra])


def _indices_for(
    dataset: FewShotDataset, classes: Tensor, k_shot: int, n_query: int, generator: torch.Generator
) -> EpisodeIndices:
    """Rows of ``k_shot + n_query`` fresh examples of each of ``classes``."""
    support, query = [], []
    for c in classes.tolist():
        rows = torch.nonzero(dataset.labels == c).flatten()
        chosen = rows[torch.randperm(len(rows), generator=generator)[: k_shot + n_query]]
        support.append(chosen[:k_shot])
        query.append(chosen[k_shot:])
    return EpisodeIndices(classes, torch.cat(support), torch.cat(query))
