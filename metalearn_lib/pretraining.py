"""Supervised pretraining over every class of a pool, and a cache of pretrained encoders.

The first stage of Baseline / Baseline++ (Chen et al., 2019) and of meta-transfer learning (Sun et
al., 2019): ordinary mini-batch classification over all training classes at once (3252 classes for
Omniglot's background alphabets with rotations), after which the classifier head is thrown away and
the encoder is reused for new tasks.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from .backbones import Conv4, reset_parameters
from .checkpoints import atomic_torch_save
from .config import budget_name, cache_dir
from .datasets.base import FewShotDataset
from .runtime import resolve_device
from .sampling import to_float_images
from .evaluation import Score
from .training import History

#: bump when the pretraining recipe changes, so that stale cached encoders are not reused
PRETRAIN_VERSION = 1
HEADS = ("linear", "cosine")


class CosineClassifier(nn.Module):
    """Logits ``scale * cos(z, w_k)`` for features ``z`` ``(B, in_features)`` and class weights
    ``w`` ``(n_classes, in_features)``: the Baseline++ classifier of Chen et al. (2019)."""

    def __init__(self, in_features: int, n_classes: int, scale: float = 10.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_classes, in_features))
        self.scale = scale
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, std=self.weight.shape[1] ** -0.5)

    def forward(self, z: Tensor) -> Tensor:
        return self.scale * F.normalize(z, dim=-1) @ F.normalize(self.weight, dim=-1).T


def make_head(kind: str, in_features: int, n_classes: int) -> nn.Module:
    """A ``"linear"`` (Baseline) or ``"cosine"`` (Baseline++) classifier ``(B, in) -> (B, n_classes)``."""
    if kind == "linear":
        return nn.Linear(in_features, n_classes)
    if kind == "cosine":
        return CosineClassifier(in_features, n_classes)
    raise ValueError(f"unknown head {kind!r}; available: {', '.join(HEADS)}")


def pretrain(
    encoder: nn.Module,
    head: nn.Module,
    dataset: FewShotDataset,
    steps: int,
    *,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> History:
    """Train ``head(encoder(x))`` with cross-entropy on mini-batches drawn uniformly from the whole pool.

    Args:
        encoder: ``(B, C, H, W) -> (B, D)`` features.
        head: ``(B, D) -> (B, dataset.n_classes)`` logits over every class of the pool.
        steps: Adam steps of ``batch_size`` images (labels are the pool's class ids).
        seed: seeds the mini-batch draws (not the initialisation: initialise before calling).

    Returns:
        a :class:`~metalearn_lib.training.History` of the training loss (no validation scores).
    """
    if steps < 1 or batch_size < 1:
        raise ValueError(f"need steps >= 1 and batch_size >= 1, got {steps} and {batch_size}")
    device = resolve_device(device)
    model = nn.Sequential(encoder, head).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = History(budget=budget_name())
    start = time.perf_counter()
    for step in tqdm(range(1, steps + 1), desc="pretrain", disable=not progress):
        rows = torch.randint(len(dataset), (batch_size,), generator=generator)
        x = to_float_images(dataset.images[rows]).to(device)
        loss = F.cross_entropy(model(x), dataset.labels[rows].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.steps.append(step)
        history.loss.append(loss.item())
    history.seconds = time.perf_counter() - start
    return history


def fingerprint(dataset: FewShotDataset) -> str:
    """Short hash of a pool's images and labels: two pools with the same name but other data differ."""
    digest = hashlib.blake2b(digest_size=6)
    digest.update(dataset.images.contiguous().numpy().tobytes())
    digest.update(dataset.labels.contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass
class Trained:
    """A trained model with the history of its training; ``cached`` tells whether it was loaded from
    ``path`` instead of being trained in this call."""

    model: nn.Module
    history: History
    cached: bool
    path: Path


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


def pretrained_conv4(
    dataset: FewShotDataset,
    steps: int,
    *,
    head: str = "linear",
    hidden: int = 64,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    directory: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> Trained:
    """Train-or-load (:func:`train_or_load`): a :class:`~metalearn_lib.backbones.Conv4` encoder (on the
    CPU) pretrained with :func:`pretrain`.

    The checkpoint lives in ``directory`` (default :func:`models_dir`) under a name made of every
    setting that changes the result (data set and a :func:`fingerprint` of its contents, head, width
    ``hidden``, steps, batch size, learning rate, seed), so chapters sharing a budget share one
    pretraining and a different budget or pool never reuses it.
    """
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; available: {', '.join(HEADS)}")
    directory = Path(directory) if directory is not None else models_dir()
    name = (f"pretrain-v{PRETRAIN_VERSION}-{dataset.name}-{fingerprint(dataset)}-{head}{hidden}"
            f"-{steps}x{batch_size}-lr{lr:g}-seed{seed}.pt")
    encoder = reset_parameters(Conv4(dataset.image_shape, hidden=hidden), seed)
    classifier = reset_parameters(make_head(head, encoder.feature_dim, dataset.n_classes), seed + 1)

    def train() -> History:
        history = pretrain(encoder, classifier, dataset, steps, batch_size=batch_size, lr=lr, seed=seed,
                           device=device, progress=progress)
        encoder.cpu()
        return history

    return train_or_load(encoder, directory / name, train)
