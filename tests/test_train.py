"""The shared training loop: learning, early stopping, atomic checkpoints with resume, DDP under torchrun."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from course_lib import seed_everything
from course_lib.train import fit, load_checkpoint, save_checkpoint, to_device


def _problem(n=128):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([1.0, -1.0, 2.0, 0.5])
    return TensorDataset(x, y)


def _loss(model, batch):
    x, y = batch
    return torch.nn.functional.mse_loss(model(x).squeeze(-1), y)


def _setup(lr=0.05):
    seed_everything(0)
    model = torch.nn.Linear(4, 1)
    return model, torch.optim.SGD(model.parameters(), lr=lr)


def test_fit_learns_and_returns_history():
    model, opt = _setup()
    hist = fit(model, opt, _loss, _problem(), epochs=20, batch_size=16, progress=False)
    assert list(hist.columns[:3]) == ["epoch", "train_loss", "seconds"] and len(hist) == 20
    assert hist["train_loss"].iloc[-1] < 0.01 * hist["train_loss"].iloc[0]


def test_fit_accepts_callable_and_iterables():
    model, opt = _setup()
    batches = [(torch.randn(8, 4), torch.randn(8))]
    assert len(fit(model, opt, _loss, batches, epochs=2, progress=False)) == 2
    assert len(fit(model, opt, _loss, lambda epoch: batches, epochs=2, progress=False)) == 2
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, opt, _loss, _problem(), epochs=1, progress=False)
    with pytest.raises(TypeError, match="train_data must be"):
        fit(model, opt, _loss, 42, epochs=1, progress=False)


def test_early_stopping_restores_best():
    model, opt = _setup()
    scores = iter([0.5, 0.9, 0.4, 0.3, 0.2, 0.1, 0.0])
    weights = {}

    def val_fn(m):
        score = next(scores)
        weights[score] = m.weight.detach().clone()
        return {"acc": score}

    hist = fit(model, opt, _loss, _problem(), epochs=7, batch_size=16, val_fn=val_fn, monitor="acc", mode="max",
               patience=2, progress=False)
    assert len(hist) == 4  # best at epoch 1, then two epochs without improvement
    assert torch.equal(model.weight, weights[0.9])
    with pytest.raises(KeyError, match="monitor"):
        fit(model, opt, _loss, _problem(), epochs=1, batch_size=16, val_fn=lambda m: {"a": 1.0},
            monitor="b", progress=False)


def test_checkpoint_resume_matches_uninterrupted(tmp_path):
    model, opt = _setup()
    full = fit(model, opt, _loss, _problem(), epochs=6, batch_size=16, progress=False, shuffle=False)
    reference = model.weight.detach().clone()

    ckpt = tmp_path / "run.pt"
    model, opt = _setup()
    fit(model, opt, _loss, _problem(), epochs=3, batch_size=16, progress=False, shuffle=False, checkpoint=ckpt)
    model, opt = _setup(lr=0.05)  # a fresh process would start like this
    resumed = fit(model, opt, _loss, _problem(), epochs=6, batch_size=16, progress=False, shuffle=False,
                  checkpoint=ckpt, resume=True)
    assert len(resumed) == 6 and torch.allclose(model.weight, reference, atol=1e-6)
    assert resumed["train_loss"].tolist() == pytest.approx(full["train_loss"].tolist(), rel=1e-5)
    state = load_checkpoint(ckpt)
    assert state["epoch"] == 5 and not list(tmp_path.glob("*.tmp"))


def test_save_checkpoint_is_atomic_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "c.pt"
    save_checkpoint(target, {"x": torch.ones(1)})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_checkpoint(target, {"x": torch.zeros(1)})
    assert torch.equal(load_checkpoint(target)["x"], torch.ones(1)) and not list(tmp_path.glob("*.tmp"))


def test_nonfinite_loss_is_reported():
    model, opt = _setup()
    with pytest.raises(FloatingPointError, match="learning rate"):
        fit(model, opt, lambda m, b: m(b[0]).sum() * float("nan"), _problem(), epochs=1, batch_size=16,
            progress=False)


def test_to_device_nested():
    batch = {"a": torch.ones(1), "b": [torch.zeros(1), (torch.ones(2), "label")]}
    moved = to_device(batch, torch.device("cpu"))
    assert moved["b"][1][1] == "label" and torch.equal(moved["b"][1][0], torch.ones(2))


@pytest.mark.slow
def test_torchrun_two_ranks_end_identical(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2",
                           str(Path(__file__).with_name("ddp_worker.py")), str(tmp_path)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{i}.pt", weights_only=True) for i in (0, 1))
    for key in r0["state"]:
        assert torch.equal(r0["state"][key], r1["state"][key]), key
    assert r0["loss"] == r1["loss"] and r0["loss"][-1] < r0["loss"][0]
