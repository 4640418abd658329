"""Functional view of a module: parameters as a dict, forward with any dict, SGD steps on such dicts.

Gradient-based learners keep "fast weights" in such dicts instead of patching modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn
from torch.func import functional_call

Params = dict[str, Tensor]
LossFn = Callable[[Params], Tensor]
GradFn = Callable[[LossFn, Params, bool], Params]


def params_of(module: nn.Module) -> Params:
    """The module's trainable parameters by name (the live tensors: gradients flow back to them)."""
    return {name: p for name, p in module.named_parameters() if p.requires_grad}


def forward_with(module: nn.Module, params: Mapping[str, Tensor], *args: Tensor) -> Tensor:
    """``module(*args)`` computed with ``params`` in place of the named parameters it replaces
    (:func:`torch.func.functional_call`); parameters and buffers not in ``params`` are the module's own."""
    return functional_call(module, dict(params), args)


def sgd_step(params: Mapping[str, Tensor], grads: Mapping[str, Tensor], lr: float | Mapping[str, Tensor | float]) -> Params:
    """New dict ``{n: params[n] - lr_n * grads[n]}``; ``lr`` is one float or one per parameter
    (a scalar or a tensor of the parameter's shape, as in Meta-SGD). The inputs are left unchanged."""
    if params.keys() != grads.keys():
        raise ValueError(f"params and grads name different tensors: {sorted(set(params) ^ set(grads))}")
    if isinstance(lr, Mapping):
        missing = params.keys() - lr.keys()
        if missing:
            raise ValueError(f"no learning rate given for {sorted(missing)}")
        return {n: p - lr[n] * grads[n] for n, p in params.items()}
    return {n: p - lr * grads[n] for n, p in params.items()}


def grads_of(loss: Tensor, params: Mapping[str, Tensor], create_graph: bool) -> Params:
    """``d loss / d params`` as a dict. ``create_graph=True`` keeps the graph of the gradient itself,
    which second-order meta-learning differentiates through."""
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
    return dict(zip(params.keys(), grads))


def autograd_grads(loss_fn: LossFn, params: Params, create_graph: bool) -> Params:
    """Gradient of ``loss_fn(params)`` with :func:`torch.autograd.grad` (the default, looped path)."""
    return grads_of(loss_fn(params), params, create_graph)


def func_grads(loss_fn: LossFn, params: Params, create_graph: bool) -> Params:
    """Gradient of ``loss_fn(params)`` with :func:`torch.func.grad`, usable inside :func:`torch.func.vmap`;
    the result stays differentiable for an outer backward pass unless ``create_graph`` is False.

    The gradient is taken at contiguous copies of ``params`` (same values, same gradient): under vmap
    on CUDA, the convolution backward of a channels-last weight (:func:`~metalearn_lib.backbones.conv_block`
    stores them so) asks for a channels-last clone, which vmap does not support."""
    grads = torch.func.grad(loss_fn)({n: p.contiguous() for n, p in params.items()})
    return grads if create_graph else {n: g.detach() for n, g in grads.items()}


def gradient_descent(
    loss_fn: LossFn,
    params: Mapping[str, Tensor],
    steps: int,
    lr: float | Mapping[str, Tensor | float],
    *,
    differentiable: bool = False,
    second_order: bool = True,
    grad_fn: GradFn = autograd_grads,
) -> Params:
    """``steps`` plain SGD steps on ``loss_fn`` from ``params``: the one inner loop of every learner that
    fits weights per task (fine-tuning, MAML and its variants, meta-transfer heads).

    Args:
        lr: one step size, or one per parameter (a scalar or a tensor of its shape, as in Meta-SGD).
        differentiable: False (fine-tuning, evaluation): every step starts from detached weights and the
            result is detached, nothing flows back to ``params``. True (meta-learning): the result is a
            differentiable function of ``params`` and of ``lr``; a constant start (e.g. zeros) becomes a leaf.
        second_order: with ``differentiable``, keep the graph of the gradients themselves (MAML); False
            treats them as constants (first-order MAML), so only the identity path reaches ``params``.
        grad_fn: how a gradient is taken: :func:`autograd_grads`, or :func:`func_grads` under vmap.

    Runs with gradients enabled even when called under ``torch.no_grad()`` (evaluation).
    """
    if steps < 0:
        raise ValueError(f"gradient descent needs steps >= 0, got {steps}")
    params = dict(params)
    with torch.enable_grad():
        if differentiable:
            params = {n: p if p.requires_grad else p.detach().requires_grad_() for n, p in params.items()}
        for _ in range(steps):
            if not differentiable:
                params = {n: p.detach().requires_grad_() for n, p in params.items()}
            params = sgd_step(params, grad_fn(loss_fn, params, differentiable and second_order), lr)
    return params if differentiable else {n: p.detach() for n, p in params.items()}
