"""The shared training loop: epochs and steps, evaluation hook, callbacks, early stopping with the best weights,
atomic checkpoints with exact resume (optimiser, GradScaler, RNG), AMP, clear errors, DDP under torchrun."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from course_lib import seed_everything
from course_lib import train as T
from course_lib.train import (
    Callback,
    EarlyStopping,
    Loop,
    StepLosses,
    bind_device,
    fit,
    load_checkpoint,
    loader,
    per_rank,
    save_checkpoint,
    shard,
    to_device,
)


def _problem(n=128):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([1.0, -1.0, 2.0, 0.5])
    return TensorDataset(x, y)


def _loss(model, batch):
    x, y = batch
    return torch.nn.functional.mse_loss(model(x).squeeze(-1), y)


def _setup(lr=0.05, dropout=False):
    seed_everything(0)
    model = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(4, 1)) if dropout else torch.nn.Linear(4, 1)
    return model, torch.optim.SGD(model.parameters(), lr=lr)


def _weight(model):
    return (model[1] if isinstance(model, torch.nn.Sequential) else model).weight.detach().clone()


# ----------------------------------------------------------------------------------------------- epochs
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
    assert len(fit(model, opt, _loss, DataLoader(_problem(), batch_size=32), epochs=2, progress=False)) == 2
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, opt, _loss, _problem(), epochs=1, progress=False)
    with pytest.raises(TypeError, match="train_data must be"):
        fit(model, opt, _loss, 42, epochs=1, progress=False)
    with pytest.raises(TypeError, match="loader"):
        Loop(model, opt, _loss).run(_problem(), epochs=1, progress=False)
    with pytest.raises(ValueError, match="exactly one"):
        Loop(model, opt, _loss).run(batches, epochs=1, steps=3, progress=False)
    with pytest.raises(ValueError, match="eval_every"):
        Loop(model, opt, _loss).run(batches, epochs=1, eval_every=3, progress=False)


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
    assert torch.equal(model.weight, weights[0.9]) and hist.attrs["best"] == 0.9
    with pytest.raises(KeyError, match="monitor"):
        fit(model, opt, _loss, _problem(), epochs=1, batch_size=16, val_fn=lambda m: {"a": 1.0},
            monitor="b", progress=False)
    with pytest.raises(ValueError, match="monitor="):
        fit(model, opt, _loss, _problem(), epochs=1, batch_size=16, val_fn=lambda m: {"a": 1.0}, patience=1,
            progress=False)


def test_best_weights_restored_without_patience():
    """The docstring promises the best weights whenever monitor is set (the old loop needed patience too)."""
    model, opt = _setup()
    scores = iter([0.2, 0.9, 0.1, 0.3])
    weights = {}

    def val_fn(m):
        score = next(scores)
        weights[score] = m.weight.detach().clone()
        return {"acc": score}

    fit(model, opt, _loss, _problem(), epochs=4, batch_size=16, val_fn=val_fn, monitor="acc", mode="max",
        progress=False)
    assert torch.equal(model.weight, weights[0.9]) and not torch.equal(model.weight, weights[0.3])
    model, opt = _setup()
    fit(model, opt, _loss, _problem(), epochs=2, batch_size=16, val_fn=lambda m: {"acc": 0.5},
        monitor="acc", mode="max", restore_best=False, progress=False)  # opt-out keeps the last weights
    assert not torch.equal(model.weight, _setup()[0].weight)


# ----------------------------------------------------------------------------------------------- checkpoints
def test_checkpoint_resume_matches_uninterrupted(tmp_path):
    """Shuffled batches and dropout: only an exact restore of the RNG and optimiser state reproduces the run."""
    model, opt = _setup(dropout=True)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    full = fit(model, opt, _loss, _problem(), epochs=6, batch_size=16, progress=False)
    reference = _weight(model)

    ckpt = tmp_path / "run.pt"
    model, _ = _setup(dropout=True)
    fit(model, torch.optim.Adam(model.parameters(), lr=0.01), _loss, _problem(), epochs=3, batch_size=16,
        progress=False, checkpoint=ckpt)
    model, _ = _setup(dropout=True)
    torch.manual_seed(123)  # a fresh process would have another RNG state
    resumed = fit(model, torch.optim.Adam(model.parameters(), lr=0.01), _loss, _problem(), epochs=6,
                  batch_size=16, progress=False, checkpoint=ckpt, resume=True)
    assert len(resumed) == 6 and torch.equal(_weight(model), reference)
    assert resumed["train_loss"].tolist() == pytest.approx(full["train_loss"].tolist(), rel=1e-6)
    state = load_checkpoint(ckpt)
    assert state["done"] == 6 and state["global_step"] == 6 * 8 and not list(tmp_path.glob("*.tmp"))


def test_resume_after_early_stop_trains_no_further(tmp_path):
    ckpt = tmp_path / "es.pt"
    calls = []

    def val_fn(m):
        calls.append(1)
        return {"acc": [0.9, 0.5, 0.4, 0.3, 0.2][len(calls) - 1]}

    model, opt = _setup()
    hist = fit(model, opt, _loss, _problem(), epochs=5, batch_size=16, val_fn=val_fn, monitor="acc", mode="max",
               patience=2, checkpoint=ckpt, progress=False)
    best = model.weight.detach().clone()
    assert len(hist) == 3 and load_checkpoint(ckpt)["stopped"]
    model, opt = _setup()
    again = fit(model, opt, _loss, _problem(), epochs=5, batch_size=16, val_fn=val_fn, monitor="acc", mode="max",
                patience=2, checkpoint=ckpt, resume=True, progress=False)
    assert len(again) == 3 and len(calls) == 3  # no extra epoch was trained or evaluated
    assert torch.equal(model.weight, best)  # and the best weights come back from the checkpoint


def test_resume_restores_grad_scaler(tmp_path):
    ckpt = tmp_path / "s.pt"

    def make():
        model, opt = _setup()
        loop = Loop(model, opt, _loss)
        loop.scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 4, growth_interval=1)
        return loop

    loop = make()
    loop.run(loader(_problem(), 16), epochs=2, checkpoint=ckpt, progress=False)
    grown = loop.scaler.get_scale()
    assert grown == 2.0 ** (4 + 16)  # doubled after each of the 16 finite steps
    loop = make()
    loop.run(loader(_problem(), 16), epochs=2, checkpoint=ckpt, resume=True, progress=False)
    assert loop.scaler.get_scale() == grown
    with pytest.raises(ValueError, match="step-based"):
        make().run(lambda step: _problem()[:16], steps=4, checkpoint=ckpt, resume=True, progress=False)


def test_save_checkpoint_is_atomic_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "c.pt"
    save_checkpoint(target, {"x": torch.ones(1)})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_checkpoint(target, {"x": torch.zeros(1)})
    assert torch.equal(load_checkpoint(target)["x"], torch.ones(1)) and not list(tmp_path.glob("*.tmp"))


# ----------------------------------------------------------------------------------------------- bad input
def test_nonfinite_loss_is_reported_with_its_step():
    model, opt = _setup()
    with pytest.raises(FloatingPointError, match="a step in 0..7 \\(epoch 0\\).*learning rate"):
        fit(model, opt, lambda m, b: m(b[0]).sum() * float("nan"), _problem(), epochs=1, batch_size=16,
            progress=False)
    bad = torch.tensor(float("inf"))

    def run(**kw):
        model, opt = _setup()
        Loop(model, opt, lambda m, b: _loss(m, b) * (bad if b[0].shape[0] == 6 else 1.0)).run(
            lambda step: (torch.randn(step + 1, 4), torch.randn(step + 1)), steps=10, progress=False, **kw)

    with pytest.raises(FloatingPointError, match="at step 5;"):
        run(eval_every=1)
    with pytest.raises(FloatingPointError, match="at a step in 0..9;"):
        run()


def test_nonscalar_detached_and_empty_are_clear_errors():
    model, opt = _setup()
    with pytest.raises(ValueError, match="scalar.*shape \\(16,\\)"):
        fit(model, opt, lambda m, b: (m(b[0]).squeeze(-1) - b[1]) ** 2, _problem(), epochs=1, batch_size=16,
            progress=False)
    with pytest.raises(ValueError, match="does not require grad"):
        fit(model, opt, lambda m, b: _loss(m, b).detach(), _problem(), epochs=1, batch_size=16, progress=False)
    with pytest.raises(TypeError, match="loss as a tensor"):
        fit(model, opt, lambda m, b: _loss(m, b).item(), _problem(), epochs=1, batch_size=16, progress=False)
    with pytest.raises(ValueError, match="empty.*no batches"):
        fit(model, opt, _loss, TensorDataset(torch.zeros(0, 4), torch.zeros(0)), epochs=1, batch_size=4,
            progress=False)
    with pytest.raises(ValueError, match="no batches"):
        fit(model, opt, _loss, [], epochs=1, progress=False)
    with pytest.raises(ValueError, match="stopped after 3 of 10 steps"):
        Loop(model, opt, _loss).run(iter([(torch.randn(2, 4), torch.randn(2))] * 3), steps=10, progress=False)


def test_amp_bf16_is_selectable_and_fp16_needs_cuda():
    model, opt = _setup()
    dtypes = []

    def loss_fn(m, b):
        out = m(b[0])
        dtypes.append(out.dtype)
        return torch.nn.functional.mse_loss(out.squeeze(-1).float(), b[1])

    hist = fit(model, opt, loss_fn, _problem(), epochs=3, batch_size=16, amp="bf16", device="cpu", progress=False)
    assert set(dtypes) == {torch.bfloat16} and model.weight.dtype == torch.float32
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
    dtypes.clear()
    fit(model, opt, loss_fn, _problem(), epochs=1, batch_size=16, amp=True, device="cpu", progress=False)
    assert set(dtypes) == {torch.float32}  # amp=True is CUDA-only
    with pytest.raises(ValueError, match="fp16.*CUDA"):
        fit(model, opt, loss_fn, _problem(), epochs=1, batch_size=16, amp="fp16", device="cpu", progress=False)
    with pytest.raises(ValueError, match="amp must be"):
        fit(model, opt, loss_fn, _problem(), epochs=1, batch_size=16, amp="int8", device="cpu", progress=False)


def test_loss_is_accumulated_without_a_host_sync_per_step(monkeypatch):
    syncs = []
    for name in ("item", "tolist", "__float__", "__int__", "__bool__"):
        original = getattr(torch.Tensor, name)

        def counted(self, *a, _original=original, **k):
            syncs.append(1)
            return _original(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, counted)

    def count(steps):
        syncs.clear()
        model, opt = _setup()
        data = _problem()
        Loop(model, opt, _loss).run(lambda step: data[(step * 8) % 128:(step * 8) % 128 + 8], steps=steps,
                                    progress=False)
        return len(syncs)

    few, many = count(3), count(3 * T.CHECK_EVERY)
    assert many <= few + 3, (few, many)  # at most one finite check per CHECK_EVERY steps, nothing per step


# ----------------------------------------------------------------------------------------------- steps
def test_steps_mode_with_sampler_evaluation_and_callbacks():
    model, opt = _setup()
    data = _problem()
    gen = torch.Generator().manual_seed(0)
    evaluated, seen = [], []

    def sample(step):
        seen.append(step)
        idx = torch.randint(0, 128, (16,), generator=gen)
        return data[idx]

    def evaluate(m):
        evaluated.append(m.training)
        return {"val_mse": float(_loss(m, data[:])), "tensor_metric": torch.tensor(1.0)}

    losses = StepLosses(every=4)
    hist = Loop(model, opt, _loss, callbacks=[losses]).run(sample, steps=12, eval_every=5, evaluate=evaluate,
                                                          progress=False)
    assert hist["step"].tolist() == [5, 10, 12] and evaluated == [False] * 3 and seen == list(range(12))
    assert hist["val_mse"].iloc[-1] < hist["val_mse"].iloc[0] and hist["tensor_metric"].eq(1.0).all()
    assert losses.steps == [0, 4, 8, 11] and len(losses.values()) == 4 and model.training


def test_steps_mode_cycles_reiterables_and_takes_iterators():
    model, opt = _setup()
    batches = [_problem()[i * 8:(i + 1) * 8] for i in range(3)]
    every = StepLosses()
    Loop(model, opt, _loss, callbacks=[every]).run(batches, steps=7, progress=False)
    assert len(every.values()) == 7
    assert len(Loop(model, opt, _loss).run(iter(batches * 3), steps=9, eval_every=3, progress=False)) == 3
    assert len(Loop(model, opt, _loss).run(loader(_problem(), 32), steps=9, progress=False)) == 1


def test_steps_mode_resume_is_exact(tmp_path):
    def sample(step):  # draws from the global RNG, which the checkpoint restores
        x = torch.randn(16, 4)
        return x, x @ torch.tensor([1.0, -1.0, 2.0, 0.5])

    model, opt = _setup(dropout=True)
    full = Loop(model, opt, _loss).run(sample, steps=20, eval_every=5, progress=False)
    reference = _weight(model)
    ckpt = tmp_path / "steps.pt"

    class Interrupt(Callback):
        def on_round_end(self, loop, row):
            if row["step"] == 10:
                loop.stop = True

    model, opt = _setup(dropout=True)
    Loop(model, opt, _loss, callbacks=[Interrupt()]).run(sample, steps=20, eval_every=5, checkpoint=ckpt,
                                                         progress=False)
    state = load_checkpoint(ckpt)
    state["stopped"] = False  # as if the process had been killed after step 10
    save_checkpoint(ckpt, state)
    model, opt = _setup(dropout=True)
    resumed = Loop(model, opt, _loss).run(sample, steps=20, eval_every=5, checkpoint=ckpt, resume=True,
                                          progress=False)
    assert resumed["step"].tolist() == [5, 10, 15, 20] and torch.equal(_weight(model), reference)
    assert resumed["train_loss"].tolist() == pytest.approx(full["train_loss"].tolist(), rel=1e-6)


def test_manual_optimisation_and_metric_dicts():
    """optimizer=None: the step function optimises itself (a GAN with two optimisers); extra metrics logged."""
    model, opt = _setup()
    extra = torch.optim.SGD(model.parameters(), lr=0.01)

    def step(m, b):
        loss = _loss(m, b)
        extra.zero_grad()
        loss.backward()
        extra.step()
        return {"loss": loss.detach(), "scale": 2.0}

    hist = Loop(model, None, step, extra_state={"extra": extra}).run(loader(_problem(), 16), epochs=3,
                                                                    progress=False)
    assert hist["train_scale"].eq(2.0).all() and hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]


def test_early_stopping_callback_in_steps_mode():
    model, opt = _setup()
    stopper = EarlyStopping("val", mode="min", patience=1)
    vals = iter([3.0, 2.0, 2.5, 1.0])
    hist = Loop(model, opt, _loss, callbacks=[stopper]).run(loader(_problem(), 16), steps=40, eval_every=10,
                                                           evaluate=lambda m: {"val": next(vals)}, progress=False)
    assert hist["step"].tolist() == [10, 20, 30] and stopper.best == 2.0


# ----------------------------------------------------------------------------------------------- DDP rules
def test_to_device_nested():
    batch = {"a": torch.ones(1), "b": [torch.zeros(1), (torch.ones(2), "label")]}
    moved = to_device(batch, torch.device("cpu"))
    assert moved["b"][1][1] == "label" and torch.equal(moved["b"][1][0], torch.ones(2))


def test_sharding_rule_under_torchrun_env(monkeypatch):
    """With WORLD_SIZE=2 (no process group needed): plain sources are refused, shard() strides, loader() uses a
    DistributedSampler, per_rank() is trusted."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(ValueError, match="every rank must see different batches"):
        T._unwrap([1, 2, 3], "Loop.run")
    with pytest.raises(ValueError, match="shard\\(source\\)"):
        T._unwrap(lambda step: step, "Loop.run")
    with pytest.raises(ValueError, match="DistributedSampler"):
        T._unwrap(DataLoader(_problem(), batch_size=4), "Loop.run")
    assert list(Loop._epoch(shard(list(range(7))), 0)) == [1, 3, 5]  # 6 is dropped: equal counts on both ranks
    assert list(Loop._epoch(shard(lambda epoch: range(10 * epoch, 10 * epoch + 4)), 2)) == [21, 23]
    dl = Loop._epoch(loader(_problem(8), 2, seed=3), epoch=1)
    assert isinstance(dl.sampler, torch.utils.data.DistributedSampler) and dl.sampler.rank == 1
    assert dl.sampler.epoch == 1 and len(list(dl)) == 2
    assert T.rank_seed(5) == 5 + 1_000_003 and per_rank(dl).source is dl


