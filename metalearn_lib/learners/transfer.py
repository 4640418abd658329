"""Transfer by fine-tuning: one network trained on all training tasks pooled, adapted per task."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..backbones import Conv4
from ..episodes import Episode
from ..functional import Params, forward_with, grads_of, params_of, sgd_step
from .base import MetaLearner, register


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
        params = {n: p.detach() for n, p in params_of(self.net).items()}
        with torch.enable_grad():
            for _ in range(self.inner_steps):
                params = {n: p.requires_grad_() for n, p in params.items()}
                loss = self.task_loss(forward_with(self.net, params, support_x), support_y)
                params = {n: p.detach() for n, p in sgd_step(params, grads_of(loss, params, False), self.inner_lr).items()}
        return params

    def predict(self, state: Params, query_x: Tensor) -> Tensor:
        return forward_with(self.net, state, query_x)

    def meta_loss(self, episode: Episode) -> Tensor:
        """Joint training loss: the shared network on the task's pooled support and query examples."""
        x = torch.cat([episode.support_x, episode.query_x])
        y = torch.cat([episode.support_y, episode.query_y])
        return self.task_loss(self.net(x), y)
