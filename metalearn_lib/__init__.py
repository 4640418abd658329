"""metalearn_lib: the companion library of the metalearn-book.

Notebooks do ``import metalearn_lib as ml``; everything a chapter needs is reachable from here.
"""

from . import backbones, bench, datasets, functional, learners, plotting, pretraining, profiling, recipes, rl, score_cache
from .backbones import Conv4, count_parameters, mlp, reset_parameters
from .checkpoints import atomic_torch_save, load_checkpoint, save_checkpoint
from .config import budget, budget_name, cache_dir, data_root
from .datasets import FewShotDataset, Omniglot, Preferences, Sinusoid, SinusoidTask, synthetic_classes
from .episodes import Episode
from .evaluation import Score, evaluate, mean_ci95
from .functional import forward_with, gradient_descent, grads_of, params_of, sgd_step
from .learners import LEARNERS, MetaLearner, available_learners, make_learner
from .runtime import default_device, resolve_device, seed_everything
from .sampling import EpisodeIndices, EpisodeSampler, FixedEpisodes, collate, episode_stream
from .training import History, meta_train

__version__ = "0.1.0"

__all__ = [
    "backbones", "bench", "datasets", "functional", "learners", "plotting", "pretraining", "profiling", "recipes", "rl",
    "score_cache",
    "Conv4", "count_parameters", "mlp", "reset_parameters",
    "atomic_torch_save", "load_checkpoint", "save_checkpoint",
    "budget", "budget_name", "cache_dir", "data_root",
    "FewShotDataset", "Omniglot", "Preferences", "Sinusoid", "SinusoidTask", "synthetic_classes",
    "Episode",
    "Score", "evaluate", "mean_ci95",
    "forward_with", "gradient_descent", "grads_of", "params_of", "sgd_step",
    "LEARNERS", "MetaLearner", "available_learners", "make_learner",
    "default_device", "resolve_device", "seed_everything",
    "EpisodeIndices", "EpisodeSampler", "FixedEpisodes", "collate", "episode_stream",
    "History", "meta_train",
]
