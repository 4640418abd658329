"""Parameter-generating learners: weight generator and MetaNet."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import metalearn_lib as ml
from metalearn_lib.learners.generation import MetaNet, WeightGenerator, softmax_weight_gradients


def test_closed_form_gradients_match_autograd_per_example():
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(4, 6, dtype=torch.float64, generator=g, requires_grad=True)
    bias = torch.randn(4, dtype=torch.float64, generator=g)
    z = torch.randn(5, 6, dtype=torch.float64, generator=g)
    y = torch.tensor([0, 3, 1, 1, 2])
    ours = softmax_weight_gradients(z @ weight.T + bias, z, y)
    for i in range(5):
        (expected,) = torch.autograd.grad(F.cross_entropy(z[i : i + 1] @ weight.T + bias, y[i : i + 1]), weight)
        torch.testing.assert_close(ours[i], expected)


def tiny(cls, n_way=3, d=8):
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(16, d), nn.ReLU())
    return cls(encoder, d, n_way, hidden=16) if cls is MetaNet else cls(encoder, d, hidden=16)


def test_weight_generator_averages_generated_rows_per_class():
    learner = tiny(WeightGenerator)
    z = torch.randn(5, 8)
    y = torch.tensor([0, 1, 0, 2, 1])
    head = learner.generate(z, y)
    out = learner.generator(z)
    torch.testing.assert_close(head.weight[0], (out[0, :-1] + out[2, :-1]) / 2)
    torch.testing.assert_close(head.bias[2], out[3, -1])


def test_metanet_prediction_by_hand():
    learner = tiny(MetaNet)
    sx, sy = torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    qx = torch.rand(2, 1, 4, 4)
    state = learner.adapt(sx, sy)
    zs, zq = learner.encoder(sx), learner.encoder(qx)
    for i in range(4):  # fast weights of example i come from its own loss gradient only
        grad = torch.autograd.grad(F.cross_entropy(learner.base(zs[i : i + 1]), sy[i : i + 1]), learner.base.weight)[0]
        torch.testing.assert_close(state.fast_weights[i], learner.meta(grad), atol=1e-6, rtol=1e-5)
    cos = F.cosine_similarity(zq[:, None], zs[None], dim=-1)
    attention = torch.softmax(learner.log_scale.exp() * cos, dim=-1)
    for q in range(2):
        fast = sum(attention[q, i] * state.fast_weights[i] for i in range(4))
        expected = learner.base(zq[q]) + fast @ zq[q]
        torch.testing.assert_close(learner.predict(state, qx)[q], expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="labels must lie in 0..2"):
        learner.adapt(sx, torch.tensor([0, 1, 3, 0]))


def test_weight_generator_is_label_permutation_equivariant():
    learner = tiny(WeightGenerator)
    sx, sy = torch.rand(6, 1, 4, 4), torch.tensor([0, 0, 1, 1, 2, 2])
    qx = torch.rand(3, 1, 4, 4)
    perm = torch.tensor([2, 0, 1])  # class c becomes perm[c]
    a = learner.predict(learner.adapt(sx, sy), qx)
    b = learner.predict(learner.adapt(sx, perm[sy]), qx)
    torch.testing.assert_close(b[:, perm], a)


@pytest.mark.parametrize("cls", [WeightGenerator, MetaNet])
def test_generators_learn_few_shot_tasks(cls):
    data = ml.synthetic_classes(n_classes=40, n_per_class=10, image_shape=(1, 4, 4), noise=0.3, seed=2)
    learner = tiny(cls, n_way=5, d=32)
    ml.meta_train(learner, data.episodes(5, 1, 5, seed=0), steps=300, outer_lr=3e-3, progress=False)
    score = ml.evaluate(learner, data.fixed_episodes(5, 1, 5, n_episodes=50, seed=1))
    assert score.mean > 0.6, str(score)  # chance is 0.2
