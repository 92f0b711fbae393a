"""``make gpu-check``: every paper's training and inference, once, at smoke scale, on the accelerator present.

For each paper package (:func:`course_lib.claims.paper_packages`) the check imports its hook module
``course_lib/<pkg>/gpu.py``, which provides two functions:

* ``smoke(device, *, amp) -> dict[str, float]`` — one smoke-scale pass of the paper's training and inference on
  ``device`` (with mixed precision when ``amp``), returning a few finite metrics (losses, accuracies);
* ``fixed_forward(device) -> Tensor`` — a seeded model and input built on ``device`` and the output of one forward
  pass in float32 (no AMP, no dropout), so the same call on the CPU and on the accelerator can be compared;

and may set ``FORWARD_TOLERANCE`` (default :data:`FORWARD_TOLERANCE`, relative to ``max(1, max|CPU output|)``)
and ``DEVICES`` (the device types the paper's code runs on; default cpu, cuda, mps — a numpy-only paper says
``("cpu",)`` and is run and reported as CPU-only). :func:`amp_call` runs a training function with AMP whether or
not it takes an ``amp`` argument.

The table has one row per paper: seconds, peak GPU memory, max |CPU − GPU| of the fixed forward pass. With two or
more GPUs a 2-process DDP step (``torchrun``, NCCL, AMP) checks that both ranks end with identical weights. Any
failure, a missing hook, a difference above tolerance or a run over :data:`BUDGET_SECONDS` exits non-zero.
``--dry-run`` only checks the plan (device selection, hooks present) and passes on a CPU-only machine.

    python -m course_lib.gpu_check              # on the accelerator (fails if there is none)
    python -m course_lib.gpu_check --dry-run    # plan only
    python -m course_lib.gpu_check --device cpu # the same pass on the CPU (what the tests do)
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import inspect
import math
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from course_lib.device import get_device

#: Relative tolerance of max |CPU − accelerator| of the fixed float32 forward pass (TF32 is switched off for it).
FORWARD_TOLERANCE = 1e-4
#: The whole check must finish within this many seconds on one GPU.
BUDGET_SECONDS = 480
HOOK_FUNCTIONS = ("smoke", "fixed_forward")


class HookError(RuntimeError):
    """A paper's ``gpu.py`` hook is missing or incomplete."""


@dataclasses.dataclass
class Row:
    """One line of the table."""

    paper: str
    device: str
    ok: bool
    seconds: float = math.nan
    peak_mib: float = math.nan
    max_diff: float = math.nan
    tolerance: float = math.nan
    detail: str = ""


def papers() -> list[str]:
    """The paper packages (those with a ``claims`` module)."""
    from course_lib.claims import paper_packages

    return paper_packages()


def load_hook(pkg: str):
    """``course_lib.<pkg>.gpu``, checked to provide :data:`HOOK_FUNCTIONS`; :class:`HookError` otherwise."""
    try:
        module = importlib.import_module(f"course_lib.{pkg}.gpu")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"course_lib.{pkg}", f"course_lib.{pkg}.gpu"):
            raise  # the hook exists but imports something missing: a real error
        raise HookError(f"course_lib/{pkg}/gpu.py is missing: add smoke(device, *, amp) and fixed_forward(device) "
                        "(see the GPU check section of CONTRIBUTING.md)") from None
    missing = [f for f in HOOK_FUNCTIONS if not callable(getattr(module, f, None))]
    if missing:
        raise HookError(f"course_lib/{pkg}/gpu.py lacks {', '.join(missing)}")
    return module


def select_device(name: str | None = None) -> torch.device:
    """The device the check runs on: ``name``, else the accelerator present (CUDA, then MPS), else the CPU."""
    return get_device(name or "auto", announce=False)


def amp_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 where the accelerator supports it, else float16."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def autocast(device: torch.device, enabled: bool = True):
    """Mixed-precision autocast on an accelerator (a no-op context on the CPU or when not ``enabled``)."""
    if not enabled or device.type == "cpu":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=amp_dtype(device))


