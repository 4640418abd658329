"""Sequence learners (RNN meta-learner, MANN) and the MANN memory: hand-made cases, causality, learning."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import metalearn_lib as ml
from metalearn_lib.learners.memory import (
    MANN,
    PixelEncoder,
    RNNMetaLearner,
    cosine_read,
    instance_accuracy,
    instance_numbers,
    least_used,
    lru_write,
    presentation_sequence,
    previous_labels,
)

SEQUENCE_LEARNERS = ["rnn-meta", "mann"]


def small(name: str, n_way: int = 3, image_shape=(1, 4, 4)):
    torch.manual_seed(0)
    kwargs = {"hidden": 16}
    if name == "mann":
        kwargs.update(n_slots=8, slot_size=6, n_reads=2)
    return ml.make_learner(name, image_shape, n_way, pixel_side=image_shape[-1], **kwargs)


def test_previous_labels_are_shifted_one_hot():
    out = previous_labels(torch.tensor([[2, 0, 1]]), 3)
    expected = torch.tensor([[[0.0, 0, 0], [0, 0, 1], [1, 0, 0]]])
    torch.testing.assert_close(out, expected)


def test_instance_numbers_count_earlier_presentations():
    assert instance_numbers(torch.tensor([2, 0, 2, 2, 0])).tolist() == [1, 1, 2, 3, 2]


def test_least_used_picks_smallest_usage_with_ties_to_lower_index():
    usage = torch.tensor([[0.5, 0.1, 0.9, 0.1], [0.0, 3.0, 2.0, 1.0]])
    lu = least_used(usage, 2)
    assert lu.shape == (2, 2, 4)
    assert lu.argmax(-1).tolist() == [[1, 3], [0, 3]]
    assert torch.equal(lu.sum(-1), torch.ones(2, 2))


def test_cosine_read_hand_computed():
    memory = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]])  # (1, 3, 2)
    key = torch.tensor([[[2.0, 0.0]]])  # cosines 1, 0, 1/sqrt(2)
    weights, read = cosine_read(memory, key, strength=2.0)
    e = torch.tensor([math.exp(2.0), 1.0, math.exp(2.0 / math.sqrt(2))])
    expected_w = e / e.sum()
    torch.testing.assert_close(weights[0, 0], expected_w)
    torch.testing.assert_close(read[0, 0], expected_w @ memory[0])


def test_lru_write_erases_least_used_slot_and_interpolates():
    memory = torch.tensor([[[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]])
    previous_read = torch.tensor([[[0.0, 0.0, 1.0]]])  # head read slot 2 last step
    usage = torch.tensor([[1.0, 0.1, 0.5]])  # slot 1 is least used
    add = torch.tensor([[[4.0, -4.0]]])
    new, write = lru_write(memory, previous_read, usage, torch.tensor([[[0.25]]]), add)
    torch.testing.assert_close(write, torch.tensor([[[0.0, 0.75, 0.25]]]))
    expected = torch.tensor([[[1.0, 1.0], [3.0, -3.0], [4.0, 2.0]]])  # slot 1 erased, then written
    torch.testing.assert_close(new, expected)


@pytest.mark.parametrize("name", SEQUENCE_LEARNERS)
def test_predictions_never_see_future_labels_or_images(name):
    learner = small(name)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(12, 1, 4, 4, generator=g), torch.randint(0, 3, (12,), generator=g)
    t = 6
    y2 = y.clone()
    y2[t:] = (y[t:] + 1 + torch.randint(0, 2, (12 - t,), generator=g)) % 3  # every future label changes
    x2 = x.clone()
    x2[t + 1 :] = torch.rand(12 - t - 1, 1, 4, 4, generator=g)
    a, b = learner.sequence_logits(x, y), learner.sequence_logits(x2, y2)
    torch.testing.assert_close(a[: t + 1], b[: t + 1])  # step t sees y_{<t} only
    assert not torch.allclose(a[t + 1 :], b[t + 1 :])  # ...and later steps do see them


@pytest.mark.parametrize("name", SEQUENCE_LEARNERS)
def test_predict_is_the_step_after_the_support_sequence(name):
    learner = small(name)
    g = torch.Generator().manual_seed(1)
    sx, sy = torch.rand(6, 1, 4, 4, generator=g), torch.tensor([0, 1, 2, 2, 0, 1])
    qx = torch.rand(4, 1, 4, 4, generator=g)
    logits = learner.predict(learner.adapt(sx, sy), qx)
    for i in range(len(qx)):  # a query label is never fed, so any dummy label will do
        seq = learner.sequence_logits(torch.cat([sx, qx[i : i + 1]]), torch.cat([sy, torch.tensor([0])]))
        torch.testing.assert_close(logits[i], seq[-1])


@pytest.mark.parametrize("name", SEQUENCE_LEARNERS)
def test_batched_sequences_match_single_ones(name):
    learner = small(name)
    g = torch.Generator().manual_seed(2)
    x, y = torch.rand(3, 7, 1, 4, 4, generator=g), torch.randint(0, 3, (3, 7), generator=g)
    batched = learner.sequence_logits(x, y)
    assert batched.shape == (3, 7, 3)
    for b in range(3):
        torch.testing.assert_close(batched[b], learner.sequence_logits(x[b], y[b]))


def test_labels_outside_n_way_are_rejected():
    learner = small("rnn-meta")
    with pytest.raises(ValueError, match="labels must lie in 0..2"):
        learner.sequence_logits(torch.rand(3, 1, 4, 4), torch.tensor([0, 1, 3]))
    with pytest.raises(ValueError, match="pixel side must lie in 1..4"):
        ml.make_learner("mann", (1, 4, 4), 3, pixel_side=5)


def test_pixel_encoder_averages_areas_and_flattens():
    x = torch.rand(3, 2, 28, 28)
    torch.testing.assert_close(PixelEncoder((2, 28, 28), 14)(x), F.avg_pool2d(x, 2).flatten(1))
    assert torch.equal(PixelEncoder((2, 28, 28), 28)(x), x.flatten(1))
    encoder = PixelEncoder((2, 28, 28), 20)
    assert encoder(x).shape == (3, encoder.feature_dim) == (3, 800)
    assert list(encoder.parameters()) == []
    learner = ml.make_learner("rnn-meta", (1, 28, 28), 5)
    assert learner.feature_dim == 400 and learner.cell.input_size == 405  # Santoro et al.: 20x20 pixels + label


def test_memory_trace_weights_are_distributions():
    learner = small("mann")
    trace = learner.memory_trace(torch.rand(5, 1, 4, 4), torch.tensor([0, 1, 2, 0, 1]))
    assert trace["read_weights"].shape == (5, 2, 8) and trace["usage"].shape == (5, 8)
    torch.testing.assert_close(trace["read_weights"].sum(-1), torch.ones(5, 2))
    assert (trace["usage"] > 0).all()


def test_instance_accuracy_groups_by_presentation():
    data = ml.synthetic_classes(n_classes=6, n_per_class=6, image_shape=(1, 4, 4), seed=0)
    episodes = data.fixed_episodes(3, 2, 2, n_episodes=3, seed=0)
    curve = instance_accuracy(small("rnn-meta"), episodes)
    assert list(curve.scores) == [1, 2, 3, 4]
    assert all(s.n == 3 and 0 <= s.mean <= 1 for s in curve.scores.values())
    x, y = presentation_sequence(episodes[0], torch.Generator().manual_seed(0))
    assert sorted(y.tolist()) == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2] and x.shape == (12, 1, 4, 4)


@pytest.mark.parametrize("cls", [RNNMetaLearner, MANN])
def test_sequence_learners_learn_from_the_label_history(cls):
    """3-way episodes of 6 examples per class. A class shown for the first time has a label not yet
    seen in the episode: a learner that reads the label history guesses among those (1/3, 1/2, 1 for
    the three classes, about 61% on average) while one that ignores it stays at chance, 1/3. Binding
    labels to images (later instances) takes far more episodes than a unit test can afford."""
    torch.manual_seed(0)
    data = ml.synthetic_classes(n_classes=30, n_per_class=12, image_shape=(1, 4, 4), noise=0.1, seed=3)
    kwargs = {"n_slots": 24, "slot_size": 16, "n_reads": 1} if cls is MANN else {}
    learner = cls(nn.Flatten(), 16, 3, hidden=48, **kwargs)
    optimizer = torch.optim.Adam(learner.parameters(), lr=3e-3)
    stream = data.episodes(3, 6, 0, seed=0)
    for _ in range(150):
        learner.outer_step(list(itertools.islice(stream, 16)), optimizer)
    curve = instance_accuracy(learner, data.fixed_episodes(3, 6, 0, n_episodes=40, seed=1))
    assert curve.scores[1].mean > 0.5, str(curve)
