"""`make gpu-check`: the plan (device selection, hooks), the table, failure reporting, and every paper's hook run on
the CPU so that the hooks cannot rot on machines without a GPU."""
import math
import types

import pytest
import torch

from course_lib import gpu_check
from course_lib.gpu_check import Row, check_paper, load_hook, main, select_device


@pytest.fixture
def fake_cuda(monkeypatch):
    """A machine that reports two CUDA GPUs (nothing is run on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.delenv("COURSE_DEVICE", raising=False)


def test_selects_cuda_when_present(fake_cuda):
    assert select_device() == torch.device("cuda")
    lines, problems = gpu_check.plan(select_device())
    assert lines[0] == "device: cuda (2 GPUs)" and "torch.bfloat16" in lines[1]
    assert any("DDP step: 2 processes" in ln for ln in lines)
    assert not any("no accelerator" in p for p in problems)


def test_dry_run_on_cuda_plans_every_paper(fake_cuda, capsys):
    assert main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "device: cuda (2 GPUs)" in out
    for pkg in gpu_check.papers():
        assert f"  {pkg}: hook ok" in out
    assert "lct: hook ok (runs on the CPU" in out  # the numpy-only paper says so


def test_dry_run_passes_on_a_cpu_only_machine(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(gpu_check, "get_device", lambda name, announce=False: torch.device("cpu"))
    assert main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "device: cpu" in out and "note: no accelerator" in out
    assert main(["--out", "unused.md"]) == 2  # a real run refuses without an accelerator
    assert "no accelerator is present" in capsys.readouterr().err


@pytest.mark.parametrize("pkg", gpu_check.papers())
def test_every_paper_hook_runs_on_the_cpu(pkg):
    row = check_paper(pkg, torch.device("cpu"), amp=True)
    assert row.ok, row.detail
    assert row.seconds > 0 and row.max_diff == 0.0  # the fixed forward pass is deterministic on the CPU
    assert row.detail  # the metrics are shown


def _hook(**fns):
    base = {"smoke": lambda device, *, amp: {"loss": 0.5}, "fixed_forward": lambda device: torch.ones(3, device=device)}
    return types.SimpleNamespace(**{**base, **fns})


@pytest.mark.parametrize("hook, message", [
    (_hook(smoke=lambda device, *, amp: {"loss": math.nan}), "non-finite metrics"),
    (_hook(smoke=lambda device, *, amp: 1 / 0), "ZeroDivisionError"),
    (_hook(smoke=lambda device, *, amp: {}), "non-empty dict"),
    (_hook(fixed_forward=lambda device: torch.rand(3)), "differs from the CPU"),
    (_hook(fixed_forward=lambda device: torch.ones(2 if device.type == "cpu" else 3)), None),
])
def test_failures_are_reported_not_raised(monkeypatch, hook, message):
    monkeypatch.setattr(gpu_check, "load_hook", lambda pkg: hook)
    row = check_paper("fake", torch.device("cpu"))
    if message is None:
        assert row.ok  # same shape on the CPU twice
    else:
        assert not row.ok and message in row.detail


def test_missing_or_incomplete_hook(monkeypatch):
    with pytest.raises(gpu_check.HookError, match="course_lib/nope/gpu.py is missing"):
        load_hook("nope")
    row = check_paper("nope", torch.device("cpu"))
    assert not row.ok and "CONTRIBUTING" in row.detail
    monkeypatch.setattr(gpu_check.importlib, "import_module", lambda name: types.SimpleNamespace(smoke=len))
    with pytest.raises(gpu_check.HookError, match="lacks fixed_forward"):
        load_hook("half")


def test_main_on_cpu_writes_the_table_and_fails_on_a_failure(monkeypatch, tmp_path, capsys):
    hooks = {"good": _hook(), "bad": _hook(smoke=lambda device, *, amp: {"acc": math.inf})}
    monkeypatch.setattr(gpu_check, "papers", lambda: list(hooks))
    monkeypatch.setattr(gpu_check, "load_hook", hooks.__getitem__)
    out = tmp_path / "gpu.md"
    assert main(["--device", "cpu", "--out", str(out)]) == 1
    text = out.read_text()
    assert "| good | cpu | ok |" in text and "| bad | cpu | FAIL |" in text and "peak GPU MiB" in text
    assert "gpu-check FAILED: bad" in capsys.readouterr().err
    assert main(["--device", "cpu", "--paper", "good", "--out", str(out)]) == 0


def test_table_and_amp_call():
    text = gpu_check.table([Row("p", "cuda", True, 1.25, 300.0, 1e-6, 1e-4, "acc=0.9"), Row("q", "cpu", False)])
    assert "| p | cuda | ok | 1.2 | 300 | 1.00e-06 | 1.0e-04 | acc=0.9 |" in text and "| q | cpu | FAIL | — |" in text
    seen = {}

    def with_amp(x, *, amp, device):
        seen.update(amp=amp, device=device)
        return x

    def without(x):
        return x + 1

    cpu = torch.device("cpu")
    assert gpu_check.amp_call(with_amp, 1, device=cpu, amp=True) == 1 and seen == {"amp": False, "device": cpu}
    assert gpu_check.amp_call(without, 1, device=cpu, amp=True) == 2


def test_ddp_step_on_two_cpu_processes():
    """The DDP step of the check, here with gloo: two ranks train through the one loop and end identical."""
    row = gpu_check.ddp_step(timeout=180)
    assert row.ok, row.detail
    assert "max weight spread 0" in row.detail
