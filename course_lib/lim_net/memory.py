"""Memory readout, the inspectable memory bank and bidirectional propagation (XMem / STCN; the paper's Fig. 1).

Readout (STCN / XMem without shrinkage and selection terms), for memory keys ``k^M`` (C_k x N), memory values
``v^M`` (C_v x N) and query keys ``k^Q`` (C_k x M):

    S_ij = -||k^M_i - k^Q_j||^2 / sqrt(C_k)                       (Eq. 1, :func:`affinity`)
    W_:j = softmax_i over the top-k entries of S_:j, 0 elsewhere   (Eq. 2, :func:`topk_softmax`)
    F    = v^M W                                                   (Eq. 3, :func:`readout`)

Memory = the interacted slices (permanent, one entry per slice, replaced when the slice is re-interacted) + a
FIFO working memory of the last ``fifo_size`` propagated slices (every ``mem_every``-th one is written).
XMem's long-term memory (test-time only, no parameters) and sensory memory are left out: with <= 112 slices the
FIFO + permanent memory is enough (a workbook simplification, stated in the notebooks).
"""
from __future__ import annotations

import collections
import dataclasses
import math

import torch

from course_lib.lim_net.models import MemoryNet


def affinity(mem_keys: torch.Tensor, query_keys: torch.Tensor, *, include_query_norm: bool = False) -> torch.Tensor:
    """Eq. (1): negative squared-L2 similarity ``S (B, N, M)`` of memory keys ``(B, C_k, N)`` and queries
    ``(B, C_k, M)``.

    ``S = (2 k^M.k^Q - |k^M|^2 [- |k^Q|^2]) / sqrt(C_k)``. The query-norm term is constant over the memory
    index i, so it cancels in the softmax of Eq. (2); it is left out unless ``include_query_norm``.
    """
    if mem_keys.ndim != 3 or query_keys.ndim != 3 or mem_keys.shape[:2] != query_keys.shape[:2]:
        raise ValueError(f"expected mem_keys (B, C_k, N) and query_keys (B, C_k, M) with equal B, C_k; got "
                         f"{tuple(mem_keys.shape)} and {tuple(query_keys.shape)}")
    ck = mem_keys.shape[1]
    s = 2 * mem_keys.transpose(1, 2) @ query_keys - mem_keys.pow(2).sum(1)[:, :, None]
    if include_query_norm:
        s = s - query_keys.pow(2).sum(1)[:, None, :]
    return s / math.sqrt(ck)


def topk_softmax(similarity: torch.Tensor, top_k: int | None) -> torch.Tensor:
    """Eq. (2): softmax over the memory axis (dim 1) restricted to the ``top_k`` largest entries per query.

    Entries outside the top-k get weight exactly 0; every column sums to 1. ``top_k=None`` (or >= N) is the
    plain softmax.
    """
    n = similarity.shape[1]
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
    if top_k is None or top_k >= n:
        return torch.softmax(similarity, dim=1)
    vals, idx = similarity.topk(top_k, dim=1)
    weights = torch.softmax(vals, dim=1)
    return torch.zeros_like(similarity).scatter_(1, idx, weights)


def readout(mem_keys: torch.Tensor, mem_values: torch.Tensor, query_keys: torch.Tensor, top_k: int | None = 20,
            return_weights: bool = False):
    """Eq. (3): ``F = v^M W`` -> ``(B, C_v, M)``; optionally also the affinity weights ``W (B, N, M)``."""
    if mem_values.ndim != 3 or mem_values.shape[0] != mem_keys.shape[0] or mem_values.shape[2] != mem_keys.shape[2]:
        raise ValueError(f"mem_values must be (B, C_v, N) matching mem_keys {tuple(mem_keys.shape)}, "
                         f"got {tuple(mem_values.shape)}")
    w = topk_softmax(affinity(mem_keys, query_keys), top_k)
    out = mem_values @ w
    return (out, w) if return_weights else out


@dataclasses.dataclass(frozen=True)
class MemoryEntry:
    """One memory frame: slice ``z``, ``kind`` ("permanent" / "working"), key ``(C_k, h, w)``, value ``(C_v, h, w)``."""

    z: int
    kind: str
    key: torch.Tensor
    value: torch.Tensor


