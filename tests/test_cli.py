import metalearn_lib as ml
from metalearn_lib.__main__ import main


def test_info_prints_budget_and_learners(capsys, monkeypatch):
    monkeypatch.setenv("METALEARN_BUDGET", "smoke")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "budget:  smoke" in out and "protonet" in out


def test_fetch_data_without_download_reports_missing(tmp_path, capsys):
    assert main(["fetch-data", "--root", str(tmp_path), "--no-download"]) == 1
    assert "missing" in capsys.readouterr().err


def test_fetch_data_finds_local_copy(omniglot_splits, capsys):
    assert main(["fetch-data", "--no-download"]) == 0
    assert "found" in capsys.readouterr().out


def test_train_command_runs_and_scores(omniglot_splits, capsys, monkeypatch):
    monkeypatch.setenv("METALEARN_BUDGET", "smoke")
    assert main(["train", "pixel-nn", "--test-episodes", "5"]) == 0
    assert "pixel-nn 5-way 1-shot on Omniglot test:" in capsys.readouterr().out


def test_train_command_uses_the_recipe_and_then_the_cache(omniglot_splits, capsys, monkeypatch, tmp_path):
    from metalearn_lib import recipes

    monkeypatch.setenv("METALEARN_BUDGET", "smoke")
    monkeypatch.setattr(recipes, "models_dir", lambda: tmp_path)
    assert main(["train", "protonet", "--test-episodes", "3"]) == 0
    assert "trained and saved to" in capsys.readouterr().out
    assert main(["train", "protonet", "--test-episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "loaded from" in out and "chapters/03_metric/04_prototypical" in out


def test_train_command_prints_the_instance_curve_of_sequence_learners(omniglot_splits, capsys, monkeypatch, tmp_path):
    from metalearn_lib import recipes

    monkeypatch.setenv("METALEARN_BUDGET", "smoke")
    monkeypatch.setattr(recipes, "models_dir", lambda: tmp_path)
    assert main(["train", "rnn-meta", "--test-episodes", "2"]) == 0
    out = capsys.readouterr().out
    assert "rnn-meta accuracy by instance, 5 classes x 10 drawings" in out
    assert all(f"{k}: " in out for k in range(1, 11))
    assert main(["train", "protonet", "--test-episodes", "2"]) == 0
    assert "by instance" not in capsys.readouterr().out
