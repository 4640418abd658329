import io
import math
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

import metalearn_lib as ml
from metalearn_lib.datasets import omniglot as omni


# --- synthetic and FewShotDataset -------------------------------------------------------------

def test_synthetic_classes_shapes_and_separability():
    d = ml.synthetic_classes(n_classes=6, n_per_class=5, image_shape=(1, 16, 16), noise=0.1, seed=3)
    assert d.images.shape == (30, 1, 16, 16) and d.n_classes == 6 and len(d) == 30
    # nearest class template recovers every label when noise is small
    means = torch.stack([d.images[d.labels == c].mean(0) for c in range(6)]).flatten(1)
    nearest = torch.cdist(d.images.flatten(1), means).argmin(1)
    assert torch.equal(nearest, d.labels)


def test_dataset_validates_its_inputs():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ml.FewShotDataset(torch.zeros(3, 8, 8), torch.zeros(3, dtype=torch.long), ["a"])
    with pytest.raises(ValueError, match="labels must lie"):
        ml.FewShotDataset(torch.zeros(3, 1, 8, 8), torch.tensor([0, 1, 2]), ["a", "b"])


def test_subset_relabels_in_given_order(synthetic):
    sub = synthetic.subset([5, 2])
    assert sub.class_names == ("class005", "class002")
    torch.testing.assert_close(sub.images[sub.labels == 0], synthetic.images[synthetic.labels == 5])
    with pytest.raises(ValueError):
        synthetic.subset([99])


def test_cache_key_names_the_pool_and_hashes_its_contents(synthetic):
    key = synthetic.cache_key()
    copy = ml.FewShotDataset(synthetic.images.clone(), synthetic.labels.clone(), synthetic.class_names, synthetic.name)
    assert key == copy.cache_key() and key.startswith("synthetic-")
    copy.images[0] += 1
    assert copy.cache_key() != key  # same name, other pixels
    assert synthetic.subset([5, 2]).cache_key().startswith("synthetic_2_classes-")  # file-name safe


def test_sampler_errors_name_the_dataset(synthetic):
    with pytest.raises(ValueError, match="synthetic: n_way=13 but only 12 classes"):
        synthetic.sampler(13, 1, 1)


# --- sinusoid ---------------------------------------------------------------------------------

def test_sinusoid_tasks_follow_maml_ranges():
    fam = ml.Sinusoid()
    g = torch.Generator().manual_seed(0)
    tasks = [fam.sample_task(g) for _ in range(500)]
    amps = torch.tensor([t.amplitude for t in tasks])
    phases = torch.tensor([t.phase for t in tasks])
    assert 0.1 <= amps.min() and amps.max() <= 5.0 and amps.max() > 4.5 and amps.min() < 0.6
    assert 0 <= phases.min() and phases.max() <= math.pi
    ep = fam.episode_for(tasks[0], 10, 5, g)
    assert ep.support_x.shape == (10, 1) and ep.query_y.shape == (5, 1)
    assert ep.support_x.abs().max() <= 5
    torch.testing.assert_close(ep.support_y, tasks[0].amplitude * torch.sin(ep.support_x - tasks[0].phase))


def test_sinusoid_fixed_episodes_are_reproducible():
    a = ml.Sinusoid().fixed_episodes(5, 5, n_episodes=3, seed=1)
    b = ml.Sinusoid().fixed_episodes(5, 5, n_episodes=3, seed=1)
    assert torch.equal(a[2].support_y, b[2].support_y)
    with pytest.raises(ValueError):
        ml.Sinusoid().episode(0, 5)


# --- Omniglot reader on a hand-made miniature ---------------------------------------------------

def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((105, 105), value, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _write_fake_omniglot(root, as_zip: bool):
    """Two alphabets (one of them a validation alphabet) of 2 characters x 3 drawings each."""
    base = root / "omniglot"
    for source, alphabets in [(omni.BACKGROUND, ["Latin", "Korean"]), (omni.EVALUATION, ["Tengwar"])]:
        files = {
            f"{source}/{a}/character{c:02d}/{c:04d}_{d:02d}.png": _png(40 * c + d)
            for a in alphabets for c in (1, 2) for d in (1, 2, 3)
        }
        if as_zip:
            base.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(base / f"{source}.zip", "w") as zf:
                for name, data in files.items():
                    zf.writestr(name, data)
        else:
            for name, data in files.items():
                path = base / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)


