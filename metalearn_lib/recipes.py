"""The book's training recipes: how each registered learner is trained on Omniglot, at each budget.

One table, read by the chapters, the comparison chapters and ``python -m metalearn_lib bench``: a
model trained by one of them is loaded from the cache (:func:`~metalearn_lib.training.train_or_load`)
by every other, because the cache file names every setting of its recipe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .config import budget, budget_name
from .datasets.base import FewShotDataset
from .datasets.omniglot import Omniglot
from .evaluation import Score
from .learners.base import LEARNERS, MetaLearner, make_learner
from .learners.meta_transfer import hard_task_stream
from .sampling import FixedEpisodes
from .score_cache import cached_evaluate
from .training import History, Trained, meta_train, models_dir, train_or_load

PerBudget = tuple[int, int, int]
"""A value for each budget: ``(smoke, book, paper)``."""

NARROW: PerBudget = (8, 32, 64)
"""Conv4 width of the optimization-based learners: second-order steps through a width-64 network do
not fit the book's minutes on a CPU."""


def at_budget(values: PerBudget) -> int:
    """The entry of ``(smoke, book, paper)`` for the budget in force."""
    smoke, book, paper = values
    return budget(smoke=smoke, book=book, paper=paper)


@dataclass(frozen=True)
class Recipe:
    """How one learner is trained: episodes, steps, optimiser and network width, per budget.

    Args:
        learner: a name in :data:`~metalearn_lib.learners.LEARNERS`.
        n_way, k_shot, n_query: shape of the training episodes (``n_query=0`` for the sequence
            learners, which read support and query as one sequence).
        steps: outer steps of ``meta_batch_size`` episodes; 0 when the learner is not meta-trained.
        outer_lr, lr_schedule: Adam's rate and its schedule (see :func:`~metalearn_lib.training.meta_train`).
        hidden: Conv4 width handed to ``for_images`` (None: the learner's default).
        pretrain_steps: supervised pretraining mini-batches before meta-training (transfer learners).
        any_way: False when the network has one output per class, so a test with another number of
            classes needs its own training run (with ``n_way`` set to that number).
        options: further keyword arguments of ``for_images``; a value given as a ``(smoke, book, paper)``
            :data:`PerBudget` tuple is picked by budget.
        hard_tasks: meta-batches alternate ordinary and hard ones
            (:func:`~metalearn_lib.learners.meta_transfer.hard_task_stream`, Sun et al., 2019).
        bench_episodes: test episodes per setting in the benchmark when fewer than the default
            (:func:`~metalearn_lib.bench.bench_episodes`): for learners whose every test task is a whole
            training run.
        source: the chapter that explains the recipe.
    """

    learner: str
    n_way: int = 5
    k_shot: int = 1
    n_query: int = 15
    steps: PerBudget = (0, 0, 0)
    meta_batch_size: PerBudget = (1, 1, 1)
    outer_lr: float = 1e-3
    lr_schedule: str = "constant"
    hidden: PerBudget | None = None
    pretrain_steps: PerBudget | None = None
    any_way: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)
    hard_tasks: bool = False
    bench_episodes: PerBudget | None = None
    source: str = ""

    def for_way(self, n_way: int) -> Recipe:
        """The recipe for tests with ``n_way`` classes: itself when the learner takes any number of
        classes, otherwise a copy trained on ``n_way``-way episodes."""
        if self.any_way or n_way == self.n_way:
            return self
        return Recipe(**{**self.__dict__, "n_way": n_way})

    def resolved_options(self) -> dict[str, Any]:
        """``options`` with every :data:`PerBudget` value replaced by its entry for the budget in force."""
        return {k: at_budget(v) if isinstance(v, tuple) else v for k, v in self.options.items()}

    def build(self, image_shape: Sequence[int] = (1, 28, 28)) -> MetaLearner:
        """A fresh, untrained learner of this recipe."""
        kwargs = self.resolved_options()
        if self.hidden is not None:
            kwargs["hidden"] = at_budget(self.hidden)
        return make_learner(self.learner, image_shape, self.n_way, **kwargs)

    def describe(self) -> str:
        """The recipe at the budget in force, in words (what a chapter prints before training)."""
        steps = at_budget(self.steps)
        parts = [f"{self.learner} ({budget_name()} budget):"]
        if self.pretrain_steps is not None:
            parts.append(f"{at_budget(self.pretrain_steps)} pretraining mini-batches, then")
        if steps == 0:
            parts.append("no meta-training")
        else:
            batch = at_budget(self.meta_batch_size)
            episodes = f"{batch} episodes" if batch > 1 else "one episode"
            if self.n_query:
                shape = f"{self.n_way}-way {self.k_shot}-shot with {self.n_query} queries per class"
            else:
                shape = f"a sequence of {self.n_way} classes x {self.k_shot} drawings"
            schedule = "" if self.lr_schedule == "constant" else f" with {self.lr_schedule} decay"
            hard = ", ordinary and hard meta-batches in turn" if self.hard_tasks else ""
            parts.append(f"{steps} steps of {episodes} ({shape}{hard}), Adam lr {self.outer_lr:g}{schedule}")
        if self.hidden is not None:
            parts[-1] += ","
            parts.append(f"Conv4 width {at_budget(self.hidden)}")
        return " ".join(parts)

    def cache_name(self, val_episodes: int, seed: int = 0, pool: str = "") -> str:
        """File name that names every setting of the recipe at the budget in force, the training pool
        (its :meth:`~metalearn_lib.datasets.base.FewShotDataset.cache_key`), the number of validation
        episodes and the seed of the training episodes."""
        parts = [self.learner, budget_name(), *([pool] if pool else []),
                 f"{self.n_way}w{self.k_shot}s{self.n_query}q", f"{at_budget(self.steps)}x{at_budget(self.meta_batch_size)}",
                 f"lr{self.outer_lr:g}" + ("" if self.lr_schedule == "constant" else self.lr_schedule), f"val{val_episodes}"]
        if self.hidden is not None:
            parts.append(f"w{at_budget(self.hidden)}")
        if self.pretrain_steps is not None:
            parts.append(f"pre{at_budget(self.pretrain_steps)}")
        parts += [f"{k}{v}" for k, v in sorted(self.resolved_options().items())]
        if self.hard_tasks:
            parts.append("hardtasks")
        return "-".join([*parts, f"seed{seed}"]) + ".pt"


