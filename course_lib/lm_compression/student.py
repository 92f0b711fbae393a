"""The BERT-like encoders of the series: the small student and the from-scratch teacher B (same class).

Pre-LN Transformer encoder (token + learned position embeddings, ``L`` layers of multi-head self-attention and a
GELU FFN, final LayerNorm), a mean-pool classification head and a tied MLM head (logits = ``h E^T + b``, as in
BERT, Devlin et al. 2019). :class:`DualMLM` adds the student vocabulary to a teacher for dual training: a second
embedding table of width ``d_s`` with an affine up-projection into the teacher's width and **two output softmaxes**
(Zhao et al. 2019, v1 Sec. 3.1; v2's affine projection; patent US 11,797,862 claim 8).
"""
from __future__ import annotations

import dataclasses

import torch
from torch import nn


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    vocab_size: int = 5000
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    ffn: int = 512
    max_len: int = 64
    num_classes: int = 2
    dropout: float = 0.1
    mlm_head: bool = False
    pad_id: int = 0

    def __post_init__(self):
        for name in ("vocab_size", "hidden", "layers", "heads", "ffn", "max_len"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"EncoderConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")


class Encoder(nn.Module):
    """A pre-LN BERT-like encoder; ``forward(ids, mask)`` gives class logits (mean-pooled final states)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.hidden, padding_idx=cfg.pad_id)
        self.pos = nn.Embedding(cfg.max_len, cfg.hidden)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(cfg.hidden, cfg.heads, cfg.ffn, cfg.dropout, activation="gelu",
                                       batch_first=True, norm_first=True) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.hidden)
        self.head = nn.Linear(cfg.hidden, cfg.num_classes)
        self.mlm_bias = nn.Parameter(torch.zeros(cfg.vocab_size)) if cfg.mlm_head else None
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos.weight, std=0.02)

    def check_input(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Clear errors for a bad batch: 2-D integer ids inside the vocabulary, length within the position table."""
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.is_floating_point():
            raise ValueError(f"ids must be a 2-D integer tensor (batch, length), got "
                             f"{getattr(ids, 'shape', type(ids).__name__)}")
        if ids.shape[1] > self.cfg.max_len:
            raise ValueError(f"sequence length {ids.shape[1]} exceeds the position table ({self.cfg.max_len} "
                             "positions); truncate the input or build the model with a larger max_len")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.cfg.vocab_size):
            raise ValueError(f"token ids must lie in [0, {self.cfg.vocab_size}), got [{int(ids.min())}, "
                             f"{int(ids.max())}]")
        if mask is not None and mask.shape != ids.shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} differs from ids shape {tuple(ids.shape)}")

    def encode(self, ids: torch.Tensor | None, mask: torch.Tensor, embeds: torch.Tensor | None = None):
        """Final hidden states ``(B, T, h)``; pass ``embeds`` (B, T, h) instead of ``ids`` to feed vectors."""
        x = self.tok(ids) if embeds is None else embeds
        length = x.shape[1]
        if length > self.cfg.max_len:
            raise ValueError(f"sequence length {length} exceeds the position table ({self.cfg.max_len})")
        x = x + self.pos.weight[:length]
        pad = mask == 0
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        return self.norm(x)

    def pooled(self, ids, mask, embeds=None) -> torch.Tensor:
        hidden = self.encode(ids, mask, embeds)
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(ids, mask))

    def mlm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Tied MLM output: ``hidden @ E^T + b`` over this encoder's vocabulary."""
        if self.mlm_bias is None:
            raise ValueError("this encoder was built without an MLM head (EncoderConfig(mlm_head=True))")
        return hidden @ self.tok.weight.T + self.mlm_bias