class MemoryBank:
    """Permanent memory (interacted slices) + FIFO working memory, as explicit, copyable state.

    ``fifo_size`` is the working-memory length (XMem's T_max for a FIFO without consolidation); ``mem_every``
    (XMem's r) is used by :func:`propagate` to decide which propagated slices are written. Nothing here has
    parameters: like XMem's memory manager, the bank is test-time state only.
    """

    def __init__(self, fifo_size: int = 4):
        if fifo_size < 0:
            raise ValueError(f"fifo_size must be >= 0, got {fifo_size}")
        self.fifo_size = fifo_size
        self.permanent: dict[int, MemoryEntry] = {}
        self.working: collections.deque[MemoryEntry] = collections.deque(maxlen=fifo_size or None)

    def add_permanent(self, z: int, key: torch.Tensor, value: torch.Tensor) -> None:
        """Store (or replace) the interacted slice ``z``; permanent entries are never evicted."""
        self.permanent[int(z)] = MemoryEntry(int(z), "permanent", key.detach(), value.detach())

    def add_working(self, z: int, key: torch.Tensor, value: torch.Tensor) -> None:
        """Push a propagated slice into the FIFO working memory (the oldest is dropped when full)."""
        if self.fifo_size == 0:
            return
        self.working.append(MemoryEntry(int(z), "working", key.detach(), value.detach()))

    def entries(self) -> list[MemoryEntry]:
        """Permanent entries (sorted by slice) followed by working entries (oldest first)."""
        return [self.permanent[z] for z in sorted(self.permanent)] + list(self.working)

    def __len__(self) -> int:
        return len(self.permanent) + len(self.working)

    def frames(self) -> list[tuple[int, str]]:
        """``[(z, kind), ...]`` in the order of :meth:`entries`: what the memory holds right now."""
        return [(e.z, e.kind) for e in self.entries()]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Memory keys ``(1, C_k, N)`` and values ``(1, C_v, N)`` with ``N = frames * h * w``."""
        entries = self.entries()
        if not entries:
            raise RuntimeError("the memory bank is empty: add the interacted slice first")
        keys = torch.stack([e.key for e in entries], dim=1).flatten(1)[None]
        values = torch.stack([e.value for e in entries], dim=1).flatten(1)[None]
        return keys, values

    def copy(self) -> MemoryBank:
        """A new bank with the same entries (tensors are shared; entries are immutable)."""
        other = MemoryBank(self.fifo_size)
        other.permanent = dict(self.permanent)
        other.working = collections.deque(self.working, maxlen=self.working.maxlen)
        return other

    def reset_working(self) -> None:
        """Empty the working memory, keep the permanent one (done at the start of each propagation direction)."""
        self.working.clear()

    def state(self) -> list[dict]:
        """Human-readable state: one dict per frame with slice, kind and tensor shapes."""
        return [{"slot": i, "z": e.z, "kind": e.kind, "key": tuple(e.key.shape), "value": tuple(e.value.shape)}
                for i, e in enumerate(self.entries())]


@dataclasses.dataclass
class PropagationResult:
    """Output of :func:`propagate`: probabilities ``(Z, H, W)`` and, per slice, the memory frames it read."""

    probs: torch.Tensor
    start: int
    memory_frames: dict[int, list[tuple[int, str]]]
    covered: torch.Tensor | None = None  # (Z,) bool: slices this propagation predicted (or prompted)


def _encode_value(net: MemoryNet, image: torch.Tensor, mask: torch.Tensor, feats):
    return net.encode_value(image[None, None], mask[None, None].to(image.dtype), feats)[0]


@torch.no_grad()
def build_permanent(net: MemoryNet, image: torch.Tensor, prompts: dict[int, torch.Tensor],
                    fifo_size: int) -> MemoryBank:
    """A bank whose permanent memory holds every interacted slice ``z -> prompt mask (H, W)``."""
    bank = MemoryBank(fifo_size)
    for z, mask in sorted(prompts.items()):
        key, feats = net.encode_key(image[z][None, None])
        bank.add_permanent(z, key[0], _encode_value(net, image[z], mask, feats))
    return bank


@torch.no_grad()
def propagate(net: MemoryNet, image: torch.Tensor, prompts: dict[int, torch.Tensor], start: int, *,
              top_k: int | None = 20, fifo_size: int = 4, mem_every: int = 1,
              bank: MemoryBank | None = None, directions: tuple[int, ...] = (1, -1),
              stop_at_prompts: bool = False) -> PropagationResult:
    """Propagate from slice ``start`` towards both ends of the volume.

    ``image`` is ``(Z, H, W)``; ``prompts`` maps every interacted slice to its prompt mask (these slices are
    permanent memory and keep their prompt in the output). Each direction starts with an empty FIFO; each
    predicted slice reads the memory (Eqs. 1-3), is decoded, and every ``mem_every``-th one is written to the
    FIFO with its soft mask. ``bank`` (e.g. a copy of a saved one) replaces the permanent memory if given.
    ``directions=(1,)`` or ``(-1,)`` propagates one way only (slices on the other side stay 0), for comparison.
    ``stop_at_prompts=True`` stops each direction at the next interacted slice (MiVOS-style re-propagation);
    the slices beyond it are not predicted (0) and listed in ``PropagationResult.covered`` as False.
    The decoder also receives the soft mask of the previously segmented neighbour slice (the prompt for the
    first step), see :class:`~course_lib.lim_net.models.MaskDecoder`.
    """
    if image.ndim != 3:
        raise ValueError(f"image must be (Z, H, W), got {tuple(image.shape)}")
    Z = image.shape[0]
    if start not in prompts:
        raise ValueError(f"the start slice {start} must be an interacted slice (a key of prompts)")
    if not 0 <= start < Z:
        raise ValueError(f"start={start} outside 0..{Z - 1}")
    if mem_every < 1:
        raise ValueError(f"mem_every must be >= 1, got {mem_every}")
    net.eval()
    base = bank.copy() if bank is not None else build_permanent(net, image, prompts, fifo_size)
    probs = torch.zeros_like(image)
    covered = torch.zeros(Z, dtype=torch.bool)
    frames: dict[int, list[tuple[int, str]]] = {}
    for z, mask in prompts.items():
        probs[z] = mask.to(image.dtype)
        covered[z] = True
    if not set(directions) <= {1, -1} or not directions:
        raise ValueError(f"directions must be a non-empty subset of (1, -1), got {directions}")
    for step in directions:
        mem = base.copy()
        mem.reset_working()
        z, n = start + step, 0
        prev = prompts[start].to(image.dtype)
        while 0 <= z < Z:
            if z in prompts:
                if stop_at_prompts:
                    break
                prev = prompts[z].to(image.dtype)
            else:
                key, feats = net.encode_key(image[z][None, None])
                mk, mv = mem.tensors()
                frames[z] = mem.frames()
                out = readout(mk, mv, key.flatten(2), top_k).view(1, mv.shape[1], *key.shape[-2:])
                prob = torch.sigmoid(net.decode(out, feats, prev[None, None]))[0, 0]
                probs[z], covered[z], prev = prob, True, prob
                n += 1
                if n % mem_every == 0:
                    mem.add_working(z, key[0], _encode_value(net, image[z], prob, feats))
            z += step
    return PropagationResult(probs=probs, start=start, memory_frames=frames, covered=covered)


@torch.no_grad()
def attention_for_pixel(net: MemoryNet, image: torch.Tensor, frames: list[tuple[int, str]], z: int, y: int, x: int,
                        top_k: int | None = 20) -> torch.Tensor:
    """Affinity weights ``(n_frames, h, w)`` of query pixel ``(y, x)`` of slice ``z`` over the memory frames.

    Only keys enter Eqs. (1)-(2), and keys depend on the image alone, so the weights can be recomputed from the
    list of memory frames that :func:`propagate` recorded for slice ``z``.
    """
    H, W = image.shape[-2:]
    if not (0 <= y < H and 0 <= x < W):
        raise ValueError(f"pixel ({y}, {x}) outside the {H}x{W} slice")
    if not frames:
        raise ValueError("no memory frames given (interacted slices have no recorded memory read)")
    qkey, _ = net.encode_key(image[z][None, None])
    h, w = qkey.shape[-2:]
    qy, qx = min(h - 1, y * h // H), min(w - 1, x * w // W)
    mkeys = net.encode_key(image[[f[0] for f in frames]][:, None])[0]  # (n, C_k, h, w)
    mk = mkeys.permute(1, 0, 2, 3).flatten(1)[None]
    q = qkey[:, :, qy, qx][:, :, None]
    weights = topk_softmax(affinity(mk, q), top_k)[0, :, 0]
    return weights.view(len(frames), h, w)
