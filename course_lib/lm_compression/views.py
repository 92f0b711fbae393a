"""Plain plotting functions of the LM-compression series (each returns a matplotlib Figure, or the series diagram);
the notebooks wrap some of them with :func:`course_lib.viz.interactive`.

Pieces are drawn as coloured boxes: teacher-vocabulary pieces blue, student-vocabulary pieces orange, special
tokens grey — the two vocabularies of the mixed sequence of dual training (Zhao et al., v1; v2 Stage I).
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

SOURCE_COLOURS = {"teacher": "#cfe2f3", "student": "#fcd9b6", "special": "#e0e0e0"}
SOURCE_EDGES = {"teacher": "#3d78b4", "student": "#d9822b", "special": "#808080"}


def _check_row(label: str, pieces) -> list[tuple[str, str]]:
    out = []
    for item in pieces:
        if isinstance(item, str):
            piece, source = item, "teacher"
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            piece, source = str(item[0]), str(item[1])
        else:
            raise TypeError(f"row {label!r}: each piece must be a string or a (piece, source) pair, got {item!r}")
        if source not in SOURCE_COLOURS:
            raise ValueError(f"row {label!r}: source must be one of {sorted(SOURCE_COLOURS)}, got {source!r}")
        out.append((piece, source))
    return out


def plot_pieces(rows: dict[str, Sequence], *, title: str = "", width: float = 12.0) -> Figure:
    """One line of boxes per tokenization: ``rows = {label: [(piece, source), ...]}`` with source ``teacher``,
    ``student`` or ``special`` (a bare string counts as a teacher piece). Long rows wrap onto extra lines.
    The box text is the piece itself; the label on the left says how many pieces the row has."""
    if not rows:
        raise ValueError("plot_pieces needs at least one row {label: pieces}")
    checked = {label: _check_row(label, pieces) for label, pieces in rows.items()}
    char_w, gap, max_x = 0.11, 0.08, width
    layout, y = [], 0.0  # (label, [(x, y, w, piece, source)])
    for label, pieces in checked.items():
        x, boxes = 0.0, []
        for piece, source in pieces:
            w = max(0.35, char_w * len(piece) + 0.16)
            if x + w > max_x and boxes:
                x, y = 0.0, y - 0.55
            boxes.append((x, y, w, piece, source))
            x += w + gap
        layout.append((label, boxes, y))
        y -= 0.95
    fig, ax = plt.subplots(figsize=(width + 2.6, max(1.6, 0.6 * -y + 0.6)))
    for label, boxes, _ in layout:
        top = boxes[0][1] if boxes else 0.0
        ax.text(-0.2, top + 0.2, f"{label}\n({len(boxes)} pieces)", ha="right", va="center", fontsize=9)
        for x, by, w, piece, source in boxes:
            ax.add_patch(FancyBboxPatch((x, by), w, 0.4, boxstyle="round,pad=0.02,rounding_size=0.06",
                                        fc=SOURCE_COLOURS[source], ec=SOURCE_EDGES[source], lw=1.0))
            ax.text(x + w / 2, by + 0.2, piece, ha="center", va="center", fontsize=9, family="monospace")
    ax.set_xlim(-2.6, max_x + 0.2)
    ax.set_ylim(y + 0.35, 0.7)
    ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, fc=SOURCE_COLOURS[s], ec=SOURCE_EDGES[s]) for s in SOURCE_COLOURS]
    ax.legend(handles, [f"{s} vocabulary" if s != "special" else "special token" for s in SOURCE_COLOURS],
              loc="upper right", fontsize=8, ncol=3, bbox_to_anchor=(1.0, 1.12), frameon=False)
    if title:
        ax.set_title(title, fontsize=10, loc="left", pad=18)
    fig.tight_layout()
    return fig


def tokenization_rows(mixer, sentence: str, p: float, seed: int = 0) -> dict[str, list[tuple[str, str]]]:
    """The three tokenizations of one sentence as ``{label: [(piece, source), ...]}``: the teacher's, the
    student's and the mixed sequence of dual training at probability ``p`` (``mixer`` a
    ``mixing.MixedVocab``; its ``mix_texts`` draws each word's vocabulary with a generator seeded by ``seed``)."""
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError("type a sentence: the tokenization explorer needs a non-empty string")
    wp = mixer.pieces([sentence])[0]
    special = [("[CLS]", "special")], [("[SEP]", "special")]
    teacher = [(mixer.teacher.id_to_token(i), "teacher") for word in wp.teacher for i in word]
    student = [(mixer.student.id_to_token(i), "student") for word in wp.student for i in word]
    batch = mixer.mix_texts([sentence], p, seed=seed)
    n = int(batch.mask[0].sum())
    mixed = []
    for tid, src in zip(batch.ids[0, :n].tolist(), batch.source[0, :n].tolist()):
        if src:
            mixed.append((mixer.student.id_to_token(tid - mixer.teacher_size), "student"))
        else:
            piece = mixer.teacher.id_to_token(tid)
            mixed.append((piece, "special" if piece in ("[CLS]", "[SEP]") else "teacher"))
    share = batch.student_words / max(batch.total_words, 1)
    return {f"teacher vocab ({mixer.teacher_size:,})": special[0] + teacher + special[1],
            f"student vocab ({mixer.student_size:,})": special[0] + student + special[1],
            f"mixed, p = {float(p):.2f}\n{batch.student_words}/{batch.total_words} words student "
            f"({share:.0%})": mixed}


