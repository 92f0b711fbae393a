"""Reproducibility: one seeding helper and one thread-count helper."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

from course_lib.checks import as_int

# Measured on the 2-core CI machine class (benchmarks/bench_core.py): small models train fastest with one
# intra-op thread per process, and CI runs two notebooks in parallel, one per core.
DEFAULT_THREADS = 1


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed python, numpy and torch (CPU and CUDA); ask for deterministic kernels where torch has them.

    ``seed``: a non-negative int or numpy integer (``TypeError`` for bool / float, ``ValueError`` if negative).
    """
    seed = as_int("seed", seed, minimum=0)  # numpy integers accepted; True / 1.0 / "0" are not seeds
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count from ``n`` or ``COURSE_THREADS`` (default 1) and return it."""
    raw = n if n is not None else os.environ.get("COURSE_THREADS", DEFAULT_THREADS)
    try:
        threads = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"COURSE_THREADS must be a positive integer, got {raw!r}") from None
    if threads < 1:
        raise ValueError(f"COURSE_THREADS must be a positive integer, got {threads}")
    torch.set_num_threads(threads)
    return threads
