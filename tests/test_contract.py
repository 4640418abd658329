"""Every registered learner honours the MetaLearner contract on a small episode."""

import pytest
import torch

import metalearn_lib as ml

N_WAY, K_SHOT, N_QUERY = 5, 2, 3


@pytest.fixture(scope="module")
def episode():
    data = ml.synthetic_classes(n_classes=8, n_per_class=8, image_shape=(1, 28, 28), seed=1)
    return next(data.episodes(N_WAY, K_SHOT, N_QUERY, seed=0))


@pytest.mark.parametrize("name", ml.available_learners())
def test_learner_contract(name, episode):
    torch.manual_seed(0)
    learner = ml.make_learner(name, (1, 28, 28), N_WAY)
    before = {k: v.detach().clone() for k, v in learner.state_dict().items()}

    state = learner.adapt(episode.support_x, episode.support_y)
    out = learner.predict(state, episode.query_x)
    assert out.shape == (N_WAY * N_QUERY, N_WAY)
    assert torch.isfinite(out).all()
    for k, v in learner.state_dict().items():  # adapt/predict never mutate the learner
        assert torch.equal(v, before[k]), f"{name}: adapt changed {k}"

    trainable = [p for p in learner.parameters() if p.requires_grad]
    if trainable:
        loss = learner.meta_loss(episode)
        assert loss.ndim == 0 and torch.isfinite(loss)
        loss.backward()
        grads = [p.grad for p in trainable if p.grad is not None]
        assert grads, f"{name}: meta_loss reaches no parameter"
        assert all(torch.isfinite(g).all() for g in grads)
        assert any(g.abs().sum() > 0 for g in grads)

    with torch.no_grad():  # evaluation mode: adapt must work without an outer graph
        assert learner(episode).shape == (N_WAY * N_QUERY, N_WAY)


def test_registry_lookup_errors():
    with pytest.raises(ValueError, match="unknown learner 'nope'"):
        ml.make_learner("nope")
    with pytest.raises(ValueError, match="already registered"):
        ml.learners.register("protonet")(ml.learners.PrototypicalNetwork)
