"""Per-episode test values kept on disk: equal to a fresh evaluation, reused for any prefix of the
episodes, extended episode by episode, and never reused for other weights or another key."""

import pytest
import torch

import metalearn_lib as ml
from metalearn_lib import recipes, score_cache
from metalearn_lib.evaluation import episode_values


@pytest.fixture
def counted(monkeypatch) -> list[int]:
    """Numbers of episodes each call of cached_evaluate actually evaluated."""
    calls: list[int] = []

    def spy(learner, episodes, device=None, progress=False):
        calls.append(len(episodes))
        return episode_values(learner, episodes, device, progress)

    monkeypatch.setattr(score_cache, "episode_values", spy)
    return calls


def _protonet() -> ml.MetaLearner:
    return ml.learners.PrototypicalNetwork(ml.Conv4((1, 28, 28), hidden=8))


def test_values_equal_a_fresh_evaluation_and_prefixes_are_read_back(synthetic, tmp_path, counted):
    learner = _protonet()
    six = synthetic.fixed_episodes(5, 1, 3, 6, seed=4)
    first = score_cache.cached_evaluate(learner, six, "k", directory=tmp_path)
    assert first == ml.evaluate(learner, six) and counted == [6]
    four = synthetic.fixed_episodes(5, 1, 3, 4, seed=4)
    assert score_cache.cached_evaluate(learner, four, "k", directory=tmp_path) == ml.evaluate(learner, four)
    assert counted == [6]  # nothing evaluated for a prefix
    nine = synthetic.fixed_episodes(5, 1, 3, 9, seed=4)
    assert score_cache.cached_evaluate(learner, nine, "k", directory=tmp_path) == ml.evaluate(learner, nine)
    assert counted == [6, 3]  # only the three episodes past the kept six


def test_other_weights_key_or_seed_are_evaluated_again(synthetic, tmp_path, counted):
    learner = _protonet()
    episodes = synthetic.fixed_episodes(5, 1, 3, 4, seed=4)
    score_cache.cached_evaluate(learner, episodes, "k", directory=tmp_path)
    score_cache.cached_evaluate(learner, episodes, "other key", directory=tmp_path)
    score_cache.cached_evaluate(learner, synthetic.fixed_episodes(5, 1, 3, 4, seed=5), "k", directory=tmp_path)
    with torch.no_grad():
        next(learner.parameters())[0].add_(1.0)
    changed = score_cache.cached_evaluate(learner, episodes, "k", directory=tmp_path)
    assert counted == [4, 4, 4, 4] and changed == ml.evaluate(learner, episodes)
    assert len(list(tmp_path.glob("*.json"))) == 4


def test_only_fixed_episodes_can_be_cached(synthetic, tmp_path):
    episodes = list(synthetic.fixed_episodes(5, 1, 3, 4, seed=4))
    with pytest.raises(TypeError, match="needs FixedEpisodes"):
        score_cache.cached_evaluate(_protonet(), episodes, "k", directory=tmp_path)


def test_state_digest_follows_the_weights_only():
    a = _protonet()
    b = _protonet()
    b.load_state_dict(a.state_dict())
    assert score_cache.state_digest(a) == score_cache.state_digest(b)
    with torch.no_grad():
        next(b.parameters()).view(-1)[0] += 1e-3
    assert score_cache.state_digest(a) != score_cache.state_digest(b)


def test_test_score_reuses_a_chapters_scores(omniglot_splits, monkeypatch, tmp_path, counted):
    monkeypatch.setenv("METALEARN_BUDGET", "smoke")
    monkeypatch.setenv("METALEARN_CACHE", str(tmp_path))
    learner = ml.make_learner("protonet", (1, 28, 28), 5, hidden=8)
    test = omniglot_splits["test"]
    chapter = recipes.test_score("protonet", learner, 5, 1, 6, test=test)
    benchmark = recipes.test_score(recipes.recipe("protonet"), learner, 5, 1, 4, test=test)
    assert counted == [6]
    assert benchmark == ml.evaluate(learner, recipes.fixed_test_episodes(5, 1, 4, test=test))
    assert chapter == ml.evaluate(learner, recipes.fixed_test_episodes(5, 1, 6, test=test))
    recipes.test_score("protonet", learner, 5, 5, 4, test=test)
    assert counted == [6, 4]  # another shot is another set of episodes
