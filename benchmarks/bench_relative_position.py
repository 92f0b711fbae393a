"""Relative-position attention (Shaw et al. 2018): time ratios ours / peer, measured in one process.

Forward + backward on CPU with one torch thread (thread CPU time, best of interleaved rounds):

- core: the attention kernel alone on (b=8, h=4, n, d=32), baseline torch ``scaled_dot_product_attention``;
- module: whole self-attention (projections included, d_model 128, 4 heads, k = 16), baseline
  ``torch.nn.MultiheadAttention``; peers: ``torch.compile`` of the paper's einsum form (full run only),
  transformers' T5 relative bias and DeBERTa-v2 disentangled attention (random weights from configs);
- memory: bytes autograd keeps for the backward (naive b·h·n²·d relation tensors vs ours).
"""
from __future__ import annotations

import argparse
import os

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _markdown(table, value: str = "ratio", fmt: str = "{:.2f}") -> str:
    pivot = table.pivot(index="candidate", columns="n", values=value)
    pivot = pivot.reindex(list(dict.fromkeys(table["candidate"])))
    cols = list(pivot.columns)
    lines = ["| candidate | " + " | ".join(f"n = {c}" for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in pivot.iterrows():
        lines.append(f"| {name} | " + " | ".join("—" if row[c] != row[c] else fmt.format(row[c]) for c in cols)
                     + " |")
    return "\n".join(lines)


def main(quick: bool = False) -> str:
    from course_lib.relative_position.efficiency import memory_table, timing_table

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    ns = (64, 256) if quick else (64, 256, 1024)
    rounds = 3 if quick else 10
    core = timing_table(ns, level="core", rounds=rounds)
    module = timing_table(ns, level="module", rounds=rounds, compile_einsum=not quick, peers=True)
    mem = memory_table((16, 32, 64) if quick else (16, 32, 64, 128))
    torch.set_num_threads(before)
    mem_lines = ["| n | naive MB | paper einsum MB | ours fused MB |", "|---|---|---|---|"]
    by = mem.set_index(["n", "impl"])["saved MB"]
    for n in sorted(mem["n"].unique()):
        mem_lines.append(f"| {n} | {by[(n, 'naive')]:.1f} | {by[(n, 'einsum')]:.1f} | {by[(n, 'fused')]:.1f} |")
    return ("### relative_position: attention time ratios (ours / peer), forward + backward, CPU, 1 thread\n\n"
            "Core kernel, ratio to torch SDPA (no positions):\n\n" + _markdown(core)
            + "\n\nWhole self-attention module, ratio to torch nn.MultiheadAttention:\n\n" + _markdown(module)
            + "\n\nModule milliseconds:\n\n" + _markdown(module, "ms", "{:.1f}")
            + "\n\nMemory kept for backward (b=8, h=4, d=32, k=16):\n\n" + "\n".join(mem_lines) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(main(parser.parse_args().quick))
