"""MAML and the learners that reuse its inner loop: meta-gradients checked against finite
differences, a closed form, and each other; plus "learns" tests on synthetic data."""

import pytest
import torch

import metalearn_lib as ml
from metalearn_lib.learners import ANIL, MAML, FirstOrderMAML, LSTMMetaLearner, MetaSGD, Reptile
from metalearn_lib.learners.lstm_meta import flatten_params, preprocess, unflatten_params


def sinusoid_batch(n: int, k: int = 5, seed: int = 0, dtype=torch.float64) -> list[ml.Episode]:
    episodes = ml.Sinusoid().fixed_episodes(k, 7, n, seed=seed)
    return [ml.Episode(*(t.to(dtype) for t in (e.support_x, e.support_y, e.query_x, e.query_y))) for e in episodes]


def tiny_maml(**kwargs) -> MAML:
    torch.manual_seed(0)
    return MAML(ml.mlp(1, (6,), 1).double(), inner_lr=0.05, **kwargs)


def meta_gradient(learner: MAML, episodes: list[ml.Episode]) -> dict[str, torch.Tensor]:
    params = ml.params_of(learner)
    loss = torch.stack([learner.meta_loss(e) for e in episodes]).mean()
    return ml.grads_of(loss, params, create_graph=False)


def test_meta_gradient_matches_finite_differences():
    learner = tiny_maml(inner_steps=2)
    episodes = sinusoid_batch(2)
    grads = meta_gradient(learner, episodes)
    eps = 1e-6
    for name, p in ml.params_of(learner).items():
        numeric = torch.zeros_like(p)
        with torch.no_grad():
            for i in range(p.numel()):
                flat = p.view(-1)
                flat[i] += eps
                up = torch.stack([learner.meta_loss(e) for e in episodes]).mean()
                flat[i] -= 2 * eps
                down = torch.stack([learner.meta_loss(e) for e in episodes]).mean()
                flat[i] += eps
                numeric.view(-1)[i] = (up - down) / (2 * eps)
        torch.testing.assert_close(grads[name], numeric, rtol=1e-5, atol=1e-7)


def test_first_order_differs_from_second_order():
    episodes = sinusoid_batch(2)
    second = meta_gradient(tiny_maml(inner_steps=2), episodes)
    first = meta_gradient(tiny_maml(inner_steps=2, first_order=True), episodes)
    assert max((second[n] - first[n]).abs().max() for n in second) > 1e-4


def test_one_step_maml_on_linear_model_matches_closed_form():
    torch.manual_seed(1)
    d, alpha = 3, 0.1
    net = torch.nn.Linear(d, 1, bias=False).double()
    learner = MAML(net, inner_lr=alpha, inner_steps=1)
    xs, xq = torch.randn(4, d, dtype=torch.float64), torch.randn(6, d, dtype=torch.float64)
    ys, yq = torch.randn(4, 1, dtype=torch.float64), torch.randn(6, 1, dtype=torch.float64)
    loss = learner.meta_loss(ml.Episode(xs, ys, xq, yq))
    (grad,) = torch.autograd.grad(loss, [net.weight])

    w = net.weight.detach().T  # (d, 1)
    hessian = 2 / len(xs) * xs.T @ xs  # of the support MSE
    w_adapted = w - alpha * 2 / len(xs) * xs.T @ (xs @ w - ys)
    query_grad = 2 / len(xq) * xq.T @ (xq @ w_adapted - yq)
    expected = (torch.eye(d, dtype=torch.float64) - alpha * hessian) @ query_grad
    torch.testing.assert_close(loss, ((xq @ w_adapted - yq) ** 2).mean())
    torch.testing.assert_close(grad.T, expected)


def test_first_order_gradient_is_gradient_at_adapted_parameters():
    learner = tiny_maml(inner_steps=3, first_order=True)
    (episode,) = sinusoid_batch(1)
    grads = meta_gradient(learner, [episode])
    adapted = {n: p.detach().requires_grad_() for n, p in learner.adapt(episode.support_x, episode.support_y).items()}
    loss = learner.task_loss(learner.predict(adapted, episode.query_x), episode.query_y)
    at_adapted = ml.grads_of(loss, adapted, create_graph=False)
    for name, g in grads.items():
        torch.testing.assert_close(g, at_adapted[name.removeprefix("net.")])


@pytest.mark.parametrize("first_order", [False, True])
def test_loop_and_vmap_give_the_same_meta_gradient(first_order):
    episodes = sinusoid_batch(4)
    learner = tiny_maml(inner_steps=2, first_order=first_order)
    looped = meta_gradient(learner, episodes)
    batched = ml.grads_of(learner.batched_meta_loss(episodes).mean(), ml.params_of(learner), create_graph=False)
    for name in looped:
        torch.testing.assert_close(batched[name], looped[name])


