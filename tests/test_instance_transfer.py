import math

import pytest
import torch

from metalearn_lib.learners.instance_transfer import importance_weights, polynomial_features, weighted_least_squares


def gaussian_pdf(x, mean, std):
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def test_importance_weights_recover_the_density_ratio_of_two_gaussians():
    g = torch.Generator().manual_seed(0)
    source = 0.5 + 0.5 * torch.randn(4000, generator=g)
    target = 0.3 * torch.randn(4000, generator=g)
    w = importance_weights(source, target)
    true = gaussian_pdf(source, 0.0, 0.3) / gaussian_pdf(source, 0.5, 0.5)
    central = (source > -0.3) & (source < 0.6)  # where both densities have mass
    assert torch.allclose(w[central], true[central], rtol=0.15)
    assert w.mean().item() == pytest.approx(1.0, abs=0.1)
    with pytest.raises(ValueError, match="need source and target"):
        importance_weights(source, target[:0])


def test_weighted_least_squares_by_hand():
    x = torch.tensor([0.0, 1.0, 2.0, 3.0])
    y = torch.tensor([1.0, 3.0, 5.0, 100.0])  # y = 1 + 2x except an outlier
    features = polynomial_features(x, 1)
    torch.testing.assert_close(features, torch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]]))
    coef = weighted_least_squares(features, y, torch.tensor([1.0, 1.0, 1.0, 0.0]))
    torch.testing.assert_close(coef, torch.tensor([1.0, 2.0]))
    # equal weights: ordinary least squares, normal equations by hand
    ols = torch.linalg.solve(features.T @ features, features.T @ y)
    torch.testing.assert_close(weighted_least_squares(features, y), ols)
    with pytest.raises(ValueError, match="nonnegative"):
        weighted_least_squares(features, y, -torch.ones(4))


def test_ridge_by_hand():
    # one feature, x = (1, 2), y = (1, 2): c = sum(xy) / (sum(x^2) + ridge) = 5 / (5 + 5) with ridge 5
    coef = weighted_least_squares(torch.tensor([[1.0], [2.0]]), torch.tensor([1.0, 2.0]), ridge=5.0)
    torch.testing.assert_close(coef, torch.tensor([0.5]))
