"""Checkpoints written atomically (temporary file, then rename) and read with ``weights_only=True``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch
from torch import nn


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write`` on a temporary file in the target folder, then rename it to ``path``: a crash
    never leaves a half-written file under ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` through :func:`atomic_write`."""
    return atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write_text(text: str, path: str | Path) -> Path:
    """Write ``text`` (UTF-8) through :func:`atomic_write`."""
    return atomic_write(path, lambda f: f.write(text.encode()))


def save_checkpoint(
    path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None, **meta: int | float | str
) -> Path:
    """Save ``model``'s state dict, the optimizer's state and plain metadata (step, scores...)."""
    state = {"model": model.state_dict(), "meta": meta}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    return atomic_torch_save(state, path)


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device | None = "cpu",
) -> dict:
    """Load a :func:`save_checkpoint` file into ``model`` (and ``optimizer``); return its metadata.
    Uses ``weights_only=True``: a checkpoint cannot run code when loaded."""
    state = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(state["model"])
    if optimizer is not None:
        if "optimizer" not in state:
            raise ValueError(f"{path} holds no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    return state["meta"]
