import math

import pytest
import torch

import metalearn_lib as ml
from metalearn_lib.learners.task_selection import TaskEncoder, rank_sources, task_metric_loss, train_task_encoder


def test_task_embedding_is_permutation_invariant_and_batched():
    encoder = TaskEncoder(dim=8)
    x, y = torch.randn(3, 7, 1), torch.randn(3, 7, 1)
    z = encoder(x, y)
    assert z.shape == (3, 8)
    perm = torch.randperm(7)
    torch.testing.assert_close(encoder(x[:, perm], y[:, perm]), z)
    torch.testing.assert_close(encoder(x[1], y[1]), z[1])
    with pytest.raises(ValueError, match="same leading shape"):
        encoder(x, y[:, :3])


def test_metric_loss_is_log_t_when_all_tasks_embed_alike():
    encoder = TaskEncoder(dim=4)
    with torch.no_grad():
        encoder.rho[-1].weight.zero_()
        encoder.rho[-1].bias.zero_()
    x = torch.randn(5, 3, 1)
    assert task_metric_loss(encoder, x, x, x, x).item() == pytest.approx(math.log(5))


def test_ranking_recovers_the_known_nearest_source():
    torch.manual_seed(0)
    family = ml.Sinusoid()
    encoder = TaskEncoder()
    history = train_task_encoder(encoder, family, 600, n_tasks=32, k_shot=10, lr=2e-3, progress=False)
    assert sum(history.loss[-50:]) < 0.75 * sum(history.loss[:50])
    g = torch.Generator().manual_seed(1)
    sources = [ml.SinusoidTask(a, p) for a in (1.0, 2.5, 4.0) for p in (0.3, 1.5, 2.7)]
    source_x = [family.sample_x(50, g) for _ in sources]
    source_y = [task(x) for task, x in zip(sources, source_x)]
    hits = 0
    for j, task in enumerate(sources):
        target = ml.SinusoidTask(task.amplitude + 0.1, task.phase - 0.1)  # nearest to source j by construction
        x = family.sample_x(10, g)
        hits += int(rank_sources(encoder, source_x, source_y, x, target(x))[0] == j)
    assert hits >= 7  # of 9 (random choice: 1 expected)
