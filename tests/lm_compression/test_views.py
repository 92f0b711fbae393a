"""The series' views: each draws what it is given (tested on the drawn data and text, and that it changes with
the input), and refuses bad input with a clear error."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from course_lib.lm_compression import views
from course_lib.lm_compression.mixing import MixedVocab
from course_lib.lm_compression.vocab import teacher_tokenizer, train_wordpiece

from ..figures import data, differ, texts

SENTENCE = "an unforgettably quirky , heartwarming film about misfits ."


@pytest.fixture(scope="module")
def mixer():
    corpus = ["a quirky film about misfits", "an unforgettable heartwarming story", "the film is heartwarming",
              "misfits and heroes in a quirky town", "about a film , really ."] * 20
    return MixedVocab(teacher_tokenizer(), train_wordpiece(corpus, vocab_size=80, min_frequency=1))


def _box_texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_plot_pieces_draws_one_box_per_piece_with_its_text():
    rows = {"a": [("[CLS]", "special"), "the", ("un", "student")], "b": ["x"] * 5}
    fig = views.plot_pieces(rows)
    drawn = _box_texts(fig)
    assert drawn.count("the") == 1 and drawn.count("un") == 1 and drawn.count("x") == 5
    assert "a\n(3 pieces)" in drawn and "b\n(5 pieces)" in drawn
    boxes = [p for p in fig.axes[0].patches if isinstance(p, matplotlib.patches.FancyBboxPatch)]
    assert len(boxes) == 8
    colours = {matplotlib.colors.to_hex(b.get_facecolor()) for b in boxes}
    assert colours == {views.SOURCE_COLOURS[s] for s in ("teacher", "student", "special")}
    assert differ(fig, views.plot_pieces({"a": ["the", "un"], "b": ["x"] * 5}))
    plt.close("all")


def test_tokenization_rows_follow_the_two_vocabularies_and_p(mixer):
    rows = views.tokenization_rows(mixer, SENTENCE, 0.0)
    teacher, student, mixed = rows.values()
    assert [s for _, s in mixed] == [s for _, s in teacher]  # p = 0: the teacher tokenization exactly
    assert [x for x, _ in mixed] == [x for x, _ in teacher]
    rows1 = views.tokenization_rows(mixer, SENTENCE, 1.0)
    assert [x for x, _ in list(rows1.values())[2]] == [x for x, _ in student]  # p = 1: the student's
    assert len(student) > len(teacher)  # the tiny student vocabulary needs more pieces
    # every student piece row re-joins to the words of the sentence
    joined = "".join(x[2:] if x.startswith("##") else " " + x for x, s in student if s == "student").split()
    assert joined == mixer.words(SENTENCE)
    assert "0/9 words" in list(rows)[2] and "9/9 words" in list(rows1)[2]


def test_plot_tokenization_depends_on_the_sentence_p_and_seed(mixer):
    base = views.plot_tokenization(mixer, SENTENCE, 0.5, seed=0)
    assert isinstance(base, Figure)
    assert "[CLS]" in _box_texts(base) and SENTENCE in base.axes[0].get_title(loc="left")
    assert differ(base, views.plot_tokenization(mixer, "a quirky film .", 0.5, seed=0))
    assert differ(base, views.plot_tokenization(mixer, SENTENCE, 1.0, seed=0))
    seeds = [views.plot_tokenization(mixer, SENTENCE, 0.5, seed=s) for s in range(1, 6)]
    assert any(differ(base, f) for f in seeds)  # another draw of the per-word coin flips
    with pytest.raises(ValueError, match="non-empty"):
        views.plot_tokenization(mixer, "   ", 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        views.plot_tokenization(mixer, SENTENCE, 1.5)
    plt.close("all")


def test_plot_mixing_ramp_draws_the_schedule_and_the_realised_share(mixer):
    sentences = [SENTENCE] * 30
    fig = views.plot_mixing_ramp(mixer, sentences, p_max=0.5, steps=5)
    schedule, realised = (a.reshape(-1, 2)[:, 1] for a in data(fig)[:2])
    assert np.allclose(schedule, [0, 0.125, 0.25, 0.375, 0.5])
    assert realised[0] == 0 and abs(realised[-1] - 0.5) < 0.15  # 270 words: the share follows p
    assert differ(fig, views.plot_mixing_ramp(mixer, sentences, p_max=1.0, steps=5))
    with pytest.raises(ValueError, match="steps"):
        views.plot_mixing_ramp(mixer, sentences, steps=1)
    plt.close("all")


def test_plot_predictions_draws_the_probabilities_it_is_given():
    fig = views.plot_predictions("a fine film", {"teacher": [0.2, 0.8], "student": [0.7, 0.3]})
    widths = sorted(round(b.get_width(), 6) for b in fig.axes[0].patches)
    assert widths == [0.2, 0.3, 0.7, 0.8]
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["teacher: positive", "student: negative"]
    assert differ(fig, views.plot_predictions("a fine film", {"teacher": [0.2, 0.8], "student": [0.4, 0.6]}))
    with pytest.raises(ValueError, match="sum to 1"):
        views.plot_predictions("x", {"a": [0.5, 0.6]})
    with pytest.raises(ValueError, match="2 class"):
        views.plot_predictions("x", {"a": [1.0]})
    plt.close("all")


def test_parameter_breakdown_writes_the_embedding_share():
    table = pd.DataFrame({"word embeddings": [6.0e6, 1.0e6], "encoder": [4.0e6, 3.0e6]}, index=["big", "small"])
    fig = views.plot_parameter_breakdown(table)
    assert any("word embeddings: 60 %" in t for t in texts(fig))
    assert any("word embeddings: 25 %" in t for t in texts(fig))
    assert differ(fig, views.plot_parameter_breakdown(table * [1, 2]))
    with pytest.raises(ValueError, match="non-empty"):
        views.plot_parameter_breakdown(table.iloc[:0])
    plt.close("all")


def test_plot_arms_draws_every_seed_and_the_teacher_lines():
    res = pd.DataFrame({"arm": ["scratch"] * 3 + ["kd"] * 3, "seed": [0, 1, 2] * 2,
                        "accuracy": [0.6, 0.62, 0.61, 0.66, 0.65, 0.67]})
    fig = views.plot_arms(res, teacher=0.77)
    drawn = np.concatenate([a for a in data(fig)])
    for v in res["accuracy"]:
        assert np.isclose(drawn, v).any()
    assert any("teacher probe 0.770" in t for t in texts(fig))
    assert differ(fig, views.plot_arms(res.assign(accuracy=res["accuracy"] + 0.01), teacher=0.77))
    with pytest.raises(ValueError, match="column 'arm'"):
        views.plot_arms(res.drop(columns="arm"))
    plt.close("all")


def test_plot_size_speed_places_each_model():
    table = pd.DataFrame({"MB": [90.0, 6.0], "p50 ms": [50.0, 2.0]}, index=["MiniLM", "student"])
    fig = views.plot_size_speed(table)
    assert np.allclose(data(fig)[0], [90, 50, 6, 2])
    assert "student" in texts(fig)
    with pytest.raises(ValueError, match="column"):
        views.plot_size_speed(table.drop(columns="MB"))
    plt.close("all")


def test_series_diagram_draws_the_method():
    d = views.series_diagram()
    assert {"mix", "teacher", "student", "proj", "heads"} <= set(d.positions)
    assert ("mix", "teacher", "", False) in d.edges
    assert any(src == "teacher" and dst == "student" for src, dst, _, _ in d.edges)
    assert "two softmaxes" in d.labels["heads"]
    plt.close("all")