@pytest.mark.parametrize("as_zip", [True, False])
def test_omniglot_reads_folders_and_zips(tmp_path, monkeypatch, as_zip):
    monkeypatch.setenv("METALEARN_CACHE", str(tmp_path / "cache"))
    _write_fake_omniglot(tmp_path, as_zip)
    train = ml.Omniglot("train", root=tmp_path, image_size=20)
    val = ml.Omniglot("val", root=tmp_path, image_size=20)
    test = ml.Omniglot("test", root=tmp_path, image_size=20)
    assert train.alphabets == ["Latin"] and val.alphabets == ["Korean"] and test.alphabets == ["Tengwar"]
    assert train.images.shape == (6, 1, 20, 20) and train.images.dtype == torch.uint8
    # inverted: a PNG of value v becomes 255 - v everywhere (uniform images survive resizing)
    assert train.images[0].unique().tolist() == [255 - 41]
    assert train.class_names == ("Latin/character01", "Latin/character02")
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 2  # one tensor cache per source
    again = ml.Omniglot("train", root=tmp_path, image_size=20)  # from the cache
    assert torch.equal(again.images, train.images)


def test_omniglot_rotations_make_four_classes(tmp_path, monkeypatch):
    monkeypatch.setenv("METALEARN_CACHE", str(tmp_path / "cache"))
    _write_fake_omniglot(tmp_path, as_zip=True)
    plain = ml.Omniglot("train", root=tmp_path, image_size=20)
    rot = ml.Omniglot("train", root=tmp_path, image_size=20, rotations=True)
    assert rot.n_classes == 4 * plain.n_classes and len(rot) == 4 * len(plain)
    c = rot.class_names.index("Latin/character01@90")
    torch.testing.assert_close(rot.images[rot.labels == c], torch.rot90(plain.images[plain.labels == 0], 1, (2, 3)))


def test_missing_omniglot_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match="fetch-data") as err:
        ml.Omniglot("train", root=tmp_path)
    assert str(tmp_path / "omniglot" / "images_background.zip") in str(err.value)


def test_corrupt_zip_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("METALEARN_CACHE", str(tmp_path / "cache"))
    (tmp_path / "omniglot").mkdir()
    (tmp_path / "omniglot" / "images_background.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="not a readable zip"):
        ml.Omniglot("train", root=tmp_path)


def test_unknown_split_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown Omniglot split 'tain'"):
        ml.Omniglot("tain", root=tmp_path)


# --- the real offline copy ----------------------------------------------------------------------

def test_real_omniglot_splits_are_alphabet_disjoint_and_complete(omniglot_splits):
    train, val, test = (omniglot_splits[s] for s in ("train", "val", "test"))
    assert train.n_classes + val.n_classes == 964 and test.n_classes == 659
    assert len(train.alphabets) == 25 and sorted(val.alphabets) == sorted(ml.datasets.VAL_ALPHABETS)
    assert len(test.alphabets) == 20
    assert not set(train.alphabets) & set(test.alphabets) and not set(val.alphabets) & set(test.alphabets)
    for split in (train, val, test):
        assert split.images.shape[1:] == (1, 28, 28) and split.images.dtype == torch.uint8
        assert torch.equal(torch.bincount(split.labels), torch.full((split.n_classes,), 20))
    # strokes are bright on a dark background after inversion
    assert train.images.float().mean() < 60


def test_real_omniglot_episode(omniglot_splits):
    ep = next(omniglot_splits["test"].episodes(20, 5, 15, seed=0))
    assert ep.support_x.shape == (100, 1, 28, 28) and ep.query_x.shape == (300, 1, 28, 28)
    assert 0.0 <= ep.support_x.min() and ep.support_x.max() <= 1.0


def test_download_goes_through_torchvision_with_official_layout(tmp_path, monkeypatch):
    """download=True asks torchvision's Omniglot (which checks the official md5) for both sets, into
    <root>/omniglot/, and the reader then finds its omniglot-py/ folders. No network: torchvision is faked."""
    import torchvision.datasets

    calls = []

    class FakeTorchvisionOmniglot:
        def __init__(self, root, background, download):
            calls.append((root, background, download))
            _write_fake_omniglot(tmp_path / "staging", as_zip=False)
            source = omni.BACKGROUND if background else omni.EVALUATION
            target = tmp_path / "omniglot" / "omniglot-py" / source
            target.parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "staging" / "omniglot" / source).rename(target)

    monkeypatch.setattr(torchvision.datasets, "Omniglot", FakeTorchvisionOmniglot)
    monkeypatch.setenv("METALEARN_CACHE", str(tmp_path / "cache"))
    test = ml.Omniglot("test", root=tmp_path, image_size=20, download=True)
    assert calls == [(str(tmp_path / "omniglot"), True, True), (str(tmp_path / "omniglot"), False, True)]
    assert test.alphabets == ["Tengwar"]
    assert ml.Omniglot("train", root=tmp_path, image_size=20).n_classes == 2  # now found locally
