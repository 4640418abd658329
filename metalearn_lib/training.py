"""The meta-training loop shared by every learner."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm import tqdm

from .checkpoints import atomic_torch_save, save_checkpoint
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


LR_SCHEDULES = ("constant", "cosine")


def meta_train(
    learner: MetaLearner,
    episodes: Iterator[Episode],
    steps: int,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    outer_lr: float = 1e-3,
    lr_schedule: str = "constant",
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
        lr_schedule: ``"constant"``, or ``"cosine"``: the optimizer's rates decay to zero along a half
            cosine over the ``steps`` (Loshchilov & Hutter, 2017), which at a fixed, short budget
            usually ends at a better point than a constant rate.
        val_episodes: fixed episodes scored with :func:`evaluate` every ``eval_every`` steps (default:
            ten times per run) and at the end.
        restore_best: when validating, leave the learner with the weights of its best validation score.
        checkpoint: path of an atomic checkpoint written at every validation (latest weights).
    """
    if steps < 1 or meta_batch_size < 1:
        raise ValueError(f"need steps >= 1 and meta_batch_size >= 1, got {steps} and {meta_batch_size}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr_schedule {lr_schedule!r}; choose one of {LR_SCHEDULES}")
    device = resolve_device(device)
    learner.to(device).train()
    if optimizer is None:
        params = [p for p in learner.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"{type(learner).__name__} has no trainable parameters to meta-train")
        optimizer = torch.optim.Adam(params, lr=outer_lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps) if lr_schedule == "cosine" else None
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
        if scheduler is not None:
            scheduler.step()
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


@dataclass
class Trained:
    """A trained model with the history of its training; ``cached`` tells whether it was loaded from
    ``path`` instead of being trained in this call (``path`` is None for a model with nothing to train)."""

    model: nn.Module
    history: History
    cached: bool
    path: Path | None


def _history_state(history: History) -> dict:
    """A :class:`~metalearn_lib.training.History` as tensors and plain values (``weights_only`` loadable)."""
    scores = history.val_scores
    meta = {
        "budget": history.budget,
        "seconds": history.seconds,
        "best_step": -1 if history.best_step is None else history.best_step,
        "metric": scores[0].metric if scores else "accuracy",
    }
    return {
        "meta": meta,
        "steps": torch.tensor(history.steps, dtype=torch.long),
        "loss": torch.tensor(history.loss),
        "val_steps": torch.tensor(history.val_steps, dtype=torch.long),
        "val": torch.tensor([[s.mean, s.ci95, s.n] for s in scores], dtype=torch.float64).reshape(-1, 3),
    }


def _history_from(state: dict) -> History:
    meta = state["meta"]
    scores = [Score(m, c, int(n), meta["metric"]) for m, c, n in state["val"].tolist()]
    best = None if meta["best_step"] < 0 else meta["best_step"]
    steps, loss, val_steps = state["steps"].tolist(), state["loss"].tolist(), state["val_steps"].tolist()
    return History(meta["budget"], steps, loss, val_steps, scores, meta["seconds"], best)


def train_or_load(model: nn.Module, path: str | Path, train: Callable[[], History]) -> Trained:
    """Load ``model``'s weights and training history from ``path`` when it exists; otherwise call
    ``train()`` (which trains ``model`` in place and returns its :class:`~metalearn_lib.training.History`)
    and save both atomically. ``path`` must name every setting that changes the result: chapters that
    train the same model at the same budget then share one training."""
    path = Path(path)
    if path.exists():
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        return Trained(model, _history_from(state), True, path)
    history = train()
    atomic_torch_save({"model": model.state_dict(), **_history_state(history)}, path)
    return Trained(model, history, False, path)


def models_dir() -> Path:
    """Where trained models are cached: ``cache_dir() / "models"``."""
    return cache_dir() / "models"


def minimise(
    loss_fn: Callable[[], Tensor], parameters: Iterable[nn.Parameter], steps: int, *, lr: float = 1e-3,
    desc: str = "train", progress: bool = True,
) -> History:
    """The plain (non-episodic) training loop: ``steps`` Adam steps on ``loss_fn()``, each call drawing
    its own batch, with the loss of every step recorded in a :class:`History`."""
    if steps < 1:
        raise ValueError(f"need steps >= 1, got {steps}")
    optimizer = torch.optim.Adam(parameters, lr=lr)
    history = History(budget=budget_name())
    start = time.perf_counter()
    for step in tqdm(range(1, steps + 1), desc=desc, disable=not progress):
        loss = loss_fn()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.steps.append(step)
        history.loss.append(loss.item())
    history.seconds = time.perf_counter() - start
    return history
