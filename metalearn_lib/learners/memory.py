"""Model- and memory-based learners: a recurrent network reads the episode as a sequence.

Both learners here see, at time step ``t``, the image ``x_t`` together with the label of the
*previous* image ``y_{t-1}`` and predict ``y_t`` (Hochreiter, Younger & Conwell, 2001; Santoro et al.,
2016). Learning a new task is then nothing but running the network forward: the task lives in its
hidden state (:class:`RNNMetaLearner`) or in an external memory (:class:`MANN`).

Contract: ``adapt`` reads the support set in the order given and returns the recurrent state;
``predict`` continues that state by one step for every query independently, with the last support
label as the "previous label" and no query label fed. ``sequence_logits`` gives the per-step
predictions over a whole presentation sequence (the setting of Santoro et al.'s instance curve).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..episodes import Episode
from ..evaluation import Score, mean_ci95
from .base import MetaLearner, register

State = tuple[Tensor, ...]
"""A recurrent state: a flat tuple of tensors, each with the batch as its first dimension."""


def previous_labels(y_seq: Tensor, n_way: int) -> Tensor:
    """One-hot labels shifted by one step: ``(B, T)`` ints -> ``(B, T, n_way)``, row ``t`` is
    ``onehot(y_{t-1})`` and row 0 is all zeros (Santoro et al., 2016)."""
    onehot = F.one_hot(y_seq, n_way).float()
    return torch.cat([torch.zeros_like(onehot[:, :1]), onehot[:, :-1]], dim=1)


def presentation_sequence(episode: Episode, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Support and query examples of ``episode`` in one random order: ``x_seq`` ``(T, C, H, W)`` and
    ``y_seq`` ``(T,)`` with ``T = n_support + n_query``, the episode format of Santoro et al. (2016)."""
    x = torch.cat([episode.support_x, episode.query_x])
    y = torch.cat([episode.support_y, episode.query_y])
    order = torch.randperm(len(y), generator=generator).to(y.device)
    return x[order], y[order]


def instance_numbers(y_seq: Tensor) -> Tensor:
    """For labels ``(..., T)``, how many times each step's class appeared before it plus one:
    ``[2, 0, 2, 2] -> [1, 1, 2, 3]`` (the "instance" of Santoro et al.'s accuracy table)."""
    same = y_seq.unsqueeze(-1) == y_seq.unsqueeze(-2)  # (..., T, T): [t, s] = y_t == y_s
    earlier = torch.ones(same.shape[-2:], dtype=torch.bool, device=y_seq.device).tril()
    return (same & earlier).sum(-1)


