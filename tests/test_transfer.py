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


from metalearn_lib.learners import Baseline, BaselinePlusPlus, MetaTransfer  # noqa: E402
from metalearn_lib.learners.meta_transfer import _hard_classes, hard_task_stream, worst_class  # noqa: E402
from metalearn_lib.pretraining import CosineClassifier, make_head, pretrain, pretrained_conv4  # noqa: E402
from metalearn_lib.training import train_or_load  # noqa: E402


# --- supervised pretraining and its cache ---------------------------------------------------------


def test_cosine_classifier_logits_by_hand():
    head = CosineClassifier(2, 2, scale=10.0)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
    logits = head(torch.tensor([[3.0, 0.0]]))
    torch.testing.assert_close(logits, torch.tensor([[10.0, 10.0 / 2**0.5]]))
    with pytest.raises(ValueError, match="available: linear, cosine"):
        make_head("rbf", 4, 3)


def test_pretraining_learns_the_pool(synthetic):
    encoder, head = ml.Conv4(hidden=16), torch.nn.Linear(16, synthetic.n_classes)
    history = pretrain(encoder, head, synthetic, steps=60, batch_size=32, lr=3e-3, progress=False)
    assert len(history.loss) == 60 and history.loss[-1] < 0.3 * history.loss[0]
    with torch.no_grad():
        accuracy = (head(encoder(synthetic.images)).argmax(-1) == synthetic.labels).float().mean()
    assert accuracy > 0.9  # 12 classes: chance is 1/12


def test_pretrained_conv4_trains_once_then_loads(tmp_path, synthetic):
    first = pretrained_conv4(synthetic, 3, batch_size=8, directory=tmp_path, progress=False)
    again = pretrained_conv4(synthetic, 3, batch_size=8, directory=tmp_path, progress=False)
    other = pretrained_conv4(synthetic, 4, batch_size=8, directory=tmp_path, progress=False)
    assert not first.cached and again.cached and not other.cached
    assert first.path == again.path != other.path
    for k, v in first.model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k])
    assert again.history.loss == pytest.approx(first.history.loss)
    with pytest.raises(ValueError, match="unknown head"):
        pretrained_conv4(synthetic, 3, head="rbf", directory=tmp_path)


def test_train_or_load_restores_weights_and_history(tmp_path, synthetic):
    learner = ml.make_learner("protonet")
    val = synthetic.fixed_episodes(5, 1, 2, 3, seed=1)
    train = lambda: ml.meta_train(learner, synthetic.episodes(5, 1, 2), 2, val_episodes=val, eval_every=1, progress=False)  # noqa: E731
    first = train_or_load(learner, tmp_path / "p.pt", train)
    fresh = ml.make_learner("protonet")
    again = train_or_load(fresh, tmp_path / "p.pt", lambda: pytest.fail("must load, not train"))
    assert not first.cached and again.cached and again.model is fresh
    for k, v in learner.state_dict().items():
        assert torch.equal(v, fresh.state_dict()[k])
    assert again.history == first.history


# --- Baseline / Baseline++ -------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [Baseline, BaselinePlusPlus])
def test_baseline_adapt_returns_new_state_and_does_not_leak(cls, synthetic):
    learner = cls(ml.Conv4(hidden=16), inner_steps=20)
    before = {k: v.clone() for k, v in learner.state_dict().items()}
    a, b = synthetic.episodes(5, 2, 3, seed=0), synthetic.episodes(5, 2, 3, seed=1)
    ep_a, ep_b = next(a), next(b)
    head_b = learner.adapt(ep_b.support_x, ep_b.support_y)
    head_a = learner.adapt(ep_a.support_x, ep_a.support_y)
    head_b_again = learner.adapt(ep_b.support_x, ep_b.support_y)
    for name in head_b:  # adapting to task a in between changes nothing for task b
        torch.testing.assert_close(head_b[name], head_b_again[name])
        assert not torch.equal(head_a[name], head_b[name])
    for k, v in learner.state_dict().items():
        assert torch.equal(v, before[k])


def test_baseline_plus_plus_without_steps_is_a_cosine_prototype_classifier(tiny_episode):
    encoder = ml.Conv4(hidden=16)
    ours = BaselinePlusPlus(encoder, inner_steps=0, scale=10.0)
    protonet = ml.learners.PrototypicalNetwork(encoder, distance="cosine", scale=10.0)
    torch.testing.assert_close(ours(tiny_episode), protonet(tiny_episode))


