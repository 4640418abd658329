"""Benchmarks behind ``python -m metalearn_lib bench ...``.

``maml-vmap``: one MAML meta-iteration (forward, second-order backward, optimizer step) on Omniglot
5-way 1-shot with the tasks of the meta-batch looped over or batched with :func:`torch.func.vmap`.
"""

from __future__ import annotations

import itertools
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch

from .datasets import Omniglot
from .learners import MAML
from .runtime import resolve_device


@dataclass(frozen=True)
class Timing:
    """Median seconds of one meta-iteration and the peak memory it needed (bytes)."""

    mode: str
    meta_batch_size: int
    seconds: float
    peak_bytes: int


def _peak_memory(step: Callable[[], object], device: torch.device) -> int:
    """Peak memory in bytes around one call of ``step``: the CUDA allocator's peak on a GPU; on the
    CPU the process's peak resident set size (``ru_maxrss``), a high-water mark that never goes down,
    so later (larger) configurations are the informative ones."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device)
    step()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def time_maml_meta_iteration(
    meta_batch_sizes: Sequence[int] = (4, 16, 32),
    repeats: int = 3,
    hidden: int = 64,
    device: str | torch.device | None = None,
    seed: int = 0,
) -> list[Timing]:
    """Time one second-order MAML meta-iteration, looped and vmapped, for each meta-batch size
    (Omniglot 5-way 1-shot, 15 queries per class, Conv4 of width ``hidden``, one inner step).
    Returns one :class:`Timing` per (mode, meta-batch size); the median of ``repeats`` runs after a warm-up."""
    device = resolve_device(device)
    episodes = Omniglot("train", rotations=True).episodes(5, 1, 15, seed=seed)
    results = []
    for meta_batch_size in meta_batch_sizes:
        batch = [e.to(device) for e in itertools.islice(episodes, meta_batch_size)]
        for mode in ("loop", "vmap"):
            torch.manual_seed(seed)
            learner = MAML.for_images((1, 28, 28), 5, hidden=hidden, vmap=mode == "vmap").to(device).train()
            optimizer = torch.optim.Adam(learner.parameters(), lr=1e-3)
            step = partial(learner.outer_step, batch, optimizer)
            peak = _peak_memory(step, device)  # also the warm-up
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                step()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                times.append(time.perf_counter() - start)
            results.append(Timing(mode, meta_batch_size, sorted(times)[len(times) // 2], peak))
    return results


def format_timings(timings: Sequence[Timing]) -> str:
    """A table: per meta-batch size, loop and vmap seconds and peak MiB, and the loop/vmap ratio
    (above 1: vmap is faster)."""
    rows = ["meta_batch  loop_s  vmap_s  loop/vmap  loop_MiB  vmap_MiB"]
    by_size = {}
    for t in timings:
        by_size.setdefault(t.meta_batch_size, {})[t.mode] = t
    for size, modes in by_size.items():
        loop, vm = modes["loop"], modes["vmap"]
        rows.append(
            f"{size:>10}  {loop.seconds:6.3f}  {vm.seconds:6.3f}  {loop.seconds / vm.seconds:9.2f}"
            f"  {loop.peak_bytes / 2**20:8.1f}  {vm.peak_bytes / 2**20:8.1f}"
        )
    return "\n".join(rows)


BENCHMARKS: dict[str, Callable[..., list[Timing]]] = {"maml-vmap": time_maml_meta_iteration}


def run_benchmark(name: str, **kwargs) -> str:
    """Run benchmark ``name`` (see :data:`BENCHMARKS`) and return its table."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; available: {', '.join(sorted(BENCHMARKS))}")
    return format_timings(BENCHMARKS[name](**kwargs))