class SequenceLearner(MetaLearner):
    """A recurrent core reading ``[encoder(x_t), onehot(y_{t-1})]`` and emitting logits for ``y_t``.

    Subclasses define the core through :meth:`initial_state` and :meth:`step`. Training
    (:meth:`meta_loss`) presents support and query examples of an episode in a random order and
    scores the prediction at every step, as Santoro et al. (2016) do.

    Args:
        encoder: per-example image encoder ``(B, C, H, W) -> (B, feature_dim)``; it must not mix
            examples (no batch statistics), or a prediction could depend on later images.
        feature_dim: output size of ``encoder``.
        n_way: number of output classes; labels must lie in ``0 .. n_way - 1``.
        grad_clip: max gradient norm in :meth:`outer_step` (``None``: no clipping).
    """

    def __init__(self, encoder: nn.Module, feature_dim: int, n_way: int, grad_clip: float | None = 10.0) -> None:
        super().__init__()
        self.encoder, self.feature_dim, self.n_way, self.grad_clip = encoder, feature_dim, n_way, grad_clip

    @classmethod
    def for_images(cls, image_shape: Sequence[int], n_way: int, pixel_side: int = 20, **kwargs) -> SequenceLearner:
        """A learner reading ``image_shape`` images as ``pixel_side x pixel_side`` pixels
        (:class:`PixelEncoder`); ``kwargs`` go to the constructor."""
        encoder = PixelEncoder(image_shape, pixel_side)
        return cls(encoder, encoder.feature_dim, n_way, **kwargs)

    @property
    def input_dim(self) -> int:
        """Size of the per-step input ``[encoder(x_t), onehot(y_{t-1})]``."""
        return self.feature_dim + self.n_way

    @abstractmethod
    def initial_state(self, batch: int, device: torch.device) -> State:
        """State before the first step, for ``batch`` sequences."""

    @abstractmethod
    def step(self, state: State, inputs: Tensor) -> tuple[State, Tensor]:
        """One time step: ``inputs`` ``(B, input_dim)`` -> (new state, logits ``(B, n_way)``)."""

    def _check_labels(self, y: Tensor) -> None:
        if y.numel() and (y.min() < 0 or y.max() >= self.n_way):
            raise ValueError(f"labels must lie in 0..{self.n_way - 1} for this {self.n_way}-way learner, "
                             f"got {int(y.min())}..{int(y.max())}")

    def _encode(self, x_seq: Tensor) -> Tensor:
        """``(B, T, C, H, W)`` -> ``(B, T, feature_dim)``."""
        return self.encoder(x_seq.flatten(0, 1)).view(*x_seq.shape[:2], -1)

    def unroll(self, x_seq: Tensor, y_seq: Tensor) -> tuple[Tensor, list[State]]:
        """Run over batched sequences ``x_seq`` ``(B, T, C, H, W)``, ``y_seq`` ``(B, T)``; returns logits
        ``(B, T, n_way)`` and the state after every step (a list of ``T`` states)."""
        self._check_labels(y_seq)
        inputs = torch.cat([self._encode(x_seq), previous_labels(y_seq, self.n_way)], dim=-1)
        state = self.initial_state(x_seq.shape[0], x_seq.device)
        logits, states = [], []
        for t in range(x_seq.shape[1]):
            state, out = self.step(state, inputs[:, t])
            logits.append(out)
            states.append(state)
        return torch.stack(logits, dim=1), states

    def sequence_logits(self, x_seq: Tensor, y_seq: Tensor) -> Tensor:
        """Per-step logits over a presentation sequence. ``x_seq`` ``(T, C, H, W)`` with labels ``(T,)``
        gives ``(T, n_way)``; a batch ``(B, T, C, H, W)`` with ``(B, T)`` gives ``(B, T, n_way)``. The
        logits at step ``t`` depend on ``x_1..x_t`` and ``y_1..y_{t-1}`` only."""
        if y_seq.ndim == 1:
            return self.unroll(x_seq.unsqueeze(0), y_seq.unsqueeze(0))[0][0]
        return self.unroll(x_seq, y_seq)[0]

    def adapt(self, support_x: Tensor, support_y: Tensor) -> tuple[State, Tensor]:
        """Read the support set ``(n_support, C, H, W)`` in order; the task state is the recurrent state
        after it (batch of one) and the one-hot last support label, still to be fed ``(1, n_way)``."""
        _, states = self.unroll(support_x.unsqueeze(0), support_y.unsqueeze(0))
        return states[-1], F.one_hot(support_y[-1:], self.n_way).float()

    def predict(self, state: tuple[State, Tensor], query_x: Tensor) -> Tensor:
        """Every query ``(n_query, C, H, W)`` is the step right after the support set, independently of
        the other queries; logits ``(n_query, n_way)``."""
        core, last_label = state
        n = query_x.shape[0]
        core = tuple(s.expand(n, *s.shape[1:]) for s in core)
        inputs = torch.cat([self.encoder(query_x), last_label.expand(n, -1)], dim=-1)
        return self.step(core, inputs)[1]

    def _sequence_loss(self, x_seq: Tensor, y_seq: Tensor) -> Tensor:
        return F.cross_entropy(self.sequence_logits(x_seq, y_seq).flatten(0, 1), y_seq.flatten())

    def meta_loss(self, episode: Episode) -> Tensor:
        """Mean cross-entropy over every step of the episode presented in a random order."""
        x, y = presentation_sequence(episode)
        return self._sequence_loss(x.unsqueeze(0), y.unsqueeze(0))

    def outer_step(self, episodes: Sequence[Episode], optimizer: torch.optim.Optimizer) -> dict[str, float]:
        """The meta-batch is run as one batch of sequences (episodes must have equal sizes)."""
        optimizer.zero_grad(set_to_none=True)
        xs, ys = zip(*(presentation_sequence(e) for e in episodes))
        if len({len(y) for y in ys}) > 1:
            raise ValueError(f"episodes of a meta-batch must have equal lengths, got {sorted({len(y) for y in ys})}")
        loss = self._sequence_loss(torch.stack(xs), torch.stack(ys))
        loss.backward()
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.parameters(), self.grad_clip)
        optimizer.step()
        return {"loss": loss.item()}


class PixelEncoder(nn.Module):
    """The images of a sequence as the controller sees them (Santoro et al., 2016): resized to
    ``side x side`` by area averaging and flattened, ``(B, C, H, W) -> (B, C * side * side)``.

    No learned parameters, on purpose. With one learned ReLU layer of 128 units in front of the
    LSTM, neither sequence learner ever bound a label to a drawing in 100,000 Omniglot episodes: the
    loss settled at what the label history alone gives. On the raw pixels the same learners start
    binding after 1,000 to 3,000 steps of 16 episodes.
    """

    def __init__(self, image_shape: Sequence[int], side: int = 20) -> None:
        super().__init__()
        channels, height, width = image_shape
        if not 1 <= side <= min(height, width):
            raise ValueError(f"pixel side must lie in 1..{min(height, width)} for {height}x{width} images, got {side}")
        self.side, self.feature_dim = side, channels * side * side

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (self.side, self.side):
            x = F.interpolate(x, size=(self.side, self.side), mode="area")
        return x.flatten(1)