@pytest.mark.parametrize("name", ["baseline", "baseline++"])
def test_pretrained_baselines_solve_new_classes(name, tmp_path):
    data = ml.synthetic_classes(n_classes=24, n_per_class=12, noise=0.3, seed=3)
    train, test = data.subset(range(16)), data.subset(range(16, 24))
    learner = ml.learners.LEARNERS[name](ml.Conv4(hidden=32), inner_lr=0.1)
    learner.pretrain(train, 60, hidden=32, batch_size=32, lr=3e-3, directory=tmp_path, progress=False)
    score = ml.evaluate(learner, test.fixed_episodes(5, 5, 5, 20, seed=0))
    assert score.mean > 0.45  # chance 0.2


# --- meta-transfer learning -------------------------------------------------------------------------


def test_mtl_identity_scaling_gives_the_pretrained_features(tiny_episode):
    encoder = ml.Conv4(hidden=8)
    learner = MetaTransfer(encoder)
    with torch.no_grad():
        torch.testing.assert_close(learner.features(tiny_episode.query_x), encoder(tiny_episode.query_x))
    with pytest.raises(ValueError, match="BatchNorm2d"):
        MetaTransfer(ml.Conv4(norm=False))
    with pytest.raises(ValueError, match="without head"):
        MetaTransfer(ml.Conv4(n_out=5))


def test_mtl_meta_gradient_matches_finite_differences(tiny_episode):
    torch.manual_seed(0)
    learner = MetaTransfer(ml.Conv4(hidden=4), inner_steps=2, inner_lr=0.5).double()
    with torch.no_grad():
        learner.shift[3].normal_(0, 0.1)
    ep = ml.Episode(tiny_episode.support_x.double(), tiny_episode.support_y, tiny_episode.query_x.double(), tiny_episode.query_y)
    learner.meta_loss(ep).backward()
    for param, i in ((learner.scale[1], 2), (learner.shift[3], 0), (learner.scale[0], 1)):
        eps = 1e-6
        with torch.no_grad():
            param[i] += eps
            up = learner.meta_loss(ep).item()
            param[i] -= 2 * eps
            down = learner.meta_loss(ep).item()
            param[i] += eps
        assert param.grad[i].item() == pytest.approx((up - down) / (2 * eps), rel=1e-4, abs=1e-8)


def test_mtl_keeps_the_backbone_frozen_and_learns(synthetic):
    learner = MetaTransfer(ml.Conv4(hidden=16), inner_steps=5)
    frozen = {k: v.clone() for k, v in learner.encoder.state_dict().items()}
    meta = {n: p.detach().clone() for n, p in learner.named_parameters() if p.requires_grad}
    assert all(not n.startswith("encoder.") for n in meta)
    stream = hard_task_stream(synthetic, learner, 5, 2, 3, meta_batch_size=2, seed=0)
    ml.meta_train(learner, stream, 6, meta_batch_size=2, outer_lr=1e-2, progress=False)
    for k, v in learner.encoder.state_dict().items():
        assert torch.equal(v, frozen[k]), f"frozen encoder weight {k} changed"
    changed = [n for n, p in learner.named_parameters() if p.requires_grad and not torch.equal(p, meta[n])]
    assert set(changed) == set(meta) == {f"{kind}.{i}" for kind in ("scale", "shift") for i in range(4)}


class AlwaysClassZero(ml.MetaLearner):
    @classmethod
    def for_images(cls, image_shape, n_way):
        return cls()

    def adapt(self, support_x, support_y):
        return int(support_y.max()) + 1

    def predict(self, n_way, query_x):
        return torch.nn.functional.one_hot(torch.zeros(len(query_x), dtype=torch.long), n_way).float()


def test_hard_tasks_are_built_from_failure_classes(synthetic):
    learner = AlwaysClassZero()
    ep = next(synthetic.episodes(5, 1, 2, seed=0))
    assert worst_class(learner, ep) == 1  # class 0 is always right, classes 1..4 always wrong: first minimum
    g = torch.Generator().manual_seed(0)
    classes = _hard_classes(torch.tensor([7, 3]), torch.arange(12), 5, g)
    assert classes[:2].tolist() in ([7, 3], [3, 7]) and len(classes.unique()) == 5
    assert len(_hard_classes(torch.arange(8), torch.arange(12), 5, g)) == 5
    stream = hard_task_stream(synthetic, learner, 5, 1, 2, meta_batch_size=3, seed=0)
    batch = [next(stream) for _ in range(6)]
    assert all(e.support_x.shape == (5, 1, 28, 28) and e.query_x.shape == (10, 1, 28, 28) for e in batch)
