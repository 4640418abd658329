"""Every learner of the book, one module per family; importing this package fills the registry."""

from . import baselines, generation, lstm_meta, memory, meta_transfer, metric, optimization, pairs, transfer
from .base import LEARNERS, MetaLearner, TaskState, available_learners, make_learner, register
from .baselines import PixelNearestNeighbour, ScratchClassifier
from .metric import (
    MatchingNetwork,
    PrototypicalNetwork,
    RelationNetwork,
    class_means,
    cosine_similarity_matrix,
    euclidean,
    per_class,
    squared_euclidean,
)
from .pairs import SiameseNetwork, TripletNetwork, contrastive_loss, hardest_pairs, triplet_loss
from .lstm_meta import LSTMMetaLearner
from .memory import MANN, RNNMetaLearner, SequenceLearner, instance_accuracy
from .generation import MetaNet, WeightGenerator
from .optimization import ANIL, MAML, FirstOrderMAML, MetaSGD, Reptile
from . import instance_transfer, multitask, task_selection
from .meta_transfer import MetaTransfer, hard_task_stream
from .transfer import Baseline, BaselinePlusPlus, FineTuner

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
    "Baseline",
    "BaselinePlusPlus",
    "MetaTransfer",
    "hard_task_stream",
    "meta_transfer",
    "lstm_meta",
    "memory",
    "generation",
    "MetaNet",
    "WeightGenerator",
    "MANN",
    "RNNMetaLearner",
    "SequenceLearner",
    "instance_accuracy",
    "optimization",
    "ANIL",
    "MAML",
    "FirstOrderMAML",
    "LSTMMetaLearner",
    "MetaSGD",
    "Reptile",
    "PixelNearestNeighbour",
    "ScratchClassifier",
    "PrototypicalNetwork",
    "MatchingNetwork",
    "RelationNetwork",
    "SiameseNetwork",
    "TripletNetwork",
    "contrastive_loss",
    "hardest_pairs",
    "triplet_loss",
    "euclidean",
    "per_class",
    "pairs",
    "class_means",
    "cosine_similarity_matrix",
    "squared_euclidean",
]
