"""What every notebook calls first: :func:`setup_notebook`, plus :func:`show_source` to show library code."""
from __future__ import annotations

import dataclasses
import inspect
import os
import platform
import sys
import textwrap

import torch

from course_lib.device import get_device
from course_lib.repro import seed_everything, set_threads
from course_lib.scale import get_scale


@dataclasses.dataclass(frozen=True)
class NotebookContext:
    """Resolved settings of one notebook run."""

    scale: str
    device: torch.device
    seed: int
    threads: int
    headless: bool


def is_headless() -> bool:
    """True under CI, papermill or nbval runs (``COURSE_HEADLESS=1``): views render static figures only."""
    return os.environ.get("COURSE_HEADLESS", "0").strip().lower() in ("1", "true", "yes")


def setup_notebook(scale: str | None = None, device: str | None = None, seed: int = 0,
                   threads: int | None = None, quiet: bool = False) -> NotebookContext:
    """Resolve scale and device, seed everything, set the thread count and print a one-line summary."""
    import matplotlib

    ctx = NotebookContext(scale=get_scale(scale), device=get_device(device, announce=False), seed=seed,
                          threads=set_threads(threads), headless=is_headless())
    seed_everything(seed)
    matplotlib.rcParams.update({"figure.dpi": 90, "figure.figsize": (7.0, 4.0), "axes.grid": True,
                                "grid.alpha": 0.3})
    if not quiet:
        from course_lib import __version__
        print(f"[course_lib {__version__}] scale={ctx.scale} device={ctx.device} seed={seed} "
              f"threads={ctx.threads} headless={ctx.headless} | python {platform.python_version()} "
              f"torch {torch.__version__}")
    return ctx


def show_source(obj, *, lines: tuple[int, int] | None = None) -> None:
    """Print the source of a library function or class (optionally a 1-based inclusive line range of it)."""
    try:
        src = inspect.getsource(obj)
    except (TypeError, OSError) as exc:
        raise TypeError(f"show_source needs a python function, class or module, got {type(obj).__name__}") from exc
    src = textwrap.dedent(src)
    if lines is not None:
        start, stop = lines
        src = "\n".join(src.splitlines()[start - 1:stop])
    where = f"{obj.__module__}.{obj.__qualname__}" if hasattr(obj, "__qualname__") else obj.__name__
    print(f"# --- {where} ---")
    print(src)


def environment_report() -> dict[str, str]:
    """Versions, device and data availability, for the start-here environment check."""
    import importlib.metadata as md

    from course_lib.data import availability

    report = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("torch", "numpy", "pandas", "matplotlib", "networkx", "ipywidgets", "jupyterlab", "papermill",
                "nbval", "torch_geometric", "opencv-contrib-python-headless", "scikit-image", "sacrebleu"):
        try:
            report[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            report[pkg] = "not installed"
    report["cuda available"] = str(torch.cuda.is_available())
    report["device (COURSE_DEVICE)"] = str(get_device(announce=False))
    report["scale (COURSE_SCALE)"] = get_scale()
    avail = availability()
    ok = sum(1 for v in avail.values() if v != "missing")
    report["datasets available"] = f"{ok}/{len(avail)}"
    return report