ON_DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.mark.parametrize("device", ON_DEVICES)
@pytest.mark.parametrize("name", ["maml", "meta-sgd", "anil"])
def test_vmap_agrees_with_loop_on_conv4_with_batch_norm(name, device, tiny_episode):
    """Channels-last Conv4 weights, batch norm, two inner steps: losses and meta-gradients agree (float64)."""
    torch.manual_seed(0)
    learner = ml.make_learner(name, (1, 28, 28), 5, hidden=8, inner_steps=2).double().to(device)
    episodes = [ml.Episode(*(t.double() if t.is_floating_point() else t for t in (e.support_x, e.support_y, e.query_x, e.query_y))).to(device)
                for e in (tiny_episode, next(ml.synthetic_classes(12, 10, (1, 28, 28), seed=1).episodes(5, 2, 3, seed=1)))]
    looped = torch.stack([learner.meta_loss(e) for e in episodes])
    batched = learner.batched_meta_loss(episodes)
    torch.testing.assert_close(batched, looped)
    params = ml.params_of(learner)
    from_loop = ml.grads_of(looped.mean(), params, create_graph=False)
    from_vmap = ml.grads_of(batched.mean(), params, create_graph=False)
    for n in params:
        torch.testing.assert_close(from_vmap[n], from_loop[n])


def test_vmap_outer_step_equals_loop_outer_step():
    episodes = sinusoid_batch(3)
    updated = []
    for use_vmap in (False, True):
        learner = tiny_maml(vmap=use_vmap)
        stats = learner.outer_step(episodes, torch.optim.SGD(learner.parameters(), lr=0.1))
        updated.append((stats["loss"], [p.detach().clone() for p in learner.parameters()]))
    assert updated[0][0] == pytest.approx(updated[1][0])
    for a, b in zip(updated[0][1], updated[1][1]):
        torch.testing.assert_close(a, b)


def test_vmap_rejects_episodes_of_different_shapes():
    a, b = sinusoid_batch(1, k=5)[0], sinusoid_batch(1, k=3)[0]
    with pytest.raises(ValueError, match="one shape"):
        tiny_maml().batched_meta_loss([a, b])


@pytest.mark.parametrize("cls", [MAML, FirstOrderMAML, MetaSGD, ANIL, Reptile, LSTMMetaLearner])
def test_adapt_leaves_learner_untouched_and_eval_is_detached(cls, tiny_episode):
    torch.manual_seed(0)
    learner = cls.for_images((1, 28, 28), 5, hidden=8)
    before = {k: v.clone() for k, v in learner.state_dict().items()}
    state = learner.adapt(tiny_episode.support_x, tiny_episode.support_y)
    assert any(not torch.equal(state[n], p) for n, p in ml.params_of(learner.net).items())
    for k, v in learner.state_dict().items():
        assert torch.equal(v, before[k])
    with torch.no_grad():
        state = learner.adapt(tiny_episode.support_x, tiny_episode.support_y)
    assert all(t.grad_fn is None for t in state.values())


def test_test_time_inner_steps():
    (episode,) = sinusoid_batch(1)
    learner = tiny_maml(inner_steps=1, test_inner_steps=4).eval()
    four_steps = tiny_maml(inner_steps=4)
    with torch.no_grad():
        at_test = learner.adapt(episode.support_x, episode.support_y)
        for n, p in four_steps.adapt(episode.support_x, episode.support_y).items():
            torch.testing.assert_close(at_test[n], p)
        one_step = learner.train().adapt(episode.support_x, episode.support_y)
    assert not torch.allclose(one_step["0.weight"], at_test["0.weight"])
    with pytest.raises(ValueError, match="inner steps must be >= 0"):
        MAML(ml.mlp(1), inner_steps=-1)


def test_meta_sgd_with_equal_rates_equals_maml():
    episodes = sinusoid_batch(2)
    maml = tiny_maml(inner_steps=2)
    torch.manual_seed(0)
    meta_sgd = MetaSGD(ml.mlp(1, (6,), 1).double(), inner_lr=0.05, inner_steps=2)
    assert all(torch.equal(a, b) for a, b in zip(maml.net.parameters(), meta_sgd.net.parameters()))
    g_maml, g_sgd = meta_gradient(maml, episodes), meta_gradient(meta_sgd, episodes)
    for name, g in g_maml.items():
        torch.testing.assert_close(g_sgd[name], g)
    assert all(g_sgd[f"alpha.{k}"].abs().sum() > 0 for k in meta_sgd.alpha_keys.values())  # rates are learned


