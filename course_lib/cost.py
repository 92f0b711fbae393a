"""One size / cost suite shared by every efficiency series: parameters, non-zeros, bytes, MACs, latency, energy.

Conventions (stated in every table this module builds):

* **MACs** — one multiply-accumulate = one MAC. Linear: ``in_features · out_features`` per output row; Conv:
  ``numel(output) · (C_in / groups) · ∏ kernel`` (depthwise included). Bias, activations, pooling and
  normalisation are **not** counted. ``torch.utils.flop_counter.FlopCounterMode`` reports FLOPs = 2 × MACs for
  conv/matmul, so :func:`flop_counter_macs` divides by two and agrees exactly with :func:`count_macs`.
* **Analytic bytes** — ``⌈numel · bits / 8⌉`` per tensor (int4 / int2 packed two / four to a byte) plus the
  quantisation metadata (one float32 scale, and a zero point where asymmetric, per channel or per tensor).
* **Serialized bytes** — ``len`` of ``torch.save(state_dict)`` written into memory (what a file would hold,
  pickle metadata included; for tiny models that metadata is why int8 is ≈ 3× rather than 4× smaller).
* **Latency** — p50 / p90 of single calls under ``torch.inference_mode()`` with a fixed thread count after a
  warm-up; informational, never asserted in tests (shared CPUs are noisy).
* **Energy** — an *analytic proxy*: MACs × energy per MAC + weight bytes × energy per byte read, from the 45 nm
  figures of M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014. Not a
  measurement.
"""
from __future__ import annotations

import gzip
import io
import math
import statistics
import time
from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from course_lib.device import synchronize

__all__ = [
    "BITS", "ENERGY_PJ", "analytic_bytes", "compare", "count_macs", "count_nonzero", "count_params", "csr_bytes",
    "energy_proxy", "flop_counter_macs", "fvcore_macs", "latency", "mac_table", "measure", "model_csr_bytes",
    "packed_bytes", "pareto_front", "plot_pareto", "serialized_bytes", "table",
]

#: Bits per element of the storage types the series use (``"int4"``/``"int2"`` are packed, several to a byte).
BITS = {"float64": 64, "float32": 32, "fp32": 32, "float16": 16, "fp16": 16, "bfloat16": 16, "bf16": 16,
        "int32": 32, "int16": 16, "int8": 8, "uint8": 8, "int4": 4, "int2": 2, "int1": 1, "bool": 1}

#: Horowitz (ISSCC 2014), 45 nm, picojoules: one multiply + one add per MAC (int8 MACs accumulate in int32), and
#: one byte read from a small on-chip SRAM (32 kB cache: 20 pJ per 64-bit word) or from DRAM (1.3–2.6 nJ per
#: 64-bit word; the midpoint ≈ 2 nJ is used). Orders of magnitude only — an analytic proxy, not a measurement.
ENERGY_PJ = {
    "mac": {"fp32": 3.7 + 0.9, "fp16": 1.1 + 0.4, "int32": 3.1 + 0.1, "int8": 0.2 + 0.1},
    "byte": {"sram": 20.0 / 8, "dram": 2000.0 / 8},
}

_LINEAR = (nn.Linear,)
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
try:  # torch.ao quantized modules (the int8 models that really run in int8) count like their float twins
    import torch.ao.nn.quantized as _nnq

    _LINEAR = _LINEAR + (_nnq.Linear,)
    _CONV = _CONV + (_nnq.Conv1d, _nnq.Conv2d, _nnq.Conv3d)
except ImportError:  # pragma: no cover - torch without torch.ao
    pass


def _bits(bits) -> int:
    if isinstance(bits, str):
        if bits not in BITS:
            raise ValueError(f"unknown dtype name {bits!r}; expected one of {sorted(BITS)} or an int 1..64")
        return BITS[bits]
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 64:
        raise ValueError(f"bits must be an int in 1..64 or a dtype name such as 'int8', got {bits!r}")
    return bits


def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")


# ------------------------------------------------------------------------------------------------- counts
def count_params(model: nn.Module) -> int:
    """Number of parameters, ``Σ numel(p)`` (shared parameters counted once)."""
    _check_model(model)
    return sum(p.numel() for p in model.parameters())


