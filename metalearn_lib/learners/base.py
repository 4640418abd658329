"""The contract every learner implements, and the registry the benchmark and tests iterate over."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..episodes import Episode

TaskState = Any
"""Whatever a learner extracts from a support set: prototypes, fast weights, a memory, a head."""


class MetaLearner(nn.Module, ABC):
    """A learner that adapts to a task from its support set and predicts on its query set.

    ``adapt`` never mutates the learner: the task state is returned, so one task cannot leak into
    the next. Subclasses override ``meta_loss`` (pairs, triplets) or ``outer_step`` (Reptile) when
    their training differs from "task loss of forward() on the query set".
    """

    @abstractmethod
    def adapt(self, support_x: Tensor, support_y: Tensor) -> TaskState:
        """Task state from the support set ``(n_way * k_shot, ...)`` and its labels ``(n_way * k_shot,)``."""

    @abstractmethod
    def predict(self, state: TaskState, query_x: Tensor) -> Tensor:
        """Logits ``(n_query_total, n_way)`` (classification) or outputs ``(n_query_total, d_out)``."""

    def forward(self, episode: Episode) -> Tensor:
        return self.predict(self.adapt(episode.support_x, episode.support_y), episode.query_x)

    @staticmethod
    def task_loss(output: Tensor, target: Tensor) -> Tensor:
        """Cross-entropy for integer targets, mean squared error for float targets."""
        if torch.is_floating_point(target):
            return F.mse_loss(output, target)
        return F.cross_entropy(output, target)

    def meta_loss(self, episode: Episode) -> Tensor:
        """Loss on the query set after adapting on the support set."""
        return self.task_loss(self(episode), episode.query_y)

    def outer_step(self, episodes: Sequence[Episode], optimizer: torch.optim.Optimizer) -> dict[str, float]:
        """One meta-update from a meta-batch: mean ``meta_loss``, backward, optimizer step."""
        optimizer.zero_grad(set_to_none=True)
        loss = torch.stack([self.meta_loss(e) for e in episodes]).mean()
        loss.backward()
        optimizer.step()
        return {"loss": loss.item()}

    @property
    def device(self) -> torch.device:
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")


L = TypeVar("L", bound=type[MetaLearner])

#: name -> learner class; every class registered here provides ``for_images(image_shape, n_way)``.
LEARNERS: dict[str, type[MetaLearner]] = {}


def register(name: str) -> Callable[[L], L]:
    """Class decorator adding a learner to :data:`LEARNERS`. The class must offer a classmethod
    ``for_images(image_shape, n_way, **kwargs)`` building its standard image-classification setup."""

    def add(cls: L) -> L:
        if name in LEARNERS:
            raise ValueError(f"learner name {name!r} is already registered to {LEARNERS[name].__name__}")
        if not callable(getattr(cls, "for_images", None)):
            raise TypeError(f"{cls.__name__} must define a classmethod for_images(image_shape, n_way)")
        LEARNERS[name] = cls
        return cls

    return add


def available_learners() -> list[str]:
    """Registered learner names, sorted."""
    return sorted(LEARNERS)


def make_learner(name: str, image_shape: Sequence[int] = (1, 28, 28), n_way: int = 5, **kwargs: Any) -> MetaLearner:
    """The standard image-classification setup of learner ``name`` (see :func:`available_learners`)."""
    if name not in LEARNERS:
        raise ValueError(f"unknown learner {name!r}; available: {', '.join(available_learners())}")
    return LEARNERS[name].for_images(tuple(image_shape), n_way, **kwargs)
