"""MAML for reinforcement learning (Finn, Abbeel & Levine, 2017, section 3.2) and the joint baseline.

A task is a goal of :class:`PointNavigation`. Its inner loop: sample ``n_traj`` trajectories with the
current weights, take one policy-gradient step (:func:`adapt_policy`), repeat. All tasks of a batch
are simulated together; per-task fast weights are stacked and run with :func:`torch.func.vmap`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import Tensor
from tqdm import tqdm

from ..functional import Params, params_of
from .point_navigation import PointNavigation, Trajectories
from .policy import GaussianPolicy, sample_action, sample_action_per_task
from .policy_gradient import adapt_policy, reinforce_loss


def rollout_tasks(
    policy: GaussianPolicy, env: PointNavigation, params: Params | list[Params], goals: Tensor, n_traj: int,
    generator: torch.Generator | None = None,
) -> list[Trajectories]:
    """``n_traj`` trajectories for each of the ``M`` goals ``(M, 2)``, with one set of weights for all
    tasks (a dict) or one per task (a list of ``M`` dicts); returns one :class:`Trajectories` per task."""
    task_goals = goals.repeat_interleave(n_traj, 0)
    if isinstance(params, dict):
        traj = env.rollout(lambda s: sample_action(policy, params, s, generator), task_goals)
    else:
        if len(params) != len(goals):
            raise ValueError(f"got {len(params)} sets of weights for {len(goals)} goals")
        stacked = {n: torch.stack([p[n] for p in params]) for n in params[0]}
        traj = env.rollout(lambda s: sample_action_per_task(policy, stacked, s, generator), task_goals)
    return traj.split(n_traj)


def inner_loop(
    policy: GaussianPolicy, env: PointNavigation, goals: Tensor, *, steps: int, inner_lr: float, n_traj: int,
    create_graph: bool = False, generator: torch.Generator | None = None,
) -> tuple[list[Params], list[list[Trajectories]]]:
    """Adapt the policy to each goal ``(M, 2)`` with ``steps`` policy-gradient steps.

    Returns the fast weights of each task and the trajectories sampled at each stage: ``stages[k][m]``
    were sampled for task ``m`` after ``k`` steps (``k = 0 .. steps``). The sampling itself is not
    differentiated (Finn et al.'s estimator; see :func:`train_policy`).
    """
    fast = [params_of(policy)] * len(goals)
    stages = [rollout_tasks(policy, env, fast[0], goals, n_traj, generator)]
    for _ in range(steps):
        fast = [adapt_policy(policy, p, traj, inner_lr, create_graph) for p, traj in zip(fast, stages[-1])]
        stages.append(rollout_tasks(policy, env, fast, goals, n_traj, generator))
    return fast, stages


@dataclass
class RLHistory:
    """Mean return over the meta-batch at every training iteration: ``returns[i][k]`` at iteration ``i``
    after ``k`` inner steps (``k = 0, 1`` for MAML-RL, only ``k = 0`` for the joint policy)."""

    returns: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0


def train_policy(
    policy: GaussianPolicy, env: PointNavigation, iterations: int, *, meta: bool, meta_batch_size: int = 20,
    n_traj: int = 20, inner_lr: float = 0.1, outer_lr: float = 3e-3, first_order: bool = False, seed: int = 0,
    progress: bool = True,
) -> RLHistory:
    """Train ``policy`` on random goals with Adam.

    ``meta=True``: MAML-RL. One inner step per task gives fast weights; the outer loss is the REINFORCE
    surrogate of fresh trajectories of the adapted policy, differentiated through the inner step
    (second order unless ``first_order``). As in Finn et al.'s implementation, the dependence of the
    *pre-update* sampling distribution on the weights is dropped (ProMP, Rothfuss et al. 2019, and
    DiCE, Foerster et al. 2018, restore that term).

    ``meta=False``: the joint baseline, plain REINFORCE on the trajectories of all tasks: one policy for
    every goal, fine-tuned at test time with the same inner steps.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=outer_lr)
    history = RLHistory()
    start = time.perf_counter()
    for _ in tqdm(range(iterations), desc="MAML-RL" if meta else "joint policy gradient", disable=not progress):
        goals = env.sample_goals(meta_batch_size, generator)
        fast, stages = inner_loop(
            policy, env, goals, steps=int(meta), inner_lr=inner_lr, n_traj=n_traj,
            create_graph=not first_order, generator=generator,
        )
        loss = torch.stack([reinforce_loss(policy, p, traj) for p, traj in zip(fast, stages[-1])]).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.returns.append([torch.cat([t.returns for t in stage]).mean().item() for stage in stages])
    history.seconds = time.perf_counter() - start
    return history


def evaluate_adaptation(
    policy: GaussianPolicy, env: PointNavigation, goals: Tensor, steps: int, inner_lr: float = 0.1,
    n_traj: int = 20, seed: int = 0,
) -> tuple[Tensor, list[list[Trajectories]]]:
    """Mean return per goal after ``0 .. steps`` inner steps, ``(steps + 1, n_goals)``, each measured
    on fresh trajectories of the adapted policy, and those trajectories (``stages[k][goal]``)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.enable_grad():
        _, stages = inner_loop(policy, env, goals, steps=steps, inner_lr=inner_lr, n_traj=n_traj, generator=generator)
    returns = torch.stack([torch.stack([t.returns.mean() for t in stage]) for stage in stages])
    return returns.detach(), stages
