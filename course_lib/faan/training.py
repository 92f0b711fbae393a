"""TransE pre-training on the background graph (shared KG core) and episodic meta-training of FAAN through the one
loop, :class:`course_lib.train.Loop` (paper §2.3: one Adam step per episode, linear warm-up then linear decay,
gradient clipping).
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import torch

from course_lib.device import resolve_device
from course_lib.faan.benchmark import FewShotBenchmark, NeighborTable, background_kg
from course_lib.faan.episodes import Episode, EpisodeSampler
from course_lib.faan.model import FAAN, FAANConfig, margin_loss
from course_lib.kg import TrainConfig, TransE, train_kge
from course_lib.train import Callback, Loop, StepLosses


def pretrain_transe(bench: FewShotBenchmark, dim: int, steps: int, *, seed: int = 0, batch_size: int = 512,
                    lr: float = 2e-3, device=None, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """TransE (Bordes et al. 2013) on the background graph only (task triples unseen); returns the entity and
    relation embeddings on the CPU. ``steps=0`` returns the random initialisation (the ``random_embed`` mode)."""
    torch.manual_seed(seed)
    model = TransE(bench.num_entities, bench.num_relations, dim, gamma=6.0)
    if steps > 0:
        train_kge(model, background_kg(bench), TrainConfig(steps=steps, batch_size=batch_size, num_negatives=64,
                                                         lr=lr, log_every=steps), seed=seed, device=device,
                  progress=progress, desc="TransE (background)")
    return model.entity.detach().cpu(), model.relation.detach().cpu()


class WarmupDecay(Callback):
    """Per-step learning rate: linear warm-up over ``warmup`` steps, then linear decay to 0 at ``total``."""

    def __init__(self, optimizer, warmup: int, total: int):
        self.optimizer, self.warmup, self.total = optimizer, max(1, warmup), total
        self.base = [g["lr"] for g in optimizer.param_groups]
        self.set(0)

    def factor(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        return max(0.0, (self.total - step) / max(1, self.total - self.warmup))

    def set(self, step: int) -> None:
        for g, base in zip(self.optimizer.param_groups, self.base):
            g["lr"] = base * self.factor(step)

    def on_step_end(self, loop, step, metrics):
        self.set(step + 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetaConfig:
    """Meta-training budget (paper §2.3 defaults: lr 5e-5, warm-up 10 000 of 300 000 steps, 128 queries, γ = 5)."""

    steps: int
    queries: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup: int = 100
    margin: float = 5.0
    grad_clip: float = 5.0


def episode_loss(model: FAAN, batch: Episode, margin: float) -> torch.Tensor:
    """Margin loss of one episode (the loop's step function)."""
    pos, neg = model(batch.refs, batch.positives, batch.negatives)
    return margin_loss(pos, neg, margin)


def meta_train(bench: FewShotBenchmark, entity_emb: torch.Tensor, relation_emb: torch.Tensor,
               neighbors: NeighborTable, config: FAANConfig, meta: MetaConfig, shots: int, *, seed: int = 0,
               device=None, evaluate=None, eval_every: int | None = None, progress: bool = False,
               desc: str = "FAAN") -> tuple[FAAN, pd.DataFrame, torch.Tensor]:
    """Build a FAAN (seeded) and meta-train it on episodes of ``bench``'s meta-train tasks; returns the model,
    the loop's history and the per-step loss curve. Same ``seed`` → same episodes for every variant."""
    device = resolve_device(device)
    torch.manual_seed(seed)
    model = FAAN(entity_emb, relation_emb, neighbors, config).to(device)
    sampler = EpisodeSampler(bench, shots, meta.queries, seed=seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=meta.lr,
                           weight_decay=meta.weight_decay)
    losses = StepLosses()
    schedule = WarmupDecay(opt, meta.warmup, meta.steps)
    loop = Loop(model, opt, lambda m, b: episode_loss(m, b, meta.margin), device=device, grad_clip=meta.grad_clip,
                callbacks=[losses, schedule], seed=seed)
    history = loop.run(sampler, steps=meta.steps, eval_every=eval_every or meta.steps, evaluate=evaluate,
                       progress=progress, desc=desc)
    return model, history, torch.as_tensor(losses.values())
