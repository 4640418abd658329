"""Supervised pretraining over every class of a pool, with pretrained encoders cached per setting.

The first stage of Baseline / Baseline++ (Chen et al., 2019) and of meta-transfer learning (Sun et
al., 2019): ordinary mini-batch classification over all training classes at once (3252 classes for
Omniglot's background alphabets with rotations), after which the classifier head is thrown away and
the encoder is reused for new tasks.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .backbones import Conv4, reset_parameters
from .datasets.base import FewShotDataset
from .runtime import resolve_device
from .sampling import to_float_images
from .training import History, Trained, minimise, models_dir, train_or_load

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
    generator = torch.Generator().manual_seed(seed)

    def loss() -> Tensor:
        rows = torch.randint(len(dataset), (batch_size,), generator=generator)
        x = to_float_images(dataset.images[rows]).to(device)
        return F.cross_entropy(model(x), dataset.labels[rows].to(device))

    return minimise(loss, model.parameters(), steps, lr=lr, desc="pretrain", progress=progress)


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
    setting that changes the result (the pool's
    :meth:`~metalearn_lib.datasets.base.FewShotDataset.cache_key`, head, width ``hidden``, steps, batch
    size, learning rate, seed), so chapters sharing a budget share one pretraining and a different
    budget or pool never reuses it.
    """
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; available: {', '.join(HEADS)}")
    directory = Path(directory) if directory is not None else models_dir()
    name = (f"pretrain-v{PRETRAIN_VERSION}-{dataset.cache_key()}-{head}{hidden}"
            f"-{steps}x{batch_size}-lr{lr:g}-seed{seed}.pt")
    encoder = reset_parameters(Conv4(dataset.image_shape, hidden=hidden), seed)
    classifier = reset_parameters(make_head(head, encoder.feature_dim, dataset.n_classes), seed + 1)

    def train() -> History:
        history = pretrain(encoder, classifier, dataset, steps, batch_size=batch_size, lr=lr, seed=seed,
                           device=device, progress=progress)
        encoder.cpu()
        return history

    return train_or_load(encoder, directory / name, train)
