"""Cost of a training step: saved-tensor memory counted exactly (once per storage, only while held),
MAML's second-order graph growing with inner steps, medians that skip the warm-up, and the sweep."""

import time

import pytest
import torch

import metalearn_lib as ml
from metalearn_lib import bench, profiling
from metalearn_lib.learners import MAML

FLOAT = 4  # bytes per float32


def test_product_saves_both_factors():
    x = torch.randn(100, 10, requires_grad=True)
    y = torch.randn(100, 10, requires_grad=True)
    result, peak = profiling.peak_memory(lambda: (x * y).sum(), "cpu")
    assert peak == 2 * 100 * 10 * FLOAT
    assert result.requires_grad  # the call's own result comes back


def test_a_storage_counts_once_however_many_views_are_saved():
    x = torch.randn(50, 20, requires_grad=True)
    _, peak = profiling.peak_memory(lambda: (x * x).sum() + (x[:10] * x[10:20]).sum(), "cpu")
    assert peak == 50 * 20 * FLOAT


def test_saved_tensors_stop_counting_once_backward_released_them():
    x = torch.randn(1000, requires_grad=True)

    def chained():  # exp saves its output: both outputs are held at once
        return torch.exp(torch.exp(x + 1)).sum()

    def one_after_the_other():  # each backward frees its graph before the next forward
        for _ in range(3):
            torch.exp(x + 1).sum().backward()

    assert profiling.peak_memory(chained, "cpu")[1] == 2 * 1000 * FLOAT
    assert profiling.peak_memory(one_after_the_other, "cpu")[1] == 1000 * FLOAT


def test_nothing_saved_without_grad():
    x = torch.randn(100, requires_grad=True)
    with torch.no_grad():
        assert profiling.peak_memory(lambda: torch.exp(x), "cpu")[1] == 0


def test_torch_func_grad_is_refused_with_a_clear_error():
    x = torch.randn(5)
    with pytest.raises(ValueError, match="saved tensors"):
        profiling.peak_memory(lambda: torch.func.grad(lambda t: (t**2).sum())(x), "cpu")


def _step_memory(episode, inner_steps, first_order):
    torch.manual_seed(0)
    learner = MAML.for_images((1, 28, 28), 5, hidden=8, inner_steps=inner_steps, first_order=first_order).train()
    optimizer = torch.optim.SGD(learner.parameters(), lr=0.0)
    return profiling.peak_memory(lambda: learner.outer_step([episode], optimizer), "cpu")[1]


def test_second_order_maml_keeps_every_inner_step_first_order_does_not(synthetic):
    episode = next(synthetic.episodes(5, 2, 2, seed=0))  # support and query of one size
    second = {s: _step_memory(episode, s, first_order=False) for s in (1, 3)}
    first = {s: _step_memory(episode, s, first_order=True) for s in (1, 3)}
    assert second[1] > first[1]
    assert second[3] > 1.5 * second[1]  # the graph of each inner step is kept for the meta-gradient
    assert first[3] == first[1]  # each inner graph is freed once its gradient is taken


def test_time_call_skips_the_warm_up_and_takes_the_median():
    durations = iter([0.3, 0.06, 0.0, 0.0])  # warm-up, then three timed calls
    calls = []

    def fn():
        calls.append(1)
        time.sleep(next(durations))

    median = profiling.time_call(fn, repeats=3, device="cpu")
    assert len(calls) == 4
    assert 0 < median < 0.015  # the mean (0.02) or the warm-up would be larger
    with pytest.raises(ValueError, match="repeats"):
        profiling.time_call(fn, repeats=0)


def test_cost_sweep_rows_and_trends(synthetic):
    rows = profiling.cost_sweep(("maml", "fomaml", "protonet"), shots=(1, 3), inner_steps=(1, 3), pool=synthetic,
                                n_query=2, meta_batch_size=2, hidden=8, repeats=1, device="cpu")
    keys = [(r.learner, r.k_shot, r.inner_steps) for r in rows]
    assert keys == [("maml", 1, 1), ("maml", 3, 1), ("maml", 1, 3),
                    ("fomaml", 1, 1), ("fomaml", 3, 1), ("fomaml", 1, 3),
                    ("protonet", 1, 0), ("protonet", 3, 0)]
    assert all(r.seconds > 0 and r.peak_bytes > 0 for r in rows)
    cost = {k: r for k, r in zip(keys, rows)}
    assert cost["maml", 1, 3].peak_bytes > cost["maml", 1, 1].peak_bytes
    assert cost["maml", 1, 1].peak_bytes > cost["fomaml", 1, 1].peak_bytes
    assert cost["protonet", 3, 0].peak_bytes > cost["protonet", 1, 0].peak_bytes
    with pytest.raises(ValueError, match="cost_sweep"):
        profiling.cost_sweep(("matching",), pool=synthetic)


def test_maml_vmap_benchmark_measures_the_loop_and_marks_vmap_memory_on_cpu(omniglot_splits):
    timings = bench.time_maml_meta_iteration((2,), repeats=1, hidden=8, device="cpu")
    modes = {t.mode: t for t in timings}
    assert modes["loop"].peak_bytes > 0 and modes["vmap"].peak_bytes is None
    assert all(t.seconds > 0 for t in timings)
    table = bench.format_timings(timings)
    assert "—" in table and table.count("\n") == 1
    assert bench.speedups(timings) == {2: modes["loop"].seconds / modes["vmap"].seconds}


def test_maml_vmap_benchmark_times_sinusoid_tasks():
    timings = bench.time_maml_meta_iteration((3,), repeats=1, device="cpu", task="sinusoid")
    assert [(t.mode, t.meta_batch_size) for t in timings] == [("loop", 3), ("vmap", 3)]
    assert all(t.seconds > 0 for t in timings)
    with pytest.raises(ValueError, match="unknown benchmark task"):
        bench.time_maml_meta_iteration((3,), task="cifar")


def test_profiling_is_exported():
    assert ml.profiling.peak_memory is profiling.peak_memory
