"""Instance-based transfer: reuse source examples, weighted by how typical they are of the target.

Under covariate shift (same ``p(y | x)``, different ``p(x)``) the target risk is a weighted source
risk, ``E_t[l(x, y)] = E_s[w(x) l(x, y)]`` with ``w = p_t / p_s`` (Shimodaira, 2000). The weights are
estimated with a probabilistic classifier that tells target inputs from source inputs (Bickel,
Brückner & Scheffer, 2007): ``w(x) = (n_s / n_t) * P(target | x) / P(source | x)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def polynomial_features(x: Tensor, degree: int) -> Tensor:
    """``(N, degree + 1)`` columns ``1, x, ..., x^degree`` of 1-D inputs ``x`` ``(N,)`` or ``(N, 1)``."""
    x = x.reshape(-1)
    return torch.stack([x**d for d in range(degree + 1)], dim=1)


def importance_weights(source_x: Tensor, target_x: Tensor, degree: int = 2, steps: int = 500, lr: float = 0.1) -> Tensor:
    """Density-ratio weights ``(N_s,)`` ``p_t(x) / p_s(x)`` of the source inputs, from a logistic
    regression on :func:`polynomial_features` of degree ``degree`` (2 is exact for two Gaussians)
    that separates ``target_x`` ``(N_t,)`` from ``source_x`` ``(N_s,)``. Their mean over the source is
    close to 1 when the classifier is right."""
    if len(source_x) < 1 or len(target_x) < 1:
        raise ValueError(f"need source and target inputs, got {len(source_x)} and {len(target_x)}")
    both = torch.cat([source_x.reshape(-1), target_x.reshape(-1)]).double()
    mean, std = both.mean(), both.std().clamp_min(1e-8)
    features = polynomial_features((both - mean) / std, degree)
    is_target = torch.cat([torch.zeros(len(source_x)), torch.ones(len(target_x))]).double()
    coef = torch.zeros(degree + 1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([coef], lr=lr, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(features @ coef, is_target)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    logits = (features[: len(source_x)] @ coef).detach()
    return (len(source_x) / len(target_x) * logits.exp()).float()


def weighted_least_squares(features: Tensor, y: Tensor, weights: Tensor | None = None, ridge: float = 0.0) -> Tensor:
    """Coefficients ``(P,)`` minimising ``sum_i w_i (y_i - features_i . c)^2 + ridge * |c|^2`` for
    ``features`` ``(N, P)``, ``y`` ``(N,)`` and nonnegative ``weights`` ``(N,)`` (default: all ones).
    A positive ``ridge`` makes the problem well posed when there are fewer examples than features."""
    weights = torch.ones(len(y)) if weights is None else weights
    if (weights < 0).any() or ridge < 0:
        raise ValueError(f"weights and ridge must be nonnegative, got min weight {weights.min().item()} and ridge {ridge}")
    root = weights.double().sqrt()[:, None]
    a, b = root * features.double(), root[:, 0] * y.reshape(-1).double()
    if ridge > 0:
        p = features.shape[1]
        a = torch.cat([a, ridge**0.5 * torch.eye(p, dtype=torch.float64)])
        b = torch.cat([b, torch.zeros(p, dtype=torch.float64)])
    return torch.linalg.lstsq(a, b).solution.to(features.dtype)
