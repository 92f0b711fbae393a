"""Benchmark of the low-power series on this CPU, one thread (``torch.set_num_threads(1)``).

1. **Latency ratios** (p50 of single calls, :func:`course_lib.cost.latency`): the digits and MNIST-1D CNNs
   converted to real int8 (torch's quantized CPU kernels, our PTQ) against the fp32 model, and the
   structured-pruned model (half the channels removed, layers rebuilt smaller) against the dense one, at batch 1
   and batch 256. The two models of a pair are timed in alternation over several rounds and the median of the
   per-round p50s is kept, so load from other processes hits both alike. Informational: never asserted.
2. **MAC-counting agreement** on the same models: our analytic count (:func:`course_lib.cost.count_macs`: one
   MAC = one multiply-add of Linear/Conv; bias, activations, pooling not counted) against
   ``torch.utils.flop_counter.FlopCounterMode`` (FLOPs = 2 × MACs, so divided by two) and fvcore's
   ``FlopCountAnalysis`` (counts one fused multiply-add as one "flop", i.e. MACs; optional).

Run: ``python benchmarks/bench_low_power.py [--quick]``.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import warnings

import torch

from course_lib import cost
from course_lib.low_power import factorization, models
from course_lib.low_power.data import load, load_digits


def _int8(base, calib):
    from course_lib.low_power import quantization

    return quantization.to_int8(quantization.ptq(base, calib, 8))


def _structured(base, split=None):
    from course_lib.low_power import pruning

    return pruning.prune_channels(base, 0.5)


def paired_latency(a, b, example, rounds: int, repeats: int) -> tuple[float, float]:
    """Median over ``rounds`` of the p50 latency [ms] of ``a`` and of ``b``, timed in alternation (1 thread)."""
    pa, pb = [], []
    for _ in range(rounds):
        pa.append(cost.latency(a, example, threads=1, repeats=repeats)["p50_ms"])
        pb.append(cost.latency(b, example, threads=1, repeats=repeats)["p50_ms"])
    return statistics.median(pa), statistics.median(pb)


def fvcore_macs(model, example) -> int | None:
    """fvcore's total (one fused multiply-add = one flop); None when fvcore is not installed."""
    if not importlib.util.find_spec("fvcore"):
        return None
    from fvcore.nn import FlopCountAnalysis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counter = FlopCountAnalysis(model, example)
        counter.unsupported_ops_warnings(False)
        counter.uncalled_modules_warnings(False)
        return int(counter.total())


def latency_rows(quick: bool) -> list[tuple[str, str, int, float, float]]:
    rounds, repeats = (3, 30) if quick else (7, 100)
    rows = []
    for name in ("digits_cnn", "mnist1d_cnn"):
        split = load(models.DATASET_OF[name])
        base = models.baseline(name, 0, device="cpu")
        int8 = _int8(base, split.x_train[:256])
        pruned = _structured(base)
        for batch in (1, 256):
            x = split.x_test[:batch]
            for label, ref, other in (("real int8 (torch quantized CPU kernels) / fp32", base, int8),
                                      ("structured 50 % channels removed / dense", base, pruned)):
                t_ref, t_other = paired_latency(ref, other, x, rounds, repeats if batch == 1 else repeats // 5)
                rows.append((name, label, batch, t_ref, t_other))
    return rows


def mac_rows() -> list[tuple[str, int, int, int | None]]:
    split = load_digits()
    base = models.baseline("digits_cnn", 0, device="cpu")
    x = split.example()
    candidates = {"digits CNN": base, "depthwise-separable": factorization.separable_model(base),
                  "SVD 90 % energy": factorization.factorize_model(base, energy=0.9),
                  "structured 50 %": _structured(base, split), "digits MLP": models.build("digits_mlp", 0),
                  "MNIST-1D CNN": models.build("mnist1d_cnn", 0)}
    rows = []
    for name, model in candidates.items():
        ex = torch.randn(1, 1, 40) if name.startswith("MNIST-1D") else x
        model.eval()
        rows.append((name, cost.count_macs(model, ex), cost.flop_counter_macs(model, ex), fvcore_macs(model, ex)))
    return rows


def main(quick: bool = True) -> str:
    """Markdown tables of the latency ratios and of the MAC-count agreement."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    lines = ["## Low-power series: latency ratios and MAC counting (1 CPU thread)", "",
             "Latency: p50 of single calls under `torch.inference_mode()`, after 10 warm-up calls; the two models of "
             "a pair alternate over several rounds and the median p50 is shown. Informational, never asserted.", "",
             "| model | pair | batch | reference p50 [ms] | variant p50 [ms] | variant / reference |",
             "|---|---|---|---|---|---|"]
    for name, label, batch, t_ref, t_other in latency_rows(quick):
        lines.append(f"| {name} | {label} | {batch} | {t_ref:.3f} | {t_other:.3f} | {t_other / t_ref:.2f} |")
    lines += ["", "MACs per sample. Ours: Linear/Conv multiply-adds, bias/activations/pooling not counted. "
              "FlopCounterMode reports FLOPs = 2 × MACs (divided by 2 here). fvcore counts one fused multiply-add "
              "as one flop (= MACs).", "",
              "| model | ours | FlopCounterMode / 2 | fvcore | ours = FlopCounterMode/2 | ours = fvcore |",
              "|---|---|---|---|---|---|"]
    for name, ours, fc, fv in mac_rows():
        lines.append(f"| {name} | {ours:,} | {fc:,} | {'—' if fv is None else f'{fv:,}'} | "
                     f"{'yes' if ours == fc else 'NO'} | {'—' if fv is None else ('yes' if ours == fv else 'NO')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(main(quick=parser.parse_args().quick))
