"""Data sets: Omniglot, sinusoid regression tasks and a synthetic set for tests."""

from .base import FewShotDataset
from .omniglot import VAL_ALPHABETS, Omniglot, download_omniglot, find_source
from .sinusoid import Sinusoid, SinusoidTask
from .synthetic import synthetic_classes

__all__ = [
    "FewShotDataset",
    "Omniglot",
    "VAL_ALPHABETS",
    "Sinusoid",
    "SinusoidTask",
    "download_omniglot",
    "find_source",
    "synthetic_classes",
]
