import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

import metalearn_lib as ml


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_episode_draws_one_row_per_class(tiny_episode):
    fig = ml.plotting.plot_episode(tiny_episode, max_query=2)
    assert len(fig.axes) == 5 * (2 + 2)
    assert fig.axes[0].get_title(loc="left") == "support"


def test_plot_history_has_loss_and_validation_axes():
    h = ml.History(budget="smoke", steps=[1, 2, 3], loss=[1.0, 0.5, 0.2], val_steps=[3],
                   val_scores=[ml.mean_ci95([0.5, 0.7])], seconds=1.0)
    fig = ml.plotting.plot_history(h)
    assert len(fig.axes) == 2 and "smoke" in fig.axes[0].get_title()


def test_plot_scores_bars_in_percent():
    fig = ml.plotting.plot_scores({"a": ml.mean_ci95([0.5, 0.7]), "b": ml.mean_ci95([0.9, 1.0])}, chance=0.2)
    widths = [p.get_width() for p in fig.axes[0].patches]
    assert widths == pytest.approx([60.0, 95.0])


def test_plot_embedding_projects_to_two_dimensions():
    z = torch.cat([torch.randn(10, 8), torch.randn(10, 8) + 5])
    labels = torch.arange(2).repeat_interleave(10)
    fig = ml.plotting.plot_embedding(z, labels, marker_labels=torch.arange(20) % 10 == 0)
    offsets = [c.get_offsets() for c in fig.axes[0].collections]
    assert all(o.shape[1] == 2 for o in offsets) and sum(len(o) for o in offsets) == 20


def test_plot_diagram_places_every_node():
    fig = ml.plotting.plot_diagram({"A": (0.1, 0.5), "B": (0.9, 0.5)}, [("A", "B", "uses")])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {"A", "B", "uses"} <= set(texts)


def test_plot_benchmark_draws_run_rows_and_published_ticks():
    from metalearn_lib.bench import LearnerResult

    rows = [LearnerResult("protonet", 5, 1, 97.0, 0.5, 600, 80.0, 100, 1),
            LearnerResult("maml", 5, 1, 90.0, 0.7, 600, 200.0, 100, 1),
            LearnerResult("maml", 20, 1, None, None, 0, None, 0, None, "not run")]
    fig = ml.plotting.plot_benchmark(rows, settings=((5, 1), (20, 1)), published={"maml": {(5, 1): 98.7}})
    left, right = fig.axes
    assert [round(p.get_width(), 1) for p in left.patches] == [97.0, 90.0]
    assert len(right.patches) == 0  # the 20-way row was not run: no bar
    ticks = [line.get_xdata()[0] for line in left.lines if line.get_color() == "black"]
    assert ticks == [98.7]
