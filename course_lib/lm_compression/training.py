"""Training of the series, all through the one loop ``course_lib.train.Loop`` (checkpoints, AMP, DDP).

- :func:`train_student` — the task-distillation arms (``scratch``, ``kd``, ``kd+fvt``, ``kd+dual``,
  ``kd+dual+proj``, ``kd+dualA``) on the low-label SST-2 regime, same steps for every arm;
- :func:`pretrain_teacher_b` — teacher B's from-scratch MLM pre-training (Devlin et al. 2019 masking);
- :func:`dual_train` — teacher B's dual training on mixed-vocabulary sequences with two softmaxes (Zhao et al.
  2019, v1 Sec. 3.1), which learns the student-vocabulary embeddings in the teacher's context;
- :func:`align_minilm` — the same idea on the frozen MiniLM without an MLM head (representation level, **ours**).

Each objective is an ``nn.Module`` whose ``forward(batch)`` returns the loss dict, so DDP sees every forward.
Batches come from ``step -> batch`` samplers seeded by (seed, step), so a resumed run draws the same batches.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from course_lib.device import resolve_device
from course_lib.lm_compression.losses import (
    IGNORE,
    SharedProjections,
    alignment_loss,
    dual_mlm_loss,
    kd_loss,
    mask_tokens,
    projection_loss,
)
from course_lib.lm_compression.mixing import MixedVocab, check_p, encode_student, ramp
from course_lib.lm_compression.student import DualMLM, Encoder
from course_lib.train import Loop, StepLosses

ARMS = ("scratch", "kd", "kd+fvt", "kd+dual", "kd+dual+proj", "kd+dualA")


@dataclasses.dataclass
class TaskData:
    """Student-vocabulary ids of the training phrases and the dev sentences, labels (-100 = unlabelled transfer)
    and the teacher's logits for every training phrase."""

    ids: torch.Tensor
    mask: torch.Tensor
    labels: torch.Tensor
    teacher_logits: torch.Tensor
    dev_ids: torch.Tensor
    dev_mask: torch.Tensor
    dev_labels: torch.Tensor

    @property
    def labelled(self) -> torch.Tensor:
        return torch.nonzero(self.labels != IGNORE).squeeze(1)


def task_data(tokenizer, train_texts, labels, teacher_logits, dev_texts, dev_labels, max_len: int = 64) -> TaskData:
    """Encode everything once with the student vocabulary (padded to ``max_len``; batches are trimmed later)."""
    ids, mask = encode_student(tokenizer, train_texts, max_len)
    dev_ids, dev_mask = encode_student(tokenizer, dev_texts, max_len)
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    logits = torch.as_tensor(np.asarray(teacher_logits), dtype=torch.float32)
    if not len(labels) == len(logits) == len(ids):
        raise ValueError(f"{len(ids)} texts, {len(labels)} labels and {len(logits)} teacher logits differ")
    return TaskData(ids, mask, labels, logits, dev_ids, dev_mask,
                    torch.as_tensor(np.asarray(dev_labels), dtype=torch.long))


def _trim(ids, mask):
    length = int(mask.sum(1).max())
    return ids[:, :length], mask[:, :length]


@torch.no_grad()
def accuracy(model: Encoder, ids, mask, labels, batch_size: int = 256) -> float:
    """Accuracy [%] of an encoder's class logits."""
    dev = next(model.parameters()).device
    correct = 0
    for s in range(0, len(ids), batch_size):
        i, m = _trim(ids[s:s + batch_size], mask[s:s + batch_size])
        correct += int((model(i.to(dev), m.to(dev)).argmax(-1).cpu() == labels[s:s + batch_size]).sum())
    return 100.0 * correct / len(ids)


@torch.no_grad()
def predict(model: Encoder, tokenizer, texts, batch_size: int = 256) -> np.ndarray:
    """Class probabilities ``(n, C)`` of an encoder on raw sentences (student vocabulary ``tokenizer``)."""
    ids, mask = encode_student(tokenizer, texts, model.cfg.max_len)
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    out = [torch.softmax(model(*[t.to(dev) for t in _trim(ids[s:s + batch_size], mask[s:s + batch_size])]), -1)
           for s in range(0, len(ids), batch_size)]
    model.train(was)
    return torch.cat(out).cpu().numpy()


