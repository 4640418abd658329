"""The policy gradient (REINFORCE, Williams 1992) and one inner policy-gradient step for MAML-RL."""

from __future__ import annotations

import torch
from torch import Tensor

from ..functional import Params, grads_of, sgd_step
from .point_navigation import Trajectories
from .policy import GaussianPolicy, log_prob


def returns_to_go(rewards: Tensor, gamma: float = 0.99) -> Tensor:
    """Discounted reward-to-go ``G_t = sum_{u >= t} gamma^(u - t) r_u`` ``(T, B)`` for rewards ``(T, B)``,
    as one product with the upper-triangular matrix of discounts ``(T, T)``."""
    t = torch.arange(rewards.shape[0], device=rewards.device)
    lag = t[None, :] - t[:, None]  # u - t
    discount = gamma ** lag.clamp(min=0).to(rewards.dtype) * (lag >= 0)
    return discount @ rewards


def advantages(rewards: Tensor, gamma: float = 0.99, normalise: bool = True) -> Tensor:
    """``A_t = G_t - b_t`` ``(T, B)``: the reward-to-go minus its mean over the ``B`` trajectories at
    step ``t`` (all ``B`` trajectories share one task; the mean includes each trajectory's own return with
    weight ``1 / B``, which scales the expected gradient by ``1 - 1 / B``); optionally
    divided by the standard deviation of all ``A_t`` so that the step size does not depend on the
    scale of the rewards."""
    g = returns_to_go(rewards, gamma)
    adv = g - g.mean(1, keepdim=True)
    return adv / (adv.std() + 1e-8) if normalise else adv


def reinforce_loss(
    policy: GaussianPolicy, params: Params, traj: Trajectories, gamma: float = 0.99, normalise: bool = True,
) -> Tensor:
    """Surrogate ``-mean_{t,b} log pi(a_t | s_t) A_t`` whose gradient is the policy gradient estimate
    on the trajectories ``traj`` of one task (advantages are constants: no gradient flows into them)."""
    adv = advantages(traj.rewards, gamma, normalise)
    return -(log_prob(policy, params, traj.states, traj.actions) * adv).mean()


def adapt_policy(
    policy: GaussianPolicy, params: Params, traj: Trajectories, inner_lr: float, create_graph: bool = False,
) -> Params:
    """One policy-gradient step on one task's trajectories: ``theta - inner_lr * grad reinforce_loss``.
    With ``create_graph`` the fast weights stay differentiable in ``params`` (second-order MAML)."""
    return sgd_step(params, grads_of(reinforce_loss(policy, params, traj), params, create_graph), inner_lr)
