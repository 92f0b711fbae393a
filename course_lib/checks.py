"""Input checks shared by every paper: one line each, and an error that names what was expected.

* :func:`as_int` — a Python ``int`` from an int or a numpy integer (``np.int64(3)``); bool, float and str raise.
* :func:`require_finite` / :func:`require_finite_tensors` — raise unless every entry is finite (no NaN, no ±inf);
  screened by one sum per tensor (a NaN or inf always poisons the sum), exact check only when a sum is not finite.
* :func:`require_all` — several on-device conditions checked with **one** host synchronisation, so a public entry
  point pays one ``.tolist()`` however many things it validates (keep such checks out of inner loops).
"""
from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
import torch

Message = str | Callable[[], str]


def is_int(value) -> bool:
    """True for ``int`` and numpy integers (``numbers.Integral``), False for bool / ``np.bool_`` and the rest."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def as_int(name: str, value, *, minimum: int | None = None) -> int:
    """``value`` as a Python int (numpy integers accepted), checked against ``minimum``.

    Raises ``TypeError`` for bool, float, str, ... (``True`` is not a count or a seed) and ``ValueError`` below
    ``minimum``.
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int (or a numpy integer), got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return value


def _values(x: torch.Tensor) -> torch.Tensor:
    """The stored entries of a dense or sparse (COO / CSR) tensor."""
    if x.layout == torch.sparse_coo:
        return (x if x.is_coalesced() else x.coalesce()).values()
    if x.layout in (torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc):
        return x.values()
    return x


def finite(x: torch.Tensor) -> torch.Tensor:
    """0-d bool tensor on ``x``'s device: are all entries finite? (Integer and bool tensors always are.)"""
    v = _values(x)
    if not (v.is_floating_point() or v.is_complex()):
        return torch.ones((), dtype=torch.bool, device=v.device)
    return torch.isfinite(v).all()


def _sum_is_finite(tensors: list[torch.Tensor]) -> list[bool]:
    """Fast screen, one host sync: is the sum of each tensor finite? A NaN or ±inf entry always makes the sum
    non-finite; a False can also be an overflow of finite values (then the caller checks exactly), so True is
    exact and False only means "look closer". A sum is one vectorised pass, ~10x cheaper than isfinite().all()."""
    device = tensors[0].device
    sums = [(torch.view_as_real(v) if v.is_complex() else v).sum(dtype=torch.float32).to(device)
            for v in map(_values, tensors)]
    return torch.isfinite(torch.stack(sums)).tolist()


def nonfinite_message(name: str, x) -> str:
    """"<name> must be finite ... found 2 NaN and 1 inf among 12 values of a (3, 4) tensor"."""
    if isinstance(x, torch.Tensor):
        v = _values(x).detach()
        nan, inf, size, kind = int(torch.isnan(v).sum()), int(torch.isinf(v).sum()), v.numel(), "tensor"
    else:
        v = np.asarray(x)
        nan, inf, size, kind = int(np.isnan(v).sum()), int(np.isinf(v).sum()), v.size, "array"
    return (f"{name} must be finite (no NaN or ±inf); found {nan} NaN and {inf} inf among {size} values of a "
            f"{tuple(x.shape)} {kind}")


def require_finite(name: str, x):
    """Return ``x`` unchanged if every entry is finite, else raise ``ValueError`` naming ``name`` and the count
    of NaN / inf entries. Works for torch tensors (dense or sparse; one host sync on an accelerator) and numpy
    arrays; non-float data passes."""
    if isinstance(x, torch.Tensor):
        require_finite_tensors((name, x))
        return x
    arr = np.asarray(x)
    if arr.dtype.kind in "fc":
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum only triggers the exact check
            screened = bool(np.isfinite(arr.sum()))
        if not screened and not np.isfinite(arr).all():
            raise ValueError(nonfinite_message(name, x))
    return x


def require_all(*conditions: tuple[torch.Tensor, Message]) -> None:
    """Check ``(flag, message)`` pairs, each flag a 0-d bool tensor, with one host sync; raise ``ValueError``
    with the message (a string, or a zero-argument callable building it) of the first flag that is False."""
    if not conditions:
        return
    flags = torch.stack([c.reshape(()).to(conditions[0][0].device) for c, _ in conditions]).tolist()
    for ok, (_, message) in zip(flags, conditions):
        if not ok:
            raise ValueError(message() if callable(message) else message)


def require_finite_tensors(*pairs: tuple[str, torch.Tensor | None], **tensors: torch.Tensor | None) -> None:
    """:func:`require_finite` for several tensors, given as ``("name", tensor)`` pairs and/or ``name=tensor``
    (None and non-float tensors skipped), with one host sync when all are finite (a sum per tensor, see
    :func:`_sum_is_finite`; an exact ``isfinite`` check only for a tensor whose sum is not finite)."""
    named = [(n, t) for n, t in (*pairs, *tensors.items())
             if t is not None and (_values(t).is_floating_point() or _values(t).is_complex())]
    if not named:
        return
    for (name, t), ok in zip(named, _sum_is_finite([t for _, t in named])):
        if not ok and not bool(finite(t)):
            raise ValueError(nonfinite_message(name, t))
