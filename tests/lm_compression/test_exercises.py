"""Exercise checkers of the series accept the reference solutions and refuse wrong answers."""
import numpy as np
import pandas as pd
import pytest

from course_lib.exercises import check, get
from course_lib.lm_compression import exercises as E


def bert_params(vocab_size, hidden, layers, ffn, positions):  # the solution, written without course_lib
    emb = (vocab_size + positions + 2) * hidden + 2 * hidden
    layer = 4 * (hidden * hidden + hidden) + 2 * hidden + (hidden * ffn + ffn) + (ffn * hidden + hidden) + 2 * hidden
    return emb + layers * layer


def mix_one_sentence(teacher_pieces, student_pieces, use_student, teacher_size, cls_id, sep_id):
    ids = [cls_id]
    for t, s, u in zip(teacher_pieces, student_pieces, use_student):
        ids += [i + teacher_size for i in s] if u else list(t)
    return ids + [sep_id]


def test_every_exercise_is_registered_with_two_hint_levels():
    for n in range(1, 8):
        ex = get(f"lm_compression.{n}")
        assert ex.hint and ex.hint2 and ex.prompt


def test_build_it_bert_params_accepts_the_solution_and_refuses_near_misses():
    assert check("lm_compression.2", bert_params)
    no_type = lambda V, h, L, f, P: bert_params(V, h, L, f, P) - 2 * h  # noqa: E731
    assert not check("lm_compression.2", no_type)
    assert not check("lm_compression.2", bert_params(100, 8, 1, 16, 8))  # a number, not the function
    assert bert_params(30522, 384, 6, 1536, 512) == E.bert_encoder_params(30522, 384, 6, 1536, 512)


def test_build_it_mixed_sequence_accepts_the_solution_and_refuses_wrong_builders():
    assert check("lm_compression.3", mix_one_sentence)
    unshifted = lambda tp, sp, use, V, c, s: mix_one_sentence(tp, sp, use, 0, c, s)  # noqa: E731
    assert not check("lm_compression.3", unshifted)
    flipped = lambda tp, sp, use, V, c, s: mix_one_sentence(tp, sp, [not u for u in use], V, c, s)  # noqa: E731
    assert not check("lm_compression.3", flipped)
    no_sep = lambda *a: mix_one_sentence(*a)[:-1]  # noqa: E731
    assert "[SEP]" in E._check_mix(no_sep)

    from course_lib.lm_compression import mixing

    def borrowed(tp, sp, use, V, c, s):
        return mixing.join_pieces([])

    assert "without course_lib" in E._check_mix(borrowed)


def test_numeric_answers():
    share = E.minilm_embedding_share()
    assert 0.5 < share < 0.53  # 30,522 × 384 of about 22.7 M
    assert check("lm_compression.1", share) and not check("lm_compression.1", 1 - share)
    ratio = E.int8_size_ratio()
    assert 1.3 < ratio < 2.0  # far from 4: the embeddings stay fp32
    assert check("lm_compression.4", ratio) and not check("lm_compression.4", 4.0)


def test_kd_gain_from_a_results_table():
    df = pd.DataFrame({"arm": ["scratch"] * 3 + ["kd"] * 3, "seed": [0, 1, 2] * 2,
                       "dev_acc": [60.0, 62.0, 61.0, 66.0, 64.0, 65.0]})
    assert E.kd_gain(df) == pytest.approx(4.0)


def test_notebook_3_answers():
    assert check("lm_compression.6", "quirky") and not check("lm_compression.6", "film")
    assert "single word" in E._check_word("two words")
    n = E._student_pieces(E.SENTENCE_7)
    assert check("lm_compression.7", n) and not check("lm_compression.7", n + 1)
    assert "special tokens" in E._check_pieces(n + 2)


def test_fixed_draws_make_exactly_the_given_choices():
    draws = E._FixedDraws([True, False, True])
    assert np.array_equal(draws.random(3) < 0.5, [True, False, True])
