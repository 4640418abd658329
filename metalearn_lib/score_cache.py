"""Test scores kept on disk: a model is scored on a fixed episode only once.

The chapters test their models on the book's fixed test episodes, then the comparison chapter and the
benchmark test the same models on the same episodes, or on the first of them.
:func:`cached_evaluate` keeps the value of every episode in a JSON file whose name hashes a key (which
learner, which episodes) with the model's weights. A later call reads what is there and evaluates
only the episodes past it; a model with other weights, or another key, gets a file of its own.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

from .checkpoints import atomic_write_text
from .config import cache_dir
from .evaluation import Score, episode_values, mean_ci95
from .learners.base import MetaLearner
from .sampling import FixedEpisodes


def state_digest(model: nn.Module) -> str:
    """Short blake2b hash of ``model``'s state dict: every name, dtype, shape and value."""
    digest = hashlib.blake2b(digest_size=8)
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def scores_dir() -> Path:
    """Where per-episode test values are kept: ``cache_dir() / "scores"``."""
    return cache_dir() / "scores"


def cached_evaluate(
    learner: MetaLearner,
    episodes: FixedEpisodes,
    key: str,
    *,
    directory: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> Score:
    """:func:`~metalearn_lib.evaluation.evaluate` of ``learner`` on ``episodes``, reusing the values of
    any earlier call with the same ``key``, the same episode seed and the same weights.

    ``key`` must name everything besides the weights that changes a value: the learner and its test-time
    settings, and the pool and shape of the episodes. :class:`~metalearn_lib.sampling.FixedEpisodes` draws
    episode ``i`` from its seed and ``i`` alone, so the first ``n`` of 600 episodes are the 600-episode
    set's first ``n``: a call for fewer episodes than are kept evaluates nothing, a call for more
    evaluates only the rest. Files live in ``directory`` (default :func:`scores_dir`).
    """
    if not isinstance(episodes, FixedEpisodes):
        raise TypeError(f"cached_evaluate needs FixedEpisodes (episode i fixed by its index), got {type(episodes).__name__}")
    full_key = f"{key}|seed{episodes.seed}|{type(learner).__name__}|{state_digest(learner)}"
    name = hashlib.blake2b(full_key.encode(), digest_size=10).hexdigest()
    path = Path(directory if directory is not None else scores_dir()) / f"{name}.json"
    values: list[float] = []
    metric = "accuracy"
    if path.exists():
        kept = json.loads(path.read_text())
        if kept["key"] == full_key:
            values, metric = kept["values"], kept["metric"]
    if len(values) < len(episodes):
        missing = [episodes[i] for i in range(len(values), len(episodes))]
        more, metric = episode_values(learner, missing, device, progress)
        values = values + more
        atomic_write_text(json.dumps({"key": full_key, "metric": metric, "values": values}), path)
    return mean_ci95(values[: len(episodes)], metric)
