"""Mixed-vocabulary sequences — the input of dual training (Zhao et al. 2019, v1 Sec. 3.1; v2 Stage I).

Each *word* of a sentence is segmented with the student vocabulary with probability ``p`` and with the teacher
vocabulary otherwise (patent US 11,797,862 claim 11: chosen "randomly, according to a probability
hyperparameter"); ``p`` is ramped up during training (claim 12). The numeric ramp (linear 0 → ``p_max``) is ours.

Ids live in one joint space: teacher pieces keep their ids ``[0, V_t)``, student pieces are shifted to
``[V_t, V_t + V_s)``, so a single sequence can hold both and ``source = id >= V_t`` tells which softmax scores a
masked position (the two-softmax head, claim 8).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from tokenizers import Tokenizer

from course_lib.lm_compression.vocab import _check_vocab


def check_p(p: float, name: str = "p") -> float:
    """``p`` as a float in [0, 1], else a ValueError saying so."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number in [0, 1], got {p!r}") from None
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise ValueError(f"{name} is a probability and must lie in [0, 1], got {p!r}")
    return value


def ramp(step: int, total_steps: int, p_max: float = 0.5, warmup: float = 0.0) -> float:
    """Linear ramp of the student-segmentation probability: 0 for the first ``warmup`` share of the steps, then
    linearly to ``p_max`` at the last step (ours; the paper ramps p but gives no schedule)."""
    p_max = check_p(p_max, "p_max")
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    start = warmup * total_steps
    return p_max * float(np.clip((step - start) / max(total_steps - start, 1), 0.0, 1.0))


@dataclasses.dataclass(frozen=True)
class WordPieces:
    """A sentence split into words, each with its teacher and student pieces (ids in their own vocabularies)."""

    words: tuple[str, ...]
    teacher: tuple[tuple[int, ...], ...]
    student: tuple[tuple[int, ...], ...]


@dataclasses.dataclass
class MixedBatch:
    """Padded mixed sequences: ``ids`` (joint space), ``source`` (1 = student piece, 0 = teacher/special),
    ``word`` (word index per position, -1 for specials/padding), ``mask`` (1 = real token)."""

    ids: torch.Tensor
    source: torch.Tensor
    word: torch.Tensor
    mask: torch.Tensor
    student_words: int
    total_words: int

    def to(self, device):
        return dataclasses.replace(self, ids=self.ids.to(device), source=self.source.to(device),
                                   word=self.word.to(device), mask=self.mask.to(device))


