"""What one training step costs: its time (:func:`time_call`) and its memory (:func:`peak_memory`), and
a sweep of both over shots and inner steps for MAML, first-order MAML and ProtoNet (:func:`cost_sweep`).

Memory is measured per call, so configurations can be compared with each other in one process. On a
GPU that is the CUDA allocator's peak. On a CPU PyTorch keeps no allocator statistics; what is
measured there is the *activation memory held for the backward pass*: the bytes of the tensors that
autograd saves during the call (:func:`torch.autograd.graph.saved_tensors_hooks`), counted once per
storage, at their largest while alive. That is the quantity that grows with the inner steps of
second-order MAML, whose backward pass must keep the graph of every inner step.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import torch
from torch import Tensor

from .backbones import Conv4
from .datasets.base import FewShotDataset
from .datasets.omniglot import Omniglot
from .learners.base import LEARNERS, MetaLearner, make_learner
from .learners.metric import PrototypicalNetwork
from .learners.optimization import MAML
from .runtime import resolve_device

R = TypeVar("R")


def _storage_key(t: Tensor) -> tuple[tuple, int]:
    """An identity for the memory behind ``t`` and its size in bytes: its storage (views of one
    storage share it), or the tensor itself when it has no storage of its own."""
    try:
        storage = t.untyped_storage()
        return ("storage", storage.device.type, storage.device.index, storage.data_ptr()), storage.nbytes()
    except (RuntimeError, NotImplementedError):  # sparse, nested or wrapped tensors
        return ("tensor", id(t)), t.numel() * t.element_size()


class _Packed:
    """What autograd keeps instead of a saved tensor while the meter listens: the tensor and a note
    to the meter when autograd lets go of it (after backward, or when the graph is freed)."""

    __slots__ = ("tensor", "meter", "key")

    def __init__(self, tensor: Tensor, meter: SavedTensorMeter, key: tuple) -> None:
        self.tensor, self.meter, self.key = tensor, meter, key

    def __del__(self) -> None:
        self.meter.release(self.key)


class SavedTensorMeter:
    """Counts the bytes of tensors autograd saves for backward while used as a context manager.

    ``total`` is what is held now (each storage once, however many saved tensors view it), ``peak``
    its maximum since the meter was entered. A saved tensor counts from the moment autograd saves it
    until autograd releases it: after the backward pass through its node, or when its graph is freed.

    Functions that use :func:`torch.func.grad` refuse saved-tensor hooks (a ``RuntimeError``).
    """

    def __init__(self) -> None:
        self.live: dict[tuple, list[int]] = {}  # key -> [number of saved tensors, bytes]
        self.total = 0
        self.peak = 0
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self.pack, self.unpack)

    def pack(self, tensor: Tensor) -> _Packed:
        key, nbytes = _storage_key(tensor)
        entry = self.live.get(key)
        if entry is None:
            self.live[key] = [1, nbytes]
            self.total += nbytes
            self.peak = max(self.peak, self.total)
        else:
            entry[0] += 1
        return _Packed(tensor, self, key)

    @staticmethod
    def unpack(packed: _Packed) -> Tensor:
        return packed.tensor

    def release(self, key: tuple) -> None:
        entry = self.live.get(key)
        if entry is None:
            return
        entry[0] -= 1
        if entry[0] == 0:
            del self.live[key]
            self.total -= entry[1]

    def __enter__(self) -> SavedTensorMeter:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


def peak_memory(fn: Callable[[], R], device: str | torch.device | None = None) -> tuple[R, int]:
    """Call ``fn()`` once; return its result and the peak memory of the call in bytes.

    - CUDA: the allocator's peak during the call (:func:`torch.cuda.max_memory_allocated` after
      :func:`torch.cuda.reset_peak_memory_stats`) minus what was allocated before it: everything the
      call added at its high point (activations, gradients, optimizer state created on the first step).
    - CPU: the peak total bytes of the tensors autograd saved for the backward pass during the call
      (:class:`SavedTensorMeter`), each storage counted once and counted only while autograd holds it:
      the activation memory of the step. Saved inputs and weights count too (``x * y`` saves both
      ``x`` and ``y``); gradients, optimizer state and temporaries that are never saved do not.

    The CPU figure needs saved-tensor hooks, which :func:`torch.func.grad` refuses: for such a ``fn``
    (e.g. MAML with ``vmap=True``) on a CPU a ``ValueError`` is raised.
    """
    device = resolve_device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        result = fn()
        torch.cuda.synchronize(device)
        return result, torch.cuda.max_memory_allocated(device) - before
    try:
        with SavedTensorMeter() as meter:
            result = fn()
    except RuntimeError as err:
        if "saved tensor hooks" in str(err):
            raise ValueError(f"peak_memory on {device.type} counts saved tensors, which this function refuses "
                             f"({err}); measure it on a GPU or without torch.func.grad") from err
        raise
    return result, meter.peak


def time_call(fn: Callable[[], object], repeats: int = 3, device: str | torch.device | None = None) -> float:
    """Median wall-clock seconds of ``repeats`` calls of ``fn()``, after one untimed warm-up call
    (``repeats + 1`` calls in all); on CUDA each call is closed by a synchronisation."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    device = resolve_device(device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass(frozen=True)
