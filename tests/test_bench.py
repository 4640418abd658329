"""The learner benchmark: same fixed test episodes for every learner, rows for what was not run,
a results file that round-trips, and the CLI around it."""

import json

import pytest

from metalearn_lib import bench, recipes
from metalearn_lib.__main__ import main


@pytest.fixture
def smoke_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("METALEARN_BUDGET", "smoke")
    monkeypatch.setattr(recipes, "models_dir", lambda: tmp_path / "models")
    return tmp_path


def test_benchmark_scores_every_setting_on_the_same_episodes(omniglot_splits, smoke_cache):
    results = bench.benchmark_learners(["pixel-nn", "protonet"], ways=(5, 20), shots=(1, 5), progress=False)
    assert [(r.learner, r.n_way, r.k_shot) for r in results] == [
        (name, w, k) for name in ("pixel-nn", "protonet") for w in (5, 20) for k in (1, 5)
    ]
    for r in results:
        assert 0 <= r.accuracy <= 100 and r.ci95 >= 0 and r.episodes == bench.bench_episodes(r.n_way, r.learner)
    pixel = {(r.n_way, r.k_shot): r for r in results if r.learner == "pixel-nn"}
    assert pixel[5, 1].train_seconds is None and pixel[5, 1].peak_bytes is None and pixel[5, 1].parameters == 0
    proto = [r for r in results if r.learner == "protonet"]
    assert all(r.train_seconds > 0 and r.peak_bytes > 0 and r.parameters > 0 for r in proto)


def test_fixed_way_learners_get_a_note_when_not_run(omniglot_splits, smoke_cache):
    results = bench.benchmark_learners(["maml"], ways=(20,), shots=(1,), fixed_way_ways=(5,), progress=False)
    assert len(results) == 1 and results[0].accuracy is None and "20-way training" in results[0].note
    assert not (smoke_cache / "models").exists()  # nothing was trained


def test_unknown_learner_is_refused():
    with pytest.raises(ValueError, match="no recipe"):
        bench.benchmark_learners(["nope"])


def test_results_round_trip_and_format(tmp_path):
    rows = [bench.LearnerResult("protonet", 5, 1, 97.5, 0.3, 600, 80.0, 113_000, 2**20),
            bench.LearnerResult("maml", 20, 1, None, None, 0, None, 0, None, "not run")]
    path = bench.save_results(rows, tmp_path / "r.json")
    meta, loaded = bench.load_results(path)
    assert loaded == rows and meta["budget"] in ("smoke", "book", "paper") and "device" in meta
    table = bench.format_results(rows)
    assert "97.50 ± 0.30" in table and "—" in table and "113,000" in table


def test_cli_bench_learners_writes_the_results_file(omniglot_splits, smoke_cache, capsys):
    out = smoke_cache / "bench.json"
    assert main(["bench", "learners", "--learners", "pixel-nn", "--ways", "5", "--shots", "1", "--out", str(out)]) == 0
    assert "pixel-nn" in capsys.readouterr().out
    assert json.loads(out.read_text())["results"][0]["learner"] == "pixel-nn"


def test_published_results_name_registered_learners_and_cited_sources():
    from pathlib import Path

    from metalearn_lib.learners import available_learners
    from metalearn_lib.published import PUBLISHED

    bib = (Path(__file__).resolve().parents[1] / "references.bib").read_text()
    for name, entry in PUBLISHED.items():
        assert name in available_learners()
        assert "{" + entry.source + "," in bib, entry.source
        assert all(w in (5, 20) and k in (1, 5) and 20 < acc <= 100 for (w, k), acc in entry.accuracy.items())


def test_learners_that_train_per_task_get_their_recipes_episode_count(monkeypatch):
    monkeypatch.setenv("METALEARN_BUDGET", "book")
    assert bench.bench_episodes(5) == bench.bench_episodes(5, "protonet") == 200
    assert bench.bench_episodes(20) == 50
    assert bench.bench_episodes(5, "scratch") == recipes.at_budget(recipes.recipe("scratch").bench_episodes) == 40
