"""Benchmark: InputIBA's cost per image before and after batching, against Integrated Gradients, one CPU thread.

Same cached CNN, same correctly classified canvases, same metric code:

* **before** — the official schedule (:data:`course_lib.input_iba.attributor.CALIBRATION`: WGAN 20 epochs = 140
  critic / 28 generator steps, input bottleneck 60 steps × 10 noise samples), one image at a time as the authors'
  code runs it;
* **after** — the course's schedule (:data:`~course_lib.input_iba.attributor.FAST`), all images' masks, critics
  and noise samples optimised at once;
* **IG** — Captum Integrated Gradients (32 steps, zero baseline), batched; **IBA** — the latent bottleneck alone.

CPU seconds per image (``time.process_time``; with one thread this equals wall seconds on an idle core, and other
processes on a shared machine disturb it little), the ratio to IG measured in the same run, and the energy in the
mask of each InputIBA schedule (so a speed-up that loses the localisation shows). Speed goal: **≤ 1.5 s per image**.
Run: ``python benchmarks/bench_input_iba.py [--quick]``.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

GOAL = 1.5


def _cpu(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - t0


def measure(n_images: int) -> dict[str, dict[str, float]]:
    from course_lib import attribution as A
    from course_lib.input_iba import attributor as at
    from course_lib.input_iba import experiments as ex
    from course_lib.input_iba import peers
    from course_lib.input_iba.model import load_cnn

    model = load_cnn("cpu")
    data = ex.select_images(model, n_images)
    stats = ex.layer_stats(model, "pool1")
    x, y, masks = data.images, data.labels, data.masks
    peers.explain("IntegratedGradients", model, x[:1], y[:1])  # warm-up
    out = {}
    ig, cpu, wall = _cpu(lambda: peers.explain("IntegratedGradients", model, x, y))
    out["Integrated Gradients (32 steps, batched)"] = {"cpu": cpu / n_images, "wall": wall / n_images,
                                                       "energy": float(A.energy_in_mask(ig, masks).mean())}
    iba, cpu, wall = _cpu(lambda: at.iba_attribution(model, x, y, stats, seed=0).capacity)
    out["IBA (10 steps, batched)"] = {"cpu": cpu / n_images, "wall": wall / n_images,
                                      "energy": float(A.energy_in_mask(iba, masks).mean())}
    res, cpu, wall = _cpu(lambda: at.explain_batch(model, x, y, stats, config=at.CALIBRATION, chunk=1, seed=0))
    out["InputIBA before: official schedule, one image at a time"] = {
        "cpu": cpu / n_images, "wall": wall / n_images, "energy": float(A.energy_in_mask(res.input_mask,
                                                                                         masks).mean())}
    res, cpu, wall = _cpu(lambda: at.explain_batch(model, x, y, stats, config=at.FAST, seed=0))
    out["InputIBA after: course schedule, batched"] = {
        "cpu": cpu / n_images, "wall": wall / n_images, "energy": float(A.energy_in_mask(res.input_mask,
                                                                                         masks).mean())}
    return out


def main(quick: bool = True) -> str:
    """Markdown table: CPU s/image, ratio to IG, energy in mask, and whether the speed goal is met."""
    torch.set_num_threads(1)
    n = 2 if quick else 8
    load = os.getloadavg()[0]
    res = measure(n)
    ig = res["Integrated Gradients (32 steps, batched)"]["cpu"]
    lines = [f"## InputIBA: cost per image before / after batching ({n} canvases, 1 CPU thread, CPU seconds; "
             f"load average {load:.1f} at start)", "",
             "| method | CPU s / image | wall s / image | × IG | energy in mask |", "|---|---|---|---|---|"]
    for name, d in res.items():
        lines.append(f"| {name} | {d['cpu']:.3f} | {d['wall']:.3f} | {d['cpu'] / ig:.0f} | {d['energy']:.3f} |")
    before = res["InputIBA before: official schedule, one image at a time"]["cpu"]
    after = res["InputIBA after: course schedule, batched"]["cpu"]
    lines += ["", f"Speed-up after / before: **{before / after:.1f}×**. Speed goal ≤ {GOAL:g} CPU s per image: "
              f"**{'met' if after <= GOAL else 'not met'}** ({after:.2f} s)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(main(quick=args.quick))
