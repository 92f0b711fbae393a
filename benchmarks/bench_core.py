"""Core benchmark: training speed of a small model with 1 vs 2 intra-op threads (the COURSE_THREADS default).

Ratios only, measured in one process: ``seconds(threads=n) / seconds(threads=1)``.
"""
from __future__ import annotations

import argparse
import time

import torch


def _train_seconds(threads: int, width: int, steps: int) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, width), torch.nn.ReLU(), torch.nn.Linear(width, 10))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = torch.randn(128, 64), torch.randint(0, 10, (128,))
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return time.perf_counter() - t0


def main(quick: bool = False) -> str:
    steps = 100 if quick else 400
    rows = ["| model (MLP hidden width) | threads=2 / threads=1 (time ratio) |", "|---|---|"]
    before = torch.get_num_threads()
    for width in (64, 256, 1024):
        _train_seconds(1, width, 10)  # warm-up
        one = min(_train_seconds(1, width, steps) for _ in range(3))
        two = min(_train_seconds(2, width, steps) for _ in range(3))
        rows.append(f"| {width} | {two / one:.2f} |")
    torch.set_num_threads(before)
    return "### core: thread count for small models\n\n" + "\n".join(rows) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(main(parser.parse_args().quick))
