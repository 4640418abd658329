"""The LSTM meta-learner (Ravi & Larochelle, 2017): a learned optimizer produces the inner updates."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..backbones import Conv4
from ..functional import Params, forward_with, grads_of, params_of
from .base import MetaLearner, register


def preprocess(x: Tensor, p: float = 10.0) -> Tensor:
    """Gradient preprocessing of Andrychowicz et al. (2016, appendix A), used by Ravi & Larochelle:
    ``x`` ``(N,)`` -> ``(N, 2)``, ``(log|x| / p, sign x)`` when ``|x| >= e^-p``, else ``(-1, e^p x)``.
    It separates magnitude and sign so that values spanning many orders of magnitude fit an LSTM."""
    big = x.abs() >= math.exp(-p)
    magnitude = torch.where(big, x.abs().clamp_min(math.exp(-p)).log() / p, torch.full_like(x, -1.0))
    sign = torch.where(big, x.sign(), math.exp(p) * x)
    return torch.stack([magnitude, sign], dim=-1)


def flatten_params(params: Params) -> Tensor:
    """All parameters as one vector ``(P,)`` (differentiable)."""
    return torch.cat([p.reshape(-1) for p in params.values()])


def unflatten_params(vector: Tensor, like: Params) -> Params:
    """Inverse of :func:`flatten_params`: views of ``vector`` shaped like the tensors of ``like``."""
    chunks = vector.split([p.numel() for p in like.values()])
    return {n: c.view_as(p) for (n, p), c in zip(like.items(), chunks)}


@register("lstm-meta")
class LSTMMetaLearner(MetaLearner):
    """Optimization as a model for few-shot learning (Ravi & Larochelle, 2017).

    Every parameter entry of the learner network is one coordinate of a two-layer, coordinate-wise
    LSTM shared by all coordinates. Layer one is an ordinary LSTM cell reading the preprocessed
    gradient and loss ``(P, 4)``; layer two is the meta-learner cell whose *cell state is the
    parameter vector* ``theta`` ``(P,)``:

    ``f_t = sigmoid(W_f [h_t, theta_{t-1}, f_{t-1}] + b_f)``,
    ``i_t = sigmoid(W_i [h_t, theta_{t-1}, i_{t-1}] + b_i)``,
    ``theta_t = f_t * theta_{t-1} - i_t * grad_t``.

    ``i_t`` is a learned, per-coordinate learning rate and ``f_t`` a learned shrinkage; ``theta_0`` (the
    network's weights) is meta-learned too. As in the paper, gradients through ``grad_t`` (second
    derivatives) are ignored.
    """

    def __init__(self, net: nn.Module, inner_steps: int = 5, test_inner_steps: int | None = None, lstm_hidden: int = 20) -> None:
        super().__init__()
        if inner_steps < 1:
            raise ValueError(f"inner_steps must be >= 1, got {inner_steps}")
        self.net, self.inner_steps = net, inner_steps
        self.test_inner_steps = inner_steps if test_inner_steps is None else test_inner_steps
        self.lstm = nn.LSTMCell(4, lstm_hidden)
        self.forget_gate = nn.Linear(lstm_hidden + 2, 1)
        self.input_gate = nn.Linear(lstm_hidden + 2, 1)
        for gate, bias in ((self.forget_gate, (4.0, 6.0)), (self.input_gate, (-5.0, -4.0))):
            nn.init.uniform_(gate.weight, -0.01, 0.01)  # paper: forget gate starts near 1, input gate near 0
            nn.init.uniform_(gate.bias, *bias)

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, hidden: int = 32, **kwargs) -> LSTMMetaLearner:
        """Ravi & Larochelle's learner: Conv4 with 32 filters and a linear head, 5 updates per task."""
        kwargs = {"inner_steps": 5, "test_inner_steps": 8, **kwargs}
        return cls(Conv4(image_shape, hidden=hidden, n_out=n_way), **kwargs)

    def adapt(self, support_x: Tensor, support_y: Tensor) -> Params:
        """Learner weights after the LSTM's updates on the support set ``(n_way * k_shot, ...)``."""
        keep_graph = torch.is_grad_enabled()
        steps = self.inner_steps if self.training else self.test_inner_steps
        like = params_of(self.net)
        theta = flatten_params(like)
        n = theta.numel()
        state = (theta.new_zeros(n, self.lstm.hidden_size), theta.new_zeros(n, self.lstm.hidden_size))
        f = i = theta.new_zeros(n, 1)
        with torch.enable_grad():
            for _ in range(steps):
                if not keep_graph:
                    theta = theta.detach().requires_grad_()
                params = unflatten_params(theta, like)
                loss = self.task_loss(forward_with(self.net, params, support_x), support_y)
                grad = flatten_params(grads_of(loss, params, create_graph=False))
                x = torch.cat([preprocess(grad), preprocess(loss.detach().reshape(1)).expand(n, 2)], dim=1)
                state = self.lstm(x, state)
                f = torch.sigmoid(self.forget_gate(torch.cat([state[0], theta[:, None], f], dim=1)))
                i = torch.sigmoid(self.input_gate(torch.cat([state[0], theta[:, None], i], dim=1)))
                theta = f[:, 0] * theta - i[:, 0] * grad
        return unflatten_params(theta if keep_graph else theta.detach(), like)

    def predict(self, state: Params, query_x: Tensor) -> Tensor:
        return forward_with(self.net, state, query_x)
