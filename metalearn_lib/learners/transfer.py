"""Feature-based transfer: reuse a trained network for a new task and fine-tune (part of it) per task.

``FineTuner`` fine-tunes a whole network trained jointly on the training tasks; ``Baseline`` and
``BaselinePlusPlus`` (Chen et al., 2019) pretrain an encoder on all training classes and fit a new
classifier on the frozen features of each task's support set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..backbones import Conv4
from ..datasets.base import FewShotDataset
from ..episodes import Episode
from ..functional import Params, forward_with, gradient_descent, params_of
from ..pretraining import Trained, pretrained_conv4
from .base import MetaLearner, register
from .metric import class_means


@register("finetune")
class FineTuner(MetaLearner):
    """Pretrain-then-fine-tune (transfer learning, e.g. Pan & Yang, 2010).

    Training (``meta_loss``) is *joint* multi-task training: the task loss of the shared network on
    every example of a task, support and query pooled, with no adaptation. ``adapt`` copies the
    trained weights and takes ``inner_steps`` plain SGD steps on the support set (no graph through
    them: nothing here is meta-learned). With an untrained network this is learning from scratch.

    Args:
        net: maps ``(B, ...)`` inputs to logits ``(B, n_way)`` or outputs ``(B, d_out)``.
        inner_lr: fine-tuning step size.
        inner_steps: fine-tuning steps per task (0: use the pretrained network as it is).
    """

    def __init__(self, net: nn.Module, inner_lr: float = 0.01, inner_steps: int = 10) -> None:
        super().__init__()
        if inner_steps < 0:
            raise ValueError(f"inner_steps must be >= 0, got {inner_steps}")
        self.net, self.inner_lr, self.inner_steps = net, inner_lr, inner_steps

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, **kwargs) -> FineTuner:
        return cls(Conv4(image_shape, n_out=n_way), **{"inner_lr": 0.1, **kwargs})

    def adapt(self, support_x: Tensor, support_y: Tensor) -> Params:
        """Fine-tuned copies of the weights (the learner's own weights are untouched)."""
        start = {n: p.detach() for n, p in params_of(self.net).items()}
        loss = lambda params: self.task_loss(forward_with(self.net, params, support_x), support_y)  # noqa: E731
        return gradient_descent(loss, start, self.inner_steps, self.inner_lr)

    def predict(self, state: Params, query_x: Tensor) -> Tensor:
        return forward_with(self.net, state, query_x)

    def meta_loss(self, episode: Episode) -> Tensor:
        """Joint training loss: the shared network on the task's pooled support and query examples."""
        x = torch.cat([episode.support_x, episode.query_x])
        y = torch.cat([episode.support_y, episode.query_y])
        return self.task_loss(self.net(x), y)


@register("baseline")
class Baseline(MetaLearner):
    """Baseline (Chen et al., 2019, "A Closer Look at Few-shot Classification").

    Stage 1, :meth:`pretrain`: the encoder and a linear classifier over *all* training classes are
    trained by ordinary supervised learning; the classifier is then dropped. Stage 2, ``adapt``: a new
    ``n_way`` linear classifier, initialised at zero, is trained with ``inner_steps`` full-batch SGD
    steps on the frozen features ``(n_way * k_shot, D)`` of the support set.

    The inherited ``meta_loss`` (query loss after fitting the head on detached support features) lets
    ``meta_train`` train the encoder episodically too, but the recipe of the paper is :meth:`pretrain`.

    Args:
        encoder: ``(B, C, H, W) -> (B, D)``; :meth:`pretrain` needs a :class:`~metalearn_lib.backbones.Conv4`.
        inner_steps: classifier training steps per task.
        inner_lr: their step size.
    """

    head = "linear"

    def __init__(self, encoder: nn.Module, inner_steps: int = 100, inner_lr: float = 0.1) -> None:
        super().__init__()
        if inner_steps < 0:
            raise ValueError(f"inner_steps must be >= 0, got {inner_steps}")
        self.encoder, self.inner_steps, self.inner_lr = encoder, inner_steps, inner_lr

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, **kwargs) -> Baseline:
        return cls(Conv4(image_shape), **kwargs)

    def pretrain(self, dataset: FewShotDataset, steps: int, **kwargs: Any) -> Trained:
        """Supervised pretraining over every class of ``dataset`` with this learner's classifier
        (see :func:`~metalearn_lib.pretraining.pretrained_conv4`, which caches the result; ``kwargs``
        go there); the pretrained weights are loaded into ``self.encoder``."""
        result = pretrained_conv4(dataset, steps, head=self.head, **kwargs)
        self.encoder.load_state_dict(result.model.state_dict())
        return result

    def init_head(self, features: Tensor, labels: Tensor) -> Params:
        """Zero weights ``(n_way, D)`` and biases ``(n_way,)``."""
        n_way = int(labels.max()) + 1
        return {"weight": features.new_zeros(n_way, features.shape[1]), "bias": features.new_zeros(n_way)}

    def head_logits(self, head: Params, features: Tensor) -> Tensor:
        """Logits ``(B, n_way)`` of features ``(B, D)``: ``z W^T + b``."""
        return F.linear(features, head["weight"], head["bias"])

    def adapt(self, support_x: Tensor, support_y: Tensor) -> Params:
        """The classifier trained on the support features (the encoder is left as it is)."""
        z = self.encoder(support_x).detach()
        loss = lambda head: F.cross_entropy(self.head_logits(head, z), support_y)  # noqa: E731
        return gradient_descent(loss, self.init_head(z, support_y), self.inner_steps, self.inner_lr)

    def predict(self, state: Params, query_x: Tensor) -> Tensor:
        return self.head_logits(state, self.encoder(query_x))


@register("baseline++")
class BaselinePlusPlus(Baseline):
    """Baseline++ (Chen et al., 2019): :class:`Baseline` with a cosine classifier, in pretraining
    (:class:`~metalearn_lib.pretraining.CosineClassifier` over all classes) and per task, where the
    logits are ``scale * cos(z, w_k)``. The class weights start at the normalised class means of the
    support features (weight imprinting, Qi et al., 2018), so with ``inner_steps=0`` this is a
    cosine nearest-prototype classifier.
    """

    head = "cosine"

    def __init__(self, encoder: nn.Module, inner_steps: int = 100, inner_lr: float = 0.1, scale: float = 10.0) -> None:
        super().__init__(encoder, inner_steps, inner_lr)
        self.scale = scale

    def init_head(self, features: Tensor, labels: Tensor) -> Params:
        """Class weights ``(n_way, D)``: the normalised class means."""
        return {"weight": F.normalize(class_means(features, labels), dim=-1)}

    def head_logits(self, head: Params, features: Tensor) -> Tensor:
        return self.scale * F.normalize(features, dim=-1) @ F.normalize(head["weight"], dim=-1).T
