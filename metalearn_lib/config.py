"""Configuration read from the environment: the training budget and where data lives.

``METALEARN_BUDGET``  one of ``smoke`` (CI: proves the code paths), ``book`` (the rendered book:
                      minutes on a 2-core CPU) or ``paper`` (the published protocol, GPU).
``METALEARN_DATA``    root that holds ``omniglot/`` (zips or extracted folders).
``METALEARN_CACHE``   where decoded tensors are cached (default ``~/.cache/metalearn``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

BUDGETS = ("smoke", "book", "paper")
DEFAULT_BUDGET = "book"

T = TypeVar("T")


def budget_name() -> str:
    """The budget in force: ``METALEARN_BUDGET`` or ``"book"`` when unset."""
    name = os.environ.get("METALEARN_BUDGET", DEFAULT_BUDGET).strip().lower()
    if name not in BUDGETS:
        raise ValueError(f"METALEARN_BUDGET={name!r} is not a budget; choose one of {BUDGETS}")
    return name


def budget(*, smoke: T, book: T, paper: T) -> T:
    """Pick the value for the budget in force, e.g. ``steps = budget(smoke=20, book=3000, paper=60000)``."""
    return {"smoke": smoke, "book": book, "paper": paper}[budget_name()]


def data_root() -> Path:
    """Root directory of the data sets: ``METALEARN_DATA`` or ``~/.cache/metalearn/data``."""
    env = os.environ.get("METALEARN_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "metalearn" / "data"


def cache_dir() -> Path:
    """Writable directory for decoded-data caches: ``METALEARN_CACHE`` or ``~/.cache/metalearn``."""
    env = os.environ.get("METALEARN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "metalearn"
