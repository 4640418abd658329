"""The meta-training loop shared by every learner."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from .checkpoints import load_checkpoint, save_checkpoint
from .config import budget_name, cache_dir
from .episodes import Episode
from .evaluation import Score, evaluate
from .learners.base import MetaLearner
from .runtime import resolve_device


@dataclass
class History:
    """What :func:`meta_train` saw: the training loss every step, validation scores every ``eval_every``."""

    budget: str
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_scores: list[Score] = field(default_factory=list)
    seconds: float = 0.0
    best_step: int | None = None

    @property
    def best_score(self) -> Score | None:
        if self.best_step is None:
            return None
        return self.val_scores[self.val_steps.index(self.best_step)]


def _is_better(new: Score, old: Score | None) -> bool:
    if old is None:
        return True
    return new.mean > old.mean if new.metric == "accuracy" else new.mean < old.mean


def meta_train(
    learner: MetaLearner,
    episodes: Iterator[Episode],
    steps: int,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    outer_lr: float = 1e-3,
    meta_batch_size: int = 1,
    val_episodes: Sequence[Episode] | None = None,
    eval_every: int | None = None,
    restore_best: bool = True,
    checkpoint: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> History:
    """Meta-train ``learner`` for ``steps`` outer steps of ``meta_batch_size`` episodes each.

    Args:
        episodes: endless stream of training episodes (e.g. ``dataset.episodes(5, 1, 15, seed=0)``).
        optimizer: default ``Adam(learner.parameters(), lr=outer_lr)``.
        val_episodes: fixed episodes scored with :func:`evaluate` every ``eval_every`` steps (default:
            ten times per run) and at the end.
        restore_best: when validating, leave the learner with the weights of its best validation score.
        checkpoint: path of an atomic checkpoint written at every validation (latest weights).
    """
    if steps < 1 or meta_batch_size < 1:
        raise ValueError(f"need steps >= 1 and meta_batch_size >= 1, got {steps} and {meta_batch_size}")
    device = resolve_device(device)
    learner.to(device).train()
    if optimizer is None:
        params = [p for p in learner.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"{type(learner).__name__} has no trainable parameters to meta-train")
        optimizer = torch.optim.Adam(params, lr=outer_lr)
    eval_every = eval_every or max(1, steps // 10)
    history = History(budget=budget_name())
    best_state = None
    start = time.perf_counter()
    bar = tqdm(range(1, steps + 1), desc=f"meta-train {type(learner).__name__}", disable=not progress)
    for step in bar:
        batch = [e.to(device) for e in itertools.islice(episodes, meta_batch_size)]
        if len(batch) < meta_batch_size:
            raise ValueError(f"the episode stream ran out after {step - 1} steps; pass an endless stream")
        stats = learner.outer_step(batch, optimizer)
        history.steps.append(step)
        history.loss.append(stats["loss"])
        if val_episodes is not None and (step % eval_every == 0 or step == steps):
            score = evaluate(learner, val_episodes, device)
            learner.train()
            history.val_steps.append(step)
            history.val_scores.append(score)
            if _is_better(score, history.best_score):
                history.best_step = step
                if restore_best:
                    best_state = copy.deepcopy(learner.state_dict())
            if checkpoint is not None:
                save_checkpoint(checkpoint, learner, optimizer, step=step, val_mean=score.mean)
            bar.set_postfix(loss=f"{stats['loss']:.3f}", val=str(score))
        elif step % 10 == 0:
            bar.set_postfix(loss=f"{stats['loss']:.3f}")
    if best_state is not None:
        learner.load_state_dict(best_state)
    history.seconds = time.perf_counter() - start
    return history


def model_path(name: str) -> Path:
    """Where trained weights of ``name`` at the current budget are kept: ``cache_dir()/models/NAME-BUDGET.pt``."""
    return cache_dir() / "models" / f"{name}-{budget_name()}.pt"


def save_trained(learner: MetaLearner, name: str, history: History, **meta: int | float | str) -> Path:
    """Save a meta-trained ``learner`` under :func:`model_path` with its training time and ``meta``."""
    return save_checkpoint(model_path(name), learner, seconds=history.seconds, steps=len(history.steps), **meta)


def train_or_load(learner: MetaLearner, name: str, train: Callable[[], History]) -> dict:
    """Load the weights :func:`save_trained` left for ``name`` at this budget into ``learner``, or call
    ``train()`` (which meta-trains ``learner``) and save them. Returns the checkpoint metadata
    (``seconds``, ``steps``, ...) with ``loaded`` telling which happened. Weights that no longer fit
    ``learner`` (its architecture changed) are retrained."""
    path = model_path(name)
    if path.exists():
        try:
            return {**load_checkpoint(path, learner), "loaded": True}
        except RuntimeError:
            pass
    history = train()
    save_trained(learner, name, history)
    return {"seconds": history.seconds, "steps": len(history.steps), "loaded": False}