def count_nonzero(model: nn.Module) -> int:
    """Non-zero parameters, ``Σ nnz(p)`` — what unstructured pruning changes (tensor shapes stay the same)."""
    _check_model(model)
    return int(sum(_nnz(p.detach()) for p in model.parameters()))


def _nnz(p: torch.Tensor) -> int:
    try:
        return int(torch.count_nonzero(p))
    except NotImplementedError:  # a quantized tensor subclass (torchao) without count_nonzero: look at its values
        return int(torch.count_nonzero(p.dequantize())) if hasattr(p, "dequantize") else p.numel()


# ------------------------------------------------------------------------------------------------- bytes
def packed_bytes(numel: int, bits) -> int:
    """Analytic storage of ``numel`` elements at ``bits`` each, packed: ``⌈numel · bits / 8⌉`` bytes."""
    if isinstance(numel, bool) or not isinstance(numel, int) or numel < 0:
        raise ValueError(f"numel must be a non-negative int, got {numel!r}")
    return math.ceil(numel * _bits(bits) / 8)


def _is_weight(name: str, module: nn.Module) -> bool:
    return name == "weight" and isinstance(module, _LINEAR + _CONV)


def analytic_bytes(model: nn.Module, weight_bits=32, *, other_bits=32, per_channel: bool = True,
                   zero_point: bool = False, scale_bits: int = 32) -> int:
    """Analytic model size: ``Σ ⌈numel · bits / 8⌉`` with Linear/Conv weights at ``weight_bits`` and every other
    parameter or buffer at ``other_bits``; a quantised weight (``weight_bits < 32``) also stores one scale
    (``scale_bits``) — and a zero point of ``weight_bits`` when ``zero_point`` — per output channel
    (``per_channel``) or per tensor.

    A model already converted to int8 by ``torch.ao`` (no float parameters left) is measured from its state dict:
    each quantized tensor at its own element size plus its scales (see :func:`_state_dict_analytic`)."""
    _check_model(model)
    wb, ob = _bits(weight_bits), _bits(other_bits)
    if not any(True for _ in model.parameters()) or _has_torch_ao(model):
        return _state_dict_analytic(model.state_dict())  # torch.ao int8 modules: weights in packed params
    total = 0
    for module in model.modules():
        for name, p in list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False)):
            if _is_weight(name, module) and wb < 32:
                groups = p.shape[0] if per_channel else 1
                total += packed_bytes(p.numel(), wb) + packed_bytes(groups, scale_bits)
                if zero_point:
                    total += packed_bytes(groups, wb)
            elif p.is_floating_point():
                total += packed_bytes(p.numel(), ob)
            else:
                total += p.numel() * p.element_size()
    return total


def _state_dict_analytic(state: Mapping) -> int:
    """Bytes of a (possibly torch.ao-quantized) state dict: elements at their own size, + per-channel scales and
    zero points at 4 bytes each (a per-tensor scale/zero point counted as 8 bytes)."""
    total = 0
    for value in state.values():
        if isinstance(value, tuple):  # packed params of quantized Linear: (weight, bias)
            total += sum(_state_dict_analytic({"x": v}) for v in value if isinstance(v, torch.Tensor))
        elif isinstance(value, torch.Tensor):
            total += value.numel() * value.element_size()
            if value.is_quantized:
                if value.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
                    total += 8 * value.q_per_channel_scales().numel()
                else:
                    total += 8
    return total


def serialized_bytes(model_or_state, *, compress: bool = False) -> int:
    """``len(torch.save(state_dict))`` written into memory (gzip of it when ``compress``) — the file size."""
    state = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    if not isinstance(state, Mapping):
        raise TypeError(f"expected an nn.Module or a state dict, got {type(model_or_state).__name__}")
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    return len(gzip.compress(data, mtime=0)) if compress else len(data)