class StudentObjective(nn.Module):
    """One arm's training objective: CE (``scratch``) or logit KD (Hinton et al. 2015), plus ``λ`` times the
    shared-projection weight loss against a frozen teacher (v1 Sec. 3.2) when ``teacher_layers`` is given."""

    def __init__(self, student: Encoder, kd: bool, temperature: float = 2.0, alpha: float = 0.5,
                 teacher_layers: nn.ModuleList | None = None, projections: SharedProjections | None = None,
                 lam: float = 1.0):
        super().__init__()
        self.student, self.kd, self.temperature, self.alpha = student, kd, temperature, alpha
        self.teacher_layers = teacher_layers
        if teacher_layers is not None:
            teacher_layers.requires_grad_(False)
        self.projections, self.lam = projections, lam

    def forward(self, batch):
        ids, mask, labels, t_logits = batch
        logits = self.student(ids, mask)
        if self.kd:
            task = kd_loss(logits, t_logits, labels, self.temperature, self.alpha)
        else:
            task = nn.functional.cross_entropy(logits.float(), labels)
        out = {"task": task}
        loss = task
        if self.teacher_layers is not None:
            proj = projection_loss(self.teacher_layers, self.student.layers, self.projections)
            out.update(proj_down=proj["proj_down"], proj_up=proj["proj_up"])
            loss = loss + self.lam * proj["loss"]
        return {"loss": loss, **out}


def warmup_linear(steps: int, warmup: float = 0.1):
    """LR factor: linear warm-up over ``warmup`` of the steps, then linear decay to 0."""
    w = max(int(steps * warmup), 1)
    return lambda s: max(0.0, min((s + 1) / w, (steps - s) / max(steps - w, 1)))


def _student_sampler(data: TaskData, labelled_only: bool, batch_size: int, seed: int):
    pool = data.labelled if labelled_only else torch.arange(len(data.ids))

    def sample(step: int):
        rng = np.random.default_rng([seed, step])
        idx = pool[torch.as_tensor(rng.choice(len(pool), size=min(batch_size, len(pool)), replace=False))]
        ids, mask = _trim(data.ids[idx], data.mask[idx])
        return ids, mask, data.labels[idx], data.teacher_logits[idx]

    return sample


