"""Source-task selection with a learned task metric: embed a task from a few of its examples, and
transfer from the source task whose embedding is nearest to the target's (article 000, §3.1).

The task embedding is a permutation-invariant set encoder (Deep Sets, Zaheer et al., 2017) trained
like a prototypical network over *tasks* (Snell et al., 2017): two disjoint example sets of the same
task must embed closer to each other than to the sets of the other tasks of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..backbones import mlp
from ..datasets.sinusoid import Sinusoid
from ..training import History, minimise
from .metric import squared_euclidean


class TaskEncoder(nn.Module):
    """Deep Sets embedding of a regression task from its examples,
    ``e(S) = rho(mean_i phi([x_i, y_i]))``.

    Input ``x`` ``(T, K, d_in)`` and ``y`` ``(T, K, d_out)`` (``T`` tasks of ``K`` examples; a single task
    may be given as ``(K, d_in)``, ``(K, d_out)``); output ``(T, dim)`` (or ``(dim,)``).
    """

    def __init__(self, d_in: int = 1, d_out: int = 1, hidden: int = 64, dim: int = 16) -> None:
        super().__init__()
        self.phi = mlp(d_in + d_out, (hidden, hidden), hidden)
        self.rho = mlp(hidden, (hidden,), dim)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        if x.shape[:-1] != y.shape[:-1]:
            raise ValueError(f"x {tuple(x.shape)} and y {tuple(y.shape)} must have the same leading shape")
        return self.rho(torch.relu(self.phi(torch.cat([x, y], dim=-1))).mean(dim=-2))


def task_metric_loss(encoder: TaskEncoder, x_a: Tensor, y_a: Tensor, x_b: Tensor, y_b: Tensor) -> Tensor:
    """Prototypical loss over ``T`` tasks: logits ``-||e(S^a_i) - e(S^b_j)||^2`` ``(T, T)`` with target
    ``j = i``. ``x_a`` ``(T, K, d_in)`` ... are two disjoint example sets of each task."""
    logits = -squared_euclidean(encoder(x_a, y_a), encoder(x_b, y_b))
    return F.cross_entropy(logits, torch.arange(len(logits), device=logits.device))


def train_task_encoder(
    encoder: TaskEncoder,
    family: Sinusoid,
    steps: int,
    *,
    n_tasks: int = 32,
    k_shot: int = 5,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train ``encoder`` with :func:`task_metric_loss` on batches of ``n_tasks`` tasks of ``family``,
    each seen through two independent sets of ``k_shot`` examples."""
    if steps < 1 or n_tasks < 2:
        raise ValueError(f"need steps >= 1 and n_tasks >= 2, got {steps} and {n_tasks}")
    generator = torch.Generator().manual_seed(seed)

    def loss() -> Tensor:
        tasks = [family.sample_task(generator) for _ in range(n_tasks)]
        x = torch.stack([family.sample_x(2 * k_shot, generator) for _ in tasks])  # (T, 2K, 1)
        y = torch.stack([task(xi) for task, xi in zip(tasks, x)])
        return task_metric_loss(encoder, x[:, :k_shot], y[:, :k_shot], x[:, k_shot:], y[:, k_shot:])

    return minimise(loss, encoder.parameters(), steps, lr=lr, desc="train task encoder", progress=progress)


def rank_sources(
    encoder: TaskEncoder,
    source_x: Tensor | Sequence[Tensor],
    source_y: Tensor | Sequence[Tensor],
    target_x: Tensor,
    target_y: Tensor,
) -> Tensor:
    """Source indices ``(S,)`` sorted from nearest to farthest from the target task in the learned metric.

    Args:
        source_x, source_y: examples of each of the ``S`` source tasks, ``(S, K_s, d)`` (or a list).
        target_x, target_y: the target's few examples ``(K, d)``.
    """
    with torch.no_grad():
        sources = encoder(torch.stack(list(source_x)), torch.stack(list(source_y)))  # (S, dim)
        target = encoder(target_x, target_y)[None]  # (1, dim)
    return squared_euclidean(target, sources)[0].argsort()
