import math

import numpy as np
import pytest
from tokenizers import Tokenizer, models

from course_lib.lm_compression.data import pydoc_lines
from course_lib.lm_compression.mixing import MixedVocab, check_p, join_pieces, ramp
from course_lib.lm_compression.vocab import student_tokenizer, teacher_tokenizer


@pytest.fixture(scope="module")
def mixer():
    return MixedVocab(teacher_tokenizer(), student_tokenizer())


TEXTS = ["it 's a charming and often affecting journey .", "unflinchingly bleak and desperate",
         "Hello, World! naïve café"] + pydoc_lines(200)


def test_p0_is_teacher_and_p1_is_student(mixer):
    m0 = mixer.mix_texts(TEXTS, 0.0, seed=1, max_length=10_000)
    m1 = mixer.mix_texts(TEXTS, 1.0, seed=1, max_length=10_000)
    for i, text in enumerate(TEXTS):
        assert m0.ids[i][m0.mask[i].bool()].tolist() == mixer.teacher.encode(text).ids
        student = mixer.student.encode(text, add_special_tokens=False).ids
        assert m1.ids[i][m1.mask[i].bool()].tolist() == [mixer.cls] + [mixer.teacher_size + j for j in student] \
            + [mixer.sep]
    assert m0.student_words == 0 and m1.student_words == m1.total_words


def test_student_pieces_rejoin_to_the_word(mixer):
    checked = 0
    for wp in mixer.pieces(TEXTS):
        for w, word in enumerate(wp.words):
            pieces = [mixer.student.id_to_token(j) for j in wp.student[w]]
            if "[UNK]" not in pieces:
                assert join_pieces(pieces) == word
                checked += 1
    assert checked > 1000


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_realised_fraction_matches_p(mixer, p):
    pieces = mixer.pieces(TEXTS) * 20
    batch = mixer.mix(pieces, p, np.random.default_rng(0), max_length=10_000)
    assert batch.total_words > 20_000
    assert abs(batch.student_words / batch.total_words - p) < 0.015


def test_words_of_a_mixed_sequence_stay_whole(mixer):
    batch = mixer.mix_texts(TEXTS[:20], 0.5, seed=3)
    for i in range(len(batch.ids)):
        src, word = batch.source[i], batch.word[i]
        for w in word.unique().tolist():
            if w >= 0:
                assert src[word == w].unique().numel() == 1


def test_explain_and_ramp(mixer):
    rows = mixer.explain("a charming journey", 1.0)
    assert [r["word"] for r in rows] == ["a", "charming", "journey"] and all(r["from_student"] for r in rows)
    values = [ramp(s, 100, 0.5) for s in range(101)]
    assert values[0] == 0 and math.isclose(values[-1], 0.5) and np.all(np.diff(values) >= 0)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_p_outside_unit_interval_is_refused(mixer, p):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        mixer.mix_texts(["a b"], p)
    with pytest.raises(ValueError):
        check_p(p)


def test_empty_text_and_vocabulary_without_unk_are_refused(mixer):
    with pytest.raises(ValueError, match="empty"):
        mixer.mix_texts(["fine text", "   "], 0.5)
    bad = Tokenizer(models.WordLevel({"[PAD]": 0, "[CLS]": 1, "[SEP]": 2, "[MASK]": 3, "a": 4}, unk_token="[PAD]"))
    with pytest.raises(ValueError, match=r"\[UNK\]"):
        MixedVocab(teacher_tokenizer(), bad)
