"""Optimization-based learners: a task is learned by a few gradient steps from meta-learned weights.

MAML (Finn, Abbeel & Levine, 2017) and the variants that reuse its inner loop: first-order MAML,
Reptile (Nichol, Achiam & Schulman, 2018), Meta-SGD (Li et al., 2017) and ANIL (Raghu et al., 2020).
Fast weights are dicts of tensors used through :func:`torch.func.functional_call`; the tasks of a
meta-batch are either looped over (``torch.autograd.grad`` in the inner loop) or batched with
:func:`torch.func.vmap` (``torch.func.grad`` in the inner loop, which composes with vmap).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import torch
from torch import Tensor, nn
from torch.func import vmap

from ..backbones import Conv4, elementary_batch_norm
from ..episodes import Episode
from ..functional import GradFn, Params, autograd_grads, forward_with, func_grads, gradient_descent, params_of
from .base import MetaLearner, register

def stack_episodes(episodes: Sequence[Episode]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Support and query tensors of a meta-batch stacked on a new first axis, e.g. support_x
    ``(meta_batch, n_way * k_shot, C, H, W)``; every episode must have the same shapes."""
    fields = list(zip(*((e.support_x, e.support_y, e.query_x, e.query_y) for e in episodes)))
    shapes = {tuple(t.shape for t in (e.support_x, e.query_x)) for e in episodes}
    if len(shapes) != 1:
        raise ValueError(f"vmap needs episodes of one shape, got {sorted(shapes)}")
    return tuple(torch.stack(f) for f in fields)  # type: ignore[return-value]


@register("maml")
class MAML(MetaLearner):
    """Model-Agnostic Meta-Learning (Finn, Abbeel & Levine, 2017).

    ``adapt`` takes ``inner_steps`` SGD steps (``test_inner_steps`` in eval mode) from the learner's
    weights on the support set and returns the fast weights; the meta-gradient of the query loss
    flows back through those steps (second order), or treats the inner gradients as constants when
    ``first_order=True`` (FOMAML). ``vmap=True`` batches the tasks of a meta-batch in ``outer_step``.

    Args:
        net: the network whose parameters are adapted, ``(B, *in) -> (B, n_out)``.
        inner_lr: step size of the inner SGD steps (Finn: 0.4 on Omniglot, 0.01 on sinusoids).
    """

    def __init__(
        self,
        net: nn.Module,
        inner_lr: float = 0.4,
        inner_steps: int = 1,
        test_inner_steps: int | None = None,
        first_order: bool = False,
        vmap: bool = False,
    ) -> None:
        super().__init__()
        if inner_steps < 0 or (test_inner_steps is not None and test_inner_steps < 0):
            raise ValueError(f"inner steps must be >= 0, got {inner_steps} and {test_inner_steps}")
        self.net = net
        self.inner_lr, self.inner_steps, self.first_order, self.vmap = inner_lr, inner_steps, first_order, vmap
        self.test_inner_steps = inner_steps if test_inner_steps is None else test_inner_steps

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, hidden: int = 64, **kwargs) -> MAML:
        """Conv4 with a linear head and Finn's Omniglot setting: one inner step of 0.4, three at test."""
        kwargs = {"inner_lr": 0.4, "inner_steps": 1, "test_inner_steps": 3, **kwargs}
        return cls(Conv4(image_shape, hidden=hidden, n_out=n_way), **kwargs)

    def features(self, x: Tensor) -> Tensor:
        """Input of the adapted network: ``x`` itself here; ANIL's frozen body overrides it."""
        return x

    def inner_lrs(self) -> float | Mapping[str, Tensor | float]:
        """The inner step size: one float here; Meta-SGD learns one per parameter entry."""
        return self.inner_lr

    def adapt(self, support_x: Tensor, support_y: Tensor, grad_fn: GradFn = autograd_grads) -> Params:
        """Fast weights after the inner SGD steps on the support set ``(n_way * k_shot, ...)``.

        The second-order graph is built only when gradients were enabled on entry and
        ``first_order`` is False; under ``torch.no_grad()`` (evaluation) the result is detached.
        """
        steps = self.inner_steps if self.training else self.test_inner_steps
        z = self.features(support_x)

        def support_loss(p: Params) -> Tensor:
            return self.task_loss(forward_with(self.net, p, z), support_y)

        return gradient_descent(
            support_loss, params_of(self.net), steps, self.inner_lrs(),
            differentiable=torch.is_grad_enabled(), second_order=not self.first_order, grad_fn=grad_fn,
        )

    def predict(self, state: Params, query_x: Tensor) -> Tensor:
        return forward_with(self.net, state, self.features(query_x))

    def query_loss(self, support_x: Tensor, support_y: Tensor, query_x: Tensor, query_y: Tensor, grad_fn: GradFn) -> Tensor:
        """Query loss after adapting on the support set: one task's term of the MAML objective."""
        return self.task_loss(self.predict(self.adapt(support_x, support_y, grad_fn), query_x), query_y)

    def batched_meta_loss(self, episodes: Sequence[Episode]) -> Tensor:
        """``(meta_batch,)`` query losses of a meta-batch computed in one :func:`torch.func.vmap` call
        (batch norm in its elementary form: see :class:`~metalearn_lib.backbones.BatchStatNorm2d`)."""
        task = partial(self.query_loss, grad_fn=func_grads)
        with elementary_batch_norm(self):
            return vmap(task, randomness="different")(*stack_episodes(episodes))

    def outer_step(self, episodes: Sequence[Episode], optimizer: torch.optim.Optimizer) -> dict[str, float]:
        """Mean query loss of the meta-batch, backward through the inner loop, optimizer step;
        with ``vmap=True`` the tasks are batched, otherwise looped (:meth:`MetaLearner.outer_step`)."""
        if not self.vmap:
            return super().outer_step(episodes, optimizer)
        optimizer.zero_grad(set_to_none=True)
        loss = self.batched_meta_loss(episodes).mean()
        loss.backward()
        optimizer.step()
        return {"loss": loss.item()}


