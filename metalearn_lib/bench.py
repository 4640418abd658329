"""Benchmarks behind ``python -m metalearn_lib bench ...``.

``learners``: every registered learner, trained by its recipe (:mod:`metalearn_lib.recipes`), on the
same fixed Omniglot test episodes (5- and 20-way, 1- and 5-shot): accuracy with a 95% CI, training
time, parameters and the peak memory of one training step, written to a JSON results file.
``maml-vmap``: one MAML meta-iteration (forward, second-order backward, optimizer step) on Omniglot
5-way 1-shot (or sinusoid regression) with the tasks of the meta-batch looped over or batched with
:func:`torch.func.vmap`.

Times and memory come from :mod:`metalearn_lib.profiling`: median seconds after a warm-up, and a
peak measured per call (the CUDA allocator's on a GPU, the tensors saved for backward on a CPU), so
configurations measured one after another in one process can be compared.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import torch

from .backbones import count_parameters, mlp
from .checkpoints import atomic_write_text
from .config import budget, budget_name, cache_dir
from .datasets import Omniglot, Sinusoid
from .learners import MAML, available_learners
from .profiling import peak_memory, time_call
from .recipes import RECIPES, Recipe, at_budget, recipe, test_score, train
from .runtime import resolve_device


@dataclass(frozen=True)
class Timing:
    """Median seconds of one meta-iteration and its peak memory in bytes (:func:`~metalearn_lib.profiling.peak_memory`:
    the allocator's peak on a GPU, the tensors saved for backward on a CPU; None where it cannot be
    measured: the vmapped path on a CPU, since :func:`torch.func.grad` refuses saved-tensor hooks)."""

    mode: str
    meta_batch_size: int
    seconds: float
    peak_bytes: int | None


MAML_VMAP_TASKS = ("omniglot", "sinusoid")
"""The tasks :func:`time_maml_meta_iteration` can time."""


def time_maml_meta_iteration(
    meta_batch_sizes: Sequence[int] = (4, 16, 32),
    repeats: int = 3,
    hidden: int = 64,
    device: str | torch.device | None = None,
    seed: int = 0,
    task: str = "omniglot",
) -> list[Timing]:
    """Time one second-order MAML meta-iteration, looped and vmapped, for each meta-batch size, on
    ``task``: ``"omniglot"`` (5-way 1-shot, 15 queries per class, Conv4 of width ``hidden``) or
    ``"sinusoid"`` (K=10 with 10 queries, MAML's ``mlp(1, (40, 40), 1)``: little work per task, so
    the per-operation overhead that vmap removes dominates). One inner step in both.

    Returns one :class:`Timing` per (mode, meta-batch size): the median of ``repeats`` runs after a
    warm-up (:func:`~metalearn_lib.profiling.time_call`) and the peak memory of one more run
    (:func:`~metalearn_lib.profiling.peak_memory`), measured per call so sizes can be compared."""
    device = resolve_device(device)
    if task == "omniglot":
        episodes = Omniglot("train", rotations=True).episodes(5, 1, 15, seed=seed)

        def build(vmap: bool) -> MAML:
            return MAML.for_images((1, 28, 28), 5, hidden=hidden, vmap=vmap)
    elif task == "sinusoid":
        episodes = Sinusoid().episodes(10, 10, seed=seed)

        def build(vmap: bool) -> MAML:
            return MAML(mlp(1, (40, 40), 1), inner_lr=0.01, vmap=vmap)
    else:
        raise ValueError(f"unknown benchmark task {task!r}; choose one of {', '.join(MAML_VMAP_TASKS)}")
    results = []
    for meta_batch_size in meta_batch_sizes:
        batch = [e.to(device) for e in itertools.islice(episodes, meta_batch_size)]
        for mode in ("loop", "vmap"):
            torch.manual_seed(seed)
            learner = build(vmap=mode == "vmap").to(device).train()
            optimizer = torch.optim.Adam(learner.parameters(), lr=1e-3)
            step = partial(learner.outer_step, batch, optimizer)
            try:
                peak: int | None = peak_memory(step, device)[1]
            except ValueError:  # vmap on a CPU: torch.func.grad refuses the saved-tensor hooks before any update
                peak = None
            results.append(Timing(mode, meta_batch_size, time_call(step, repeats, device), peak))
    return results


def format_timings(timings: Sequence[Timing]) -> str:
    """A table: per meta-batch size, loop and vmap seconds and peak MiB (a dash where not measured),
    and the loop/vmap ratio (above 1: vmap is faster)."""

    def mib(t: Timing) -> str:
        return f"{t.peak_bytes / 2**20:8.1f}" if t.peak_bytes is not None else f"{'—':>8}"

    rows = ["meta_batch  loop_s  vmap_s  loop/vmap  loop_MiB  vmap_MiB"]
    ratios = speedups(timings)
    for size, (loop, vm) in _by_size(timings).items():
        rows.append(f"{size:>10}  {loop.seconds:6.3f}  {vm.seconds:6.3f}  {ratios[size]:9.2f}  {mib(loop)}  {mib(vm)}")
    return "\n".join(rows)


def _by_size(timings: Sequence[Timing]) -> dict[int, tuple[Timing, Timing]]:
    """``{meta_batch_size: (loop timing, vmap timing)}`` in the order measured."""
    modes: dict[int, dict[str, Timing]] = {}
    for t in timings:
        modes.setdefault(t.meta_batch_size, {})[t.mode] = t
    return {size: (m["loop"], m["vmap"]) for size, m in modes.items()}


def speedups(timings: Sequence[Timing]) -> dict[int, float]:
    """``{meta_batch_size: loop seconds / vmap seconds}``: above 1, vmap is faster."""
    return {size: loop.seconds / vm.seconds for size, (loop, vm) in _by_size(timings).items()}


BENCHMARKS: dict[str, Callable[..., list[Timing]]] = {"maml-vmap": time_maml_meta_iteration}


def run_benchmark(name: str, **kwargs) -> str:
    """Run benchmark ``name`` (see :data:`BENCHMARKS`) and return its table."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; available: {', '.join(sorted(BENCHMARKS))}")
    return format_timings(BENCHMARKS[name](**kwargs))


