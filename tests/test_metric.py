"""The metric learners: hand-computed logits and losses, and each one learns a synthetic task."""

import math

import pytest
import torch
from torch import nn

import metalearn_lib as ml
from metalearn_lib.learners import (
    MatchingNetwork,
    PrototypicalNetwork,
    RelationNetwork,
    SiameseNetwork,
    TripletNetwork,
    contrastive_loss,
    hardest_pairs,
    per_class,
    triplet_loss,
)
from metalearn_lib.learners.metric import FullContextEmbedding, relation_encoder, relation_module

METRIC_LEARNERS = ["siamese", "triplet", "matching", "protonet", "relation"]


def tiny_episode() -> ml.Episode:
    """1-D "embeddings" (the encoder is the identity): support 0 (class 0), 1 (class 1);
    queries 0.5 (class 0), 3 (class 1)."""
    return ml.Episode(
        torch.tensor([[0.0], [1.0]]), torch.tensor([0, 1]), torch.tensor([[0.5], [3.0]]), torch.tensor([0, 1])
    )


def test_metric_learners_are_registered():
    assert set(METRIC_LEARNERS) <= set(ml.available_learners())


def test_per_class_reductions_by_hand():
    scores = torch.tensor([[1.0, 4.0, 2.0], [0.0, -1.0, 3.0]])
    labels = torch.tensor([0, 1, 1])
    torch.testing.assert_close(per_class(scores, labels, "min"), torch.tensor([[1.0, 2.0], [0.0, -1.0]]))
    torch.testing.assert_close(per_class(scores, labels, "max"), torch.tensor([[1.0, 4.0], [0.0, 3.0]]))
    lse = torch.tensor([[1.0, math.log(math.exp(4) + math.exp(2))], [0.0, math.log(math.exp(-1) + math.exp(3))]])
    torch.testing.assert_close(per_class(scores, labels, "logsumexp"), lse)
    with pytest.raises(ValueError, match="reduce must be one of"):
        per_class(scores, labels, "mean")


def test_protonet_logits_by_hand():
    support = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    learner = PrototypicalNetwork(nn.Identity())
    logits = learner.predict(learner.adapt(support, torch.tensor([0, 0, 1])), torch.tensor([[1.0, 1.0]]))
    torch.testing.assert_close(logits, -torch.tensor([[1.0, 10.0]]))  # prototypes (1, 0) and (0, 4)
    cosine = PrototypicalNetwork(nn.Identity(), distance="cosine", scale=2.0)
    logits = cosine.predict(cosine.adapt(support, torch.tensor([0, 0, 1])), torch.tensor([[1.0, 1.0]]))
    torch.testing.assert_close(logits, 2.0 * torch.tensor([[1 / math.sqrt(2), 1 / math.sqrt(2)]]))


@pytest.mark.parametrize("cls", [SiameseNetwork, TripletNetwork])
def test_nearest_support_logits_by_hand(cls):
    learner = cls(nn.Identity())
    support, labels = torch.tensor([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0]]), torch.tensor([0, 1, 1])
    logits = learner.predict(learner.adapt(support, labels), torch.tensor([[3.0, 0.0]]))
    torch.testing.assert_close(logits, -torch.tensor([[3.0, 2.0]]))  # class 1: min(4, 2)


def test_matching_logits_are_log_attention_votes_by_hand():
    learner = MatchingNetwork(nn.Identity(), scale=1.0)
    support, labels = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), torch.tensor([0, 1, 1])
    logits = learner.predict(learner.adapt(support, labels), torch.tensor([[1.0, 0.0]]))
    e = torch.tensor([math.exp(1.0), math.exp(0.0), math.exp(1 / math.sqrt(2))])  # exp(cosines)
    attention = e / e.sum()
    torch.testing.assert_close(logits, torch.log(torch.stack([attention[0], attention[1] + attention[2]]))[None])
    torch.testing.assert_close(logits.exp().sum(1), torch.ones(1))