class MixedVocab:
    """Splits sentences into words and segments each word with the teacher or the student vocabulary."""

    def __init__(self, teacher: Tokenizer, student: Tokenizer):
        self.teacher = _check_vocab(teacher, "the teacher")
        self.student = _check_vocab(student, "the student")
        self.teacher_size = teacher.get_vocab_size()
        self.student_size = student.get_vocab_size()
        tv = teacher.get_vocab()
        self.cls, self.sep, self.pad, self.mask_id = tv["[CLS]"], tv["[SEP]"], tv["[PAD]"], tv["[MASK]"]
        self.student_unk = student.token_to_id("[UNK]")

    @property
    def joint_size(self) -> int:
        return self.teacher_size + self.student_size

    def words(self, text: str) -> list[str]:
        """The words of ``text`` after the shared normaliser and pre-tokeniser (identical for both vocabularies)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        norm = self.teacher.normalizer.normalize_str(text) if self.teacher.normalizer else text
        return [w for w, _ in self.teacher.pre_tokenizer.pre_tokenize_str(norm)]

    def pieces(self, texts) -> list[WordPieces]:
        """Teacher and student pieces of every word of every text (one batched call per vocabulary)."""
        if isinstance(texts, str):
            texts = [texts]
        word_lists = [self.words(t) for t in texts]
        for i, (t, w) in enumerate(zip(texts, word_lists)):
            if not w:
                raise ValueError(f"text {i} is empty (no word after normalisation): {t!r}")
        out = []
        enc_t = self.teacher.encode_batch(word_lists, is_pretokenized=True, add_special_tokens=False)
        enc_s = self.student.encode_batch(word_lists, is_pretokenized=True, add_special_tokens=False)
        for words, et, es in zip(word_lists, enc_t, enc_s):
            out.append(WordPieces(tuple(words), _group(et, len(words)), _group(es, len(words))))
        return out

    def mix(self, pieces: list[WordPieces], p: float, generator: np.random.Generator | None = None,
            max_length: int = 64) -> MixedBatch:
        """Mixed sequences ``[CLS] w_1 … w_n [SEP]``: each word in student pieces with probability ``p``.

        ``p = 0`` reproduces the teacher tokenization exactly, ``p = 1`` the student tokenization. Sequences are
        cut at ``max_length`` tokens (whole words only)."""
        p = check_p(p)
        rng = generator if generator is not None else np.random.default_rng()
        if not pieces:
            raise ValueError("mix needs at least one sentence")
        seqs, srcs, wids = [], [], []
        n_student = n_words = 0
        for wp in pieces:
            choose = rng.random(len(wp.words)) < p
            ids, src, wid = [self.cls], [0], [-1]
            for w, use_student in enumerate(choose):
                piece = [self.teacher_size + i for i in wp.student[w]] if use_student else list(wp.teacher[w])
                if len(ids) + len(piece) + 1 > max_length:
                    break
                ids += piece
                src += [int(use_student)] * len(piece)
                wid += [w] * len(piece)
                n_student += int(use_student)
                n_words += 1
            ids.append(self.sep), src.append(0), wid.append(-1)
            seqs.append(ids), srcs.append(src), wids.append(wid)
        width = max(len(s) for s in seqs)
        shape = (len(seqs), width)
        ids_t = torch.full(shape, self.pad, dtype=torch.long)
        src_t = torch.zeros(shape, dtype=torch.long)
        wid_t = torch.full(shape, -1, dtype=torch.long)
        mask = torch.zeros(shape, dtype=torch.long)
        for i, (a, b, c) in enumerate(zip(seqs, srcs, wids)):
            ids_t[i, :len(a)] = torch.tensor(a)
            src_t[i, :len(a)] = torch.tensor(b)
            wid_t[i, :len(a)] = torch.tensor(c)
            mask[i, :len(a)] = 1
        return MixedBatch(ids_t, src_t, wid_t, mask, n_student, n_words)

    def mix_texts(self, texts, p: float, seed: int = 0, max_length: int = 64) -> MixedBatch:
        """:meth:`pieces` then :meth:`mix` with a seeded generator."""
        return self.mix(self.pieces(texts), p, np.random.default_rng(seed), max_length)

    def explain(self, text: str, p: float, seed: int = 0) -> list[dict]:
        """One sentence, word by word: ``{"word", "from_student", "pieces", "teacher_pieces", "student_pieces"}``
        with the same per-word draw as :meth:`mix_texts` (for the tokenization explorer)."""
        batch = self.mix_texts([text], p, seed=seed, max_length=10_000)
        wp = self.pieces([text])[0]
        rows = []
        for w, word in enumerate(wp.words):
            at = (batch.word[0] == w).nonzero().squeeze(1)
            student = bool(batch.source[0, at[0]]) if len(at) else False
            rows.append({"word": word, "from_student": student,
                         "pieces": self.decode_word_pieces(batch.ids[0, at].tolist()),
                         "teacher_pieces": [self.teacher.id_to_token(i) for i in wp.teacher[w]],
                         "student_pieces": [self.student.id_to_token(i) for i in wp.student[w]]})
        return rows

    def decode_word_pieces(self, ids) -> list[str]:
        """Joint-space ids → piece strings (student pieces marked with a leading ``s:``)."""
        out = []
        for i in ids:
            i = int(i)
            out.append(f"s:{self.student.id_to_token(i - self.teacher_size)}" if i >= self.teacher_size
                       else self.teacher.id_to_token(i))
        return out


def _group(encoding, n_words: int) -> tuple[tuple[int, ...], ...]:
    groups: list[list[int]] = [[] for _ in range(n_words)]
    for tid, w in zip(encoding.ids, encoding.word_ids):
        if w is not None:
            groups[w].append(tid)
    return tuple(tuple(g) for g in groups)


def join_pieces(pieces: list[str]) -> str:
    """Re-join WordPiece pieces of one word (``##`` marks a continuation)."""
    return "".join(p[2:] if p.startswith("##") else p for p in pieces)


def encode_student(tokenizer: Tokenizer, texts, max_length: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Student-vocabulary ids ``[CLS] … [SEP]`` padded to the longest (cut at ``max_length``), and the mask."""
    texts = list(texts)
    if not texts:
        raise ValueError("encode_student needs at least one text")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"text {i} is empty: {t!r}")
    tok = Tokenizer.from_str(tokenizer.to_str())
    tok.enable_truncation(max_length)
    tok.enable_padding(pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    from tokenizers.processors import TemplateProcessing

    tok.post_processor = TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    enc = tok.encode_batch(texts)
    return (torch.tensor([e.ids for e in enc], dtype=torch.long),
            torch.tensor([e.attention_mask for e in enc], dtype=torch.long))