def amp_call(fn: Callable, *args, device: torch.device, amp: bool, **kwargs):
    """``fn(*args, **kwargs)`` with mixed precision: passed as ``amp=`` when ``fn`` takes it (the training loop then
    also scales the loss), else the call runs under :func:`autocast`; ``device=`` is passed on when ``fn`` takes
    it. Nothing changes on the CPU."""
    amp = bool(amp) and device.type != "cpu"
    params = inspect.signature(fn).parameters
    if "device" in params:
        kwargs["device"] = device
    if "amp" in params:
        return fn(*args, amp=amp, **kwargs)
    with autocast(device, amp):
        return fn(*args, **kwargs)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@contextlib.contextmanager
def _exact_float32():
    """TF32 off, so the accelerator's float32 forward pass is comparable with the CPU's."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def warm_up(device: torch.device) -> None:
    """Create the accelerator's context and library handles (a matrix product, forward and backward) before the
    first paper is timed, so that its seconds do not include them."""
    if device.type == "cpu":
        return
    a = torch.randn(256, 256, device=device, requires_grad=True)
    with autocast(device):
        (a @ a).float().sum().backward()
    _sync(device)


def _as_tensor(out, pkg: str) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out.detach().to("cpu", torch.float64)
    if isinstance(out, dict | list | tuple):
        parts = list(out.values()) if isinstance(out, dict) else list(out)
        return torch.cat([_as_tensor(p, pkg).flatten() for p in parts])
    raise TypeError(f"{pkg}: fixed_forward must return a tensor (or a dict/list of tensors), got {type(out)}")


def forward_difference(hook, device: torch.device, pkg: str = "") -> tuple[float, float]:
    """(max |CPU − ``device``| of ``hook.fixed_forward``, the allowed difference). On the CPU the two runs are both
    on the CPU, which checks that the forward pass is deterministic."""
    with _exact_float32(), torch.no_grad():
        ref = _as_tensor(hook.fixed_forward(torch.device("cpu")), pkg)
        out = _as_tensor(hook.fixed_forward(device), pkg)
    if ref.shape != out.shape:
        raise ValueError(f"{pkg}: fixed_forward gave shape {tuple(ref.shape)} on the CPU, {tuple(out.shape)} on "
                         f"{device}")
    if not (torch.isfinite(ref).all() and torch.isfinite(out).all()):
        raise ValueError(f"{pkg}: fixed_forward returned non-finite values")
    tol = getattr(hook, "FORWARD_TOLERANCE", FORWARD_TOLERANCE) * max(1.0, float(ref.abs().max()))
    return float((ref - out).abs().max()) if ref.numel() else 0.0, tol


def check_paper(pkg: str, device: torch.device, *, amp: bool = True) -> Row:
    """Run one paper's hook on ``device``: timed smoke pass (peak memory on CUDA), then the forward comparison."""
    try:
        hook = load_hook(pkg)
    except Exception as exc:  # noqa: BLE001 - reported in the table
        return Row(pkg, str(device), False, detail=f"{type(exc).__name__}: {exc}")
    kinds = tuple(getattr(hook, "DEVICES", ("cpu", "cuda", "mps")))
    run_on = device if device.type in kinds else torch.device("cpu")
    row = Row(pkg, str(run_on) + ("" if run_on == device else f" (no {device.type} path)"), False)
    try:
        if run_on.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(run_on)
        torch.manual_seed(0)
        _sync(run_on)
        t0 = time.perf_counter()
        metrics = hook.smoke(run_on, amp=amp)
        _sync(run_on)
        row.seconds = time.perf_counter() - t0
        if run_on.type == "cuda":
            row.peak_mib = torch.cuda.max_memory_allocated(run_on) / 2**20
        if not isinstance(metrics, dict) or not metrics:
            raise TypeError(f"smoke() must return a non-empty dict of metrics, got {metrics!r}")
        bad = {k: v for k, v in metrics.items() if not math.isfinite(float(v))}
        if bad:
            raise ValueError(f"non-finite metrics {bad}")
        row.max_diff, row.tolerance = forward_difference(hook, run_on, pkg)
        shown = ", ".join(f"{k}={float(v):.4g}" for k, v in list(metrics.items())[:4])
        if row.max_diff > row.tolerance:
            row.detail = f"fixed forward differs from the CPU by {row.max_diff:.3g} > {row.tolerance:.3g}; {shown}"
        else:
            row.ok, row.detail = True, shown
    except Exception as exc:  # noqa: BLE001 - reported in the table, with the last frames of the traceback
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        row.detail = f"{type(exc).__name__}: {str(exc)[:300]} ({Path(tb.filename).name}:{tb.lineno})"
    return row


