"""Experiment drivers: one grid over seeds × K × variants on identical episodes and candidates, plus the training-
free TransE prototype and the random ranking; results cached as JSON in ``data/faan/`` (atomic writer)."""
from __future__ import annotations

import dataclasses
import time

import pandas as pd
import torch
from tqdm.auto import tqdm

from course_lib.artifacts import artifact_dir, read_json, write_json
from course_lib.faan.benchmark import load_benchmark, neighbor_table
from course_lib.faan.evaluation import evaluate_few_shot, model_scorer, prototype_scorer, random_scorer
from course_lib.faan.model import FAANConfig
from course_lib.faan.presets import FAANPreset
from course_lib.faan.training import MetaConfig, meta_train, pretrain_transe

VARIANT_FLAGS = {"FAAN": (True, True), "static neighbours": (False, True), "mean references": (True, False)}


def cache_path(scale: str):
    return artifact_dir("faan") / f"grid_{scale}.json"


def model_config(preset: FAANPreset, variant: str) -> FAANConfig:
    if variant not in VARIANT_FLAGS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {tuple(VARIANT_FLAGS)}")
    nb, ref = VARIANT_FLAGS[variant]
    return FAANConfig(dim=preset.dim, layers=preset.layers, heads=preset.heads, adaptive_neighbors=nb,
                      adaptive_references=ref)


def run_grid(preset: FAANPreset, *, device=None, progress: bool = True, cache=None, bench=None) -> dict:
    """Train every (seed, K, variant) of ``preset`` and evaluate on the test tasks; returns a JSON-able dict with
    rows (one per run and baseline), loss curves (first/last means) and timings. ``cache``: write after every
    run (a partial grid survives an interruption)."""
    t0 = time.perf_counter()
    bench = load_benchmark(preset.benchmark) if bench is None else bench
    neighbors = neighbor_table(bench, preset.max_neighbors)
    t = time.perf_counter()
    ent, rel = pretrain_transe(bench, preset.dim, preset.transe_steps, batch_size=preset.transe_batch,
                               device=device, progress=progress)
    out = {"benchmark": bench.name, "counts": bench.counts(), "preset": dataclasses.asdict(preset),
           "transe_seconds": time.perf_counter() - t, "rows": []}
    jobs = [(s, k, v) for s in preset.seeds for k in preset.shots for v in preset.variants]
    for k in preset.shots:
        for name, scorer in (("TransE prototype", prototype_scorer(ent)), ("random", random_scorer(0))):
            m = evaluate_few_shot(scorer, bench, k, max_queries=preset.max_queries).metrics()
            out["rows"].append({"model": name, "seed": -1, "K": k, **m})
    for seed, k, variant in tqdm(jobs, desc="FAAN grid", disable=not progress):
        t = time.perf_counter()
        model, hist, losses = meta_train(bench, ent, rel, neighbors, model_config(preset, variant),
                                         MetaConfig(steps=preset.steps, queries=preset.queries, lr=preset.lr,
                                                    warmup=preset.warmup), k, seed=seed, device=device)
        train_s = time.perf_counter() - t
        t = time.perf_counter()
        m = evaluate_few_shot(model_scorer(model), bench, k, max_queries=preset.max_queries).metrics()
        w = max(1, len(losses) // 10)
        out["rows"].append({"model": variant, "seed": seed, "K": k, **m, "loss_first": losses[:w].mean().item(),
                            "loss_last": losses[-w:].mean().item(), "train_seconds": train_s,
                            "eval_seconds": time.perf_counter() - t})
        if cache is not None:
            write_json(cache, {**out, "seconds": time.perf_counter() - t0, "complete": False})
    out["seconds"] = time.perf_counter() - t0
    out["complete"] = True
    if cache is not None:
        write_json(cache, out)
    return out


def load_grid(scale: str) -> dict | None:
    path = cache_path(scale)
    return read_json(path) if path.exists() else None


def summary(grid: dict) -> pd.DataFrame:
    """Mean ± std over seeds of MRR/Hits per model and K."""
    df = pd.DataFrame(grid["rows"])
    agg = df.groupby(["model", "K"])[["MRR", "H@1", "H@5", "H@10"]].agg(["mean", "std"])
    return agg


if __name__ == "__main__":  # course run: python -m course_lib.faan.experiments course
    import sys

    from course_lib.faan.presets import PRESETS

    torch.set_num_threads(1)
    scale = sys.argv[1] if len(sys.argv) > 1 else "course"
    run_grid(PRESETS[scale], device="cpu", progress=False, cache=cache_path(scale))
