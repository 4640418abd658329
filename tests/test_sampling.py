import pytest
import torch

import metalearn_lib as ml

LABELS = torch.arange(10).repeat_interleave(6)  # 10 classes, 6 examples each


def test_episode_indices_have_requested_shape_and_are_disjoint():
    s = ml.EpisodeSampler(LABELS, n_way=4, k_shot=2, n_query=3, generator=torch.Generator().manual_seed(0))
    for _ in range(50):
        idx = s.sample()
        assert idx.classes.shape == (4,) and len(idx.classes.unique()) == 4
        assert idx.support.shape == (8,) and idx.query.shape == (12,)
        assert not set(idx.support.tolist()) & set(idx.query.tolist())
        # grouped by class, in the order of `classes`
        torch.testing.assert_close(LABELS[idx.support], idx.classes.repeat_interleave(2))
        torch.testing.assert_close(LABELS[idx.query], idx.classes.repeat_interleave(3))


def test_sampler_is_deterministic_given_a_seed_and_varies_across_draws():
    draw = lambda seed: ml.EpisodeSampler(LABELS, 3, 1, 2).sample(torch.Generator().manual_seed(seed))
    a, b, c = draw(1), draw(1), draw(2)
    assert torch.equal(a.support, b.support) and torch.equal(a.query, b.query)
    assert not (torch.equal(a.support, c.support) and torch.equal(a.query, c.query))


def test_sampler_covers_all_classes():
    s = ml.EpisodeSampler(LABELS, 2, 1, 1, generator=torch.Generator().manual_seed(0))
    seen = torch.cat([s.sample().classes for _ in range(200)])
    assert set(seen.tolist()) == set(range(10))


def test_too_many_ways_is_a_value_error():
    with pytest.raises(ValueError, match="n_way=11 but only 10 classes"):
        ml.EpisodeSampler(LABELS, 11, 1, 1)


def test_too_few_examples_is_a_value_error():
    labels = torch.cat([LABELS, torch.tensor([10, 10])])  # class 10 has 2 examples
    with pytest.raises(ValueError, match="class 10 has 2"):
        ml.EpisodeSampler(labels, 5, 2, 1)


@pytest.mark.parametrize("bad", [dict(n_way=0), dict(k_shot=0), dict(n_query=-1)])
def test_nonpositive_shapes_are_rejected(bad):
    args = dict(n_way=2, k_shot=1, n_query=1) | bad
    with pytest.raises(ValueError):
        ml.EpisodeSampler(LABELS, **args)


def test_float_labels_are_rejected():
    with pytest.raises(ValueError, match="integer"):
        ml.EpisodeSampler(LABELS.float(), 2, 1, 1)


def test_collate_relabels_and_converts_uint8_to_unit_float():
    images = torch.arange(60, dtype=torch.uint8).view(60, 1, 1, 1).expand(60, 1, 2, 2).contiguous()
    idx = ml.EpisodeIndices(torch.tensor([7, 2]), torch.tensor([42, 12]), torch.tensor([43, 44, 13, 14]))
    ep = ml.collate(images, idx)
    assert ep.support_y.tolist() == [0, 1] and ep.query_y.tolist() == [0, 0, 1, 1]
    assert ep.support_x.dtype == torch.float32
    torch.testing.assert_close(ep.support_x[:, 0, 0, 0], torch.tensor([42.0, 12.0]) / 255)


def test_fixed_episodes_are_identical_on_every_access(synthetic):
    fixed = synthetic.fixed_episodes(3, 1, 2, n_episodes=5, seed=11)
    again = synthetic.fixed_episodes(3, 1, 2, n_episodes=5, seed=11)
    other = synthetic.fixed_episodes(3, 1, 2, n_episodes=5, seed=12)
    assert len(fixed) == 5 and len(list(fixed)) == 5
    for i in range(5):
        assert torch.equal(fixed[i].query_x, again[i].query_x)
        assert torch.equal(fixed[i].support_x, fixed[i].support_x)
    assert torch.equal(fixed[-1].support_x, fixed[4].support_x)
    assert not all(torch.equal(fixed[i].support_x, other[i].support_x) for i in range(5))
    with pytest.raises(IndexError):
        fixed[5]


def test_episode_stream_is_reproducible(synthetic):
    a = synthetic.episodes(3, 1, 1, seed=5)
    b = synthetic.episodes(3, 1, 1, seed=5)
    for _ in range(3):
        assert torch.equal(next(a).support_x, next(b).support_x)
