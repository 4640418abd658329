import pytest
import torch
from torch import nn
from torch.func import functional_call, vmap

import metalearn_lib as ml


def test_conv4_shapes():
    net = ml.Conv4((1, 28, 28))
    assert net(torch.randn(6, 1, 28, 28)).shape == (6, 64) and net.feature_dim == 64
    head = ml.Conv4((3, 84, 84), hidden=32, n_out=5)
    assert head.feature_dim == 32 * 5 * 5 and head(torch.randn(2, 3, 84, 84)).shape == (2, 5)


def test_conv4_rejects_wrong_inputs():
    with pytest.raises(ValueError, match="too small"):
        ml.Conv4((1, 8, 8))
    with pytest.raises(ValueError, match=r"expects \(B, 1, 28, 28\)"):
        ml.Conv4((1, 28, 28))(torch.randn(2, 3, 28, 28))


def test_conv4_batch_norm_uses_batch_statistics_in_eval_mode():
    net = ml.Conv4((1, 28, 28)).eval()
    x = torch.randn(4, 1, 28, 28)
    # no running statistics: the output for x depends on the other members of its batch
    assert not torch.allclose(net(x)[:2], net(x[:2]))
    assert all(b is None for b in [m.running_mean for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)])


def test_mlp_shapes_and_parameter_count():
    net = ml.mlp(1, (40, 40), 1)
    assert net(torch.randn(7, 1)).shape == (7, 1)
    assert ml.count_parameters(net) == (1 * 40 + 40) + (40 * 40 + 40) + (40 + 1)


def test_conv4_works_under_vmap_of_functional_call():
    net = ml.Conv4((1, 28, 28), hidden=8, n_out=3)
    params = {k: v.detach() for k, v in net.named_parameters()}
    stacked = {k: v.expand(4, *v.shape) for k, v in params.items()}
    x = torch.randn(4, 5, 1, 28, 28)
    batched = vmap(lambda p, xi: functional_call(net, p, (xi,)))(stacked, x)
    looped = torch.stack([net(xi) for xi in x])
    torch.testing.assert_close(batched, looped)


def test_reset_parameters_is_reproducible_and_keeps_global_rng():
    a, b = ml.Conv4(hidden=8), ml.Conv4(hidden=8)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    ml.reset_parameters(a, seed=5)
    after = torch.rand(1)
    ml.reset_parameters(b, seed=5)
    assert before == after
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_batch_stat_norm_elementary_form_equals_the_fused_kernel():
    norm = ml.backbones.BatchStatNorm2d(3).double()
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([0.5, 1.0, 2.0])), norm.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    expected = nn.functional.batch_norm(x, None, None, norm.weight, norm.bias, training=True, eps=norm.eps)
    fused = norm(x)
    with ml.backbones.elementary_batch_norm(norm):
        assert norm.elementary
        elementary = norm(x)
    assert not norm.elementary
    torch.testing.assert_close(fused, expected)
    torch.testing.assert_close(elementary, expected)
    inputs = (x, norm.weight, norm.bias)
    reference = torch.autograd.grad(expected.pow(3).sum(), inputs, retain_graph=True)
    for y in (fused, elementary):
        torch.testing.assert_close(torch.autograd.grad(y.pow(3).sum(), inputs), reference)


def test_elementary_batch_norm_restores_each_module_even_after_an_error():
    net = ml.Conv4((1, 28, 28), hidden=4)
    norms = [m for m in net.modules() if isinstance(m, ml.backbones.BatchStatNorm2d)]
    norms[0].elementary = True
    with pytest.raises(RuntimeError, match="inside"):
        with ml.backbones.elementary_batch_norm(net):
            assert all(m.elementary for m in norms) and len(norms) == 4
            raise RuntimeError("inside")
    assert [m.elementary for m in norms] == [True, False, False, False]
