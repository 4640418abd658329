"""Data sets: Omniglot, regression task families (sinusoids, user preferences) and a synthetic set for tests."""

from .base import FewShotDataset
from .omniglot import VAL_ALPHABETS, Omniglot, download_omniglot, find_source
from .preferences import Preferences, UserPreference
from .regression import TaskFamily
from .sinusoid import Sinusoid, SinusoidTask
from .synthetic import synthetic_classes

__all__ = [
    "FewShotDataset",
    "Omniglot",
    "VAL_ALPHABETS",
    "Preferences",
    "UserPreference",
    "TaskFamily",
    "Sinusoid",
    "SinusoidTask",
    "download_omniglot",
    "find_source",
    "synthetic_classes",
]
