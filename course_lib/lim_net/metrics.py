"""Metrics: 3D Dice, NoC@80, curve monotonicity, seconds per volume and peak memory."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch


def dice(pred, gt) -> float:
    """3D Dice ``2|P n G| / (|P| + |G|)``; 1.0 when both are empty."""
    pred, gt = np.asarray(pred, dtype=bool), np.asarray(gt, dtype=bool)
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} differ in shape")
    denom = pred.sum() + gt.sum()
    return 1.0 if denom == 0 else float(2 * (pred & gt).sum() / denom)


def noc(dices: Sequence[float], threshold: float = 0.80, cap: int | None = None) -> int:
    """NoC@threshold: the first round (1-based) whose Dice >= threshold; ``cap`` (default: len) if never."""
    dices = list(dices)
    if not dices:
        raise ValueError("dices is empty")
    for i, d in enumerate(dices, start=1):
        if d >= threshold:
            return i
    return len(dices) if cap is None else int(cap)


def fraction_non_decreasing(curve: Sequence[float], tol: float = 1e-9) -> float:
    """Share of round-to-round transitions with ``d[t+1] >= d[t] - tol`` (the learned-MRF stability claim)."""
    curve = np.asarray(curve, dtype=float)
    if curve.size < 2:
        raise ValueError("need at least two rounds")
    return float(np.mean(np.diff(curve) >= -tol))


def _rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process to its current RSS (Linux ≥ 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/status has no VmHWM line")


def timed(fn: Callable[[], object], device: torch.device | None = None) -> tuple[object, float]:
    """Run ``fn()``; return ``(result, wall seconds)`` (CUDA is synchronised before and after)."""
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    out = fn()
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, time.perf_counter() - t0


def peak_memory_mb(fn: Callable[[], object], device: torch.device | None = None,
                   interval: float = 0.0005) -> tuple[object, float]:
    """Run ``fn()``; return ``(result, peak extra memory in MiB)``.

    CUDA: ``torch.cuda.max_memory_allocated`` above the allocation before the call (exact for torch tensors).
    CPU: the peak of the process's resident set size above its value before the call — exact on Linux through the
    kernel's high-water mark (``VmHWM``, reset by writing 5 to ``/proc/self/clear_refs``), else sampled by a thread
    every ``interval`` seconds. The allocator may reuse memory freed earlier, so run each method in a fresh process
    for a fair comparison, as ``benchmarks/bench_lim_net.py`` does.
    """
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        out = fn()
        torch.cuda.synchronize(device)
        return out, (torch.cuda.max_memory_allocated(device) - base) / 2**20
    if not os.path.exists(f"/proc/{os.getpid()}/statm"):
        return fn(), float("nan")
    base = _rss_bytes()
    if _reset_peak_rss():
        out = fn()
        return out, (max(_peak_rss_bytes(), base) - base) / 2**20
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(interval)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        out = fn()
    finally:
        stop.set()
        th.join()
    peak[0] = max(peak[0], _rss_bytes())
    return out, (peak[0] - base) / 2**20


def isolated(fn: Callable, *args, timeout: float = 600.0):
    """Run ``fn(*args)`` in a fresh ``spawn`` subprocess and return its result (fair peak-memory measurement).

    ``fn`` must be a module-level function of an importable module; the child inherits ``OMP_NUM_THREADS``.
    """
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply_async(fn, args).get(timeout=timeout)