def csr_bytes(weight: torch.Tensor, *, value_bits=32, index_bits=32) -> int:
    """CSR storage of a weight viewed as a matrix ``(rows, cols)`` = ``(shape[0], numel / shape[0])``:
    ``nnz · (value_bits + index_bits) / 8`` (values + column indices) ``+ (rows + 1) · index_bits / 8`` (row
    pointers). Smaller than dense only when ``nnz / numel < value_bits / (value_bits + index_bits)``."""
    if not isinstance(weight, torch.Tensor) or weight.dim() < 1:
        raise ValueError("csr_bytes expects a tensor with at least one dimension")
    rows = weight.shape[0] if weight.dim() > 1 else 1
    nnz = int(torch.count_nonzero(weight))
    #: Values and column indices, one each per non-zero: $z\,(b_v + b_i)/8$ bytes.
    data = packed_bytes(nnz, value_bits) + packed_bytes(nnz, index_bits)
    #: Row pointers: $(R + 1)\,b_i/8$ bytes — where row $r$'s entries start and end.
    return data + packed_bytes(rows + 1, index_bits)


def model_csr_bytes(model: nn.Module, *, value_bits=32, index_bits=32) -> int:
    """Model bytes with every Linear/Conv weight stored in CSR (:func:`csr_bytes`) and the rest dense."""
    _check_model(model)
    total = 0
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if _is_weight(name, module):
                total += csr_bytes(p.detach(), value_bits=value_bits, index_bits=index_bits)
            else:
                total += packed_bytes(p.numel(), 32)
    return total


