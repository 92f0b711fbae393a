"""GPU-check hook (``make gpu-check``): OTE and GC-OTE trained for a few steps on the synthetic pattern graph
(:func:`course_lib.kg.toy_pattern_kg`), then the filtered evaluation; and a fixed forward pass to compare devices."""
from __future__ import annotations

import torch

from course_lib.gpu_check import amp_call
from course_lib.kg import TrainConfig, evaluate, toy_pattern_kg, train_kge
from course_lib.ote.models import GCOTE, OTE


def smoke(device: torch.device, *, amp: bool) -> dict[str, float]:
    """60 steps of OTE (k = 4) and 10 of GC-OTE from it on the toy graph, then both filtered MRRs."""
    kg = toy_pattern_kg(40)
    config = TrainConfig(steps=60, batch_size=32, num_negatives=16, lr=1e-2, log_every=30)
    torch.manual_seed(0)
    ote = OTE(kg.num_entities, kg.num_relations, 32, group_size=4)
    amp_call(train_kge, ote, kg, config, device=device, amp=amp, progress=False)
    gc = GCOTE.from_ote(ote, kg.train)
    amp_call(train_kge, gc, kg, TrainConfig(steps=10, batch_size=32, num_negatives=16, lr=1e-3, log_every=5),
             device=device, amp=amp, progress=False)
    return {"OTE MRR": evaluate(ote, kg, progress=False).mrr, "GC-OTE MRR": evaluate(gc, kg, progress=False).mrr}


def fixed_forward(device: torch.device) -> torch.Tensor:
    """Scores of every entity for fixed tail and head queries of a seeded OTE (float32, eval mode)."""
    kg = toy_pattern_kg(40)
    torch.manual_seed(0)
    model = OTE(kg.num_entities, kg.num_relations, 32, group_size=4).to(device).eval()
    anchor = torch.arange(8, device=device)
    relation = torch.arange(8, device=device) % kg.num_relations
    with torch.no_grad():
        return torch.cat([model.score_all(anchor, relation, "tail"), model.score_all(anchor, relation, "head")])