def train_student(student: Encoder, data: TaskData, arm: str, *, steps: int, batch_size: int = 64,
                  lr: float = 1e-3, seed: int = 0, eval_every: int | None = None, teacher_layers=None,
                  lam: float = 1.0, device=None, amp=False, checkpoint=None, progress: bool = False):
    """Train one arm for ``steps`` batches (``scratch``: labelled phrases only, CE; every other arm: labelled +
    transfer phrases with logit KD). Returns (history DataFrame, final dev accuracy [%], step losses)."""
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {ARMS}, got {arm!r}")
    device = resolve_device(device)
    projections = None
    if arm == "kd+dual+proj":
        if teacher_layers is None:
            raise ValueError("the projection arm needs teacher_layers (teacher B's encoder layers)")
        t0 = teacher_layers[0]
        projections = SharedProjections(t0.self_attn.embed_dim, student.cfg.hidden, t0.linear1.out_features,
                                        student.cfg.ffn, seed=seed)
    else:
        teacher_layers = None
    objective = StudentObjective(student, kd=arm != "scratch", teacher_layers=teacher_layers,
                                 projections=projections, lam=lam)
    opt = torch.optim.AdamW([p for p in objective.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_linear(steps))
    losses = StepLosses(every=max(steps // 50, 1))
    loop = Loop(objective, opt, lambda model, batch: model(batch), device=device, amp=amp, grad_clip=1.0,
                scheduler=sched, callbacks=[losses], seed=seed)

    def evaluate(model):
        return {"dev_acc": accuracy(model.student, data.dev_ids, data.dev_mask, data.dev_labels)}

    hist = loop.run(_student_sampler(data, arm == "scratch", batch_size, seed), steps=steps,
                    eval_every=eval_every or steps, evaluate=evaluate, checkpoint=checkpoint,
                    resume=checkpoint is not None, progress=progress, desc=arm)
    return hist, float(hist["dev_acc"].iloc[-1]), losses.values()


# --------------------------------------------------------------------------------------------- teacher B (MLM)
class MLMObjective(nn.Module):
    """Plain MLM of teacher B on its own vocabulary (BERT masking)."""

    def __init__(self, encoder: Encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, batch):
        inputs, targets, mask = batch
        chosen = targets != IGNORE
        logits = self.encoder.mlm_logits(self.encoder.encode(inputs, mask)[chosen])  # masked positions only
        return {"loss": nn.functional.cross_entropy(logits.float(), targets[chosen])}


def _encode_plain(tokenizer, texts, max_len):
    ids, mask = encode_student(tokenizer, texts, max_len)
    return ids, mask


def pretrain_teacher_b(encoder: Encoder, tokenizer, texts, *, steps: int, batch_size: int = 64, lr: float = 5e-4,
                       seed: int = 0, device=None, checkpoint=None, progress: bool = False):
    """MLM pre-training of teacher B from scratch on ``texts`` (its own WordPiece vocabulary). Returns the history
    and the per-step losses."""
    device = resolve_device(device)
    ids, mask = _encode_plain(tokenizer, texts, encoder.cfg.max_len)
    mask_id, n_vocab = tokenizer.token_to_id("[MASK]"), tokenizer.get_vocab_size()
    special = lambda x: x < 5  # noqa: E731 - [PAD] [UNK] [CLS] [SEP] [MASK] are ids 0..4 of our vocabularies

    def sample(step):
        rng = np.random.default_rng([seed, step])
        idx = torch.as_tensor(rng.choice(len(ids), size=batch_size, replace=False))
        i, m = _trim(ids[idx], mask[idx])
        g = torch.Generator().manual_seed(int(rng.integers(1 << 31)))
        inputs, targets = mask_tokens(i, m, mask_id, n_vocab, generator=g, special=special(i))
        return inputs, targets, m

    opt = torch.optim.AdamW(encoder.parameters(), lr=lr, weight_decay=0.01)
    losses = StepLosses(every=max(steps // 50, 1))
    hist = Loop(MLMObjective(encoder), opt, lambda model, b: model(b), device=device, grad_clip=1.0,
                callbacks=[losses], seed=seed).run(sample, steps=steps, checkpoint=checkpoint,
                                                   resume=checkpoint is not None, progress=progress,
                                                   desc="teacher B MLM")
    return hist, losses.values()


class DualObjective(nn.Module):
    """Dual training: mixed-vocabulary MLM of the teacher with two softmaxes (:func:`dual_mlm_loss`)."""

    def __init__(self, dual: DualMLM):
        super().__init__()
        self.dual = dual

    def forward(self, batch):
        inputs, targets, mask = batch
        chosen = targets != IGNORE
        logits_t, logits_s = self.dual(inputs, mask, select=chosen)  # masked positions only
        return dual_mlm_loss(logits_t, logits_s, targets[chosen], self.dual.teacher_size)


def dual_train(dual: DualMLM, mixer: MixedVocab, texts, *, steps: int, p_max: float = 0.5, batch_size: int = 64,
               lr: float = 5e-4, seed: int = 0, device=None, checkpoint=None, progress: bool = False,
               ramped: bool = True):
    """Dual training (Zhao et al. 2019, v1 Sec. 3.1): each word of a training sentence is segmented with the
    student vocabulary with probability ``p`` (linear ramp 0 → ``p_max``, ours; ``ramped=False``: constant
    ``p_max``), then masked and predicted by the softmax of its own vocabulary. Returns (history, per-step
    losses, realised student-word fraction)."""
    check_p(p_max, "p_max")
    device = resolve_device(device)
    pieces = mixer.pieces(texts)
    stats = {"student": 0, "words": 0}

    def sample(step):
        rng = np.random.default_rng([seed, step])
        idx = rng.choice(len(pieces), size=batch_size, replace=False)
        p = ramp(step, steps, p_max) if ramped else p_max
        batch = mixer.mix([pieces[i] for i in idx], p, rng, dual.teacher.cfg.max_len)
        stats["student"] += batch.student_words
        stats["words"] += batch.total_words
        g = torch.Generator().manual_seed(int(rng.integers(1 << 31)))
        special = (batch.word < 0)
        inputs, targets = mask_tokens(batch.ids, batch.mask, mixer.mask_id, mixer.teacher_size, generator=g,
                                      special=special)
        return inputs, targets, batch.mask

    opt = torch.optim.AdamW(dual.parameters(), lr=lr, weight_decay=0.01)
    losses = StepLosses(every=max(steps // 50, 1))
    hist = Loop(DualObjective(dual), opt, lambda model, b: model(b), device=device, grad_clip=1.0,
                callbacks=[losses], seed=seed).run(sample, steps=steps, checkpoint=checkpoint,
                                                   resume=checkpoint is not None, progress=progress,
                                                   desc="dual training")
    return hist, losses.values(), stats["student"] / max(stats["words"], 1)


# ------------------------------------------------------------------- teacher A: representation-level (ours)
class MiniLMAlignment(nn.Module):
    """Student-vocabulary embeddings ``E_s`` (width ``d_s``) and an affine up-projection into MiniLM's width,
    trained so that the frozen MiniLM's pooled output on a mixed sequence matches the pure-teacher one (ours)."""

    def __init__(self, minilm, student_vocab: int, student_dim: int = 128):
        super().__init__()
        self.minilm = minilm.requires_grad_(False)
        hidden = minilm.config.hidden_size
        self.teacher_size = minilm.config.vocab_size
        self.student_emb = nn.Embedding(student_vocab, student_dim)
        nn.init.normal_(self.student_emb.weight, std=0.02)
        self.up = nn.Linear(student_dim, hidden)

    def pooled(self, ids, mask):
        from course_lib.lm_compression.teachers import mean_pool

        word = self.minilm.get_input_embeddings()
        is_s = ids >= self.teacher_size
        t_ids = torch.where(is_s, torch.zeros_like(ids), ids)
        s_ids = torch.where(is_s, ids - self.teacher_size, torch.zeros_like(ids))
        embeds = torch.where(is_s.unsqueeze(-1), self.up(self.student_emb(s_ids)), word(t_ids))
        hidden = self.minilm(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        return mean_pool(hidden, mask, normalize=False)

    def forward(self, batch):
        mixed_ids, mixed_mask, pure_ids, pure_mask = batch
        with torch.no_grad():
            target = self.pooled(pure_ids, pure_mask)
        return alignment_loss(self.pooled(mixed_ids, mixed_mask), target)


def align_minilm(align: MiniLMAlignment, mixer: MixedVocab, texts, *, steps: int, p_max: float = 0.5,
                 batch_size: int = 32, lr: float = 2e-3, seed: int = 0, device=None, progress: bool = False):
    """Train :class:`MiniLMAlignment` (only ``E_s`` and the up-projection move) on mixed sequences with a ramped p.
    Returns (history, per-step losses)."""
    device = resolve_device(device)
    pieces = mixer.pieces(texts)

    def sample(step):
        rng = np.random.default_rng([seed, step])
        chosen = [pieces[i] for i in rng.choice(len(pieces), size=batch_size, replace=False)]
        p = max(ramp(step, steps, p_max), 0.05)
        mixed = mixer.mix(chosen, p, rng, 64)
        pure = mixer.mix(chosen, 0.0, rng, 64)
        return mixed.ids, mixed.mask, pure.ids, pure.mask

    params = list(align.student_emb.parameters()) + list(align.up.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    losses = StepLosses(every=max(steps // 50, 1))
    hist = Loop(align, opt, lambda model, b: model(b), device=device, grad_clip=1.0, callbacks=[losses],
                seed=seed).run(sample, steps=steps, progress=progress, desc="MiniLM alignment")
    return hist, losses.values()


def decreased(values, frac: float = 0.2) -> tuple[float, float]:
    """(mean of the first ``frac`` of a loss curve, mean of the last ``frac``) — for "the loss decreases"."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size < 2:
        raise ValueError("need at least two loss values")
    k = max(1, int(len(v) * frac))
    return float(v[:k].mean()), float(v[-k:].mean())
