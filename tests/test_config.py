from pathlib import Path

import pytest

import metalearn_lib as ml


@pytest.mark.parametrize("name,expected", [("smoke", 1), ("book", 2), ("paper", 3), (" Book ", 2)])
def test_budget_picks_value_of_named_budget(monkeypatch, name, expected):
    monkeypatch.setenv("METALEARN_BUDGET", name)
    assert ml.budget(smoke=1, book=2, paper=3) == expected


def test_budget_defaults_to_book(monkeypatch):
    monkeypatch.delenv("METALEARN_BUDGET", raising=False)
    assert ml.budget_name() == "book"


def test_unknown_budget_is_an_error(monkeypatch):
    monkeypatch.setenv("METALEARN_BUDGET", "huge")
    with pytest.raises(ValueError, match="huge"):
        ml.budget(smoke=1, book=2, paper=3)


def test_data_root_and_cache_dir_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("METALEARN_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("METALEARN_CACHE", str(tmp_path / "c"))
    assert ml.data_root() == tmp_path / "d"
    assert ml.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("METALEARN_DATA")
    assert ml.data_root() == Path.home() / ".cache" / "metalearn" / "data"


def test_seed_everything_is_reproducible():
    import torch

    g1 = ml.seed_everything(7)
    a = torch.rand(3), torch.rand(3, generator=g1)
    g2 = ml.seed_everything(7)
    b = torch.rand(3), torch.rand(3, generator=g2)
    torch.testing.assert_close(a, b)


def test_resolve_device():
    import torch

    assert ml.resolve_device("cpu") == torch.device("cpu")
    assert ml.resolve_device(None) == ml.default_device()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            ml.resolve_device("cuda")
