"""Building blocks of the metric learners shared across chapters (the learners have test_metric.py)."""

import pytest
import torch

import metalearn_lib as ml
from metalearn_lib.learners import class_means, cosine_similarity_matrix, squared_euclidean


def test_class_means_and_distances_by_hand():
    z = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    means = class_means(z, torch.tensor([0, 0, 1]))
    torch.testing.assert_close(means, torch.tensor([[1.0, 0.0], [0.0, 4.0]]))
    torch.testing.assert_close(squared_euclidean(torch.tensor([[1.0, 1.0]]), means), torch.tensor([[1.0, 10.0]]))
    torch.testing.assert_close(cosine_similarity_matrix(torch.tensor([[1.0, 0.0]]), means), torch.tensor([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="no support example"):
        class_means(z, torch.tensor([0, 0, 2]), n_way=3)


def test_pixel_nearest_neighbour_logits_by_hand():
    support = torch.tensor([[0.0], [10.0], [3.0]]).view(3, 1, 1, 1)
    labels = torch.tensor([0, 1, 1])
    query = torch.tensor([[1.0], [9.0]]).view(2, 1, 1, 1)
    nn = ml.make_learner("pixel-nn")
    logits = nn.predict(nn.adapt(support, labels), query)
    torch.testing.assert_close(logits, -torch.tensor([[1.0, 4.0], [81.0, 1.0]]))


def test_scratch_classifier_fits_its_support_set():
    data = ml.synthetic_classes(n_classes=5, n_per_class=4, noise=0.1)
    ep = next(data.episodes(5, 2, 2, seed=0))
    learner = ml.make_learner("scratch", steps=30, lr=1e-2)
    with torch.no_grad():
        net = learner.adapt(ep.support_x, ep.support_y)
        assert (net(ep.support_x).argmax(1) == ep.support_y).all()
        assert (learner.predict(net, ep.query_x).argmax(1) == ep.query_y).float().mean() > 0.6
    assert list(learner.parameters()) == []