def plot_tokenization(mixer, sentence: str, p: float = 0.5, seed: int = 0) -> Figure:
    """The tokenization explorer: teacher pieces, student pieces and the mixed sequence at ``p`` for one typed
    sentence (:func:`tokenization_rows` drawn by :func:`plot_pieces`)."""
    rows = tokenization_rows(mixer, sentence, p, seed)
    return plot_pieces(rows, title=f"“{sentence}”" if len(sentence) < 100 else f"“{sentence[:97]}…”")


def plot_mixing_ramp(mixer, sentences, p_max: float = 0.5, steps: int = 20, warmup: float = 0.0,
                     seed: int = 0) -> Figure:
    """The ramp of the mixing probability during dual training (``mixing.ramp``, ours: linear from 0 to
    ``p_max``) and the student fraction actually realised when ``sentences`` are mixed at each step's p."""
    from course_lib.lm_compression.mixing import ramp

    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    pieces = mixer.pieces(list(sentences))
    rng = np.random.default_rng(seed)
    ps, realised = [], []
    for step in range(steps):
        p = ramp(step, steps - 1, p_max, warmup)
        batch = mixer.mix(pieces, p, rng)
        ps.append(p)
        realised.append(batch.student_words / max(batch.total_words, 1))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(range(steps), ps, "-", color="k", label="schedule p (ramp)")
    ax.plot(range(steps), realised, "o", color=SOURCE_EDGES["student"],
            label=f"realised student share ({sum(len(w.words) for w in pieces)} words per step)")
    ax.set(xlabel="training step", ylabel="share of words in student pieces", ylim=(-0.03, 1.03),
           title=f"mixing probability ramped to p_max = {p_max:.2f}")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_predictions(sentence: str, probabilities: dict[str, Sequence[float]],
                     classes: Sequence[str] = ("negative", "positive")) -> Figure:
    """Class probabilities of several models for one sentence, side by side (e.g. the teacher probe and the
    student). ``probabilities = {model: [p_class0, p_class1, ...]}``; each must sum to 1."""
    if not probabilities:
        raise ValueError("plot_predictions needs at least one model's probabilities")
    names = list(probabilities)
    probs = np.array([np.asarray(probabilities[n], dtype=float) for n in names])
    if probs.ndim != 2 or probs.shape[1] != len(classes):
        raise ValueError(f"each model needs {len(classes)} class probabilities, got shape {probs.shape[1:]}")
    if np.any(probs < -1e-6) or not np.allclose(probs.sum(1), 1.0, atol=1e-3):
        raise ValueError("probabilities must be non-negative and sum to 1 per model")
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.55 * len(names)))
    left = np.zeros(len(names))
    colours = plt.get_cmap("RdYlGn")(np.linspace(0.15, 0.85, len(classes)))
    for c, cls in enumerate(classes):
        ax.barh(np.arange(len(names)), probs[:, c], left=left, color=colours[c], label=cls, edgecolor="white")
        for i, v in enumerate(probs[:, c]):
            if v > 0.08:
                ax.text(left[i] + v / 2, i, f"{v:.2f}", ha="center", va="center", fontsize=9)
        left += probs[:, c]
    ax.set_yticks(np.arange(len(names)), [f"{n}: {classes[int(np.argmax(p))]}" for n, p in zip(names, probs)])
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="probability")
    ax.axvline(0.5, color="k", lw=0.8, ls=":")
    ax.set_title(f"“{sentence}”" if len(sentence) < 90 else f"“{sentence[:87]}…”", fontsize=10)
    ax.legend(fontsize=8, loc="lower right", ncol=len(classes))
    ax.grid(False)
    fig.tight_layout()
    return fig


