"""The GPU-check hook of the low-power series: present and complete (dry plan, no GPU needed), a deterministic
fixed forward pass; the smoke pass itself runs in tests/test_gpu_check.py for every paper with a claims module."""
import pytest
import torch

from course_lib import gpu_check


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.delenv("COURSE_DEVICE", raising=False)


def test_dry_plan_finds_the_low_power_hook(fake_cuda, monkeypatch):
    monkeypatch.setattr(gpu_check, "papers", lambda: ["low_power"])
    lines, problems = gpu_check.plan(torch.device("cuda"))
    assert "  low_power: hook ok" in lines, lines
    assert not problems


def test_fixed_forward_is_deterministic_and_covers_both_models():
    hook = gpu_check.load_hook("low_power")
    a, b = hook.fixed_forward(torch.device("cpu")), hook.fixed_forward(torch.device("cpu"))
    assert a.shape == (32, 20) and torch.equal(a, b) and torch.isfinite(a).all()
    assert not torch.allclose(a[:, :10], a[:, 10:])   # the factorised twin differs from the base
