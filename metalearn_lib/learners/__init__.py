"""Every learner of the book, one module per family; importing this package fills the registry."""

from . import baselines, metric, transfer
from .base import LEARNERS, MetaLearner, TaskState, available_learners, make_learner, register
from .baselines import PixelNearestNeighbour, ScratchClassifier
from .metric import PrototypicalNetwork, class_means, cosine_similarity_matrix, squared_euclidean
from .transfer import FineTuner

__all__ = [
    "LEARNERS",
    "MetaLearner",
    "TaskState",
    "available_learners",
    "make_learner",
    "register",
    "baselines",
    "metric",
    "transfer",
    "FineTuner",
    "PixelNearestNeighbour",
    "ScratchClassifier",
    "PrototypicalNetwork",
    "class_means",
    "cosine_similarity_matrix",
    "squared_euclidean",
]
