"""The synthetic user-preference family (ideal-point model) used for few-shot personalisation."""

from __future__ import annotations

import math

import pytest
import torch

import metalearn_lib as ml
from metalearn_lib.datasets import Preferences, UserPreference


def test_ideal_point_rating_by_hand():
    user = UserPreference(ideal=(0.2, -0.1), width=0.5, base=0.5)
    items = torch.tensor([[0.2, -0.1], [0.7, -0.1], [5.0, 5.0]])
    expected = torch.tensor([[4.5], [1.5 + 3 * math.exp(-0.5)], [1.5]])
    torch.testing.assert_close(user(items), expected)


def test_sampled_users_and_items_respect_the_ranges():
    family = Preferences()
    g = torch.Generator().manual_seed(0)
    users = [family.sample_task(g) for _ in range(300)]
    assert all(-1 <= min(u.ideal) and max(u.ideal) <= 1 for u in users)
    assert all(0.3 <= u.width <= 0.7 and 0 <= u.base <= 1 for u in users)
    items = family.sample_items(500, g)
    assert items.shape == (500, 2) and items.abs().max() <= 1.0


def test_episode_shapes_noise_and_determinism():
    family = Preferences(noise=0.0)
    user = family.sample_task(torch.Generator().manual_seed(1))
    e = family.episode_for(user, k_shot=5, n_query=7, generator=torch.Generator().manual_seed(2))
    assert e.support_x.shape == (5, 2) and e.support_y.shape == (5, 1) and e.query_y.shape == (7, 1)
    assert e.support_x.dtype == torch.float32 and not e.is_classification
    torch.testing.assert_close(e.query_y, user(e.query_x))  # no noise: ratings follow the model
    noisy = Preferences(noise=0.5).episode_for(user, 200, 1, torch.Generator().manual_seed(3))
    assert (noisy.support_y - user(noisy.support_x)).std().item() == pytest.approx(0.5, rel=0.15)
    a, b = Preferences().fixed_episodes(4, 6, 3, seed=7), Preferences().fixed_episodes(4, 6, 3, seed=7)
    torch.testing.assert_close(a[2].query_y, b[2].query_y)
    first = next(Preferences().episodes(4, 6, seed=0))
    torch.testing.assert_close(first.support_x, next(Preferences().episodes(4, 6, seed=0)).support_x)
    with pytest.raises(ValueError, match="k_shot"):
        family.episode_for(user, 0, 3)


def test_users_disagree_so_the_average_user_is_nearly_flat():
    family = Preferences(noise=0.0)
    g = torch.Generator().manual_seed(0)
    items = family.sample_items(400, g)
    ratings = torch.stack([family.sample_task(g)(items)[:, 0] for _ in range(1000)])  # (users, items)
    between_items_of_average_user = ratings.mean(0).var()
    between_items_of_one_user = ratings.var(1).mean()
    assert between_items_of_average_user < 0.2 * between_items_of_one_user


def test_a_model_trained_on_many_users_beats_an_untrained_one():
    family = Preferences()
    test = family.fixed_episodes(10, 50, 20, seed=2026)
    torch.manual_seed(0)
    learner = ml.learners.FineTuner(ml.mlp(2, (40, 40), 1), inner_steps=0)
    before = ml.evaluate(learner, test).mean
    ml.meta_train(learner, family.episodes(10, 20, seed=0), 200, meta_batch_size=5, outer_lr=3e-3, progress=False)
    after = ml.evaluate(learner, test).mean
    assert after < 0.5 * before, (before, after)