def test_bind_device_uses_local_rank(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.append(d))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert bind_device("cuda") == torch.device("cuda", 1) and calls == [torch.device("cuda", 1)]
    with pytest.raises(ValueError, match="LOCAL_RANK=1"):
        bind_device("cuda:0")
    assert bind_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert bind_device("cuda:0") == torch.device("cuda", 0) and len(calls) == 1


@pytest.mark.slow
def test_torchrun_two_ranks_shard_and_end_identical(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    # Own session: on a timeout the whole group (torchrun and its workers) is killed, so no worker keeps the
    # output pipes open and the test fails instead of hanging.
    proc = subprocess.Popen([str(torchrun), "--standalone", "--nproc_per_node", "2",
                             str(Path(__file__).with_name("ddp_worker.py")), str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        pytest.fail(f"torchrun did not finish in 180 s:\n{stderr[-3000:]}")
    assert proc.returncode == 0, stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{i}.pt", weights_only=True) for i in (0, 1))
    for phase in ("dataset", "sampler", "shard", "shard_steps"):
        a, b = r0[phase], r1[phase]
        assert any(not torch.equal(a["init"][k], b["init"][k]) for k in a["init"]), phase  # seeded differently
        for key in a["state"]:  # ... yet DDP's broadcast and all-reduce end them identical
            assert torch.equal(a["state"][key], b["state"][key]), (phase, key)
        assert a["loss"] == b["loss"] and a["loss"][-1] < a["loss"][0], phase
    for epoch in range(3):  # DistributedSampler: each epoch split into two disjoint halves
        s0, s1 = set(r0["dataset"]["seen"][epoch].tolist()), set(r1["dataset"]["seen"][epoch].tolist())
        assert not s0 & s1 and s0 | s1 == set(range(64)), epoch
    assert not torch.equal(r0["sampler"]["seen"], r1["sampler"]["seen"])  # per_rank sampler: own draws
    for phase in ("shard", "shard_steps"):  # rank r trains on batches r, r + 2, ...
        assert set(r0[phase]["seen"].tolist()) == {0, 2, 4, 6} and set(r1[phase]["seen"].tolist()) == {1, 3, 5, 7}
    for r in (r0, r1):
        assert "every rank must see different batches" in r["refused"]
