"""The counting component, one named function per step (paper §3), all vectorised over the batch.

Shapes: B examples, n proposals; a (B, n) attention in [0, 1]; boxes (B, n, 4) as (x1, y1, x2, y2). Paper
notation f₁…f₈ = ``Counter.f[0..7]`` (same as the official code's ``self.f[0..7]``).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.checks import as_int, finite, nonfinite_message, require_all, require_finite
from course_lib.counting.boxes import _check_boxes, pairwise_iou
from course_lib.counting.piecewise import PiecewiseLinear

#: What each of the eight functions acts on (for plots and docs).
F_ROLES = (
    "f1: A (intra)",
    "f2: D (intra)",
    "f3: similarity",
    "f4: A (inter)",
    "f5: D (inter)",
    "f6: a (confidence)",
    "f7: D (confidence)",
    "f8: confidence",
)


def _check_attention(a: torch.Tensor) -> None:
    if not torch.is_tensor(a) or a.dim() != 2 or not a.is_floating_point():
        raise ValueError(
            f"attention must be a float tensor of shape (B, n), got {getattr(a, 'shape', type(a).__name__)}"
        )


def attention_graph(a: torch.Tensor) -> torch.Tensor:
    """Step 1: A = a aᵀ, i.e. A_ij = a_i a_j (B, n) → (B, n, n). c relevant boxes give c² unit edges."""
    _check_attention(a)
    return a[:, :, None] * a[:, None, :]


def distance_matrix(boxes: torch.Tensor, *, abs_eps: float | None = None) -> torch.Tensor:
    """Step 2: D_ij = 1 − IoU(b_i, b_j) (B, n, 4) → (B, n, n); D_ii = 0 exactly (tiny-box fix, see
    ``pairwise_iou``)."""
    return 1.0 - pairwise_iou(boxes, abs_eps=abs_eps)


def intra_object_dedup(A: torch.Tensor, D: torch.Tensor, f1: nn.Module, f2: nn.Module) -> torch.Tensor:
    """Step 3: Ã = f₁(A) ⊙ f₂(D); removes edges between overlapping proposals of one object and the
    self-loops."""
    if A.shape != D.shape:
        raise ValueError(f"A and D must have the same shape, got {tuple(A.shape)} and {tuple(D.shape)}")
    return f1(A) * f2(D)


def inter_object_similarity(
    a: torch.Tensor, X: torch.Tensor, f3: nn.Module, max_elements: int = 2**15
) -> torch.Tensor:
    """Step 4a: Sim_ij = f₃(1 − |a_i − a_j|) · Π_k f₃(1 − |X_ik − X_jk|) → (B, n, n).

    Two proposals are similar when their attention and their whole rows of X = f₄(A) ⊙ f₅(D) agree, i.e. when
    they look like duplicates of one object. The product runs over a (B, n, n, n) tensor, processed in batch
    chunks of at most ``max_elements`` entries (at least one example): this bounds memory for n = 100, and the
    default 2¹⁵ keeps each temporary cache-sized — on CPU, measured several times faster at n = 10 than one
    (B, n, n, n) tensor for B = 256 (large temporaries are fresh allocations that page-fault on every call).
    """
    _check_attention(a)
    B, n = a.shape
    if X.shape != (B, n, n):
        raise ValueError(f"X must have shape {(B, n, n)}, got {tuple(X.shape)}")
    sim_a = f3(1.0 - (a[:, :, None] - a[:, None, :]).abs())
    chunk = max(1, max_elements // max(1, n**3))
    parts = []
    for start in range(0, B, chunk):
        Xc = X[start : start + chunk]
        diff = (Xc[:, :, None, :] - Xc[:, None, :, :]).abs()  # (b, i, j, k) = |X_ik − X_jk|
        parts.append(f3(1.0 - diff).prod(dim=-1))
    return sim_a * torch.cat(parts, 0)


def inter_object_dedup(A_tilde: torch.Tensor, sim: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 4b: s_i = Σ_j Sim_ij and C_ij = Ã_ij / (s_i s_j) → (C, s). Duplicates share their edges' weight.
    """
    if A_tilde.shape != sim.shape:
        raise ValueError(
            f"Ã and Sim must have the same shape, got {tuple(A_tilde.shape)}, {tuple(sim.shape)}"
        )
    s = sim.sum(dim=-1)
    return A_tilde / (s[:, :, None] * s[:, None, :]), s


def self_loop_correction(a: torch.Tensor, s: torch.Tensor, f1: nn.Module) -> torch.Tensor:
    """Step 5: the self-loops removed by D_ii = 0 come back as C_ii = f₁(a_i a_i) / s_i → (B, n)."""
    _check_attention(a)
    return f1(a * a) / s


