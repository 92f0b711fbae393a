"""LIM-Net vs peers: seconds and peak memory of one interaction round, each method in a fresh process.

The paper's "lightweight, low memory" claim is measured here as the ratio LIM-Net / 3D U-Net (DeepEdit-style) at
the same resolution, for volumes of growing depth (the 3D U-Net holds the whole volume's activations; LIM-Net
processes one slice at a time plus a small memory). Random weights: cost does not depend on the weights.

    python benchmarks/bench_lim_net.py [--quick] [--device cpu|cuda]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib.lim_net.experiments import round_cost_worker  # noqa: E402
from course_lib.lim_net.metrics import isolated  # noqa: E402

METHODS = ("LIM-Net", "3D U-Net", "random walker")


def measure(quick: bool, device: str = "cpu") -> pd.DataFrame:
    """One row per (method, depth): median seconds per round, peak extra MiB, parameters."""
    depths = (32,) if quick else (32, 64, 112)
    reps = 2 if quick else 3
    threads = int(os.environ.get("COURSE_THREADS", "1"))
    rows = []
    for depth in depths:
        for method in METHODS:
            if method == "random walker" and (quick or device != "cpu") and depth > 32:
                continue
            rows.append(isolated(round_cost_worker, method, depth, 96, device, reps, threads))
    return pd.DataFrame(rows)


def ratios(df: pd.DataFrame) -> pd.DataFrame:
    """Ratios ours / peer per depth (time and memory)."""
    out = []
    for depth, g in df.groupby("depth"):
        g = g.set_index("method")
        for peer in ("3D U-Net", "random walker"):
            if peer in g.index:
                out.append({"depth": depth, "peer": peer,
                            "time ratio (LIM-Net / peer)": g.loc["LIM-Net", "seconds"] / g.loc[peer, "seconds"],
                            "CPU-time ratio": g.loc["LIM-Net", "cpu_seconds"] / g.loc[peer, "cpu_seconds"],
                            "memory ratio (LIM-Net / peer)": g.loc["LIM-Net", "peak_MiB"]
                            / max(g.loc[peer, "peak_MiB"], 1e-3)})
    return pd.DataFrame(out)


def main(quick: bool = False, device: str = "cpu") -> str:
    """Run the benchmark and return a markdown report (raw table + ratio table)."""
    df = measure(quick, device)
    md = ["## bench_lim_net: one interaction round, 96x96 slices, device " + device, "",
          df.round(4).to_markdown(index=False), "", ratios(df).round(3).to_markdown(index=False), "",
          "seconds = median wall time of one round; cpu_seconds = its process CPU time (robust on a shared "
          "machine). Peak memory: extra RSS of the process during one round (CPU) or max_memory_allocated (CUDA); "
          "each method runs in its own fresh process."]
    return "\n".join(md)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    print(main(args.quick, args.device))
