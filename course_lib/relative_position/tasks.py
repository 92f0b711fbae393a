"""Synthetic sequence-labelling tasks with a length split, generated vectorised in torch.

Every task maps a random digit sequence x (vocabulary 0..9) to one label per position; positions whose label
needs tokens before the sequence start get the blank class 10. All are deterministic given a generator seed.

- ``offset``     — y_i = x_{i-2}: pure relative addressing (a relative model with k >= 2 can solve it at any
  length; an absolute model must learn it separately for every position);
- ``sum_mod``    — y_i = (x_{i-1} + x_{i-2}) mod 10: needs two relative lookups and a non-linear combination;
- ``far_offset`` — y_i = x_{i-12}: for a clipping distance k <= 12 the distance -12 shares the clipped vector
  w_{-k} with every farther distance, so a one-layer relative model cannot find the source token (the clipping
  trade-off made visible; k >= 13 is needed);
- ``reverse_window`` — y_i = x_{4*floor(i/4) + 3 - (i mod 4)} (reverse each block of 4 tokens; the last
  incomplete block is blank): needs absolute phase information (i mod 4) that relative attention alone
  cannot see from inside a long sequence — a task where relative positions are *not* enough.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

VOCAB = 10
BLANK = 10
NUM_CLASSES = 11


def _offset(shift: int) -> Callable[[torch.Tensor], torch.Tensor]:
    def labels(x: torch.Tensor) -> torch.Tensor:
        y = torch.full_like(x, BLANK)
        if shift < x.shape[1]:
            y[:, shift:] = x[:, :-shift]
        return y
    return labels


def _sum_mod(x: torch.Tensor) -> torch.Tensor:
    y = torch.full_like(x, BLANK)
    y[:, 2:] = (x[:, 1:-1] + x[:, :-2]) % VOCAB
    return y


def _reverse_window(x: torch.Tensor, w: int = 4) -> torch.Tensor:
    n = x.shape[1]
    full = (n // w) * w
    y = torch.full_like(x, BLANK)
    if full:
        y[:, :full] = x[:, :full].view(x.shape[0], -1, w).flip(-1).reshape(x.shape[0], full)
    return y


@dataclasses.dataclass(frozen=True)
class SyntheticTask:
    """A labelling rule with its name and a one-line description."""

    name: str
    description: str
    labels: Callable[[torch.Tensor], torch.Tensor]
    vocab: int = VOCAB
    num_classes: int = NUM_CLASSES


TASKS = {
    "offset": SyntheticTask("offset", "y_i = x_{i-2}", _offset(2)),
    "sum_mod": SyntheticTask("sum_mod", "y_i = (x_{i-1} + x_{i-2}) mod 10", _sum_mod),
    "far_offset": SyntheticTask("far_offset", "y_i = x_{i-12}", _offset(12)),
    "reverse_window": SyntheticTask("reverse_window", "reverse every block of 4 tokens", _reverse_window),
}


def get_task(task: str | SyntheticTask) -> SyntheticTask:
    """Look a task up by name (or pass a :class:`SyntheticTask` through)."""
    if isinstance(task, SyntheticTask):
        return task
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    return TASKS[task]


def make_batch(task: str | SyntheticTask, batch_size: int, length: int, *, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y): uniform random digits (batch_size, length) and their labels, both int64."""
    t = get_task(task)
    if batch_size < 1 or length < 1:
        raise ValueError(f"batch_size and length must be >= 1, got {batch_size}, {length}")
    x = torch.randint(0, t.vocab, (batch_size, length), generator=generator)
    y = t.labels(x)
    return x.to(device), y.to(device)