@register("fomaml")
class FirstOrderMAML(MAML):
    """First-order MAML (Finn et al., 2017, section 5.2): :class:`MAML` with ``first_order=True``."""

    def __init__(self, net: nn.Module, **kwargs) -> None:
        super().__init__(net, first_order=True, **kwargs)


@register("reptile")
class Reptile(MAML):
    """Reptile (Nichol, Achiam & Schulman, 2018).

    For each task, ``inner_steps`` first-order SGD steps on all of its labelled examples (support and
    query: Nichol et al. also train on more shots than they test on) give weights ``phi``; the outer
    "gradient" handed to the optimizer is ``theta - mean(phi)``. With ``torch.optim.SGD(lr=eps)`` this is
    exactly ``theta <- theta + eps (mean(phi) - theta)``; with Adam the difference is treated as a gradient.
    """

    def __init__(self, net: nn.Module, inner_lr: float = 0.1, inner_steps: int = 5, **kwargs) -> None:
        super().__init__(net, inner_lr=inner_lr, inner_steps=inner_steps, first_order=True, **kwargs)

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, hidden: int = 64, **kwargs) -> Reptile:
        kwargs = {"inner_lr": 0.1, "inner_steps": 5, "test_inner_steps": 10, **kwargs}
        return cls(Conv4(image_shape, hidden=hidden, n_out=n_way), **kwargs)

    def outer_step(self, episodes: Sequence[Episode], optimizer: torch.optim.Optimizer) -> dict[str, float]:
        optimizer.zero_grad(set_to_none=True)
        theta = params_of(self.net)
        delta = {n: torch.zeros_like(p) for n, p in theta.items()}
        losses = []
        with torch.no_grad():
            for e in episodes:
                x, y = torch.cat([e.support_x, e.query_x]), torch.cat([e.support_y, e.query_y])
                phi = self.adapt(x, y)
                losses.append(self.task_loss(self.predict(phi, e.query_x), e.query_y))
                for n in delta:
                    delta[n] += (theta[n] - phi[n]) / len(episodes)
        for n, p in theta.items():
            p.grad = delta[n]
        optimizer.step()
        return {"loss": torch.stack(losses).mean().item()}


@register("meta-sgd")
class MetaSGD(MAML):
    """Meta-SGD (Li, Zhou, Chen & Li, 2017): MAML whose inner step size is learned, one value per
    parameter entry (a tensor ``alpha_n`` shaped like parameter ``n``), initialised to ``inner_lr``.
    The inner update is ``theta_n - alpha_n * grad_n`` (element-wise)."""

    def __init__(self, net: nn.Module, inner_lr: float = 0.4, **kwargs) -> None:
        super().__init__(net, inner_lr=inner_lr, **kwargs)
        # ParameterDict keys may not contain dots: "features.0.0.weight" is stored as "features__0__0__weight".
        self.alpha_keys = {n: n.replace(".", "__") for n in params_of(net)}
        self.alpha = nn.ParameterDict(
            {k: nn.Parameter(torch.full_like(params_of(net)[n], inner_lr)) for n, k in self.alpha_keys.items()}
        )

    def inner_lrs(self) -> dict[str, Tensor]:
        return {n: self.alpha[k] for n, k in self.alpha_keys.items()}


@register("anil")
class ANIL(MAML):
    """Almost No Inner Loop (Raghu, Raghu, Bengio & Vinyals, 2020): MAML that adapts only the head.

    The body ``encoder`` ``(B, *in) -> (B, D)`` is meta-learned but frozen within a task, so support
    features are computed once per task and the inner loop touches the ``head`` ``(B, D) -> (B, n_way)`` alone.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, **kwargs) -> None:
        super().__init__(head, **kwargs)
        self.encoder = encoder

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, hidden: int = 64, **kwargs) -> ANIL:
        kwargs = {"inner_lr": 0.4, "inner_steps": 1, "test_inner_steps": 3, **kwargs}
        encoder = Conv4(image_shape, hidden=hidden)
        return cls(encoder, nn.Linear(encoder.feature_dim, n_way), **kwargs)

    def features(self, x: Tensor) -> Tensor:
        return self.encoder(x)

