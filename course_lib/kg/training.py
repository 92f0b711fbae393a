"""Training a knowledge-graph embedding model with negative sampling through the one loop, ``course_lib.train``.

The sampler is step-based (:class:`course_lib.kg.sampling.NegativeSampler`); the loss is RotatE's
self-adversarial loss (:func:`course_lib.kg.sampling.self_adversarial_loss`). A non-finite loss stops training
with a clear message (the shared loop raises ``FloatingPointError``).
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import torch

from course_lib.kg.models import KGEModel
from course_lib.kg.sampling import NegativeBatch, NegativeSampler, self_adversarial_loss
from course_lib.kg.triples import KnowledgeGraph


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Hyper-parameters of negative-sampling training (the RotatE / OTE training recipe)."""

    steps: int
    batch_size: int = 256
    num_negatives: int = 64
    lr: float = 2e-3
    adversarial_temperature: float = 1.0
    sampling: str = "uniform"
    filtered_negatives: bool = True
    subsampling: bool = False
    lr_halving_steps: int | None = None
    log_every: int = 100

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.num_negatives < 1 or self.log_every < 1:
            raise ValueError(f"steps, batch_size, num_negatives and log_every must be >= 1: {self}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


def batch_loss(model: KGEModel, batch: NegativeBatch, adversarial_temperature: float) -> torch.Tensor:
    """Self-adversarial loss of one negative-sampled batch (the loop's step function)."""
    pos, neg = model(batch.positives, batch.negatives, batch.corrupt_head)
    return self_adversarial_loss(pos, neg, adversarial_temperature=adversarial_temperature, weights=batch.weights)


def train_kge(model: KGEModel, kg: KnowledgeGraph, config: TrainConfig, *, seed: int = 0, device=None,
              checkpoint=None, resume: bool = False, progress: bool = True, desc: str | None = None,
              evaluate=None, amp: bool | str = False) -> pd.DataFrame:
    """Train ``model`` on ``kg.train`` for ``config.steps`` steps with Adam (LR halved every
    ``lr_halving_steps``) through :class:`course_lib.train.Loop` in steps mode; returns the history (one row per
    ``log_every`` steps, with ``evaluate(model)``'s metrics when given). The sampler's state is checkpointed,
    so ``resume=True`` continues exactly; under ``torchrun`` every rank draws its own batches."""
    from course_lib.train import Loop, per_rank, rank_seed

    if model.num_entities != kg.num_entities or model.num_relations != kg.num_relations:
        raise ValueError(f"model has {model.num_entities} entities / {model.num_relations} relations but "
                         f"{kg.name} has {kg.num_entities} / {kg.num_relations}")
    sampler = NegativeSampler(kg, config.batch_size, config.num_negatives, mode=config.sampling,
                              filtered=config.filtered_negatives, subsampling=config.subsampling,
                              seed=rank_seed(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = None
    if config.lr_halving_steps:
        every = max(1, config.lr_halving_steps // config.log_every)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=every, gamma=0.5)
    loop = Loop(model, optimizer, lambda m, b: batch_loss(m, b, config.adversarial_temperature), device=device,
                amp=amp, scheduler=scheduler, extra_state={"sampler": sampler})
    source = per_rank(lambda step: sampler.batch())
    return loop.run(source, steps=config.steps, eval_every=min(config.log_every, config.steps), evaluate=evaluate,
                    checkpoint=checkpoint, resume=resume, progress=progress, desc=desc or type(model).__name__)
