"""Feature extractors shared by every learner.

Written for :func:`torch.func.functional_call` and :func:`torch.func.vmap`: no in-place state, and
batch normalisation uses the statistics of the batch it sees (``track_running_stats=False``), as in
MAML's reference implementation. That makes the networks transductive: query examples are
normalised with the statistics of their own batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn


class BatchStatNorm2d(nn.BatchNorm2d):
    """Batch normalisation with the statistics of the batch it sees, ``(B, C, H, W) -> (B, C, H, W)``:
    ``nn.BatchNorm2d(C, track_running_stats=False)``, plus an elementary form of the same function.

    With ``elementary`` False (the default) it runs PyTorch's fused kernel. With ``elementary`` True it
    computes mean, variance and affine map with elementary tensor operations: about twice slower on
    a CPU, but right under :func:`torch.func.vmap`, where the fused kernel's backward has a wrong
    batching rule for the input's gradient (pytorch/functorch#534) that put MAML's vmapped
    second-order meta-gradient up to 1% off the looped one. :func:`elementary_batch_norm` switches it
    for a block of code."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__(num_features, eps=eps, track_running_stats=False)
        self.elementary = False

    def forward(self, x: Tensor) -> Tensor:
        if not self.elementary:
            return super().forward(x)
        self._check_input_dim(x)
        var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0, keepdim=True)
        scale = self.weight.view(1, -1, 1, 1) * torch.rsqrt(var + self.eps)
        return x * scale + (self.bias.view(1, -1, 1, 1) - mean * scale)


@contextmanager
def elementary_batch_norm(module: nn.Module) -> Iterator[None]:
    """Within the block, every :class:`BatchStatNorm2d` in ``module`` computes in its elementary form
    (what :func:`torch.func.vmap` needs); each is set back as it was on leaving."""
    norms = [m for m in module.modules() if isinstance(m, BatchStatNorm2d)]
    before = [m.elementary for m in norms]
    for m in norms:
        m.elementary = True
    try:
        yield
    finally:
        for m, was in zip(norms, before):
            m.elementary = was


def conv_block(in_channels: int, out_channels: int, norm: bool = True) -> nn.Sequential:
    """3x3 convolution, batch norm (batch statistics, :class:`BatchStatNorm2d`), ReLU, 2x2 max-pool: halves H and W.

    The convolution's weight is stored channels-last (``torch.channels_last``); convolutions then run,
    and hand on their outputs, in that layout, which oneDNN's CPU kernels compute about 1.5 times faster
    for the book's Conv4 (a training step and an evaluation episode, measured on a 2-core CPU). Values
    are unchanged: only the order of the numbers in memory differs."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1).to(memory_format=torch.channels_last),
        BatchStatNorm2d(out_channels) if norm else nn.Identity(),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class Conv4(nn.Module):
    """Four conv blocks (Vinyals et al., 2016; Finn et al., 2017), flattened, with an optional linear head.

    Input ``(B, C, H, W)`` with ``(C, H, W) == image_shape``; output ``(B, feature_dim)`` features with
    ``feature_dim = hidden * (H // 16) * (W // 16)`` (64 for 28x28 Omniglot), or ``(B, n_out)`` logits
    when ``n_out`` is given.
    """

    def __init__(
        self, image_shape: Sequence[int] = (1, 28, 28), hidden: int = 64, n_out: int | None = None, norm: bool = True
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        if h < 16 or w < 16:
            raise ValueError(f"images of {tuple(image_shape)} are too small for four 2x2 poolings (need >= 16x16)")
        channels = [c, hidden, hidden, hidden, hidden]
        self.features = nn.Sequential(*(conv_block(a, b, norm) for a, b in zip(channels, channels[1:])), nn.Flatten())
        self.image_shape = tuple(image_shape)
        self.feature_dim = hidden * (h // 16) * (w // 16)
        self.head = nn.Linear(self.feature_dim, n_out) if n_out is not None else None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"Conv4 expects (B, {', '.join(map(str, self.image_shape))}) images, got {tuple(x.shape)}")
        z = self.features(x)
        return self.head(z) if self.head is not None else z


def mlp(in_features: int, hidden: Sequence[int] = (40, 40), out_features: int = 1) -> nn.Sequential:
    """Fully connected ReLU network ``(B, in_features) -> (B, out_features)``; MAML's sinusoid
    regressor is ``mlp(1, (40, 40), 1)``."""
    sizes = [in_features, *hidden]
    layers: list[nn.Module] = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], out_features))
    return nn.Sequential(*layers)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def reset_parameters(module: nn.Module, seed: int) -> nn.Module:
    """Re-initialise every layer of ``module`` with PyTorch's default init, reproducibly from ``seed``,
    without touching the global CPU random state. Initialise on the CPU, then move the module."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in module.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
    return module
