"""Speed and memory of the attention formulations (paper §3.3) against torch SDPA / MultiheadAttention and peers.

Timing protocol: forward + backward, candidates interleaved round by round (a slow phase of a shared machine hits
all of them), best of ``rounds``. With one torch thread the clock is the thread's CPU time
(``time.thread_time``), which other processes on a shared CPU barely disturb; otherwise wall time.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

import pandas as pd
import torch
import torch.nn.functional as F

from course_lib.device import clock
from course_lib.relative_position.attention import relative_attention


def _clock(device=None) -> Callable[[], float]:
    if device is not None and torch.device(device).type in ("cuda", "mps"):  # asynchronous: synchronise
        return lambda: clock(device)
    return time.thread_time if torch.get_num_threads() == 1 else time.perf_counter


def interleaved_timings(candidates: dict[str, Callable[[], object]], *, rounds: int = 10, warmup: int = 2,
                        device=None) -> dict[str, float]:
    """Best-of-``rounds`` seconds of each zero-argument callable, measured round-robin (CUDA/MPS: synchronised)."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    clock = _clock(device)
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    best = {name: math.inf for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            t0 = clock()
            fn()
            best[name] = min(best[name], clock() - t0)
    return best


def _fwd_bwd(fn, inputs, grad):
    def run():
        for t in inputs:
            t.grad = None
        out = fn()
        out.backward(grad)
    return run


def core_candidates(n: int, *, batch: int = 8, heads: int = 4, d_head: int = 32, k: int = 16,
                    naive_max_n: int = 128, seed: int = 0, device=None) -> dict[str, Callable[[], None]]:
    """Forward+backward closures of the attention core alone on (batch, heads, n, d_head) inputs.

    ``sdpa`` is torch's fused scaled_dot_product_attention (no positions); ``math`` the same with an explicit
    softmax (what any formulation that needs the probabilities must at least do); the rest are ours with a^K and
    a^V (``keys only`` without a^V). The naive oracle only up to ``naive_max_n`` (its memory is b·h·n²·d).
    """
    g = torch.Generator().manual_seed(seed)
    q, kk, v = (torch.randn(batch, heads, n, d_head, generator=g).to(device).requires_grad_() for _ in range(3))
    wk, wv = (torch.randn(2 * k + 1, d_head, generator=g).to(device).requires_grad_() for _ in range(2))
    grad = torch.randn(batch, heads, n, d_head, generator=g).to(device)
    ins = (q, kk, v, wk, wv)

    def math_attention():
        p = torch.softmax(torch.matmul(q, kk.transpose(-1, -2)) / math.sqrt(d_head), -1)
        return torch.matmul(p, v)

    c = {"torch SDPA (no positions)": _fwd_bwd(lambda: F.scaled_dot_product_attention(q, kk, v), ins, grad),
         "explicit-softmax attention (no positions)": _fwd_bwd(math_attention, ins, grad),
         "ours fused (a^K + a^V)": _fwd_bwd(lambda: relative_attention(q, kk, v, wk, wv)[0], ins, grad),
         "ours fused, keys only": _fwd_bwd(lambda: relative_attention(q, kk, v, wk, None)[0], ins, grad),
         "SDPA + float bias, keys only": _fwd_bwd(
             lambda: relative_attention(q, kk, v, wk, None, impl="sdpa_bias")[0], ins, grad),
         "paper split einsum (a^K + a^V)": _fwd_bwd(
             lambda: relative_attention(q, kk, v, wk, wv, impl="einsum")[0], ins, grad)}
    if n <= naive_max_n:
        c["naive (b,h,n,n,d) reference"] = _fwd_bwd(lambda: relative_attention(q, kk, v, wk, wv, impl="naive")[0],
                                                    ins, grad)
    return c


def module_candidates(n: int, *, batch: int = 8, d_model: int = 128, heads: int = 4, k: int = 16,
                      compile_einsum: bool = False, peers: bool = False, seed: int = 0,
                      device=None) -> dict[str, Callable[[], None]]:
    """Forward+backward closures of whole self-attention modules (projections included) on (batch, n, d_model).

    The baseline is ``torch.nn.MultiheadAttention``; ``compile_einsum`` adds ``torch.compile`` of the einsum
    module (slow to compile; needs a C++ compiler); ``peers`` adds transformers' T5 and DeBERTa-v2 attention.
    """
    from course_lib.relative_position.peers import (
        DebertaDisentangledAttention,
        ShawAttention,
        T5RelativeBiasAttention,
        TorchMHA,
    )

    torch.manual_seed(seed)
    x = torch.randn(batch, n, d_model, device=device, requires_grad=True)
    grad = torch.randn(batch, n, d_model, device=device)
    mods = {"torch nn.MultiheadAttention": TorchMHA(d_model, heads),
            "ours fused (a^K + a^V)": ShawAttention(d_model, heads, k),
            "paper split einsum (a^K + a^V)": ShawAttention(d_model, heads, k, impl="einsum")}
    if compile_einsum:
        mods["torch.compile(einsum)"] = torch.compile(ShawAttention(d_model, heads, k, impl="einsum"))
    if peers:
        mods["T5 relative bias (transformers)"] = T5RelativeBiasAttention(d_model, heads)
        mods["DeBERTa-v2 disentangled (transformers)"] = DebertaDisentangledAttention(d_model, heads)
    out = {}
    for name, m in mods.items():
        m.to(device)
        params = [p for p in m.parameters()]
        out[name] = _fwd_bwd(lambda m=m: m(x), [x, *params], grad)
    return out


def timing_table(ns=(64, 256, 1024), *, level: str = "core", rounds: int = 10, batch: int = 8,
                 compile_einsum: bool = False, peers: bool = False, device=None,
                 baseline: str | None = None) -> pd.DataFrame:
    """Milliseconds and ratio to the baseline (SDPA for ``core``, nn.MultiheadAttention for ``module``) per n."""
    if level not in ("core", "module"):
        raise ValueError(f"level must be 'core' or 'module', got {level!r}")
    rows = []
    for n in ns:
        if level == "core":
            cands = core_candidates(n, batch=batch, device=device)
            base = baseline or "torch SDPA (no positions)"
        else:
            cands = module_candidates(n, batch=batch, compile_einsum=compile_einsum, peers=peers, device=device)
            base = baseline or "torch nn.MultiheadAttention"
        r = max(2, rounds // 3) if n >= 1024 else rounds
        # the naive oracle allocates and frees hundreds of MB; interleaved, the page faults that follow land on
        # its neighbour's timing, so it is measured on its own afterwards
        heavy = {k: v for k, v in cands.items() if k.startswith("naive")}
        best = interleaved_timings({k: v for k, v in cands.items() if k not in heavy}, rounds=r, device=device)
        if heavy:
            best.update(interleaved_timings(heavy, rounds=min(r, 3), device=device))
        for name, sec in best.items():
            rows.append({"n": n, "candidate": name, "ms": 1e3 * sec, "ratio": sec / best[base]})
    return pd.DataFrame(rows)


def ratio_pivot(table: pd.DataFrame) -> pd.DataFrame:
    """candidate × n matrix of ratios (ours / baseline) from :func:`timing_table`."""
    return table.pivot(index="candidate", columns="n", values="ratio")


# ----------------------------------------------------------------------------------------------------------
# memory
# ----------------------------------------------------------------------------------------------------------
def relation_tensor_bytes(n: int, *, batch: int, heads: int, d_head: int, impl: str,
                          bytes_per: int = 4) -> int:
    """Analytic size of the position-related tensors one layer keeps (keys and values terms together).

    naive: 2 relation tensors of b·h·n²·d; einsum (paper §3.3): 2 shared tensors of n²·d; fused: none of size
    n²·d — only the bucketed probabilities b·h·n·(2k+1), counted here with k = 16.
    """
    if impl == "naive":
        return 2 * batch * heads * n * n * d_head * bytes_per
    if impl == "einsum":
        return 2 * n * n * d_head * bytes_per
    if impl == "fused":
        return batch * heads * n * 33 * bytes_per
    raise ValueError(f"impl must be naive, einsum or fused, got {impl!r}")


def saved_tensor_bytes(fn: Callable[[], torch.Tensor]) -> int:
    """Bytes of distinct storages autograd keeps for the backward of ``fn()`` (activation memory, measured)."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        st = t.untyped_storage()
        seen[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(seen.values())


def memory_table(ns=(16, 32, 64, 128), *, batch: int = 8, heads: int = 4, d_head: int = 32, k: int = 16,
                 impls=("naive", "einsum", "fused"), seed: int = 0) -> pd.DataFrame:
    """Measured saved-for-backward bytes of each formulation (inputs requiring grad) per sequence length."""
    rows = []
    g = torch.Generator().manual_seed(seed)
    for n in ns:
        q, kk, v = (torch.randn(batch, heads, n, d_head, generator=g).requires_grad_() for _ in range(3))
        wk, wv = (torch.randn(2 * k + 1, d_head, generator=g).requires_grad_() for _ in range(2))
        for impl in impls:
            ins = (q, kk, v, wk, wv)
            nbytes = saved_tensor_bytes(lambda impl=impl, ins=ins: relative_attention(*ins, impl=impl)[0])
            rows.append({"n": n, "impl": impl, "saved MB": nbytes / 2 ** 20,
                         "relation tensors MB (analytic)": relation_tensor_bytes(
                             n, batch=batch, heads=heads, d_head=d_head, impl=impl) / 2 ** 20})
    return pd.DataFrame(rows)