# -------------------------------------------------------------------------------------------------- MACs
def _layer_macs(module: nn.Module, output: torch.Tensor) -> int:
    """MACs of one Linear / Conv call producing ``output`` (batch and sequence positions included)."""
    if isinstance(module, _LINEAR):
        #: Linear: every output element is a dot product of length ``in_features``.
        return output.numel() * module.in_features
    #: Conv (1d/2d/3d, grouped, depthwise): every output element reads $C_{in}/g \cdot \prod K$ inputs,
    #: so MACs $= H_{out} W_{out} C_{out} (C_{in}/g) K_h K_w$ per sample.
    k = math.prod(module.kernel_size)
    return output.numel() * (module.in_channels // module.groups) * k


def _as_inputs(example) -> tuple:
    if isinstance(example, torch.Tensor):
        return (example,)
    if isinstance(example, (tuple, list)) and all(isinstance(e, torch.Tensor) for e in example):
        return tuple(example)
    raise TypeError(f"example must be a tensor or a tuple of tensors (a sample input), got {type(example).__name__}")


def mac_table(model: nn.Module, example) -> pd.DataFrame:
    """Per-layer MACs of ``model`` on ``example`` (forward hooks on every Linear/Conv; the example's batch is
    included, so pass a batch of one for per-sample MACs). Columns: layer, type, output shape, params, MACs."""
    _check_model(model)
    inputs = _as_inputs(example)
    rows, handles = [], []

    def hook(name):
        def fn(module, _inp, out):
            out = out.dequantize() if getattr(out, "is_quantized", False) else out
            params = sum(p.numel() for p in module.parameters(recurse=False))
            rows.append({"layer": name, "type": type(module).__name__, "output": tuple(out.shape),
                         "params": params, "MACs": _layer_macs(module, out)})
        return fn

    for name, module in model.named_modules():
        if isinstance(module, _LINEAR + _CONV):
            handles.append(module.register_forward_hook(hook(name)))
    try:
        with torch.inference_mode():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return pd.DataFrame(rows, columns=["layer", "type", "output", "params", "MACs"])


def count_macs(model: nn.Module, example) -> int:
    """Total MACs of one forward pass on ``example`` (sum of :func:`mac_table`; conventions in the module doc)."""
    return int(mac_table(model, example)["MACs"].sum())


def flop_counter_macs(model: nn.Module, example) -> int:
    """The peer count: ``FlopCounterMode`` total FLOPs / 2 (it counts one MAC of conv/matmul as two FLOPs)."""
    from torch.utils.flop_counter import FlopCounterMode

    _check_model(model)
    inputs = _as_inputs(example)
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(*inputs)
    return counter.get_total_flops() // 2


def fvcore_macs(model: nn.Module, example) -> int:
    """The second peer: fvcore's ``FlopCountAnalysis`` total, which counts one fused multiply-add as one "flop" (=
    one MAC) for conv/linear; its warnings about uncounted ops (ReLU, pooling) are silenced."""
    from fvcore.nn import FlopCountAnalysis

    _check_model(model)
    analysis = FlopCountAnalysis(model, _as_inputs(example))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return int(analysis.total())


# ------------------------------------------------------------------------------------------------ latency
def latency(model: nn.Module, example, *, threads: int | None = 1, warmup: int = 10, repeats: int = 50) -> dict:
    """Latency protocol: ``threads`` intra-op threads (restored afterwards; None = leave as is), ``warmup``
    untimed calls, then ``repeats`` timed calls under ``torch.inference_mode()`` with ``time.perf_counter``
    (device synchronised). Returns ``{"p50_ms", "p90_ms", "mean_ms", "threads", "repeats"}``. Informational:
    never assert an absolute latency on a shared machine."""
    _check_model(model)
    inputs = _as_inputs(example)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    times = []
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(*inputs)
            synchronize(inputs[0])
            for _ in range(repeats):
                t0 = time.perf_counter()
                model(*inputs)
                synchronize(inputs[0])
                times.append((time.perf_counter() - t0) * 1e3)
    finally:
        torch.set_num_threads(before)
    q = statistics.quantiles(times, n=10, method="inclusive") if len(times) > 1 else [times[0]] * 9
    return {"p50_ms": statistics.median(times), "p90_ms": q[8], "mean_ms": statistics.fmean(times),
            "threads": threads if threads is not None else before, "repeats": repeats}


# ------------------------------------------------------------------------------------------------- energy
def energy_proxy(macs: int, weight_bytes: int, *, dtype: str = "fp32", memory: str = "dram") -> dict:
    """Analytic energy **proxy** per inference: ``MACs · E_mac(dtype) + weight_bytes · E_byte(memory)`` with the
    45 nm figures of Horowitz (ISSCC 2014) in :data:`ENERGY_PJ`. Returns picojoule parts and the total in µJ
    (key ``"proxy_uJ"``). Not a measurement; it ignores activations, control and data movement between caches."""
    if dtype not in ENERGY_PJ["mac"]:
        raise ValueError(f"dtype must be one of {sorted(ENERGY_PJ['mac'])}, got {dtype!r}")
    if memory not in ENERGY_PJ["byte"]:
        raise ValueError(f"memory must be one of {sorted(ENERGY_PJ['byte'])}, got {memory!r}")
    if min(macs, weight_bytes) < 0:
        raise ValueError("macs and weight_bytes must be non-negative")
    compute = macs * ENERGY_PJ["mac"][dtype]
    mem = weight_bytes * ENERGY_PJ["byte"][memory]
    return {"compute_pJ": compute, "memory_pJ": mem, "proxy_uJ": (compute + mem) / 1e6}


# ----------------------------------------------------------------------------------------- tables / Pareto
@torch.inference_mode()
def _accuracy(model: nn.Module, data, batch_size: int = 1024) -> float:
    if callable(data) and not isinstance(data, (tuple, list)):
        return float(data(model))
    x, y = data
    correct = 0
    for i in range(0, len(x), batch_size):
        out = model(x[i:i + batch_size])
        out = out.dequantize() if getattr(out, "is_quantized", False) else out
        correct += int((out.argmax(1) == y[i:i + batch_size]).sum())
    return 100.0 * correct / len(x)


def measure(model: nn.Module, data, *, name: str = "", weight_bits=32, example=None, timing: bool = True,
            threads: int = 1, repeats: int = 50) -> dict:
    """One row of the metric suite: accuracy [%] on ``data`` (``(x, y)`` tensors, or a callable
    ``model -> accuracy``), params, nnz, analytic bytes (``weight_bits``), serialized bytes, MACs (on ``example``,
    default the first input of ``data``), p50/p90 latency (batch of one, ``threads``) when ``timing``."""
    _check_model(model)
    model.eval()
    if example is None:
        if not isinstance(data, (tuple, list)):
            raise ValueError("pass example= (a batch-of-one input) when data is a callable")
        example = data[0][:1]
    row = {"model": name, "accuracy": _accuracy(model, data), "params": count_params(model),
           "nnz": count_nonzero(model), "analytic_bytes": analytic_bytes(model, weight_bits),
           "serialized_bytes": serialized_bytes(model), "MACs": count_macs(model, example)}
    if _has_torch_ao(model):  # a torch.ao int8 model: its weights live in packed params, count them from the state
        row["params"] = row["nnz"] = _quantized_numel(model)
    if timing:
        lat = latency(model, example, threads=threads, repeats=repeats)
        row.update(p50_ms=lat["p50_ms"], p90_ms=lat["p90_ms"])
    return row


def _has_torch_ao(model: nn.Module) -> bool:
    return any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in model.modules())


