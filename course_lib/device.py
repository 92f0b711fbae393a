"""One place that turns ``COURSE_DEVICE`` (auto | cpu | cuda | mps) into a ``torch.device``, and synchronised timing."""
from __future__ import annotations

import os
import time

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
_announced: set[str] = set()


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def get_device(name: str | None = None, *, announce: bool = True) -> torch.device:
    """Resolve the compute device.

    ``name`` (or the ``COURSE_DEVICE`` environment variable, default ``auto``) is one of ``auto``, ``cpu``,
    ``cuda``, ``cuda:N`` or ``mps``. ``auto`` picks CUDA, then MPS, then CPU. Asking for an accelerator that
    is not present raises a ``RuntimeError`` that says what was found instead. The choice is printed once.
    """
    raw = (name or os.environ.get("COURSE_DEVICE") or "auto").strip().lower()
    kind = raw.split(":", 1)[0]
    if kind not in DEVICES:
        raise ValueError(f"COURSE_DEVICE={raw!r} is not valid; expected one of {', '.join(DEVICES)} (or cuda:N)")
    if kind == "auto":
        raw = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    elif kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "COURSE_DEVICE=cuda but torch sees no CUDA GPU (torch.cuda.is_available() is False; torch "
            f"{torch.__version__}, CUDA build: {torch.version.cuda}). Use COURSE_DEVICE=auto or cpu, or "
            "install a CUDA build of torch on a GPU machine.")
    elif kind == "mps" and not _mps_available():
        raise RuntimeError("COURSE_DEVICE=mps but the Apple MPS backend is not available here; use auto or cpu.")
    device = torch.device(raw)
    if announce and str(device) not in _announced:
        _announced.add(str(device))
        extra = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
        print(f"[course_lib] device: {device}{extra}")
    return device


def resolve_device(device: torch.device | str | None = None) -> torch.device:
    """The device a library function should use: ``device`` if given, else :func:`get_device` (``COURSE_DEVICE``,
    default auto → CUDA, then MPS, then CPU). Named accelerators are checked by :func:`get_device` (clear error
    when absent); a ``torch.device`` passes through unchanged. Nothing is printed."""
    if isinstance(device, torch.device):
        return device
    if device is None or str(device).strip().lower().split(":", 1)[0] in DEVICES:
        return get_device(device, announce=False)
    return torch.device(device)


def synchronize(device: torch.device | str | torch.Tensor | None = None) -> None:
    """Wait for the queued kernels of ``device`` (a device, its name, or a tensor on it) — CUDA and MPS run
    asynchronously, so a timing that does not synchronise measures the launch, not the work. No-op on CPU;
    ``None`` synchronises the current CUDA device when there is one."""
    if isinstance(device, torch.Tensor):
        device = device.device
    kind = torch.device(device).type if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cuda":
        torch.cuda.synchronize(device)
    elif kind == "mps":
        torch.mps.synchronize()


def clock(device: torch.device | str | torch.Tensor | None = None) -> float:
    """``time.perf_counter()`` after :func:`synchronize` — use it for both ends of a timed span of torch work."""
    synchronize(device)
    return time.perf_counter()
