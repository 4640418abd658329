import pickle

import pytest
import torch

import metalearn_lib as ml


def test_checkpoint_round_trip_with_optimizer(tmp_path):
    net = ml.Conv4(hidden=8, n_out=3)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(4, 1, 28, 28)).sum().backward()
    opt.step()
    path = ml.save_checkpoint(tmp_path / "sub" / "c.pt", net, opt, step=7, note="x")
    other = ml.Conv4(hidden=8, n_out=3)
    other_opt = torch.optim.Adam(other.parameters(), lr=1e-3)
    meta = ml.load_checkpoint(path, other, other_opt)
    assert meta == {"step": 7, "note": "x"}
    for p, q in zip(net.parameters(), other.parameters()):
        assert torch.equal(p, q)
    assert other_opt.state_dict()["state"][0]["step"] == 1
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["c.pt"]  # no temporary file left


def test_atomic_save_keeps_old_file_when_saving_fails(tmp_path):
    path = ml.atomic_torch_save({"v": torch.ones(1)}, tmp_path / "a.pt")

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        ml.atomic_torch_save({"v": Unpicklable()}, path)
    assert torch.equal(torch.load(path, weights_only=True)["v"], torch.ones(1))
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]


class Payload:
    """An arbitrary Python object: loading it would run code chosen by the file's author."""


def test_load_refuses_arbitrary_objects_and_missing_optimizer(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "meta": {}, "payload": Payload()}, path)
    with pytest.raises(pickle.UnpicklingError):
        ml.load_checkpoint(path, torch.nn.Linear(1, 1))
    ok = ml.save_checkpoint(tmp_path / "ok.pt", torch.nn.Linear(1, 1))
    with pytest.raises(ValueError, match="no optimizer state"):
        net = torch.nn.Linear(1, 1)
        ml.load_checkpoint(ok, net, torch.optim.SGD(net.parameters(), lr=0.1))


def test_atomic_write_text_replaces_the_file_whole(tmp_path):
    from metalearn_lib.checkpoints import atomic_write_text

    path = atomic_write_text("first", tmp_path / "sub" / "a.json")
    assert atomic_write_text("второй", path).read_text(encoding="utf-8") == "второй"
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]
