"""Experiments of the OTE series: model factory, one training + evaluation run, the multi-seed comparison and
the cached course-scale Kinships results (``data/ote/kinships_course.json``).

``python -m course_lib.ote.experiments course-cache`` recomputes the cache (≈ 10–40 min on a CPU).
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import pandas as pd
import torch

from course_lib.artifacts import artifact_dir, read_json, write_json
from course_lib.kg import (
    EvalResult,
    KnowledgeGraph,
    RotatE,
    TrainConfig,
    TransE,
    evaluate,
    fixed_subset,
    load_kg,
    relation_categories,
    train_kge,
)
from course_lib.kg.models import KGEModel
from course_lib.ote.models import GCOTE, OTE
from course_lib.ote.presets import OTEPreset

MODELS = ("TransE", "RotatE", "OTE", "GC-OTE")
DATA_DIR = artifact_dir("ote")


def build_model(name: str, kg: KnowledgeGraph, width: int = 200, group_size: int = 4, gamma: float = 6.0,
                **kwargs) -> KGEModel:
    """A fresh model at equal real width: TransE d = width, RotatE width/2 complex, OTE d = width (groups of k)."""
    if name == "TransE":
        return TransE(kg.num_entities, kg.num_relations, width, gamma)
    if name == "RotatE":
        if width % 2:
            raise ValueError(f"RotatE needs an even real width, got {width}")
        return RotatE(kg.num_entities, kg.num_relations, width // 2, gamma)
    if name == "OTE":
        return OTE(kg.num_entities, kg.num_relations, width, group_size, gamma, **kwargs)
    if name == "GC-OTE":
        return GCOTE(kg.num_entities, kg.num_relations, width, kg.train, group_size, gamma, **kwargs)
    raise ValueError(f"unknown model {name!r}; choose from {MODELS}")


def train_config(preset: OTEPreset, steps: int | None = None, lr: float | None = None) -> TrainConfig:
    return TrainConfig(steps=steps or preset.steps, batch_size=preset.batch_size,
                       num_negatives=preset.num_negatives, lr=lr or preset.lr,
                       adversarial_temperature=preset.adversarial_temperature,
                       log_every=max(1, min(100, (steps or preset.steps) // 5)))


@dataclasses.dataclass
class Run:
    """One trained model with its evaluation."""

    name: str
    seed: int
    model: KGEModel
    result: EvalResult
    train_seconds: float
    history: pd.DataFrame

    def row(self) -> dict:
        return {"model": self.name, "seed": self.seed, **self.result.metrics(), "train s": self.train_seconds}


def run_model(name: str, kg: KnowledgeGraph, preset: OTEPreset, seed: int, *, device=None, progress: bool = True,
              init: OTE | None = None, steps: int | None = None, lr: float | None = None,
              eval_triples: torch.Tensor | None = None) -> Run:
    """Seed, build (or, for GC-OTE, initialise from the trained OTE ``init``), train and evaluate one model."""
    torch.manual_seed(seed)
    if name == "GC-OTE":
        if init is None:
            raise ValueError("GC-OTE is initialised from a trained OTE: pass init=<OTE model>")
        model = GCOTE.from_ote(init, kg.train)
    else:
        model = build_model(name, kg, preset.width, preset.group_size, preset.gamma)
    t0 = time.perf_counter()
    history = train_kge(model, kg, train_config(preset, steps, lr), seed=seed, device=device, progress=progress,
                        desc=f"{name} seed {seed}")
    seconds = time.perf_counter() - t0
    triples = eval_triples if eval_triples is not None else fixed_subset(kg.test, preset.eval_subset)
    result = evaluate(model, kg, triples, progress=progress, desc=f"eval {name}")
    return Run(name, seed, model, result, seconds, history)


def continue_training(run: Run, kg: KnowledgeGraph, preset: OTEPreset, steps: int, lr: float, *, device=None,
                      progress: bool = True) -> Run:
    """The control for GC-OTE: the same OTE trained for the same extra steps at the same learning rate."""
    import copy

    model = copy.deepcopy(run.model)
    t0 = time.perf_counter()
    history = train_kge(model, kg, train_config(preset, steps, lr), seed=run.seed + 1000, device=device,
                        progress=progress, desc=f"OTE+{steps} seed {run.seed}")
    seconds = time.perf_counter() - t0
    result = evaluate(model, kg, run.result.triples, progress=progress, desc="eval OTE (continued)")
    return Run(f"OTE +{steps}", run.seed, model, result, seconds, history)


def run_record(run: Run, kg: KnowledgeGraph) -> dict:
    """JSON-able summary of a run: metrics, per-category MRR, ranks per side, training seconds."""
    cats = relation_categories(kg)
    by_cat = run.result.by_relation_group(cats).reset_index().to_dict(orient="records")
    return {"model": run.name, "seed": run.seed, "metrics": run.result.metrics(), "train_seconds": run.train_seconds,
            "by_category": by_cat, "ranks": {s: r.tolist() for s, r in run.result.ranks.items()},
            "final_loss": float(run.history["train_loss"].iloc[-1])}


def course_cache(preset: OTEPreset, path=None, *, progress: bool = True, device=None) -> dict:
    """Train every model of ``preset`` over its seeds (plus GC-OTE and its OTE control when ``gc_steps``),
    writing the cache after every run so an interrupted computation keeps what it finished."""
    kg = load_kg(preset.dataset)
    path = path or DATA_DIR / (preset.cached or f"{preset.dataset}.json")
    payload = {"dataset": kg.name, "preset": dataclasses.asdict(preset), "torch": torch.__version__,
               "threads": torch.get_num_threads(), "tie_rule": "realistic", "runs": []}
    otes = {}
    for seed in preset.seeds:  # the asserted comparison first, over every seed
        for name in preset.models:
            run = run_model(name, kg, preset, seed, device=device, progress=progress)
            payload["runs"].append(run_record(run, kg))
            write_json(path, payload)
            print(f"{name} seed {seed}: MRR {run.result.mrr:.4f} ({run.train_seconds:.0f} s)", flush=True)
            if name == "OTE":
                otes[seed] = run
    for seed, run in otes.items() if preset.gc_steps else ():  # then the exploratory GC-OTE and its control
        for extra in (continue_training(run, kg, preset, preset.gc_steps, preset.gc_lr, device=device,
                                        progress=progress),
                      run_model("GC-OTE", kg, preset, seed, device=device, progress=progress, init=run.model,
                                steps=preset.gc_steps, lr=preset.gc_lr, eval_triples=run.result.triples)):
            payload["runs"].append(run_record(extra, kg))
            write_json(path, payload)
            print(f"{extra.name} seed {seed}: MRR {extra.result.mrr:.4f} ({extra.train_seconds:.0f} s)", flush=True)
    payload["complete"] = True
    write_json(path, payload)
    return payload


def load_cache(name: str = "kinships_course.json") -> dict:
    """The committed results of :func:`course_cache` (raises FileNotFoundError naming the command if absent)."""
    path = DATA_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; recompute it with `python -m course_lib.ote.experiments "
                                "course-cache`")
    return read_json(path)


def cache_table(cache: dict) -> pd.DataFrame:
    """One row per (model, seed) of a cache: MRR, MR, Hits@k, training seconds."""
    return pd.DataFrame([{"model": r["model"], "seed": r["seed"], **r["metrics"], "train s": r["train_seconds"]}
                         for r in cache["runs"]])


def seed_summary(rows: pd.DataFrame, metric: str = "MRR") -> pd.DataFrame:
    """Mean, min, max and spread (max − min) of ``metric`` per model over seeds."""
    g = rows.groupby("model", sort=False)[metric]
    out = pd.DataFrame({"seeds": g.count(), "mean": g.mean(), "min": g.min(), "max": g.max()})
    out["spread"] = out["max"] - out["min"]
    return out


def category_frame(cache: dict) -> pd.DataFrame:
    """Per-category MRR (head, tail, both) of every run of a cache, long format."""
    rows = []
    for r in cache["runs"]:
        for c in r["by_category"]:
            rows.append({"model": r["model"], "seed": r["seed"], **c})
    return pd.DataFrame(rows)


def merge_caches(parts, path) -> dict:
    """Merge per-seed caches (one process per seed) into one cache file, runs ordered by seed."""
    caches = [read_json(p) for p in parts]
    if not caches:
        raise ValueError("merge_caches: no part files given")
    payload = {k: v for k, v in caches[0].items() if k not in ("runs", "complete")}
    payload["preset"]["seeds"] = sorted(s for c in caches for s in c["preset"]["seeds"])
    payload["runs"] = sorted((r for c in caches for r in c["runs"]), key=lambda r: r["seed"])
    payload["complete"] = all(c.get("complete") for c in caches)
    write_json(path, payload)
    return payload


def main(argv: list[str] | None = None) -> int:
    from course_lib.ote.presets import PRESETS

    parser = argparse.ArgumentParser(prog="python -m course_lib.ote.experiments", description=__doc__)
    parser.add_argument("command", choices=["course-cache", "merge"])
    parser.add_argument("--scale", default="course")
    parser.add_argument("--seeds", type=int, nargs="*", help="only these seeds (one process per seed)")
    parser.add_argument("--parts", nargs="*", default=[], help="merge: per-seed cache files")
    parser.add_argument("--out", default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.command == "merge":
        merge_caches(args.parts, args.out or DATA_DIR / "kinships_course.json")
        return 0
    preset = PRESETS[args.scale]
    if args.seeds:
        preset = dataclasses.replace(preset, seeds=tuple(args.seeds))
    course_cache(preset, args.out, progress=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
