"""2-D point navigation, the meta-RL task family of Finn et al. (2017, section 5.3).

A point starts at the origin; each task has its own goal drawn uniformly from
``[-goal_range, goal_range]^2``. An action is a velocity, clipped to ``[-max_step, max_step]`` per
coordinate; the reward is the negative distance to the goal after the move. Everything is batched
in torch: ``B`` trajectories of ``horizon`` steps are simulated at once, no simulator needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

ActionFn = Callable[[Tensor], Tensor]
"""Maps states ``(B, 2)`` to actions ``(B, 2)``."""


@dataclass(frozen=True)
class Trajectories:
    """``B`` trajectories of ``T`` steps: ``states`` and ``actions`` ``(T, B, 2)``, ``rewards`` ``(T, B)``;
    ``goals`` and ``final_states`` ``(B, 2)``. ``states[t]`` is where ``actions[t]`` was taken; actions are
    the policy's samples, before the environment clips them."""

    states: Tensor
    actions: Tensor
    rewards: Tensor
    goals: Tensor
    final_states: Tensor

    @property
    def returns(self) -> Tensor:
        """Undiscounted return of each trajectory ``(B,)``."""
        return self.rewards.sum(0)

    def split(self, n_traj: int) -> list[Trajectories]:
        """Consecutive groups of ``n_traj`` trajectories (one group per task)."""
        b = self.goals.shape[0]
        if n_traj < 1 or b % n_traj:
            raise ValueError(f"cannot split {b} trajectories into groups of {n_traj}")
        return [
            Trajectories(self.states[:, i : i + n_traj], self.actions[:, i : i + n_traj],
                         self.rewards[:, i : i + n_traj], self.goals[i : i + n_traj], self.final_states[i : i + n_traj])
            for i in range(0, b, n_traj)
        ]

    def positions(self) -> Tensor:
        """Visited positions including the final one ``(T + 1, B, 2)``."""
        return torch.cat([self.states, self.final_states[None]])


@dataclass(frozen=True)
class PointNavigation:
    """The task family. ``horizon`` 100 and ``max_step`` 0.1 as in MAML's experiments."""

    goal_range: float = 0.5
    max_step: float = 0.1
    horizon: int = 100

    def sample_goals(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``(n, 2)`` goals drawn uniformly from the square."""
        return (2 * torch.rand(n, 2, generator=generator) - 1) * self.goal_range

    def rollout(self, act: ActionFn, goals: Tensor) -> Trajectories:
        """Run one trajectory per row of ``goals`` ``(B, 2)`` with the (stochastic) policy ``act``."""
        if goals.ndim != 2 or goals.shape[1] != 2:
            raise ValueError(f"goals must be (B, 2), got {tuple(goals.shape)}")
        state = torch.zeros_like(goals)
        states, actions, rewards = [], [], []
        for _ in range(self.horizon):
            action = act(state)
            nxt = state + action.detach().clamp(-self.max_step, self.max_step)
            states.append(state)
            actions.append(action)
            rewards.append(-torch.linalg.vector_norm(nxt - goals, dim=-1))
            state = nxt
        return Trajectories(torch.stack(states), torch.stack(actions), torch.stack(rewards), goals, state)
