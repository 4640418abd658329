"""Figures used across the book. Every function returns the matplotlib ``Figure`` it drew."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from .episodes import Episode
from .evaluation import Score
from .training import History

if TYPE_CHECKING:
    from .bench import LearnerResult


def _image(ax: plt.Axes, x: Tensor) -> None:
    ax.imshow(x.detach().cpu().permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray_r" if x.shape[0] == 1 else None)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_episode(episode: Episode, max_query: int = 3, title: str | None = None) -> Figure:
    """One row per class: its support examples, then up to ``max_query`` of its query examples."""
    n_way, k = episode.n_way, episode.k_shot
    n_query = len(episode.query_y) // n_way
    q = min(max_query, n_query)
    fig, axes = plt.subplots(n_way, k + q, figsize=(1.1 * (k + q), 1.1 * n_way), squeeze=False)
    for c in range(n_way):
        for j in range(k):
            _image(axes[c, j], episode.support_x[c * k + j])
        for j in range(q):
            ax = axes[c, k + j]
            _image(ax, episode.query_x[c * n_query + j])
            for spine in ax.spines.values():
                spine.set_edgecolor("tab:orange")
                spine.set_linewidth(2)
        axes[c, 0].set_ylabel(f"class {c}", rotation=0, ha="right", va="center")
    axes[0, 0].set_title("support", loc="left")
    if q:
        axes[0, k].set_title("query", loc="left", color="tab:orange")
    fig.suptitle(title or f"{n_way}-way {k}-shot episode")
    fig.tight_layout()
    return fig


def plot_history(history: History, title: str | None = None) -> Figure:
    """Training loss (smoothed) and validation score against meta-training steps."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    loss = torch.tensor(history.loss)
    window = max(1, len(loss) // 50)
    smooth = loss.unfold(0, window, 1).mean(1) if len(loss) >= window else loss
    ax.plot(history.steps[window - 1 :], smooth, color="tab:blue", label="training loss")
    ax.set_xlabel("meta-training step")
    ax.set_ylabel("loss", color="tab:blue")
    if history.val_scores:
        ax2 = ax.twinx()
        means = [s.mean for s in history.val_scores]
        cis = [s.ci95 for s in history.val_scores]
        metric = history.val_scores[0].metric
        ax2.errorbar(history.val_steps, means, yerr=cis, color="tab:orange", marker="o", capsize=3, label=f"validation {metric}")
        ax2.set_ylabel(f"validation {metric}", color="tab:orange")
    ax.set_title(title or f"meta-training ({history.budget} budget, {history.seconds:.0f} s)")
    fig.tight_layout()
    return fig


def plot_scores(scores: Mapping[str, Score], title: str = "", chance: float | None = None) -> Figure:
    """Horizontal bars of ``scores`` with their 95% confidence intervals; optional chance line."""
    names = list(scores)
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.2))
    scale = 100 if all(s.metric == "accuracy" for s in scores.values()) else 1
    means = [scale * scores[n].mean for n in names]
    ax.barh(names, means, xerr=[scale * scores[n].ci95 for n in names], capsize=4, color="tab:blue")
    for y, m in enumerate(means):
        ax.text(m, y, f" {m:.1f}", va="center", ha="left")
    if chance is not None:
        ax.axvline(scale * chance, color="gray", ls="--", label="chance")
        ax.legend(loc="lower right")
    ax.invert_yaxis()
    ax.set_xlabel("accuracy (%)" if scale == 100 else "score")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_embedding(embeddings: Tensor, labels: Tensor, title: str = "", marker_labels: Tensor | None = None) -> Figure:
    """2-D PCA of ``embeddings`` ``(N, D)`` coloured by ``labels`` ``(N,)``. Rows where ``marker_labels``
    is true are drawn as large stars (e.g. prototypes or support examples)."""
    z = embeddings.detach().cpu().float()
    z = z - z.mean(0)
    _, _, v = torch.linalg.svd(z, full_matrices=False)
    xy = z @ v[:2].T
    fig, ax = plt.subplots(figsize=(5, 4.5))
    big = marker_labels.cpu().bool() if marker_labels is not None else torch.zeros(len(z), dtype=torch.bool)
    cmap = plt.get_cmap("tab10")
    for c in labels.unique().tolist():
        m = labels.cpu() == c
        ax.scatter(*xy[m & ~big].T, s=14, color=cmap(c % 10), alpha=0.7, label=f"class {c}")
        if (m & big).any():
            ax.scatter(*xy[m & big].T, s=220, marker="*", color=cmap(c % 10), edgecolor="black")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_diagram(
    nodes: Mapping[str, tuple[float, float]],
    edges: Sequence[tuple[str, str] | tuple[str, str, str]],
    title: str = "",
    figsize: tuple[float, float] = (9, 4.5),
) -> Figure:
    """Boxes at ``nodes`` (name -> (x, y) in [0, 1]) joined by arrows ``(from, to[, label])``."""
    fig, ax = plt.subplots(figsize=figsize)
    for edge in edges:
        a, b = edge[0], edge[1]
        ax.annotate(
            "", xy=nodes[b], xytext=nodes[a],
            arrowprops=dict(arrowstyle="-|>", color="0.3", shrinkA=28, shrinkB=28, lw=1.4),
        )
        if len(edge) == 3:
            (xa, ya), (xb, yb) = nodes[a], nodes[b]
            ax.text((xa + xb) / 2, (ya + yb) / 2, edge[2], fontsize=8, color="0.25", ha="center", va="center",
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none"))
    for name, (x, y) in nodes.items():
        ax.text(x, y, name, ha="center", va="center", fontsize=10,
                bbox=dict(boxstyle="round,pad=0.5", fc="#e8f0fe", ec="#3367d6"))
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.08, 1.08)
    ax.axis("off")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_benchmark(
    results: Sequence[LearnerResult],
    settings: Sequence[tuple[int, int]] = ((5, 1), (5, 5)),
    published: Mapping[str, Mapping[tuple[int, int], float]] | None = None,
    title: str = "",
) -> Figure:
    """One panel per ``(n_way, k_shot)`` setting: each learner's accuracy with its 95% CI as a bar
    (rows of :func:`~metalearn_lib.bench.benchmark_learners`; rows not run are left out), and the
    published accuracy, where ``published`` has one, as a black tick."""
    fig, axes = plt.subplots(1, len(settings), figsize=(5 * len(settings), 0.32 * len({r.learner for r in results}) + 1.5),
                             sharey=True, squeeze=False)
    names = list(dict.fromkeys(r.learner for r in results))
    cells = {(r.learner, r.n_way, r.k_shot): r for r in results}
    for ax, (n_way, k_shot) in zip(axes[0], settings):
        for y, name in enumerate(names):
            row = cells.get((name, n_way, k_shot))
            if row is not None and row.accuracy is not None:
                ax.barh(y, row.accuracy, xerr=row.ci95, capsize=3, color="tab:blue")
            reported = (published or {}).get(name, {}).get((n_way, k_shot))
            if reported is not None:
                ax.plot([reported, reported], [y - 0.4, y + 0.4], color="black", lw=2)
        ax.axvline(100 / n_way, color="gray", ls="--", lw=1)
        ax.set(title=f"{n_way}-way {k_shot}-shot", xlabel="accuracy (%)", xlim=(0, 100))
    axes[0][0].set_yticks(range(len(names)), names)
    axes[0][0].invert_yaxis()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