# ----------------------------------------------------------------------------------------------- DDP step
def _ddp_worker() -> None:
    """Run under ``torchrun --nproc_per_node 2``: a short AMP fit through the one loop (NCCL on CUDA; gloo on a
    CPU-only machine, where the tests run it), then all ranks' weights are gathered and must be identical."""
    from torch.utils.data import TensorDataset

    from course_lib.train import fit, rank, world_size

    torch.manual_seed(1000 + rank())  # different initial weights per rank: DDP must broadcast rank 0's
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 16, generator=gen)
    y = x @ torch.randn(16, generator=gen) + 0.1
    model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    cuda = torch.cuda.is_available()
    fit(model, opt, lambda m, b: torch.nn.functional.mse_loss(m(b[0]).squeeze(-1).float(), b[1]),
        TensorDataset(x, y), epochs=2, batch_size=16, amp=cuda, progress=False, device="cuda" if cuda else "cpu")
    flat = torch.cat([p.detach().float().flatten() for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(world_size())]
    torch.distributed.all_gather(gathered, flat)
    if rank() == 0:
        spread = max(float((g - gathered[0]).abs().max()) for g in gathered)
        where = torch.cuda.get_device_name() if cuda else "CPU (gloo)"
        print(f"ddp-check: {world_size()} ranks on {where}, max weight spread {spread:.3g}")
        if spread != 0.0:
            raise SystemExit(f"ranks ended with different weights (max spread {spread})")
    torch.distributed.barrier()  # no rank tears the group down while another still uses it (seen to hang)
    torch.distributed.destroy_process_group()


def ddp_step(timeout: int = 240) -> Row:
    """A 2-process DDP step (``torchrun --standalone``) on two GPUs, or two CPU processes without CUDA; the ranks
    must end with identical weights."""
    label = "DDP (2 GPUs)" if torch.cuda.is_available() else "DDP (2 CPU processes)"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "course_lib.gpu_check", "--ddp-worker"]
    t0 = time.perf_counter()
    # Own session, so a timeout kills torchrun *and* its workers (a surviving worker would hold the pipes open).
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Row(label, "2 ranks", False, seconds=timeout, detail=f"timed out after {timeout} s")
    lines = [ln for ln in (stdout + stderr).splitlines() if ln.strip()]
    ok = proc.returncode == 0 and any(ln.startswith("ddp-check:") for ln in lines)
    detail = next((ln for ln in lines if ln.startswith("ddp-check:")), "") if ok else " | ".join(lines[-5:])
    return Row(label, "2 ranks", ok, seconds=time.perf_counter() - t0, detail=detail[:400])


# ----------------------------------------------------------------------------------------------- driver
def run(device: torch.device, *, packages: Sequence[str] | None = None, amp: bool = True,
        ddp: bool | None = None, progress: Callable[[Row], None] | None = None) -> list[Row]:
    """Check every paper (or ``packages``) on ``device``, plus the DDP step when two GPUs are present."""
    os.environ.setdefault("COURSE_SCALE", "smoke")
    warm_up(device)
    rows = []
    for pkg in packages or papers():
        rows.append(check_paper(pkg, device, amp=amp))
        if progress:
            progress(rows[-1])
    if ddp is None:
        ddp = device.type == "cuda" and torch.cuda.device_count() >= 2
    if ddp:
        rows.append(ddp_step())
        if progress:
            progress(rows[-1])
    return rows


