"""Functional view of a module: parameters as a dict, forward with any dict, one SGD step.

Gradient-based learners keep "fast weights" in such dicts instead of patching modules.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.func import functional_call

Params = dict[str, Tensor]


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
