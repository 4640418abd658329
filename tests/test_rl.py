"""Meta-RL: point-navigation dynamics, returns, the Gaussian policy, the policy gradient, MAML-RL."""

from __future__ import annotations

import math

import pytest
import torch

import metalearn_lib as ml
from metalearn_lib import rl


def constant_policy(action):
    return lambda states: torch.as_tensor(action, dtype=states.dtype).expand_as(states)


def test_dynamics_clip_actions_and_reward_is_minus_distance():
    env = rl.PointNavigation(max_step=0.1, horizon=3)
    goals = torch.tensor([[0.3, -0.2]])
    traj = env.rollout(constant_policy([0.5, 0.05]), goals)  # x is clipped to 0.1, y is not
    expected_states = torch.tensor([[0.0, 0.0], [0.1, 0.05], [0.2, 0.1]])
    torch.testing.assert_close(traj.states[:, 0], expected_states)
    positions = torch.tensor([[0.1, 0.05], [0.2, 0.1], [0.3, 0.15]])
    distances = torch.tensor([math.hypot(*(p - goals[0]).tolist()) for p in positions])
    torch.testing.assert_close(traj.rewards[:, 0], -distances)
    torch.testing.assert_close(traj.positions()[-1, 0], positions[-1])
    torch.testing.assert_close(traj.returns, traj.rewards.sum(0))


def test_goals_lie_in_the_square_and_bad_shapes_are_rejected():
    env = rl.PointNavigation(goal_range=0.5)
    goals = env.sample_goals(1000, torch.Generator().manual_seed(0))
    assert goals.shape == (1000, 2) and goals.abs().max() <= 0.5 and goals.abs().max() > 0.45
    with pytest.raises(ValueError, match="goals must be"):
        env.rollout(constant_policy([0.0, 0.0]), torch.zeros(3))


def test_split_groups_trajectories_by_task():
    env = rl.PointNavigation(horizon=4)
    goals = torch.tensor([[0.1, 0.1], [-0.2, 0.3]]).repeat_interleave(3, 0)
    parts = env.rollout(constant_policy([0.01, 0.0]), goals).split(3)
    assert len(parts) == 2 and parts[1].states.shape == (4, 3, 2) and parts[1].rewards.shape == (4, 3)
    torch.testing.assert_close(parts[1].goals, goals[3:])
    with pytest.raises(ValueError, match="groups of 4"):
        parts[0].split(4)


def test_returns_to_go_by_hand():
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    # G_2 = 3, G_1 = 2 + 0.5 * 3 = 3.5, G_0 = 1 + 0.5 * 3.5 = 2.75
    torch.testing.assert_close(rl.returns_to_go(rewards, gamma=0.5), torch.tensor([[2.75], [3.5], [3.0]]))


def test_advantages_are_centred_per_step_and_normalised():
    rewards = torch.tensor([[1.0, 3.0], [0.0, 2.0]])
    adv = rl.advantages(rewards, gamma=1.0, normalise=False)  # G = [[1, 5], [0, 2]]
    torch.testing.assert_close(adv, torch.tensor([[-2.0, 2.0], [-1.0, 1.0]]))
    assert rl.advantages(rewards, gamma=1.0).std().item() == pytest.approx(1.0, abs=1e-5)


def test_log_prob_matches_torch_normal():
    policy = rl.GaussianPolicy(init_std=0.3)
    params = ml.params_of(policy)
    states, actions = torch.randn(5, 4, 2), torch.randn(5, 4, 2)
    mean, log_std = policy(states.reshape(20, 2))
    expected = torch.distributions.Normal(mean, log_std.exp()).log_prob(actions.reshape(20, 2)).sum(-1).view(5, 4)
    torch.testing.assert_close(rl.log_prob(policy, params, states, actions), expected)


def test_bounded_mean_and_per_task_sampling_agree_with_shared_weights():
    policy = rl.GaussianPolicy(max_action=0.1)
    states = 10 * torch.randn(6, 2)
    assert policy(states)[0].abs().max() <= 0.1
    params = ml.params_of(policy)
    stacked = {n: torch.stack([p, p, p]) for n, p in params.items()}
    a = rl.sample_action(policy, params, states, torch.Generator().manual_seed(1))
    b = rl.sample_action_per_task(policy, stacked, states, torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)