@dataclass(frozen=True)
class LearnerResult:
    """One row of the learner benchmark: ``learner`` tested on ``n_way``-way ``k_shot``-shot episodes.

    ``accuracy`` and ``ci95`` are percentages (None when not run at this budget, see ``note``);
    ``train_seconds`` is the meta-training (or pretraining) time recorded when the model was trained;
    ``peak_bytes`` the memory of one training step of its recipe (:func:`~metalearn_lib.profiling.peak_memory`).
    """

    learner: str
    n_way: int
    k_shot: int
    accuracy: float | None
    ci95: float | None
    episodes: int
    train_seconds: float | None
    parameters: int
    peak_bytes: int | None
    note: str = ""


def _training_step_memory(chosen: Recipe, model: torch.nn.Module, pool, device: torch.device) -> int | None:
    """Peak memory of one outer step of the ``chosen`` recipe's meta-batch, on a copy of ``model``
    (None when the recipe has no meta-training step)."""
    if at_budget(chosen.steps) == 0:
        return None
    learner = copy.deepcopy(model).to(device).train()
    episodes = pool.episodes(chosen.n_way, chosen.k_shot, chosen.n_query, seed=0)
    batch = [e.to(device) for e in itertools.islice(episodes, at_budget(chosen.meta_batch_size))]
    optimizer = torch.optim.Adam([p for p in learner.parameters() if p.requires_grad], lr=chosen.outer_lr)
    return peak_memory(partial(learner.outer_step, batch, optimizer), device)[1]


