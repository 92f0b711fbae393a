"""WordPiece vocabularies: the teacher's (BERT uncased, 30,522 entries, shipped with MiniLM) and the student's small
one trained with the ``tokenizers`` WordPiece trainer ("optimal subwords", Zhao et al. 2019, v1 Sec. 3).

Both share one normaliser (lower-case, strip accents) and one pre-tokeniser (BERT's whitespace + punctuation
split), so a sentence splits into the same *words* in both; only the pieces of a word differ. Cached vocabularies
live in ``data/lm_compression/`` and are rebuilt by ``python -m course_lib.lm_compression.vocab``.
"""
from __future__ import annotations

import argparse
from functools import cache
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from course_lib.artifacts import artifact_dir, write_atomic

DATA_DIR = artifact_dir("lm_compression")
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
STUDENT_FILE = "student_wordpiece_5k.json"
TEACHER_B_FILE = "teacher_b_wordpiece_8k.json"


def _check_vocab(tok: Tokenizer, what: str) -> Tokenizer:
    vocab = tok.get_vocab()
    missing = [s for s in SPECIALS if s not in vocab]
    if missing:
        raise ValueError(f"{what} vocabulary lacks the special tokens {missing}; a WordPiece vocabulary needs "
                         f"{list(SPECIALS)} (in particular [UNK] for words it cannot segment)")
    return tok


def wordpiece_tokenizer(vocab: dict[str, int]) -> Tokenizer:
    """A BERT-style WordPiece tokenizer from a ``{piece: id}`` map; refuses a vocabulary without ``[UNK]`` etc."""
    if "[UNK]" not in vocab:
        raise ValueError("the vocabulary has no [UNK] entry; WordPiece needs it for words it cannot segment")
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    return _check_vocab(tok, "the")


def train_wordpiece(texts, vocab_size: int = 5000, min_frequency: int = 2) -> Tokenizer:
    """Train a WordPiece vocabulary of ``vocab_size`` entries (specials included) on ``texts``."""
    texts = list(texts)
    if not texts or not any(t.strip() for t in texts):
        raise ValueError("train_wordpiece needs non-empty training text")
    if vocab_size < len(SPECIALS) + 30:
        raise ValueError(f"vocab_size must be at least {len(SPECIALS) + 30}, got {vocab_size}")
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        special_tokens=list(SPECIALS), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return _check_vocab(tok, "the trained")


def teacher_tokenizer() -> Tokenizer:
    """MiniLM's (= BERT uncased) WordPiece tokenizer, from the files shipped with the weights."""
    from course_lib.lm_compression.teachers import minilm_path

    tok = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return _check_vocab(tok, "MiniLM's")


def _load_or_train(name: str, build, directory: Path | None) -> Tokenizer:
    path = (directory or DATA_DIR) / name
    if path.is_file():
        return _check_vocab(Tokenizer.from_file(str(path)), name)
    print(f"[lm_compression] {path} not found: training it now "
          "(run `python -m course_lib.lm_compression.vocab` to cache it)")
    tok = build()
    write_atomic(path, tok.to_str())
    return tok


@cache
def student_tokenizer(directory: Path | None = None) -> Tokenizer:
    """The student's 5K WordPiece vocabulary, trained on the SST-2 train text (cached)."""
    from course_lib.lm_compression.data import load_sst2

    return _load_or_train(STUDENT_FILE, lambda: train_wordpiece(load_sst2("train").texts, 5000), directory)


@cache
def teacher_b_tokenizer(directory: Path | None = None) -> Tokenizer:
    """Teacher B's 8K WordPiece vocabulary, trained on its pre-training corpus (cached)."""
    from course_lib.lm_compression.data import pretraining_corpus

    return _load_or_train(TEACHER_B_FILE, lambda: train_wordpiece(pretraining_corpus(), 8000), directory)


def vocab_overlap(student: Tokenizer, teacher: Tokenizer, words) -> dict[str, float]:
    """Share of student entries also in the teacher vocabulary, share of ``words`` segmented identically, and
    mean pieces per word in each."""
    sv, tv = student.get_vocab(), teacher.get_vocab()
    words = list(words)
    if not words:
        raise ValueError("vocab_overlap needs at least one word")
    s = student.encode_batch([[w] for w in words], is_pretokenized=True, add_special_tokens=False)
    t = teacher.encode_batch([[w] for w in words], is_pretokenized=True, add_special_tokens=False)
    same = sum(a.tokens == b.tokens for a, b in zip(s, t))
    return {"entries_in_teacher": sum(p in tv for p in sv) / len(sv), "same_segmentation": same / len(words),
            "student_pieces_per_word": sum(len(a.ids) for a in s) / len(words),
            "teacher_pieces_per_word": sum(len(b.ids) for b in t) / len(words)}


def main(argv=None) -> None:
    argparse.ArgumentParser(description="Train and cache the student (5K) and teacher-B (8K) vocabularies"
                            ).parse_args(argv)
    from course_lib.lm_compression.data import load_sst2, pretraining_corpus

    write_atomic(DATA_DIR / STUDENT_FILE, train_wordpiece(load_sst2("train").texts, 5000).to_str())
    write_atomic(DATA_DIR / TEACHER_B_FILE, train_wordpiece(pretraining_corpus(), 8000).to_str())


if __name__ == "__main__":
    main()