def test_anil_adapts_only_the_head(tiny_episode):
    torch.manual_seed(0)
    learner = ANIL.for_images((1, 28, 28), 5, hidden=8)
    state = learner.adapt(tiny_episode.support_x, tiny_episode.support_y)
    assert set(state) == {"weight", "bias"}
    loss = learner.meta_loss(tiny_episode)
    loss.backward()
    assert learner.encoder.features[0][0].weight.grad.abs().sum() > 0  # the body is meta-learned


def test_reptile_moves_towards_adapted_weights():
    episodes = sinusoid_batch(3)
    torch.manual_seed(0)
    learner = Reptile(ml.mlp(1, (6,), 1).double(), inner_lr=0.02, inner_steps=3)
    theta = {n: p.detach().clone() for n, p in ml.params_of(learner.net).items()}
    with torch.no_grad():
        phis = [learner.adapt(torch.cat([e.support_x, e.query_x]), torch.cat([e.support_y, e.query_y])) for e in episodes]
    learner.outer_step(episodes, torch.optim.SGD(learner.parameters(), lr=0.5))
    for n, p in ml.params_of(learner.net).items():
        target = torch.stack([phi[n] for phi in phis]).mean(0)
        torch.testing.assert_close(p.detach(), theta[n] + 0.5 * (target - theta[n]))


def test_lstm_preprocessing_and_flattening():
    x = torch.tensor([1.0, -1e-6, 0.0, -2.0])
    expected = torch.tensor([[0.0, 1.0], [-1.0, -1e-6 * 22026.4658], [-1.0, 0.0], [0.0693147, -1.0]])
    torch.testing.assert_close(preprocess(x), expected)
    params = {"a": torch.arange(6.0).view(2, 3), "b": torch.tensor([7.0])}
    flat = flatten_params(params)
    torch.testing.assert_close(flat, torch.tensor([0.0, 1, 2, 3, 4, 5, 7]))
    assert all(torch.equal(params[n], p) for n, p in unflatten_params(flat, params).items())


def test_lstm_meta_learner_update_rule(tiny_episode):
    """With input gate i and forget gate f forced to constants, one LSTM step is theta * f - i * grad."""
    torch.manual_seed(0)
    learner = LSTMMetaLearner.for_images((1, 28, 28), 5, hidden=8, inner_steps=1)
    with torch.no_grad():
        for gate, bias in ((learner.forget_gate, 30.0), (learner.input_gate, 0.0)):
            gate.weight.zero_()
            gate.bias.fill_(bias)  # f = sigmoid(30) = 1, i = sigmoid(0) = 0.5
    state = learner.adapt(tiny_episode.support_x, tiny_episode.support_y)
    params = ml.params_of(learner.net)
    loss = learner.task_loss(learner.net(tiny_episode.support_x), tiny_episode.support_y)
    expected = ml.sgd_step(params, ml.grads_of(loss, params, create_graph=False), 0.5)
    for n in params:
        torch.testing.assert_close(state[n], expected[n])


SETUP = {  # fewer inner steps keep the test short; one first-order step learns too slowly here
    "fomaml": {"inner_steps": 2, "inner_lr": 0.2},
    "reptile": {"inner_steps": 3, "test_inner_steps": 3},
    "lstm-meta": {"inner_steps": 3, "test_inner_steps": 5, "lstm_hidden": 8},
}


@pytest.mark.parametrize("name", ["maml", "fomaml", "reptile", "meta-sgd", "anil", "lstm-meta"])
def test_learns_synthetic_classes(name):
    shape = (1, 16, 16)
    data = ml.synthetic_classes(n_classes=20, n_per_class=10, image_shape=shape, noise=0.3, seed=0)
    torch.manual_seed(0)
    learner = ml.make_learner(name, shape, 5, hidden=16, **SETUP.get(name, {}))
    optimizer = torch.optim.SGD(learner.parameters(), lr=0.5) if name == "reptile" else None
    outer_lr = 1e-2 if name == "lstm-meta" else 3e-3
    ml.meta_train(learner, data.episodes(5, 1, 3, seed=0), 100, optimizer=optimizer, outer_lr=outer_lr,
                  meta_batch_size=2, progress=False)
    score = ml.evaluate(learner, data.fixed_episodes(5, 1, 5, 20, seed=1))
    assert score.mean > 0.6, f"{name}: {score}"  # chance is 0.2; untrained learners score 0.25-0.4
