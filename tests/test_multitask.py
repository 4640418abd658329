import pytest
import torch

import metalearn_lib as ml
from metalearn_lib.learners.multitask import MultiTaskNet, train_multitask


def test_heads_share_the_trunk_and_the_loss_is_the_sum_of_task_losses():
    net = MultiTaskNet(torch.nn.Identity(), 1, 2)
    with torch.no_grad():
        net.heads[0].weight.fill_(2.0), net.heads[0].bias.zero_()
        net.heads[1].weight.fill_(-1.0), net.heads[1].bias.fill_(1.0)
    x = torch.tensor([[1.0], [3.0]])
    torch.testing.assert_close(net(x, 0), torch.tensor([[2.0], [6.0]]))
    torch.testing.assert_close(net(x, 1), torch.tensor([[0.0], [-2.0]]))
    with pytest.raises(ValueError, match="tasks 0..1"):
        net(x, 2)
    history = train_multitask(net, [x, x], [torch.zeros(2, 1), torch.zeros(2, 1)], 1, lr=0.0, progress=False)
    assert history.loss[0] == pytest.approx((4 + 36) / 2 + (0 + 4) / 2)  # the sum of the two tasks' MSEs


def test_shared_trunk_fits_several_sinusoids():
    family, g = ml.Sinusoid(), torch.Generator().manual_seed(0)
    tasks = [family.sample_task(g) for _ in range(4)]
    xs = [family.sample_x(30, g) for _ in tasks]
    ys = [task(x) for task, x in zip(tasks, xs)]
    net = MultiTaskNet(ml.mlp(1, (40,), 40), 40, len(tasks))
    history = train_multitask(net, xs, ys, 800, lr=1e-2, progress=False)
    assert history.loss[-1] < 0.05 * history.loss[0]
    with pytest.raises(ValueError, match="each of the 4 tasks"):
        train_multitask(net, xs[:2], ys[:2], 1)