_PAIR_STEPS: PerBudget = (4, 700, 20000)
_OPTIMIZATION = dict(k_shot=1, n_query=5, steps=(3, 1600, 60000), meta_batch_size=(2, 4, 32), hidden=NARROW, any_way=False)
# pixel_side is the learners' default; stated so the cache file names it, apart from models of the
# earlier encoder with a learned layer.
_SEQUENCE = dict(k_shot=10, n_query=0, steps=(3, 5000, 6250), meta_batch_size=(16, 16, 16), any_way=False,
                 options={"pixel_side": 20})
_PRETRAIN: PerBudget = (5, 800, 20000)

RECIPES: dict[str, Recipe] = {
    "pixel-nn": Recipe("pixel-nn", source="chapters/01_background/01_why_meta_learning"),
    "scratch": Recipe("scratch", any_way=False, options={"steps": (5, 100, 100)}, bench_episodes=(2, 40, 600), source="chapters/01_background/01_why_meta_learning"),
    "siamese": Recipe("siamese", 20, 5, 5, _PAIR_STEPS, source="chapters/03_metric/01_siamese"),
    "triplet": Recipe("triplet", 20, 5, 5, _PAIR_STEPS, source="chapters/03_metric/02_triplet"),
    "matching": Recipe("matching", 20, 1, 5, (4, 2000, 20000), outer_lr=2e-3, lr_schedule="cosine",
                       source="chapters/03_metric/03_matching"),
    "protonet": Recipe("protonet", 20, 1, 5, (4, 3000, 20000), outer_lr=2e-3, lr_schedule="cosine",
                       source="chapters/03_metric/04_prototypical"),
    "relation": Recipe("relation", 5, 1, 15, (4, 2000, 20000), outer_lr=2e-3, lr_schedule="cosine",
                       source="chapters/03_metric/05_relation"),
    "rnn-meta": Recipe("rnn-meta", **_SEQUENCE, source="chapters/04_model_memory/01_rnn_meta_learner"),
    "mann": Recipe("mann", **_SEQUENCE, source="chapters/04_model_memory/02_mann"),
    "weight-generator": Recipe("weight-generator", steps=(4, 500, 20000), source="chapters/04_model_memory/03_parameter_generation"),
    "metanet": Recipe("metanet", steps=(4, 500, 20000), any_way=False, source="chapters/04_model_memory/04_metanet"),
    "maml": Recipe("maml", **_OPTIMIZATION, source="chapters/05_optimization/01_maml"),
    "fomaml": Recipe("fomaml", **_OPTIMIZATION, source="chapters/05_optimization/02_reptile"),
    "reptile": Recipe("reptile", **{**_OPTIMIZATION, "steps": (3, 300, 100000)}, source="chapters/05_optimization/02_reptile"),
    "meta-sgd": Recipe("meta-sgd", **_OPTIMIZATION, source="chapters/05_optimization/03_meta_sgd"),
    "lstm-meta": Recipe("lstm-meta", **{**_OPTIMIZATION, "steps": (3, 250, 20000)},
                        source="chapters/05_optimization/04_lstm_meta_learner"),
    "anil": Recipe("anil", **_OPTIMIZATION, source="chapters/05_optimization/05_anil"),
    "finetune": Recipe("finetune", 5, 5, 15, (4, 100, 20000), any_way=False, source="chapters/06_transfer/01_feature_transfer"),
    "baseline": Recipe("baseline", pretrain_steps=_PRETRAIN, source="chapters/06_transfer/01_feature_transfer"),
    "baseline++": Recipe("baseline++", pretrain_steps=_PRETRAIN, source="chapters/06_transfer/01_feature_transfer"),
    "mtl": Recipe("mtl", 5, 5, 15, (2, 40, 10000), (4, 4, 4), pretrain_steps=_PRETRAIN,
                  source="chapters/06_transfer/05_meta_transfer"),
}
"""Recipe of every registered learner, by name."""

