"""Scoring a learner on fixed episodes: mean with a 95% confidence interval."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm import tqdm

from .episodes import Episode
from .learners.base import MetaLearner
from .runtime import resolve_device


@dataclass(frozen=True)
class Score:
    """Mean of per-episode values with the half-width of its 95% confidence interval
    (normal approximation, ``1.96 * s / sqrt(n)``, as reported in the few-shot literature)."""

    mean: float
    ci95: float
    n: int
    metric: str = "accuracy"

    def __str__(self) -> str:
        if self.metric == "accuracy":
            return f"{100 * self.mean:.2f} ± {100 * self.ci95:.2f} %"
        return f"{self.mean:.4g} ± {self.ci95:.2g}"


def mean_ci95(values: Sequence[float] | Tensor, metric: str = "accuracy") -> Score:
    """:class:`Score` of ``values`` (one per episode); needs at least two values for an interval."""
    v = torch.as_tensor(values, dtype=torch.float64).flatten()
    if len(v) < 2:
        raise ValueError(f"a confidence interval needs at least 2 episodes, got {len(v)}")
    return Score(v.mean().item(), 1.96 * v.std(unbiased=True).item() / math.sqrt(len(v)), len(v), metric)


def episode_metric(output: Tensor, target: Tensor) -> float:
    """Accuracy of logits ``(n, n_way)`` against integer labels, or the MSE of regression outputs."""
    if torch.is_floating_point(target):
        return torch.mean((output - target) ** 2).item()
    return (output.argmax(-1) == target).float().mean().item()


def episode_values(
    learner: MetaLearner,
    episodes: Iterable[Episode],
    device: str | torch.device | None = None,
    progress: bool = False,
) -> tuple[list[float], str]:
    """Adapt on each episode's support set and score its query set: one value per episode (accuracy
    for classification episodes, mean squared error for regression) and the metric's name. Runs under
    ``torch.no_grad()`` and in eval mode; learners that need gradients to adapt (MAML, fine-tuning)
    enable them inside ``adapt``."""
    device = resolve_device(device) if device is not None else learner.device
    was_training = learner.training
    learner.eval()
    values, metric = [], "accuracy"
    try:
        with torch.no_grad():
            for episode in tqdm(episodes, desc="evaluate", disable=not progress, leave=False):
                episode = episode.to(device)
                metric = "accuracy" if episode.is_classification else "mse"
                values.append(episode_metric(learner(episode), episode.query_y))
    finally:
        learner.train(was_training)
    return values, metric


def evaluate(
    learner: MetaLearner,
    episodes: Iterable[Episode],
    device: str | torch.device | None = None,
    progress: bool = False,
) -> Score:
    """:class:`Score` of :func:`episode_values`: the mean over episodes with its 95% interval."""
    values, metric = episode_values(learner, episodes, device, progress)
    return mean_ci95(values, metric)