def test_policy_gradient_step_makes_the_better_action_more_likely():
    policy = rl.GaussianPolicy(init_std=0.1)
    params = ml.params_of(policy)
    states = torch.zeros(1, 2, 2)
    actions = torch.tensor([[[0.05, 0.0], [-0.05, 0.0]]])  # trajectory 0 is rewarded, trajectory 1 punished
    traj = rl.Trajectories(states, actions, torch.tensor([[1.0, -1.0]]), torch.zeros(2, 2), actions[0])
    fast = rl.adapt_policy(policy, params, traj, inner_lr=0.01)
    before, after = rl.log_prob(policy, params, states, actions), rl.log_prob(policy, fast, states, actions)
    assert after[0, 0] > before[0, 0] and after[0, 1] < before[0, 1]
    assert torch.equal(ml.params_of(policy)["log_std"], params["log_std"])  # adapt does not mutate


def outer_loss(policy, params, pre, post, create_graph):
    fast = rl.adapt_policy(policy, params, pre, inner_lr=0.1, create_graph=create_graph)
    return rl.reinforce_loss(policy, fast, post)


def test_meta_gradient_is_second_order_and_matches_finite_differences():
    torch.manual_seed(0)
    policy = rl.GaussianPolicy(hidden=(8,)).double()
    env = rl.PointNavigation(horizon=5)
    goals = torch.tensor([[0.3, 0.2]], dtype=torch.float64).expand(6, 2)
    pre, post = (env.rollout(lambda s: rl.sample_action(policy, ml.params_of(policy), s), goals) for _ in range(2))
    params = ml.params_of(policy)
    second = torch.autograd.grad(outer_loss(policy, params, pre, post, True), params["mean.0.weight"])[0]
    first = torch.autograd.grad(outer_loss(policy, params, pre, post, False), params["mean.0.weight"])[0]
    assert not torch.allclose(first, second, rtol=1e-3, atol=1e-8)
    eps, (i, j) = 1e-6, (3, 1)

    def loss_at(delta: float) -> float:
        moved = {n: p.detach().clone().requires_grad_() for n, p in params.items()}
        with torch.no_grad():
            moved["mean.0.weight"][i, j] += delta
        return outer_loss(policy, moved, pre, post, False).item()

    assert second[i, j].item() == pytest.approx((loss_at(eps) - loss_at(-eps)) / (2 * eps), rel=1e-4, abs=1e-9)


def test_inner_loop_returns_one_stage_of_trajectories_per_step():
    env = rl.PointNavigation(horizon=10)
    policy = rl.GaussianPolicy(hidden=(16,))
    goals = env.sample_goals(3, torch.Generator().manual_seed(0))
    fast, stages = rl.inner_loop(policy, env, goals, steps=2, inner_lr=0.1, n_traj=4)
    assert len(fast) == 3 and len(stages) == 3 and all(len(s) == 3 for s in stages)
    assert stages[2][1].states.shape == (10, 4, 2)
    assert not torch.allclose(fast[0]["log_std"], fast[1]["log_std"])  # each task has its own fast weights
    returns, _ = rl.evaluate_adaptation(policy, env, goals, steps=1, n_traj=4)
    assert returns.shape == (2, 3) and torch.isfinite(returns).all()


def test_training_improves_the_return():
    env = rl.PointNavigation(horizon=30)
    torch.manual_seed(0)
    policy = rl.GaussianPolicy(hidden=(32, 32))
    test_goals = env.sample_goals(10, torch.Generator().manual_seed(1))
    before = rl.evaluate_adaptation(policy, env, test_goals, steps=0)[0].mean()
    history = rl.train_policy(policy, env, 40, meta=False, meta_batch_size=10, n_traj=10, outer_lr=3e-3, progress=False)
    after = rl.evaluate_adaptation(policy, env, test_goals, steps=0)[0].mean()
    assert len(history.returns) == 40 and len(history.returns[0]) == 1
    assert after > before + 2.0, (before, after)


def test_maml_rl_records_pre_and_post_update_returns():
    env = rl.PointNavigation(horizon=10)
    policy = rl.GaussianPolicy(hidden=(16,))
    start = {n: p.detach().clone() for n, p in ml.params_of(policy).items()}
    history = rl.train_policy(policy, env, 2, meta=True, meta_batch_size=3, n_traj=4, progress=False)
    assert len(history.returns) == 2 and len(history.returns[0]) == 2
    assert any(not torch.equal(start[n], p) for n, p in ml.params_of(policy).items())
    first_order = rl.train_policy(policy, env, 1, meta=True, meta_batch_size=2, n_traj=3, first_order=True, progress=False)
    assert all(math.isfinite(r) for r in first_order.returns[0])
    with pytest.raises(ValueError, match="iterations"):
        rl.train_policy(policy, env, 0, meta=True)
