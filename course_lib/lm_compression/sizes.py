"""Exact analytic parameter and byte counts of BERT-like encoders, split into embedding tables and the rest — the
motivation of Zhao et al. (2019, v1 Sec. 1): in a small BERT the word-embedding table dominates.

Counts follow the BERT layout (Devlin et al. 2019): per layer the Q, K, V, O projections ``4(h² + h)``, the FFN
``2hf + f + h`` and two LayerNorms ``4h``. Generic counting of a built module and byte packing come from the shared
``course_lib.cost`` (``count_params``, ``packed_bytes``); this module only adds the BERT-specific breakdown.
"""
from __future__ import annotations

import dataclasses

from course_lib import cost

# BERT-BASE (Devlin et al. 2019, Sec. 3: L = 12, H = 768, A = 12; the released bert-base-uncased configuration:
# vocabulary 30,522, intermediate size 3,072, 512 positions, 2 token types).
BERT_BASE = dict(vocab=30522, hidden=768, layers=12, ffn=3072, positions=512, token_types=2, pooler=True)
# all-MiniLM-L6-v2 (its config.json: vocabulary 30,522, hidden 384, 6 layers, intermediate 1,536, 512 positions,
# 2 token types); the loaded BertModel includes a pooler.
MINILM = dict(vocab=30522, hidden=384, layers=6, ffn=1536, positions=512, token_types=2, pooler=True)


@dataclasses.dataclass(frozen=True)
class ParamCount:
    """Parameter groups of one encoder; ``embeddings`` = word + position + token-type tables (+ their LayerNorm)."""

    word_embeddings: int
    position_embeddings: int
    other_embeddings: int
    encoder: int
    head: int

    @property
    def embeddings(self) -> int:
        return self.word_embeddings + self.position_embeddings + self.other_embeddings

    @property
    def total(self) -> int:
        return self.embeddings + self.encoder + self.head

    @property
    def word_share(self) -> float:
        """Word-embedding table / all parameters."""
        return self.word_embeddings / self.total

    @property
    def embedding_share(self) -> float:
        """All embedding tables / all parameters."""
        return self.embeddings / self.total

    def bytes(self, bits: int | str = 32) -> int:
        """Storage of every parameter at ``bits`` (``course_lib.cost.packed_bytes``)."""
        return cost.packed_bytes(self.total, bits)

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "embeddings": self.embeddings, "total": self.total,
                "word_share": self.word_share, "embedding_share": self.embedding_share, "fp32_bytes": self.bytes(32)}


def layer_params(hidden: int, ffn: int) -> int:
    """One Transformer layer: ``4(h² + h)`` attention + ``2hf + f + h`` FFN + ``4h`` for two LayerNorms."""
    for name, v in (("hidden", hidden), ("ffn", ffn)):
        if int(v) < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    return 4 * (hidden * hidden + hidden) + 2 * hidden * ffn + ffn + hidden + 4 * hidden


def bert_params(vocab: int, hidden: int, layers: int, ffn: int, positions: int = 512, token_types: int = 2,
                pooler: bool = True) -> ParamCount:
    """Exact parameter count of a Hugging Face ``BertModel`` (embedding LayerNorm, optional pooler, no MLM head)."""
    if min(vocab, hidden, layers, ffn, positions) < 1:
        raise ValueError("vocab, hidden, layers, ffn and positions must all be >= 1")
    return ParamCount(word_embeddings=vocab * hidden, position_embeddings=positions * hidden,
                      other_embeddings=token_types * hidden + 2 * hidden,
                      encoder=layers * layer_params(hidden, ffn),
                      head=(hidden * hidden + hidden) if pooler else 0)


def encoder_params(cfg) -> ParamCount:
    """Exact count of :class:`~course_lib.lm_compression.student.Encoder` (final LayerNorm counted in ``encoder``;
    ``head`` = classifier + MLM output bias if any)."""
    head = cfg.hidden * cfg.num_classes + cfg.num_classes + (cfg.vocab_size if cfg.mlm_head else 0)
    return ParamCount(word_embeddings=cfg.vocab_size * cfg.hidden, position_embeddings=cfg.max_len * cfg.hidden,
                      other_embeddings=0, encoder=cfg.layers * layer_params(cfg.hidden, cfg.ffn) + 2 * cfg.hidden,
                      head=head)


def measured_params(model) -> int:
    """Parameters of a built module (``course_lib.cost.count_params``), to check the analytic counts."""
    return cost.count_params(model)


def size_table(student_cfg) -> list[dict]:
    """Rows for BERT-BASE, MiniLM, the student, and the same student with the teacher's 30,522-entry vocabulary."""
    teacher_vocab = dataclasses.replace(student_cfg, vocab_size=BERT_BASE["vocab"])
    rows = {"BERT-BASE": bert_params(**BERT_BASE), "all-MiniLM-L6-v2": bert_params(**MINILM),
            "student (5K vocab)": encoder_params(student_cfg),
            "same student, teacher vocab": encoder_params(teacher_vocab)}
    base = rows["BERT-BASE"].total
    return [{"model": k, **v.as_dict(), "x_smaller_than_bert_base": base / v.total} for k, v in rows.items()]