PROTONET_AS_PRETRAINING = Recipe("protonet", 20, 5, 5, tuple(max(1, p * 128 // 200) for p in _PRETRAIN),  # type: ignore[arg-type]
                                 source="chapters/06_transfer/01_feature_transfer")
"""ProtoNet shown as many training images as the transfer learners' pretraining (mini-batches of 128
against episodes of 200 images): the like-for-like comparison of the transfer part."""


def recipe(name: str, n_way: int | None = None) -> Recipe:
    """The recipe of learner ``name``, for tests with ``n_way`` classes (default: its training way)."""
    if name not in RECIPES:
        known = ", ".join(sorted(RECIPES))
        raise ValueError(f"no recipe for {name!r}; recipes exist for: {known}")
    chosen = RECIPES[name]
    return chosen if n_way is None else chosen.for_way(n_way)


def validation_episodes(n_way: int = 5, seed: int = 1) -> FixedEpisodes:
    """The fixed 5-way 1-shot validation episodes every recipe selects its best step on (validation
    alphabets: disjoint from the training and test ones)."""
    return Omniglot("val").fixed_episodes(n_way, 1, 15, budget(smoke=4, book=50, paper=200), seed=seed)


def train(
    chosen: Recipe, *, pool: FewShotDataset | None = None, seed: int = 0, progress: bool = True,
) -> Trained:
    """Learner trained by ``chosen`` at the budget in force on ``pool``, or loaded from the cache.

    ``pool`` defaults to the Omniglot background alphabets with rotations; the cache file names the
    pool (:meth:`~metalearn_lib.datasets.base.FewShotDataset.cache_key`) with every setting of the
    recipe, so a recipe of one's own (e.g. the book's on a subset of the classes) gets its own file.
    Learners that are not meta-trained (``steps`` 0) come back with their pretraining's history, or an
    empty one.
    """
    pool = pool if pool is not None else Omniglot("train", rotations=True)
    val = validation_episodes(chosen.n_way if not chosen.any_way else 5)
    learner = chosen.build(pool.image_shape)
    history = History(budget=budget_name())
    path = None
    if chosen.pretrain_steps is not None:
        pretrained = learner.pretrain(pool, at_budget(chosen.pretrain_steps))
        history, path = pretrained.history, pretrained.path
    steps = at_budget(chosen.steps)
    if steps == 0:
        return Trained(learner, history, True, path)
    shape, batch = (chosen.n_way, chosen.k_shot, chosen.n_query), at_budget(chosen.meta_batch_size)
    episodes = hard_task_stream(pool, learner, *shape, batch, seed=seed) if chosen.hard_tasks else pool.episodes(*shape, seed=seed)
    return train_or_load(learner, models_dir() / chosen.cache_name(len(val), seed, pool.cache_key()), lambda: meta_train(
        learner, episodes, steps, outer_lr=chosen.outer_lr, lr_schedule=chosen.lr_schedule, meta_batch_size=batch,
        val_episodes=val, eval_every=max(1, steps // 6), progress=progress,
    ))


def train_recipe(
    name: str, n_way: int | None = None, *, pool: FewShotDataset | None = None, seed: int = 0, progress: bool = True,
) -> Trained:
    """The book's learner ``name`` (for tests with ``n_way`` classes) trained by its recipe, or loaded
    from the cache: :func:`train` of :func:`recipe`."""
    return train(recipe(name, n_way), pool=pool, seed=seed, progress=progress)


def fixed_test_episodes(
    n_way: int = 5, k_shot: int = 1, n: int | None = None, *, test: FewShotDataset | None = None, n_query: int = 15,
) -> FixedEpisodes:
    """The book's test tasks: ``n`` fixed episodes (default 20 / 600 / 600 by budget) of the evaluation
    alphabets with ``n_query`` queries per class (0 for the sequence learners' presentations) and seed
    2026, identical for every learner and chapter. ``test`` is the loaded ``Omniglot("test")`` pool,
    for callers that draw many settings from it."""
    n = n if n is not None else budget(smoke=20, book=600, paper=600)
    test = test if test is not None else Omniglot("test")
    return test.fixed_episodes(n_way, k_shot, n_query, n, seed=2026)


def test_score(
    chosen: Recipe | str, model: MetaLearner, n_way: int = 5, k_shot: int = 1, n_episodes: int | None = None, *,
    test: FewShotDataset | None = None, device: str | torch.device | None = None,
) -> Score:
    """Score of ``model`` (trained by ``chosen``, a :class:`Recipe` or a learner's name) on
    :func:`fixed_test_episodes`, through :func:`~metalearn_lib.score_cache.cached_evaluate`: a chapter
    that scored the model on 600 episodes spares the comparison chapter and the benchmark the work, as
    long as the weights are the ones scored."""
    chosen = recipe(chosen) if isinstance(chosen, str) else chosen
    test = test if test is not None else Omniglot("test")
    key = f"{chosen.cache_name(0)}|{test.cache_key()}|{n_way}w{k_shot}s15q"
    return cached_evaluate(model, fixed_test_episodes(n_way, k_shot, n_episodes, test=test), key, device=device)


def train_and_test(name: str, n_way: int = 5, k_shot: int = 1, n_episodes: int | None = None) -> tuple[Trained, Score]:
    """:func:`train_recipe` then :func:`test_score` on :func:`fixed_test_episodes`."""
    trained = train_recipe(name, n_way)
    return trained, test_score(recipe(name, n_way), trained.model, n_way, k_shot, n_episodes)


def missing_recipes() -> list[str]:
    """Registered learners without a recipe (the benchmark and a test require none)."""
    return sorted(set(LEARNERS) - set(RECIPES))