def count_from_graph(C: torch.Tensor, correction: torch.Tensor) -> torch.Tensor:
    """Step 6: c = √(Σ_ij C_ij + Σ_i C_ii + 1e-20) → (B,) (c objects with self-loops form c² edges)."""
    total = C.sum(dim=(-2, -1)) + correction.sum(dim=-1)
    return (total + 1e-20).sqrt()


def interpolated_one_hot(c: torch.Tensor, n: int) -> torch.Tensor:
    """Step 7: linear interpolation between the one-hots of ⌊c⌋ and ⌈c⌉ after clamping c to [0, n] → (B, n +
    1).

    Example (n = 3): 2.75 → [0, 0, 0.25, 0.75]. The gradient flows through the fractional part.
    ``n``: a positive int (numpy integers accepted); NaN / inf counts raise ``ValueError``.
    """
    if not torch.is_tensor(c) or not c.is_floating_point():
        raise TypeError(f"c must be a float tensor, got {type(c).__name__}")
    n = as_int("n (maximum count)", n, minimum=1)
    return _interpolated_one_hot(require_finite("c (counts)", c), n)


def _interpolated_one_hot(c: torch.Tensor, n: int) -> torch.Tensor:
    """:func:`interpolated_one_hot` without the checks (no host sync)."""
    c = c.reshape(-1).clamp(0.0, float(n))
    lo = c.detach().floor().long().clamp(max=n)
    frac = (c - lo.to(c.dtype))[:, None]
    hi = (lo + 1).clamp(max=n)
    return (1 - frac) * F.one_hot(lo, n + 1).to(c.dtype) + frac * F.one_hot(hi, n + 1).to(c.dtype)


def count_confidence(
    a: torch.Tensor, D: torch.Tensor, f6: nn.Module, f7: nn.Module, f8: nn.Module
) -> torch.Tensor:
    """Step 8: p_a = mean_i |f₆(a_i) − ½|, p_D = mean_ij |f₇(D_ij) − ½|, confidence = f₈(p_a + p_D) → (B, 1).
    """
    p_a = (f6(a) - 0.5).abs().mean(dim=-1)
    p_d = (f7(D) - 0.5).abs().mean(dim=(-2, -1))
    return f8(p_a + p_d)[:, None]