def plot_parameter_breakdown(table: pd.DataFrame, *, title: str = "where the parameters sit") -> Figure:
    """Horizontal stacked bars of parameters per group for several models (``table``: index = model, columns =
    groups such as word embeddings / positions / encoder, values = parameter counts). The word-embedding share
    is written at the end of each bar."""
    if table.empty:
        raise ValueError("plot_parameter_breakdown needs a non-empty table (models × parameter groups)")
    values = table.astype(float)
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.5 * len(values)))
    left = np.zeros(len(values))
    for col in values.columns:
        ax.barh(np.arange(len(values)), values[col] / 1e6, left=left, label=col)
        left += values[col].to_numpy() / 1e6
    total = values.sum(axis=1).to_numpy()
    emb_col = next((c for c in values.columns if "word" in str(c).lower() or "embed" in str(c).lower()),
                   values.columns[0])
    for i, (t, e) in enumerate(zip(total, values[emb_col])):
        ax.text(t / 1e6, i, f"  {t / 1e6:.2f} M, {emb_col}: {100 * e / t:.0f} %", va="center", fontsize=8)
    ax.set_yticks(np.arange(len(values)), list(values.index))
    ax.invert_yaxis()
    ax.set(xlabel="parameters (millions)", title=title, xlim=(0, 1.45 * total.max() / 1e6))
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_arms(results: pd.DataFrame, *, teacher: float | None = None, retain: float = 0.9,
              metric: str = "accuracy", title: str = "SST-2 dev accuracy per arm and seed") -> Figure:
    """Dots per seed and the mean per arm (``results`` columns: ``arm``, ``seed``, ``metric``), with the teacher
    probe's accuracy and ``retain`` × it as horizontal lines."""
    for col in ("arm", "seed", metric):
        if col not in results.columns:
            raise ValueError(f"results needs a column {col!r}; got {list(results.columns)}")
    arms = list(dict.fromkeys(results["arm"]))
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(arms), 4))
    for i, arm in enumerate(arms):
        vals = results.loc[results["arm"] == arm, metric].to_numpy(float)
        ax.scatter(np.full(len(vals), i) + np.linspace(-0.12, 0.12, len(vals)), vals, color="tab:blue", zorder=3)
        ax.hlines(vals.mean(), i - 0.3, i + 0.3, color="k", lw=2)
        ax.text(i, vals.mean(), f" {vals.mean():.3f}", va="bottom", ha="center", fontsize=8)
    if teacher is not None:
        ax.axhline(teacher, color="tab:green", ls="--", label=f"teacher probe {teacher:.3f}")
        ax.axhline(retain * teacher, color="tab:red", ls=":", label=f"{retain:.0%} of the teacher")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xticks(range(len(arms)), arms, rotation=20)
    ax.set(ylabel=metric, title=title)
    fig.tight_layout()
    return fig


def plot_size_speed(table: pd.DataFrame, *, x: str = "MB", y: str = "p50 ms",
                    title: str = "size and latency per sentence (one thread)") -> Figure:
    """Scatter of models by size and latency (``table`` index = model), log axes, each point labelled."""
    for col in (x, y):
        if col not in table.columns:
            raise ValueError(f"table needs a column {col!r}; got {list(table.columns)}")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.scatter(table[x], table[y], s=40, zorder=3)
    for name, row in table.iterrows():
        ax.annotate(str(name), (row[x], row[y]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set(xscale="log", yscale="log", xlabel=x, ylabel=y, title=title)
    fig.tight_layout()
    return fig


def series_diagram(ax=None, fontsize: int = 8):
    """The series' data-flow diagram (``course_lib.diagrams.draw_diagram``): a sentence is segmented by both
    vocabularies; the mixed sequence trains the teacher with two softmaxes (dual training, v1); the student
    reads student pieces only; shared projections tie teacher and student weights (v1)."""
    from course_lib.diagrams import draw_diagram

    nodes = [("text", "sentence\n(words)", "data"),
             ("tv", "teacher vocab\nWordPiece ~30K", "data"),
             ("sv", "student vocab\nWordPiece ~5K", "data"),
             ("mix", "mixed sequence\nword → student pieces\nwith prob. p (ramped)", "op"),
             ("teacher", "teacher encoder\n(dual training)", "model"),
             ("heads", "two softmaxes\nteacher / student vocab", "loss"),
             ("student", "student encoder\nnarrow, student vocab", "model"),
             ("proj", "shared projections\nU, V per shape (v1)", "op"),
             ("lproj", "MSE down + up\n(weights)", "loss"),
             ("task", "task loss + KD\n(fine-tuning)", "loss")]
    edges = [("text", "tv"), ("text", "sv"), ("tv", "mix"), ("sv", "mix"), ("mix", "teacher"),
             ("teacher", "heads", "MLM"), ("sv", "student", "student pieces"),
             ("teacher", "proj", "$W_t$"), ("student", "proj", "$W_s$"), ("proj", "lproj"),
             ("student", "task"),
             {"src": "teacher", "dst": "student", "label": "student embeddings", "style": "dashed"}]
    positions = {"text": (0, 0), "tv": (1, 0.8), "sv": (1, -0.8), "mix": (2, 0.8), "teacher": (3, 0.8),
                 "heads": (4, 1.6), "student": (3, -0.8), "proj": (4, 0), "lproj": (5, 0), "task": (4, -1.6)}
    return draw_diagram(nodes, edges, direction="LR", ax=ax, fontsize=fontsize, positions=positions,
                        title="Mixed-vocabulary distillation: one teacher, two vocabularies, one small student")