class Cost:
    """The cost of one outer step (a meta-batch of episodes) of ``learner``: median seconds and peak
    bytes (:func:`peak_memory`); ``inner_steps`` is 0 for learners without an inner loop."""

    learner: str
    k_shot: int
    inner_steps: int
    seconds: float
    peak_bytes: int


def _sweep_learner(name: str, image_shape: Sequence[int], n_way: int, hidden: int, inner_steps: int) -> MetaLearner:
    """Learner ``name`` on a Conv4 of width ``hidden`` (with ``inner_steps`` for the MAML family)."""
    if name not in LEARNERS:
        raise ValueError(f"unknown learner {name!r}; cost_sweep takes MAML-family learners or 'protonet'")
    cls = LEARNERS[name]
    if issubclass(cls, MAML):
        return make_learner(name, image_shape, n_way, hidden=hidden, inner_steps=inner_steps)
    if issubclass(cls, PrototypicalNetwork):
        return cls(Conv4(image_shape, hidden=hidden))
    raise ValueError(f"cost_sweep takes MAML-family learners or 'protonet', not {name!r}")


def cost_sweep(
    learners: Sequence[str] = ("maml", "fomaml", "protonet"),
    shots: Sequence[int] = (1, 5, 10),
    inner_steps: Sequence[int] = (1, 2, 5),
    *,
    pool: FewShotDataset | None = None,
    n_way: int = 5,
    n_query: int = 5,
    meta_batch_size: int = 4,
    hidden: int = 32,
    repeats: int = 3,
    device: str | torch.device | None = None,
    seed: int = 0,
) -> list[Cost]:
    """Time and memory of one outer step as the shots and the inner steps grow.

    For every learner, one row per shot in ``shots`` (at ``inner_steps[0]`` inner steps), and for the
    learners with an inner loop (the MAML family) one row per further count in ``inner_steps`` (at
    ``shots[0]`` shots). Every step is a meta-batch of ``meta_batch_size`` ``n_way``-way episodes with
    ``n_query`` queries per class from ``pool`` (default: Omniglot background alphabets with
    rotations, 20 drawings per class: ``max(shots) + n_query`` must not exceed that), on a Conv4 of width ``hidden``, with Adam; the rows are :class:`Cost` s whose seconds
    are the median of ``repeats`` steps (:func:`time_call`) and whose bytes are :func:`peak_memory`.
    """
    if not shots or not inner_steps:
        raise ValueError("cost_sweep needs at least one shot count and one inner-step count")
    device = resolve_device(device)
    pool = pool if pool is not None else Omniglot("train", rotations=True)
    rows = []
    for name in learners:
        has_inner_loop = issubclass(LEARNERS[name], MAML) if name in LEARNERS else False
        configs = [(k, inner_steps[0] if has_inner_loop else 0) for k in shots]
        if has_inner_loop:
            configs += [(shots[0], s) for s in inner_steps[1:]]
        for k_shot, steps in configs:
            torch.manual_seed(seed)
            learner = _sweep_learner(name, pool.image_shape, n_way, hidden, steps).to(device).train()
            episodes = pool.episodes(n_way, k_shot, n_query, seed=seed)
            batch = [e.to(device) for e in itertools.islice(episodes, meta_batch_size)]
            optimizer = torch.optim.Adam(learner.parameters(), lr=1e-3)
            step = partial(learner.outer_step, batch, optimizer)
            _, peak = peak_memory(step, device)
            rows.append(Cost(name, k_shot, steps, time_call(step, repeats, device), peak))
    return rows