def benchmark_learners(
    names: Sequence[str] | None = None,
    ways: Sequence[int] = (5, 20),
    shots: Sequence[int] = (1, 5),
    *,
    fixed_way_ways: Sequence[int] | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> list[LearnerResult]:
    """Train (or load) each learner of ``names`` (default: every recipe) and test it on the book's fixed
    Omniglot test episodes (seed 2026, 15 queries per class) for every way and shot.

    Scores go through :func:`~metalearn_lib.recipes.test_score`, which reads back the episodes a
    chapter already scored the same weights on.

    Learners with one output per class need a training run per number of classes; ``fixed_way_ways``
    limits the ways they are tested on (default: 5 and 20 at the paper budget; 5 only at the book
    budget, where a 20-way second-order run does not fit in minutes, and at the smoke budget, whose
    tests check the 20-way training path separately); the others get a row with ``accuracy=None`` and a
    note. The number of test episodes per way is :func:`bench_episodes`.
    """
    device = resolve_device(device)
    names = list(names) if names is not None else list(RECIPES)
    unknown = sorted(set(names) - set(RECIPES))
    if unknown:
        raise ValueError(f"no recipe for {unknown}; learners: {', '.join(available_learners())}")
    fixed_way_ways = tuple(fixed_way_ways if fixed_way_ways is not None else budget(smoke=(5,), book=(5,), paper=(5, 20)))
    pool, test = Omniglot("train", rotations=True), Omniglot("test")
    results = []
    for name in names:
        for n_way in ways:
            if not recipe(name).any_way and n_way not in fixed_way_ways:
                note = f"needs its own {n_way}-way training: not run at this budget"
                results += [LearnerResult(name, n_way, k, None, None, 0, None, 0, None, note) for k in shots]
                continue
            chosen = recipe(name, n_way)
            trained = train(chosen, pool=pool, progress=progress)
            model = trained.model.to(device)
            seconds = trained.history.seconds if trained.path is not None else None
            peak = _training_step_memory(chosen, model, pool, device)
            for k_shot in shots:
                score = test_score(chosen, model, n_way, k_shot, bench_episodes(n_way, name), test=test, device=device)
                results.append(LearnerResult(name, n_way, k_shot, 100 * score.mean, 100 * score.ci95, score.n,
                                             seconds, count_parameters(model), peak))
                if progress:
                    print(f"{name:>16} {n_way:>2}-way {k_shot}-shot: {score}", flush=True)
    return results


def bench_episodes(n_way: int, learner: str | None = None) -> int:
    """Test episodes per setting: fewer 20-way episodes (300 queries each) than 5-way ones, and the
    recipe's own ``bench_episodes`` where it sets one (``scratch`` trains a network on every task:
    about 1-2 s per episode on a CPU, half of a book-budget benchmark at the default count)."""
    own = recipe(learner).bench_episodes if learner is not None else None
    if own is not None:
        return at_budget(own)
    return budget(smoke=4, book=200, paper=600) if n_way <= 5 else budget(smoke=2, book=50, paper=600)


def default_results_path() -> Path:
    """``cache_dir() / "bench" / "learners-<budget>.json"``."""
    return cache_dir() / "bench" / f"learners-{budget_name()}.json"


def save_results(results: Sequence[LearnerResult], path: str | Path) -> Path:
    """Write ``results`` with the budget and device as JSON (atomically) and return the path."""
    payload = {"budget": budget_name(), "device": str(resolve_device(None)), "torch": torch.__version__,
               "results": [asdict(r) for r in results]}
    return atomic_write_text(json.dumps(payload, indent=1), path)


def load_results(path: str | Path) -> tuple[dict, list[LearnerResult]]:
    """The metadata (budget, device, torch) and rows of a file written by :func:`save_results`."""
    payload = json.loads(Path(path).read_text())
    return {k: v for k, v in payload.items() if k != "results"}, [LearnerResult(**r) for r in payload["results"]]


def format_results(results: Sequence[LearnerResult]) -> str:
    """A text table: one row per learner, one column per (way, shot), then training seconds,
    parameters and the peak memory of a training step (MiB)."""
    settings = sorted({(r.n_way, r.k_shot) for r in results})
    by_learner: dict[str, dict[tuple[int, int], LearnerResult]] = {}
    for r in results:
        by_learner.setdefault(r.learner, {})[r.n_way, r.k_shot] = r
    head = f"{'learner':>16} | " + " | ".join(f"{w}-way {k}-shot".rjust(14) for w, k in settings)
    rows = [head + " | train s | parameters | step MiB", "-" * (len(head) + 36)]
    for name, cells in by_learner.items():
        accs = [cells.get(s) for s in settings]
        text = [f"{r.accuracy:6.2f} ± {r.ci95:4.2f}" if r and r.accuracy is not None else "—" for r in accs]
        ran = [r for r in accs if r and r.accuracy is not None]
        secs = next((f"{r.train_seconds:7.0f}" for r in ran if r.train_seconds is not None), "      —")
        params = f"{ran[0].parameters:10,}" if ran else " " * 10
        peak = next((f"{r.peak_bytes / 2**20:8.1f}" for r in ran if r.peak_bytes is not None), "       —")
        rows.append(f"{name:>16} | " + " | ".join(t.rjust(14) for t in text) + f" | {secs} | {params} | {peak}")
    return "\n".join(rows)
