"""Every learner of the book, one module per family; importing this package fills the registry."""

from . import baselines, metric
from .base import LEARNERS, MetaLearner, TaskState, available_learners, make_learner, register
from .baselines import PixelNearestNeighbour, ScratchClassifier
from .metric import PrototypicalNetwork, class_means, cosine_similarity_matrix, squared_euclidean

__all__ = [
    "LEARNERS",
    "MetaLearner",
    "TaskState",
    "available_learners",
    "make_learner",
    "register",
    "baselines",
    "metric",
    "PixelNearestNeighbour",
    "ScratchClassifier",
    "PrototypicalNetwork",
    "class_means",
    "cosine_similarity_matrix",
    "squared_euclidean",
]