class DualMLM(nn.Module):
    """A teacher with a second (student) vocabulary for dual training (Zhao et al. 2019, v1 Sec. 3.1).

    Input ids are in the joint space of :class:`~course_lib.lm_compression.mixing.MixedVocab`: teacher pieces
    embed through the teacher table, student pieces through ``student_emb`` (width ``d_s``) followed by the
    affine up-projection ``up`` (``d_s → d_t``, v2). Output: two softmaxes, the teacher's tied one and a student
    one tied through the same projection, ``logits_s = (h W_up) E_s^T + b_s``."""

    def __init__(self, teacher: Encoder, student_vocab: int, student_dim: int):
        super().__init__()
        if teacher.mlm_bias is None:
            raise ValueError("dual training needs a teacher with an MLM head")
        self.teacher = teacher
        self.teacher_size = teacher.cfg.vocab_size
        self.student_emb = nn.Embedding(student_vocab, student_dim)
        nn.init.normal_(self.student_emb.weight, std=0.02)
        self.up = nn.Linear(student_dim, teacher.cfg.hidden)
        self.student_bias = nn.Parameter(torch.zeros(student_vocab))

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Mixed embeddings: teacher table for ids < V_t, ``up(student_emb)`` for the rest."""
        is_student = ids >= self.teacher_size
        t_ids = torch.where(is_student, torch.zeros_like(ids), ids)
        s_ids = torch.where(is_student, ids - self.teacher_size, torch.zeros_like(ids))
        return torch.where(is_student.unsqueeze(-1), self.up(self.student_emb(s_ids)), self.teacher.tok(t_ids))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor,
                select: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(teacher-vocabulary logits, student-vocabulary logits) at every position, or only at the positions
        where the boolean ``select`` is true (flattened: ``(n_selected, V)``)."""
        hidden = self.teacher.encode(None, mask, self.embed(ids))
        if select is not None:
            hidden = hidden[select]
        logits_t = self.teacher.mlm_logits(hidden)
        logits_s = (hidden @ self.up.weight) @ self.student_emb.weight.T + self.student_bias
        return logits_t, logits_s


def student_config(vocab_size: int, **overrides) -> EncoderConfig:
    """The course student: 4 layers, h 128, 4 heads, FFN 512, 64 positions (Sec. 6.2 of this course)."""
    return EncoderConfig(**{"vocab_size": vocab_size, "hidden": 128, "layers": 4, "heads": 4, "ffn": 512,
                            "max_len": 64, **overrides})


def teacher_b_config(vocab_size: int, **overrides) -> EncoderConfig:
    """Teacher B: 4 layers, h 256, 4 heads, FFN 1024, 64 positions, with an MLM head."""
    return EncoderConfig(**{"vocab_size": vocab_size, "hidden": 256, "layers": 4, "heads": 4, "ffn": 1024,
                            "max_len": 64, "mlm_head": True, **overrides})


def fvt_embeddings(student_tokenizer, teacher_tokenizer, teacher_embeddings: torch.Tensor, dim: int,
                   std: float = 0.05) -> torch.Tensor:
    """Fast Vocabulary Transfer (Gee et al. 2022): each student piece's embedding = mean of the teacher
    embeddings of its teacher pieces (``##x`` as the teacher's ``##x`` if present, else the pieces of ``x``);
    then reduced to ``dim`` by the top principal directions of the teacher embedding matrix (ours, for a narrower
    student) and rescaled to standard deviation ``std``."""
    tv = teacher_tokenizer.get_vocab()
    E = teacher_embeddings.detach().float().cpu()
    if dim > E.shape[1]:
        raise ValueError(f"dim {dim} exceeds the teacher width {E.shape[1]}")
    rows = []
    for sid in range(student_tokenizer.get_vocab_size()):
        piece = student_tokenizer.id_to_token(sid)
        if piece in tv:
            ids = [tv[piece]]
        else:
            word = piece[2:] if piece.startswith("##") else piece
            ids = teacher_tokenizer.encode(word, add_special_tokens=False).ids or [tv["[UNK]"]]
        rows.append(E[ids].mean(0))
    mean_vectors = torch.stack(rows)
    centre = E.mean(0)
    _, _, v = torch.linalg.svd(E - centre, full_matrices=False)
    reduced = (mean_vectors - centre) @ v[:dim].T
    return rescale(reduced, std)


def rescale(weights: torch.Tensor, std: float = 0.05) -> torch.Tensor:
    """Centre an embedding matrix and scale it to standard deviation ``std`` (a common scale for every
    initialisation arm, ours)."""
    w = weights.detach().float()
    w = w - w.mean(0, keepdim=True)
    return w * (std / w.std().clamp_min(1e-12))
