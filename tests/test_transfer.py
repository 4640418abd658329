import pytest
import torch

import metalearn_lib as ml
from metalearn_lib.learners import FineTuner


def linear_episode():
    x = torch.tensor([[1.0], [2.0]])
    return ml.Episode(x, 3 * x, torch.tensor([[4.0]]), torch.tensor([[12.0]]))


def test_fine_tuning_step_matches_hand_computation():
    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(1.0)
    learner = FineTuner(net, inner_lr=0.1, inner_steps=1)
    ep = linear_episode()
    # MSE = mean((w x - 3x)^2); d/dw = mean(2 (w - 3) x^2) = (w - 3) * 5 = -10 at w = 1
    params = learner.adapt(ep.support_x, ep.support_y)
    torch.testing.assert_close(params["weight"], torch.tensor([[2.0]]))
    torch.testing.assert_close(learner.predict(params, ep.query_x), torch.tensor([[8.0]]))
    assert net.weight.item() == 1.0  # the learner is untouched


def test_zero_steps_uses_the_pretrained_network():
    net = torch.nn.Linear(1, 1)
    learner = FineTuner(net, inner_steps=0)
    ep = linear_episode()
    torch.testing.assert_close(learner(ep), net(ep.query_x))
    with pytest.raises(ValueError, match="inner_steps"):
        FineTuner(net, inner_steps=-1)


def test_joint_training_loss_pools_support_and_query():
    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ep = linear_episode()
    # residuals (1-3)x for x = 1, 2, 4: 4, 16, 64 -> mean 28
    assert FineTuner(net).meta_loss(ep).item() == pytest.approx(28.0)


def test_joint_training_learns_the_average_sinusoid():
    torch.manual_seed(0)
    family = ml.Sinusoid()
    learner = FineTuner(ml.mlp(1, (40, 40), 1), inner_steps=0)
    ml.meta_train(learner, family.episodes(10, 10, seed=0), 600, outer_lr=3e-3, meta_batch_size=10, progress=False)
    x = torch.linspace(-4, 4, 50)[:, None]
    expected = -2 * 2.55 / torch.pi * torch.cos(x)  # E[A sin(x - phi)], A ~ U[0.1, 5], phi ~ U[0, pi]
    with torch.no_grad():
        assert (learner.net(x) - expected).abs().mean() < 0.4
