"""Model-based transfer by multi-task learning: a shared trunk with one head per task (Caruana, 1997)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..training import History, minimise


class MultiTaskNet(nn.Module):
    """``heads[t](trunk(x))``: a trunk ``(B, d_in) -> (B, feature_dim)`` shared by ``n_tasks`` linear
    heads ``(B, feature_dim) -> (B, d_out)``; ``forward(x, task)`` uses the head of task ``task``."""

    def __init__(self, trunk: nn.Module, feature_dim: int, n_tasks: int, d_out: int = 1) -> None:
        super().__init__()
        if n_tasks < 1:
            raise ValueError(f"need n_tasks >= 1, got {n_tasks}")
        self.trunk = trunk
        self.heads = nn.ModuleList(nn.Linear(feature_dim, d_out) for _ in range(n_tasks))

    def forward(self, x: Tensor, task: int) -> Tensor:
        if not 0 <= task < len(self.heads):
            raise ValueError(f"task {task} asked for; this network has heads for tasks 0..{len(self.heads) - 1}")
        return self.heads[task](self.trunk(x))


def train_multitask(
    net: MultiTaskNet, xs: Sequence[Tensor], ys: Sequence[Tensor], steps: int, lr: float = 1e-3, progress: bool = True
) -> History:
    """Joint training: Adam on the sum over tasks of each task's mean squared error,
    ``sum_t mean_i (heads[t](trunk(x_ti)) - y_ti)^2``, for data ``xs[t]`` ``(K_t, d_in)``, ``ys[t]`` ``(K_t, d_out)``."""
    if len(xs) != len(net.heads) or len(ys) != len(xs):
        raise ValueError(f"need data for each of the {len(net.heads)} tasks, got {len(xs)} inputs and {len(ys)} targets")
    return minimise(
        lambda: sum(torch.mean((net(x, t) - y) ** 2) for t, (x, y) in enumerate(zip(xs, ys))),
        net.parameters(), steps, lr=lr, desc="multi-task training", progress=progress,
    )
