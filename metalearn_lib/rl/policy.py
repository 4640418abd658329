"""A Gaussian policy whose weights can be swapped for fast weights (:mod:`metalearn_lib.functional`)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.func import vmap

from ..backbones import mlp
from ..functional import Params, forward_with


class GaussianPolicy(nn.Module):
    """``a ~ N(mu(s), diag(exp(log_std))^2)`` with a learned, state-independent ``log_std``.

    ``mu(s) = max_action * tanh(f(s))`` with ``f`` an MLP ``(B, state_dim) -> (B, action_dim)``: the
    mean stays inside the range the environment accepts, so that exploration noise is never entirely
    clipped away (``max_action=None`` gives an unbounded mean ``f(s)``, as in Finn et al.'s code).
    """

    def __init__(
        self, state_dim: int = 2, action_dim: int = 2, hidden: tuple[int, ...] = (64, 64),
        init_std: float = 0.1, max_action: float | None = 0.1,
    ) -> None:
        super().__init__()
        if init_std <= 0:
            raise ValueError(f"init_std must be positive, got {init_std}")
        self.mean = mlp(state_dim, hidden, action_dim)
        self.log_std = nn.Parameter(torch.full((action_dim,), math.log(init_std)))
        self.max_action = max_action

    def forward(self, states: Tensor) -> tuple[Tensor, Tensor]:
        """Mean ``(B, action_dim)`` and log standard deviation ``(B, action_dim)`` of the action."""
        mean = self.mean(states)
        if self.max_action is not None:
            mean = self.max_action * torch.tanh(mean)
        return mean, self.log_std.expand_as(mean)


def sample_action(
    policy: GaussianPolicy, params: Params, states: Tensor, generator: torch.Generator | None = None,
) -> Tensor:
    """One action per state ``(B, A)`` from the policy with weights ``params`` (no gradient)."""
    with torch.no_grad():
        mean, log_std = forward_with(policy, params, states)
        return mean + log_std.exp() * torch.randn(mean.shape, generator=generator)


def sample_action_per_task(
    policy: GaussianPolicy, params: Params, states: Tensor, generator: torch.Generator | None = None,
) -> Tensor:
    """Actions for ``M`` tasks at once: ``params`` hold a leading task axis (each tensor ``(M, *shape)``),
    ``states`` are ``(M * N, S)`` grouped by task; returns ``(M * N, A)`` (one :func:`torch.func.vmap` call)."""
    with torch.no_grad():
        m = next(iter(params.values())).shape[0]
        mean, log_std = vmap(lambda p, s: forward_with(policy, p, s))(params, states.view(m, -1, states.shape[-1]))
        mean, log_std = mean.flatten(0, 1), log_std.flatten(0, 1)
        return mean + log_std.exp() * torch.randn(mean.shape, generator=generator)


def log_prob(policy: GaussianPolicy, params: Params, states: Tensor, actions: Tensor) -> Tensor:
    """Log-density of ``actions`` ``(T, B, A)`` in ``states`` ``(T, B, S)``, summed over action dims: ``(T, B)``."""
    t, b = states.shape[:2]
    mean, log_std = forward_with(policy, params, states.reshape(t * b, -1))
    z = (actions.reshape(t * b, -1) - mean) / log_std.exp()
    lp = -0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)
    return lp.sum(-1).view(t, b)