def test_matching_full_context_embeddings_depend_on_the_support_set():
    torch.manual_seed(0)
    learner = MatchingNetwork(nn.Identity(), fce=FullContextEmbedding(dim=3, steps=2))
    support, labels, query = torch.randn(4, 3), torch.tensor([0, 0, 1, 1]), torch.randn(2, 3)
    logits = learner.predict(learner.adapt(support, labels), query)
    assert logits.shape == (2, 2)
    torch.testing.assert_close(logits.exp().sum(1), torch.ones(2))
    other = learner.predict(learner.adapt(support.flip(0), labels.flip(0)), query)  # the LSTM reads in order
    assert not torch.allclose(logits, other)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        FullContextEmbedding(3, steps=0)


def test_matching_with_fce_trains_its_lstms():
    data = ml.synthetic_classes(n_classes=6, n_per_class=4, image_shape=(1, 16, 16))
    learner = ml.make_learner("matching", (1, 16, 16), 3, fce=True, fce_steps=2)
    learner.meta_loss(next(data.episodes(3, 2, 2))).backward()
    for lstm in (learner.fce.support_lstm, learner.fce.query_cell):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in lstm.parameters())


def test_relation_logits_are_the_relation_module_on_concatenated_pairs():
    relation = nn.Sequential(nn.Flatten(), nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        relation[1].weight.copy_(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    learner = RelationNetwork(nn.Identity(), relation)
    support = torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 1.0]]).view(3, 2, 1, 1)  # maps (C=2, 1, 1)
    state = learner.adapt(support, torch.tensor([0, 0, 1]))  # class maps (2, 1) and (0, 1)
    logits = learner.predict(state, torch.tensor([[1.0, 1.0]]).view(1, 2, 1, 1))
    torch.testing.assert_close(logits, torch.tensor([[1 + 2 + 3 * 2 + 4 * 1, 1 + 2 + 0 + 4 * 1.0]]))


def test_relation_losses_by_hand():
    learner = RelationNetwork(nn.Identity(), nn.Sequential(nn.Flatten(), nn.Linear(2, 1)))
    episode = ml.Episode(torch.randn(2, 1, 1, 1), torch.tensor([0, 1]), torch.randn(2, 1, 1, 1), torch.tensor([1, 0]))
    logits = learner(episode)
    target = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    torch.testing.assert_close(learner.meta_loss(episode), ((torch.sigmoid(logits) - target) ** 2).mean())
    learner.loss = "ce"
    torch.testing.assert_close(learner.meta_loss(episode), -torch.log_softmax(logits, 1)[[0, 1], [1, 0]].mean())
    with pytest.raises(ValueError, match="loss must be"):
        RelationNetwork(nn.Identity(), nn.Identity(), loss="hinge")


def test_contrastive_and_triplet_losses_by_hand():
    d = torch.tensor([0.5, 2.0, 0.3, 1.5])
    same = torch.tensor([True, False, False, True])
    torch.testing.assert_close(contrastive_loss(d, same, margin=1.0), torch.tensor([0.125, 0.0, 0.245, 1.125]))
    torch.testing.assert_close(
        triplet_loss(torch.tensor([1.0, 0.2, 2.0]), torch.tensor([1.5, 3.0, 1.0]), margin=1.0),
        torch.tensor([0.5, 0.0, 2.0]),
    )


def test_hardest_pairs_by_hand():
    # the 1-D embeddings of tiny_episode: 0, 1, 0.5, 3 with labels 0, 1, 0, 1, plus 7 alone in class 2
    z = torch.tensor([0.0, 1.0, 0.5, 3.0, 7.0])
    y = torch.tensor([0, 1, 0, 1, 2])
    positive, negative, has_positive = hardest_pairs((z[:, None] - z[None, :]).abs(), y[:, None] == y[None, :])
    torch.testing.assert_close(positive[:4], torch.tensor([0.5, 2.0, 0.5, 2.0]))
    torch.testing.assert_close(negative, torch.tensor([1.0, 0.5, 0.5, 2.5, 4.0]))
    assert has_positive.tolist() == [True, True, True, True, False]