def select_top_proposals(
    boxes: torch.Tensor, attention: torch.Tensor, n: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the ``n`` proposals with the highest attention (the counter only sees the top n; paper uses 10).
    """
    _check_boxes(boxes)
    _check_attention(attention)
    if boxes.shape[:2] != attention.shape:
        raise ValueError(
            f"boxes (B, m, 4) and attention (B, m) disagree: {tuple(boxes.shape)}, {tuple(attention.shape)}"
        )
    n = as_int("n", n, minimum=1)
    if attention.shape[1] < n:
        raise ValueError(f"need at least n = {n} proposals per example, got {attention.shape[1]}")
    if attention.shape[1] == n:
        return boxes, attention
    attention, idx = attention.topk(n, dim=1)
    return torch.gather(boxes, 1, idx[..., None].expand(-1, -1, 4)), attention


@dataclasses.dataclass
class CounterTrace:
    """All named intermediates of one forward pass (for visualisation and tests)."""

    a: torch.Tensor  # (B, n) attention after top-n selection (and sigmoid)
    boxes: torch.Tensor  # (B, n, 4)
    A: torch.Tensor  # attention graph a aᵀ
    D: torch.Tensor  # distance 1 − IoU
    A_tilde: torch.Tensor  # intra-object de-duplicated graph f₁(A) ⊙ f₂(D)
    X: torch.Tensor  # f₄(A) ⊙ f₅(D)
    sim: torch.Tensor  # Sim_ij
    s: torch.Tensor  # row sums of Sim
    C: torch.Tensor  # scaled graph incl. the self-loop correction on the diagonal
    count: torch.Tensor  # (B,) c = √ΣC
    one_hot: torch.Tensor  # (B, n + 1) interpolated one-hot o
    confidence: torch.Tensor  # (B, 1) f₈(p_a + p_D)
    output: torch.Tensor  # (B, n + 1) o · confidence (the feature the VQA model consumes)


class Counter(nn.Module):
    """The counting component of the paper: boxes + attention → count feature (B, n_objects + 1).

    Eight monotone piecewise-linear functions (8 × d parameters, 128 for d = 16), all identity at
    initialisation. ``attention_is_logits=True`` applies a sigmoid first (the VQA setting); otherwise
    attention must already lie in [0, 1] (the toy setting). Only the top ``n_objects`` proposals by attention
    are used.
    """

    def __init__(
        self,
        n_objects: int = 10,
        d: int = 16,
        *,
        attention_is_logits: bool = False,
        abs_eps: float | None = None,
        max_elements: int = 2**15,
    ):
        super().__init__()
        self.n_objects = as_int("n_objects", n_objects, minimum=1)
        self.attention_is_logits = attention_is_logits
        self.abs_eps = abs_eps
        self.max_elements = max_elements
        self.f = nn.ModuleList([PiecewiseLinear(d) for _ in range(8)])

    def trace(self, boxes: torch.Tensor, attention: torch.Tensor) -> CounterTrace:
        """Run all steps and return every intermediate (see :class:`CounterTrace`).

        Boxes must be finite with x1 <= x2, y1 <= y2 (checked by :func:`pairwise_iou`) and the attention finite
        (in [0, 1] unless logits): two host syncs per call, as many as before the checks existed.
        """
        #: Inputs: keep the top-$n$ proposals by attention; $a = \sigma(\text{logits}) \in [0, 1]^n$.
        boxes, a = select_top_proposals(boxes, attention, self.n_objects)
        checks = [(finite(a), lambda: nonfinite_message("attention", a))]
        if not self.attention_is_logits:
            checks.append((((a >= 0) & (a <= 1)).all(), "attention must lie in [0, 1] (or pass "
                                                          "attention_is_logits=True)"))
        require_all(*checks)
        if self.attention_is_logits:
            a = torch.sigmoid(a)
        f = self.f
        #: **Step 1, attention graph** $A = a a^\top$: with $c$ relevant boxes of weight 1 it has $c^2$ edges,
        #: so the count is $\sqrt{\sum A}$ — if no two proposals cover the same object.
        A = attention_graph(a)
        #: **Step 2, distance** $D_{ij} = 1 - \mathrm{IoU}(b_i, b_j)$.
        D = distance_matrix(boxes, abs_eps=self.abs_eps)
        #: **Step 3, intra-object de-duplication** $\tilde A = f_1(A) \odot f_2(D)$: edges between heavily
        #: overlapping proposals (one object) are removed; $D_{ii} = 0$ removes the self-loops.
        A_tilde = intra_object_dedup(A, D, f[0], f[1])
        #: **Step 4, inter-object de-duplication.** $X = f_4(A) \odot f_5(D)$;
        #: $\mathrm{Sim}_{ij} = f_3(1 - |a_i - a_j|) \prod_k f_3(1 - |X_{ik} - X_{jk}|)$;
        #: $s_i = \sum_j \mathrm{Sim}_{ij}$;
        #: $C_{ij} = \tilde A_{ij} / (s_i s_j)$: a proposal with $s_i$ look-alikes contributes $1/s_i$ of an object.
        X = f[3](A) * f[4](D)
        sim = inter_object_similarity(a, X, f[2], self.max_elements)
        C, s = inter_object_dedup(A_tilde, sim)
        #: **Step 5, self-loops back**: $C_{ii} = f_1(a_i a_i) / s_i$.
        #:
        #: **Step 6, count** $c = \sqrt{\sum_{ij} C_{ij}}$.
        correction = self_loop_correction(a, s, f[0])
        count = count_from_graph(C, correction)
        #: **Step 7**: $o$ = linear interpolation between the one-hots of $\lfloor c \rfloor$ and $\lceil c \rceil$.
        #:
        #: **Step 8, confidence** $p_a = \mathrm{mean}_i |f_6(a_i) - \tfrac12|$,
        #: $p_D = \mathrm{mean}_{ij} |f_7(D_{ij}) - \tfrac12|$;
        #: the output is $o \cdot f_8(p_a + p_D)$.
        one_hot = _interpolated_one_hot(count, self.n_objects)  # interpolated_one_hot without its NaN check
        conf = count_confidence(a, D, f[5], f[6], f[7])
        C_full = C + torch.diag_embed(correction)
        return CounterTrace(
            a=a,
            boxes=boxes,
            A=A,
            D=D,
            A_tilde=A_tilde,
            X=X,
            sim=sim,
            s=s,
            C=C_full,
            count=count,
            one_hot=one_hot,
            confidence=conf,
            output=one_hot * conf,
        )

    def forward(self, boxes: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Count feature o · f₈(p_a + p_D) of shape (B, n_objects + 1)."""
        return self.trace(boxes, attention).output

    def count(self, boxes: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """The real-valued count c = √ΣC (B,) before interpolation."""
        return self.trace(boxes, attention).count


def hand_set_counter(n_objects: int = 10, threshold: float = 0.5, d: int = 16) -> Counter:
    """A Counter whose distance functions f₂ and f₅ are hand-set steps at ``threshold`` (others identity).

    Pairs with D ≤ threshold (IoU ≥ 1 − threshold) are treated as one object: their edge is removed (f₂) and
    their rows of X agree (f₅), so Sim = 1 between them and a group of k duplicates contributes exactly 1 to
    the count. Used to check the algebra of steps 3–6 without training.
    """
    counter = Counter(n_objects, d)
    counter.f[1] = PiecewiseLinear.step(threshold, d)
    counter.f[4] = PiecewiseLinear.step(threshold, d)
    return counter
