"""Shared fixtures: small synthetic data and the offline Omniglot copy."""

from __future__ import annotations

import pytest
import torch

import metalearn_lib as ml


@pytest.fixture
def synthetic() -> ml.FewShotDataset:
    return ml.synthetic_classes(n_classes=12, n_per_class=10, image_shape=(1, 28, 28), noise=0.3, seed=0)


@pytest.fixture
def tiny_episode(synthetic) -> ml.Episode:
    return next(synthetic.episodes(n_way=5, k_shot=2, n_query=3, seed=0))


@pytest.fixture(scope="session")
def omniglot_splits() -> dict[str, ml.Omniglot]:
    """The real offline copy (make test and CI point METALEARN_DATA at ../shared/data)."""
    found = [ml.datasets.find_source(s) for s in ("images_background", "images_evaluation")]
    if not all(found):
        pytest.skip(f"Omniglot not found under {ml.data_root()} (set METALEARN_DATA)")
    return {name: ml.Omniglot(name) for name in ("train", "val", "test")}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