def test_siamese_meta_loss_by_hand():
    # embeddings 0, 1, 0.5, 3 with labels 0, 1, 0, 1; margin 1. Same-class pairs: (0, 0.5) -> 0.125,
    # (1, 3) -> 2. Different-class pairs: only (1, 0.5) is inside the margin -> 0.125 (of 4 pairs).
    loss = SiameseNetwork(nn.Identity(), margin=1.0, mining="all").meta_loss(tiny_episode())
    torch.testing.assert_close(loss, torch.tensor(0.5 * ((0.125 + 2.0) / 2 + 0.125 / 4)))
    # hardest pairs, per example (same-class pair + different-class pair): 0 -> (0.5, 1): 0.125 + 0;
    # 1 -> (2, 0.5): 2 + 0.125; 0.5 -> (0.5, 0.5): 0.125 + 0.125; 3 -> (2, 2.5): 2 + 0
    hard = SiameseNetwork(nn.Identity(), margin=1.0, mining="hard").meta_loss(tiny_episode())
    torch.testing.assert_close(hard, torch.tensor(0.5 * (0.125 + 2.125 + 0.25 + 2.0) / 4))
    with pytest.raises(ValueError, match="mining must be"):
        SiameseNetwork(nn.Identity(), mining="semi-hard")


def test_triplet_meta_loss_by_hand():
    hard = TripletNetwork(nn.Identity(), margin=1.0, mining="hard").meta_loss(tiny_episode())
    # embeddings as in the Siamese test; per anchor, farthest positive and nearest negative:
    # anchor 0: pos 0.5, nearest neg 1 -> 0.5; anchor 1: pos 2, neg 0.5 -> 2.5;
    # anchor 0.5: pos 0.5, neg 0.5 -> 1; anchor 3: pos 2, neg 2.5 -> 0.5
    torch.testing.assert_close(hard, torch.tensor((0.5 + 2.5 + 1.0 + 0.5) / 4))
    every = TripletNetwork(nn.Identity(), margin=1.0, mining="all").meta_loss(tiny_episode())
    torch.testing.assert_close(every, torch.tensor((0.5 + 0 + 2 + 2.5 + 1 + 0 + 0 + 0.5) / 8))
    with pytest.raises(ValueError, match="mining must be"):
        TripletNetwork(nn.Identity(), mining="semi-hard")
    with pytest.raises(ValueError, match="margin must be positive"):
        SiameseNetwork(nn.Identity(), margin=0.0)


def test_pair_losses_need_a_same_class_pair():
    one_each = ml.Episode(torch.zeros(2, 1), torch.tensor([0, 1]), torch.zeros(0, 1), torch.zeros(0, dtype=torch.long))
    for learner in (SiameseNetwork(nn.Identity()), TripletNetwork(nn.Identity())):
        with pytest.raises(ValueError, match="same-class pair|anchor-positive"):
            learner.meta_loss(one_each)


SHAPE = (1, 16, 16)
BUILDERS = {  # the standard architectures at half width, to keep the test fast
    "siamese": lambda: SiameseNetwork(ml.Conv4(SHAPE, hidden=32)),
    "triplet": lambda: TripletNetwork(ml.Conv4(SHAPE, hidden=32)),
    "matching": lambda: MatchingNetwork(ml.Conv4(SHAPE, hidden=32)),
    "protonet": lambda: PrototypicalNetwork(ml.Conv4(SHAPE, hidden=32)),
    "relation": lambda: RelationNetwork(relation_encoder(SHAPE, hidden=32), relation_module(SHAPE, hidden=32)),
}


@pytest.mark.parametrize("name", METRIC_LEARNERS)
def test_learner_learns_synthetic_few_shot_tasks(name):
    """Labels are shuffled in every episode, so a learner must use the support set to beat chance (20%)."""
    data = ml.synthetic_classes(n_classes=30, n_per_class=10, image_shape=SHAPE, noise=0.6, seed=3)
    torch.manual_seed(0)
    learner = BUILDERS[name]()
    steps = 300 if name == "relation" else 150  # the relation module starts slowly (outputs near 1 / n_way)
    history = ml.meta_train(learner, data.episodes(5, 1, 4, seed=0), steps, outer_lr=2e-3, progress=False)
    score = ml.evaluate(learner, data.fixed_episodes(5, 1, 5, 20, seed=99))
    assert score.mean > 0.6, f"{name}: {score} on 5-way 1-shot (chance 20%)"
    assert sum(history.loss[-20:]) < sum(history.loss[:20])



def test_protonet_for_images_takes_the_conv4_width():
    narrow = ml.make_learner("protonet", (1, 28, 28), hidden=16)
    assert narrow.encoder.feature_dim == 16 and ml.make_learner("protonet").encoder.feature_dim == 64