def _quantized_numel(model: nn.Module) -> int:
    total = 0
    for key, value in model.state_dict().items():
        if key.endswith(("scale", "zero_point")):
            continue
        items = value if isinstance(value, tuple) else (value,)
        total += sum(v.numel() for v in items if isinstance(v, torch.Tensor) and v.dim() > 0)
    return total


def table(models: Mapping[str, nn.Module | tuple], data, **kwargs) -> pd.DataFrame:
    """:func:`measure` for each ``name -> model`` (or ``name -> (model, weight_bits)``), one row each."""
    rows = []
    for name, spec in models.items():
        model, bits = spec if isinstance(spec, tuple) else (spec, 32)
        rows.append(measure(model, data, name=name, weight_bits=bits, **kwargs))
    return pd.DataFrame(rows).set_index("model")


def compare(ours: nn.Module, peer: nn.Module, data, *, names: Sequence[str] = ("ours", "peer"),
            bits: Sequence = (32, 32), **kwargs) -> pd.DataFrame:
    """Side by side on the same data: one row per model (see :func:`measure`) and a ``peer / ours`` ratio row."""
    df = table({names[0]: (ours, bits[0]), names[1]: (peer, bits[1])}, data, **kwargs).astype(float)
    ratio = df.iloc[1].astype(float) / df.iloc[0].astype(float).where(df.iloc[0].astype(float) != 0)
    df.loc[f"{names[1]} / {names[0]}"] = ratio
    return df


def pareto_front(df: pd.DataFrame, minimize: Sequence[str] | str, maximize: Sequence[str] | str = "accuracy"
                 ) -> pd.Series:
    """Boolean mask of the Pareto-optimal rows: no other row is at least as good on every objective and strictly
    better on one (costs in ``minimize``, gains in ``maximize``)."""
    minimize = [minimize] if isinstance(minimize, str) else list(minimize)
    maximize = [maximize] if isinstance(maximize, str) else list(maximize)
    missing = [c for c in minimize + maximize if c not in df.columns]
    if missing:
        raise KeyError(f"columns {missing} not in the table; it has {list(df.columns)}")
    costs = torch.tensor(pd.concat([df[minimize], -df[maximize]], axis=1).to_numpy(dtype=float))
    no_worse = (costs[None, :, :] <= costs[:, None, :]).all(-1)  # [i, j]: j is no worse than i everywhere
    better = (costs[None, :, :] < costs[:, None, :]).any(-1)
    dominated = (no_worse & better).any(1)
    return pd.Series((~dominated).tolist(), index=df.index, name="pareto")


def plot_pareto(df: pd.DataFrame, x: str = "analytic_bytes", y: str = "accuracy", *, label: str | None = None,
                logx: bool = True, ax=None, title: str = ""):
    """Scatter ``y`` against ``x`` with the Pareto front (min ``x``, max ``y``) drawn as a step line; returns the
    matplotlib Figure. Points are labelled by the index (or the ``label`` column)."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    front = pareto_front(df, x, y)
    names = df[label] if label else df.index
    ax.scatter(df[x], df[y], c=["C3" if f else "C0" for f in front], zorder=3)
    for name, xv, yv in zip(names, df[x], df[y]):
        ax.annotate(str(name), (xv, yv), textcoords="offset points", xytext=(4, 4), fontsize=8)
    pts = df.loc[front, [x, y]].sort_values(x)
    ax.step(pts[x], pts[y], where="post", color="C3", lw=1, label="Pareto front")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or f"{y} vs {x}")
    ax.legend(loc="lower right")
    return fig