@register("rnn-meta")
class RNNMetaLearner(SequenceLearner):
    """An LSTM that learns to learn from the sequence of ``(x_t, y_{t-1})`` (Hochreiter, Younger &
    Conwell, 2001), in the episode setup of Santoro et al. (2016): the LSTM baseline of their table.

    ``h_t, c_t = LSTM([f(x_t), onehot(y_{t-1})], h_{t-1}, c_{t-1})``, logits ``W h_t + b``.
    State: ``(h, c)``, each ``(B, hidden)``.
    """

    def __init__(self, encoder: nn.Module, feature_dim: int, n_way: int, hidden: int = 200, **kwargs) -> None:
        super().__init__(encoder, feature_dim, n_way, **kwargs)
        self.cell = nn.LSTMCell(self.input_dim, hidden)
        self.out = nn.Linear(hidden, n_way)

    def initial_state(self, batch: int, device: torch.device) -> State:
        zeros = torch.zeros(batch, self.cell.hidden_size, device=device)
        return zeros, zeros

    def step(self, state: State, inputs: Tensor) -> tuple[State, Tensor]:
        h, c = self.cell(inputs, state)
        return (h, c), self.out(h)


def least_used(usage: Tensor, n: int) -> Tensor:
    """One-hot weights of the ``n`` least used slots: usage ``(B, N)`` -> ``(B, n, N)``; row ``i`` marks
    the ``i``-th least used slot (ties broken by the lower index)."""
    order = torch.sort(usage, dim=-1, stable=True).indices[:, :n]  # (B, n)
    return F.one_hot(order, usage.shape[-1]).to(usage.dtype)


def cosine_read(memory: Tensor, keys: Tensor, strength: Tensor | float = 1.0) -> tuple[Tensor, Tensor]:
    """Content-based read (Graves et al., 2014; Santoro et al., 2016).

    ``memory`` ``(B, N, D)``, ``keys`` ``(B, R, D)`` for ``R`` read heads, ``strength`` a scalar or
    ``(B, R, 1)``. Weights ``w[b, r] = softmax_i(strength * cos(keys[b, r], memory[b, i]))`` ``(B, R, N)``
    and read vectors ``w @ memory`` ``(B, R, D)``.
    """
    similarity = F.normalize(keys, dim=-1, eps=1e-8) @ F.normalize(memory, dim=-1, eps=1e-8).transpose(1, 2)
    weights = torch.softmax(strength * similarity, dim=-1)
    return weights, weights @ memory


def lru_write(memory: Tensor, previous_read: Tensor, previous_usage: Tensor, gate: Tensor, add: Tensor) -> tuple[Tensor, Tensor]:
    """Least-recently-used access (Santoro et al., 2016, eq. 6-8).

    Each head ``r`` writes ``add[:, r]`` ``(B, R, D)`` with weights
    ``w^w = gate * w^r_{t-1} + (1 - gate) * w^lu_{t-1}``: into the slot it read last step (to update
    it) or into the least used slot (to store something new). The least used slots are erased first.
    ``memory`` ``(B, N, D)``, ``previous_read`` ``(B, R, N)``, ``previous_usage`` ``(B, N)``,
    ``gate`` ``(B, R, 1)`` in ``[0, 1]``. Returns the new memory ``(B, N, D)`` and write weights ``(B, R, N)``.
    """
    lu = least_used(previous_usage, previous_read.shape[1])  # (B, R, N)
    write = gate * previous_read + (1 - gate) * lu
    erased = memory * (1 - lu.sum(1).clamp(max=1)).unsqueeze(-1)
    return erased + write.transpose(1, 2) @ add, write


