import pytest

from course_lib.lm_compression.data import pydoc_lines
from course_lib.lm_compression.vocab import (
    SPECIALS,
    student_tokenizer,
    teacher_tokenizer,
    train_wordpiece,
    vocab_overlap,
    wordpiece_tokenizer,
)


def test_trained_vocabulary_has_specials_and_target_size():
    tok = train_wordpiece(pydoc_lines(500), vocab_size=300)
    vocab = tok.get_vocab()
    assert all(s in vocab for s in SPECIALS)
    assert len(vocab) <= 300


def test_committed_student_vocabulary_is_5k_and_differs_from_the_teacher():
    st, tt = student_tokenizer(), teacher_tokenizer()
    assert st.get_vocab_size() == 5000 and tt.get_vocab_size() == 30522
    stats = vocab_overlap(st, tt, "the movie is a charming and often affecting journey".split())
    assert 0 < stats["entries_in_teacher"] < 1


def test_bad_vocabularies_and_text():
    with pytest.raises(ValueError, match=r"\[UNK\]"):
        wordpiece_tokenizer({"[PAD]": 0, "a": 1})
    with pytest.raises(ValueError, match="non-empty"):
        train_wordpiece(["", "  "])
