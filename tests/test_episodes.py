import pytest
import torch

import metalearn_lib as ml


def test_episode_properties(tiny_episode):
    assert tiny_episode.n_way == 5 and tiny_episode.k_shot == 2 and tiny_episode.is_classification
    moved = tiny_episode.to("cpu")
    assert torch.equal(moved.query_x, tiny_episode.query_x)


def test_episode_rejects_mismatched_shapes():
    x, y = torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="support_y has 3"):
        ml.Episode(x, y[:3], x, y)
    with pytest.raises(ValueError, match="query_y has 3"):
        ml.Episode(x, y, x, y[:3])
    with pytest.raises(ValueError, match="examples are"):
        ml.Episode(x, y, torch.zeros(4, 1, 9, 9), y)


def test_regression_episode_has_no_n_way():
    ep = ml.Sinusoid().episode(5, 3, torch.Generator().manual_seed(0))
    assert not ep.is_classification and ep.k_shot == 5
    with pytest.raises(ValueError, match="classification"):
        ep.n_way
