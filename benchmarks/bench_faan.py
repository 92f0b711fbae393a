"""Benchmark: FAAN meta-training episodes per second and candidate-ranking throughput (pairs scored per second) on
UMLS-One (ours), one thread, in one process.

Speed is reported twice: per wall-clock second, and per CPU-second of this single-threaded process (what an idle
core would give — on a shared machine the wall clock also counts waiting for a core). The peer row is the
training-free TransE prototype on the same candidates and queries (FAAN's ranking cost is a Transformer pass per
(query, candidate) pair). Goal from the issue: one course run (3 seeds × 3 values of K) in ≤ 10 minutes on one
core. Run: ``python benchmarks/bench_faan.py [--quick]``."""
from __future__ import annotations

import argparse
import time

import torch

from course_lib.faan.benchmark import neighbor_table, umls_one
from course_lib.faan.episodes import EpisodeSampler
from course_lib.faan.evaluation import evaluate_few_shot, model_scorer, prototype_scorer
from course_lib.faan.model import FAANConfig
from course_lib.faan.training import MetaConfig, meta_train


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main(quick: bool = False) -> str:
    torch.set_num_threads(1)
    bench = umls_one(0)
    nt = neighbor_table(bench, 8)
    g = torch.Generator().manual_seed(0)
    ent, rel = torch.randn(bench.num_entities, 32, generator=g), torch.randn(bench.num_relations, 32, generator=g)
    steps = 40 if quick else 200
    rows = []
    cfg = FAANConfig(dim=32)
    (model, _, _), wall, cpu = _timed(lambda: meta_train(bench, ent, rel, nt, cfg, MetaConfig(steps=steps, queries=32),
                                                         3, device="cpu"))
    rows.append({"what": "FAAN meta-training (K=3, 32 queries)", "unit": "episodes/s", "wall": steps / wall,
                 "per CPU-s": steps / cpu})
    sampler = EpisodeSampler(bench, 3, 32, seed=0)
    _, wall, cpu = _timed(lambda: [sampler(s) for s in range(steps)])
    rows.append({"what": "episode sampling alone", "unit": "episodes/s", "wall": steps / wall,
                 "per CPU-s": steps / cpu})
    for name, scorer in (("FAAN ranking", model_scorer(model)), ("TransE prototype ranking", prototype_scorer(ent))):
        res, wall, cpu = _timed(lambda s=scorer: evaluate_few_shot(s, bench, 3, max_queries=20 if quick else None))
        pairs = float(res.sizes.sum())
        rows.append({"what": name, "unit": "ranked pairs/s", "wall": pairs / wall, "per CPU-s": pairs / cpu})
    lines = ["## FAAN (UMLS-One, d = 32, one thread)", "",
             "| what | unit | wall | per CPU-second |", "|---|---|---:|---:|"]
    lines += [f"| {r['what']} | {r['unit']} | {r['wall']:.1f} | {r['per CPU-s']:.1f} |" for r in rows]
    faan, proto = rows[2]["per CPU-s"], rows[3]["per CPU-s"]
    eps = rows[0]["per CPU-s"]
    lines += ["", f"FAAN ranking is {proto / faan:.0f}x slower than the TransE prototype per CPU-second (a Transformer "
              "pass per (query, candidate) pair against one distance).",
              f"At {eps:.0f} episodes per CPU-second, the 18 training runs of the course grid (300 episodes each) "
              f"need about {18 * 300 / eps:.0f} CPU-seconds of meta-training (goal: the whole course run in <= 600 s "
              "on one core; TransE pre-training and evaluation come on top)."]
    print("\n".join(lines))
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