def _fmt(v: float, spec: str) -> str:
    return "—" if math.isnan(v) else format(v, spec)


def table(rows: Sequence[Row]) -> str:
    """The markdown table: paper, device, status, seconds, peak GPU memory, max |CPU − GPU|, details."""
    head = ["| paper | device | status | seconds | peak GPU MiB | max abs CPU-GPU diff | tolerance | details |",
            "|---|---|---|---:|---:|---:|---:|---|"]
    body = [f"| {r.paper} | {r.device} | {'ok' if r.ok else 'FAIL'} | {_fmt(r.seconds, '.1f')} | "
            f"{_fmt(r.peak_mib, '.0f')} | {_fmt(r.max_diff, '.2e')} | {_fmt(r.tolerance, '.1e')} | "
            f"{r.detail.replace('|', '/')} |" for r in rows]
    return "\n".join(head + body)


def plan(device: torch.device) -> tuple[list[str], list[str]]:
    """(lines describing what a run would do on ``device``, problems that would make it fail)."""
    lines, problems = [], []
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    lines.append(f"device: {device}" + (f" ({gpus} GPU{'s' if gpus != 1 else ''})" if gpus else ""))
    if device.type == "cpu":
        problems.append("no accelerator is present (torch sees neither CUDA nor MPS): a real run needs one")
    lines.append(f"AMP: {amp_dtype(device) if device.type != 'cpu' else 'off on the CPU'}")
    lines.append(f"DDP step: {'2 processes (torchrun, NCCL)' if gpus >= 2 else 'skipped (needs 2 GPUs)'}")
    for pkg in papers():
        try:
            hook = load_hook(pkg)
            kinds = tuple(getattr(hook, "DEVICES", ("cpu", "cuda", "mps")))
            lines.append(f"  {pkg}: hook ok" + ("" if device.type in kinds else f" (runs on the CPU: {kinds})"))
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{pkg}: {exc}")
    return lines, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="check the plan only (passes on a CPU-only machine)")
    parser.add_argument("--device", default=None, help="auto (default) | cuda | cuda:N | mps | cpu")
    parser.add_argument("--paper", action="append", help="only these packages (repeatable)")
    parser.add_argument("--no-amp", action="store_true", help="train in float32")
    parser.add_argument("--out", default="build/gpu_check.md", help="where to write the table")
    parser.add_argument("--ddp-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ddp_worker:
        _ddp_worker()
        return 0
    device = select_device(args.device)
    if args.dry_run:
        lines, problems = plan(device)
        print("\n".join(["gpu-check plan (dry run):", *lines]))
        hook_problems = [p for p in problems if not p.startswith("no accelerator")]
        for p in problems:
            print(f"  {'ERROR' if p in hook_problems else 'note'}: {p}")
        return 1 if hook_problems else 0
    if device.type == "cpu" and args.device is None:
        print("gpu-check: no accelerator is present (torch.cuda.is_available() is False and no MPS). Run it on a GPU "
              "machine, or use --dry-run (plan only) or --device cpu (the same pass on the CPU).", file=sys.stderr)
        return 2
    print(f"gpu-check on {device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))
    t0 = time.perf_counter()
    rows = run(device, packages=args.paper, amp=not args.no_amp,
               progress=lambda r: print(f"  {r.paper:18s} {'ok' if r.ok else 'FAIL':4s} {_fmt(r.seconds, '.1f')} s"
                                        f"  {r.detail[:160]}", flush=True))
    total = time.perf_counter() - t0
    text = table(rows) + f"\n\nTotal {total:.0f} s on {device}" + (
        f" ({torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda})"
        if device.type == "cuda" else f" (torch {torch.__version__})") + "."
    print("\n" + text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    failed = [r.paper for r in rows if not r.ok]
    if total > BUDGET_SECONDS:
        failed.append(f"total time {total:.0f} s > {BUDGET_SECONDS} s")
    if failed:
        print(f"gpu-check FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"gpu-check passed; table written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
