"""GPU-check hook (``make gpu-check``): a few FAAN meta-training episodes and a candidate ranking on a synthetic
few-shot benchmark (a random graph carved with the same recipe), and a fixed forward pass to compare devices."""
from __future__ import annotations

import torch

from course_lib.faan.benchmark import carve_few_shot, neighbor_table
from course_lib.faan.evaluation import evaluate_few_shot, model_scorer
from course_lib.faan.model import FAAN, FAANConfig
from course_lib.faan.training import MetaConfig, meta_train
from course_lib.kg import KnowledgeGraph


def _bench():
    """Relations 0–2 with 600 random triples each (background), 3–8 with 80 each (few-shot tasks)."""
    g = torch.Generator().manual_seed(0)
    sizes = [600] * 3 + [80] * 6
    rel = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    triples = torch.stack([torch.randint(60, (len(rel),), generator=g), rel,
                           torch.randint(60, (len(rel),), generator=g)], 1)
    kg = KnowledgeGraph(name="random (synthetic)", entities=tuple(f"e{i}" for i in range(60)),
                        relations=tuple(f"r{i}" for i in range(len(sizes))), train=triples, valid=triples[:0],
                        test=triples[:0], synthetic=True)
    return carve_few_shot(kg, candidates="all", name="random-One")


def smoke(device: torch.device, *, amp: bool) -> dict[str, float]:
    """40 episodes of FAAN (K = 3) on a synthetic benchmark, then its test MRR; ``amp`` is not used (float32)."""
    bench = _bench()
    g = torch.Generator().manual_seed(0)
    ent, rel = torch.randn(bench.num_entities, 16, generator=g), torch.randn(bench.num_relations, 16, generator=g)
    model, _, losses = meta_train(bench, ent, rel, neighbor_table(bench, 6), FAANConfig(dim=16, heads=2),
                                  MetaConfig(steps=40, queries=16, warmup=5), 3, device=device)
    m = evaluate_few_shot(model_scorer(model), bench, 3).metrics()
    return {"final loss": float(losses[-5:].mean()), "test MRR": m["MRR"]}


def fixed_forward(device: torch.device) -> torch.Tensor:
    """φ of fixed query pairs for a seeded FAAN (eval mode, float32)."""
    bench = _bench()
    g = torch.Generator().manual_seed(1)
    ent, rel = torch.randn(bench.num_entities, 16, generator=g), torch.randn(bench.num_relations, 16, generator=g)
    torch.manual_seed(0)
    model = FAAN(ent, rel, neighbor_table(bench, 6), FAANConfig(dim=16, heads=2)).to(device).eval()
    task = bench.splits["test"][0]
    pairs = bench.tasks[task].to(device)
    with torch.no_grad():
        return model.score(pairs[:3], pairs[3:40])