@register("mann")
class MANN(SequenceLearner):
    """Memory-augmented neural network (Santoro et al., 2016): an LSTM controller with an external
    memory of ``n_slots`` rows of size ``slot_size``, ``n_reads`` heads, least-recently-used writes and
    cosine-similarity reads.

    Per step, from the controller output ``h_t``: key ``k_t = tanh(W_k h_t)``, add vector
    ``a_t = tanh(W_a h_t)``, write gate ``sigma(W_g h_t)`` and key strength ``1 + softplus(W_b h_t)``
    (the NTM sharpening of Graves et al., 2014; with a plain softmax over cosines in [-1, 1] the read
    over 128 slots is nearly uniform). Write with :func:`lru_write`, read with :func:`cosine_read`,
    update usage ``w^u_t = gamma * w^u_{t-1} + sum_r w^r_t + sum_r w^w_t``; logits ``W [h_t, r_t]``.
    The controller also receives the previous read vectors, as in the NTM.

    State ``(h, c, reads, memory, read_weights, usage)`` with shapes ``(B, H)``, ``(B, H)``,
    ``(B, R * D)``, ``(B, N, D)``, ``(B, R, N)``, ``(B, N)``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        feature_dim: int,
        n_way: int,
        hidden: int = 200,
        n_slots: int = 128,
        slot_size: int = 40,
        n_reads: int = 4,
        gamma: float = 0.95,
        **kwargs,
    ) -> None:
        super().__init__(encoder, feature_dim, n_way, **kwargs)
        if n_reads > n_slots:
            raise ValueError(f"n_reads={n_reads} heads need at least as many memory slots, got n_slots={n_slots}")
        self.n_slots, self.slot_size, self.n_reads, self.gamma = n_slots, slot_size, n_reads, gamma
        self.controller = nn.LSTMCell(self.input_dim + n_reads * slot_size, hidden)
        self.heads = nn.Linear(hidden, n_reads * (2 * slot_size + 2))  # key, add, gate, strength
        self.out = nn.Linear(hidden + n_reads * slot_size, n_way)

    def initial_state(self, batch: int, device: torch.device) -> State:
        """Empty controller, memory filled with 1e-6, and read weights and usage on slot 0 (as in
        the reference implementations), so the first writes go to slots 1..n_reads."""
        zeros = torch.zeros(batch, self.controller.hidden_size, device=device)
        reads = torch.zeros(batch, self.n_reads * self.slot_size, device=device)
        memory = torch.full((batch, self.n_slots, self.slot_size), 1e-6, device=device)
        slot0 = F.one_hot(torch.zeros(batch, dtype=torch.long, device=device), self.n_slots).float()
        return zeros, zeros, reads, memory, slot0.unsqueeze(1).repeat(1, self.n_reads, 1), slot0

    def step(self, state: State, inputs: Tensor) -> tuple[State, Tensor]:
        h, c, reads, memory, read_weights, usage = state
        h, c = self.controller(torch.cat([inputs, reads], dim=-1), (h, c))
        heads = self.heads(h).view(-1, self.n_reads, 2 * self.slot_size + 2)
        key, add = torch.tanh(heads[..., : self.slot_size]), torch.tanh(heads[..., self.slot_size : -2])
        gate, strength = torch.sigmoid(heads[..., -2:-1]), 1 + F.softplus(heads[..., -1:])
        memory, write_weights = lru_write(memory, read_weights, usage, gate, add)
        read_weights, read = cosine_read(memory, key, strength)
        usage = self.gamma * usage + read_weights.sum(1) + write_weights.sum(1)
        reads = read.flatten(1)
        return (h, c, reads, memory, read_weights, usage), self.out(torch.cat([h, reads], dim=-1))

    def memory_trace(self, x_seq: Tensor, y_seq: Tensor) -> dict[str, Tensor]:
        """What the memory did over one sequence ``(T, C, H, W)``, ``(T,)``: ``read_weights``
        ``(T, R, N)``, ``usage`` ``(T, N)`` and ``logits`` ``(T, n_way)``."""
        logits, states = self.unroll(x_seq.unsqueeze(0), y_seq.unsqueeze(0))
        return {
            "read_weights": torch.stack([s[4][0] for s in states]),
            "usage": torch.stack([s[5][0] for s in states]),
            "logits": logits[0],
        }


@dataclass(frozen=True)
class InstanceCurve:
    """Accuracy at the 1st, 2nd, ... presentation of a class within an episode (Santoro et al., 2016)."""

    scores: dict[int, Score]

    def __str__(self) -> str:
        return ", ".join(f"{k}: {100 * s.mean:.1f}%" for k, s in self.scores.items())


def instance_accuracy(learner: SequenceLearner, episodes: Iterable[Episode], seed: int = 0) -> InstanceCurve:
    """Present each episode (support and query together, ``k`` examples per class) in a random order
    fixed by ``seed`` and score the prediction at every step, grouped by instance number: the
    ``k``-th entry is the accuracy on examples whose class had been shown ``k - 1`` times before.
    Runs in eval mode under ``torch.no_grad()``; per-episode accuracies give the 95% intervals."""
    generator = torch.Generator().manual_seed(seed)
    was_training = learner.training
    learner.eval()
    per_instance: dict[int, list[float]] = {}
    try:
        with torch.no_grad():
            for episode in episodes:
                x, y = presentation_sequence(episode.to(learner.device), generator)
                correct = learner.sequence_logits(x, y).argmax(-1) == y
                instance = instance_numbers(y)
                for k in instance.unique().tolist():
                    per_instance.setdefault(k, []).append(correct[instance == k].float().mean().item())
    finally:
        learner.train(was_training)
    return InstanceCurve({k: mean_ci95(v) for k, v in sorted(per_instance.items())})
