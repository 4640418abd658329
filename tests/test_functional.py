import pytest
import torch

import metalearn_lib as ml
from metalearn_lib.functional import autograd_grads, func_grads, gradient_descent


def test_params_of_returns_live_parameters():
    net = torch.nn.Linear(3, 2)
    params = ml.params_of(net)
    assert set(params) == {"weight", "bias"} and params["weight"] is net.weight


def test_forward_with_substitutes_parameters():
    net = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    torch.testing.assert_close(ml.forward_with(net, ml.params_of(net), x), net(x))
    zeros = {k: torch.zeros_like(v) for k, v in ml.params_of(net).items()}
    assert torch.count_nonzero(ml.forward_with(net, zeros, x)) == 0


def test_sgd_step_with_float_and_per_parameter_rates():
    p = {"a": torch.tensor([1.0, 2.0]), "b": torch.tensor(3.0)}
    g = {"a": torch.tensor([0.5, -1.0]), "b": torch.tensor(2.0)}
    out = ml.sgd_step(p, g, 0.1)
    torch.testing.assert_close(out["a"], torch.tensor([0.95, 2.1]))
    torch.testing.assert_close(out["b"], torch.tensor(2.8))
    per = ml.sgd_step(p, g, {"a": torch.tensor([1.0, 0.0]), "b": 0.5})
    torch.testing.assert_close(per["a"], torch.tensor([0.5, 2.0]))
    torch.testing.assert_close(per["b"], torch.tensor(2.0))
    torch.testing.assert_close(p["a"], torch.tensor([1.0, 2.0]))  # inputs unchanged


def test_sgd_step_errors():
    p, g = {"a": torch.zeros(1)}, {"b": torch.zeros(1)}
    with pytest.raises(ValueError, match="different tensors"):
        ml.sgd_step(p, g, 0.1)
    with pytest.raises(ValueError, match="no learning rate"):
        ml.sgd_step(p, {"a": torch.zeros(1)}, {})


def test_grads_of_and_second_order_graph():
    w = torch.tensor([2.0], requires_grad=True)
    loss = (w**3).sum()
    g = ml.grads_of(loss, {"w": w}, create_graph=True)
    torch.testing.assert_close(g["w"], torch.tensor([12.0]))  # 3 w^2
    (second,) = torch.autograd.grad(g["w"].sum(), w)
    torch.testing.assert_close(second, torch.tensor([12.0]))  # 6 w
    assert not ml.grads_of((w**3).sum(), {"w": w}, create_graph=False)["w"].requires_grad


def _line_loss():
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 6.0])
    return lambda p: ((p["w"] * x - y) ** 2).mean()


def test_gradient_descent_is_differentiable_only_when_asked():
    w0 = torch.tensor([1.0], requires_grad=True)
    loss = _line_loss()
    # one step: w1 = w0 - lr * 5 (w0 - 3) = (1 - 5 lr) w0 + 15 lr; d w1 / d w0 = 1 - 5 lr = 0.5 at lr = 0.1
    fast = gradient_descent(loss, {"w": w0}, steps=1, lr=0.1, differentiable=True)
    torch.testing.assert_close(fast["w"], torch.tensor([2.0]), atol=1e-6, rtol=0)
    (grad,) = torch.autograd.grad(fast["w"].sum(), w0)
    torch.testing.assert_close(grad, torch.tensor([0.5]))
    detached = gradient_descent(loss, {"w": w0}, steps=1, lr=0.1)
    assert not detached["w"].requires_grad
    torch.testing.assert_close(detached["w"], fast["w"].detach())
    with pytest.raises(ValueError, match="steps"):
        gradient_descent(loss, {"w": w0}, steps=-1, lr=0.1)


def test_gradient_descent_first_order_keeps_only_the_identity_path():
    w0 = torch.tensor([1.0], requires_grad=True)
    fast = gradient_descent(_line_loss(), {"w": w0}, steps=2, lr=0.1, differentiable=True, second_order=False)
    (grad,) = torch.autograd.grad(fast["w"].sum(), w0)
    torch.testing.assert_close(grad, torch.tensor([1.0]))


def test_gradient_descent_differentiates_per_parameter_rates():
    w0 = torch.tensor([1.0])
    lr = torch.tensor([0.1], requires_grad=True)
    fast = gradient_descent(_line_loss(), {"w": w0}, steps=1, lr={"w": lr}, differentiable=True)
    # w1 = w0 - lr * 5 (w0 - 3) = 1 + 10 lr, so d w1 / d lr = 10
    (grad,) = torch.autograd.grad(fast["w"].sum(), lr)
    torch.testing.assert_close(grad, torch.tensor([10.0]))


def test_func_grads_matches_autograd_grads():
    w = {"w": torch.tensor([1.5], requires_grad=True)}
    loss = _line_loss()
    torch.testing.assert_close(func_grads(loss, w, False), autograd_grads(loss, w, False))
