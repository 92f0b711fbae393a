"""The annotated-source view (course_lib.annotated) and the diagram helper (course_lib.diagrams)."""
import functools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

from course_lib.annotated import AnnotatedSource, annotate, note_to_html, show_annotated  # noqa: E402
from course_lib.diagrams import draw_diagram, layered_layout  # noqa: E402


def _passthrough(f):
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return f(*args, **kwargs)
    return wrapper


@_passthrough
def fourier_krr(x, y, lam=1e-4):
    """Kernel ridge regression in the Fourier domain (Eq. 2)."""
    import numpy as np
    #: Auto-correlation of the base sample, $k^{xx} = \mathcal{F}^{-1}(\hat x^* \odot \hat x)$.
    #:
    #: Second paragraph.
    kxx = np.fft.fft(x) * np.conj(np.fft.fft(x))
    # an ordinary comment stays in the code
    #: Divide element-wise: $$\hat\alpha = \frac{\hat y}{\hat k^{xx} + \lambda}$$
    return np.fft.fft(y) / (kxx + lam)


def no_notes(a):
    return a + 1


class Layer:
    """A layer: $y = Wx$."""

    scale = 2

    def forward(self, x):
        """Multiply by the scale."""
        #: Scale the input (the $W = sI$ case).
        return self.scale * x


def test_blocks_pair_each_note_with_the_code_below_it():
    view = annotate(fourier_krr)
    assert isinstance(view, AnnotatedSource)
    assert view.name.endswith("test_annotated.fourier_krr")
    assert [b.note.split("\n")[0] for b in view.blocks] == [
        "Kernel ridge regression in the Fourier domain (Eq. 2).",
        r"Auto-correlation of the base sample, $k^{xx} = \mathcal{F}^{-1}(\hat x^* \odot \hat x)$.",
        r"Divide element-wise: $$\hat\alpha = \frac{\hat y}{\hat k^{xx} + \lambda}$$"]
    assert "Second paragraph." in view.blocks[1].note
    assert view.blocks[0].code.splitlines()[:2] == ["@_passthrough", "def fourier_krr(x, y, lam=1e-4):"]
    assert "kxx = np.fft.fft(x)" in view.blocks[1].code
    assert "# an ordinary comment stays in the code" in view.blocks[1].code
    assert view.blocks[2].code.strip() == "return np.fft.fft(y) / (kxx + lam)"
    # neither the docstring nor the #: lines are repeated in the code column; indentation is kept
    all_code = "\n".join(b.code for b in view.blocks)
    assert '"""' not in all_code and "#:" not in all_code
    assert view.blocks[2].code.startswith("    return")
    # line numbers point into this file
    with open(__file__) as fh:
        lines = fh.read().splitlines()
    assert lines[view.blocks[2].first_line - 1].strip() == "return np.fft.fft(y) / (kxx + lam)"


def test_code_is_the_real_source_nothing_lost():
    import inspect

    view = annotate(fourier_krr)
    kept = [ln for ln in inspect.getsource(fourier_krr).splitlines()
            if ln.strip() and not ln.strip().startswith("#:") and '"""' not in ln]
    shown = [ln for b in view.blocks for ln in b.code.splitlines() if ln.strip()]
    assert [ln.strip() for ln in shown] == [ln.strip() for ln in kept]


def test_text_fallback_and_html():
    view = annotate(fourier_krr)
    text = view.to_text()
    assert text.startswith("# === ") and "#| Divide element-wise" in text and "    return np.fft.fft(y)" in text
    assert str(view) == text
    page = view.to_html()
    assert page.count("<tr") == 3 and 'class="annot-note"' in page
    assert r"\(k^{xx} = \mathcal{F}^{-1}(\hat x^* \odot \hat x)\)" in page  # math kept for MathJax, not mangled
    assert r"\[\hat\alpha = \frac{\hat y}{\hat k^{xx} + \lambda}\]" in page
    assert "<em>" not in page  # underscores/asterisks inside maths are not turned into emphasis
    assert view._repr_html_() == page


def test_function_without_notes_is_one_block():
    view = annotate(no_notes)
    assert len(view.blocks) == 1 and view.blocks[0].note == ""
    assert "return a + 1" in view.blocks[0].code


def test_class_and_method_docstrings_become_notes():
    view = annotate(Layer)
    notes = view.notes
    assert notes[0] == "A layer: $y = Wx$."
    assert notes[1:] == ["Multiply by the scale.", "Scale the input (the $W = sI$ case)."]
    assert view.blocks[1].code.strip() == "def forward(self, x):"
    assert "scale = 2" in view.blocks[0].code
    method_view = annotate(Layer().forward)  # a bound method annotates its function
    assert method_view.name.endswith("Layer.forward")


@pytest.mark.parametrize("bad", [len, 3, "fourier_krr", functools.partial(no_notes, 1), pytest, Layer()])
def test_non_functions_are_rejected_clearly(bad):
    with pytest.raises(TypeError, match="expects a Python function, method or class"):
        annotate(bad)


def test_show_annotated_prints_text_without_a_notebook(capsys):
    show_annotated(no_notes, fourier_krr)
    out = capsys.readouterr().out
    assert "no_notes" in out and "#| Divide element-wise" in out
    with pytest.raises(TypeError):
        show_annotated(no_notes, 5)  # validated before anything is shown


def test_note_markdown():
    assert "<code>x</code>" in note_to_html("the `x` input")
    assert note_to_html("") == ""
    assert "<p>a</p>" in note_to_html("a\n\nb")


def test_library_annotations_are_present():
    """Every landed series marks its key functions; the view shows more than the docstring for each."""
    from course_lib.counting.component import Counter
    from course_lib.gnn_lf_hf.propagation import iterate
    from course_lib.lct.kcf import kernel_correlation
    from course_lib.lct.tracker import LCTTracker
    from course_lib.relative_position.attention import relative_attention_einsum

    for fn in (iterate, kernel_correlation, LCTTracker.update, relative_attention_einsum, Counter.trace):
        view = annotate(fn)
        assert len(view.blocks) >= 4, f"{view.name} has {len(view.blocks)} annotated blocks"
        assert all(b.code.strip() for b in view.blocks)
        assert sum("$" in b.note for b in view.blocks) >= 3  # the notes carry the maths


# --------------------------------------------------------------------------------------------- diagrams
def test_diagram_draws_one_box_and_label_per_node_and_one_arrow_per_edge():
    d = draw_diagram(["x", ("f", "FFT", "op"), {"id": "k", "label": "kernel $k$", "kind": "model"}, "resp"],
                     [("x", "f"), ("f", "k", "conj"), ("k", "resp"), {"src": "x", "dst": "k", "style": "dashed"}])
    boxes = [p for p in d.ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == 4 and set(d.boxes) == {"x", "f", "k", "resp"}
    texts = [t.get_text() for t in d.ax.texts]
    assert {"x", "FFT", "kernel $k$", "resp", "conj"} <= set(texts)
    arrows = [c for c in d.ax.get_children() if type(c).__name__ == "Annotation"]
    assert len(arrows) == 4
    # layered left to right in topological order; the skip edge x -> k is not a back edge
    assert d.positions["x"][0] < d.positions["f"][0] < d.positions["k"][0] < d.positions["resp"][0]
    assert [e[3] for e in d.edges] == [False, False, False, False]
    plt.close(d.fig)


def test_feedback_loop_is_a_back_edge_and_fits_in_the_axes():
    d = draw_diagram(["click", "net", "memory", "fusion"],
                     [("click", "net"), ("net", "memory"), ("memory", "fusion"), ("fusion", "click", "next click")],
                     title="loop")
    assert d.edges[-1] == ("fusion", "click", "next click", True)
    label = next(t for t in d.ax.texts if t.get_text() == "next click")
    lo, hi = d.ax.get_ylim()
    assert lo < label.get_position()[1] < hi and label.get_position()[1] > 0.5  # above the row of boxes
    assert d._repr_png_()[:4] == b"\x89PNG"
    plt.close(d.fig)


def test_top_to_bottom_and_explicit_positions():
    pos, back = layered_layout(["a", "b", "c"], [("a", "b"), ("a", "c")], direction="TB")
    assert pos["a"][1] > pos["b"][1] == pos["c"][1] and back == set()
    fig, ax = plt.subplots()
    d = draw_diagram(["a", "b"], [("a", "b")], positions={"a": (0, 0), "b": (0, 3)}, ax=ax)
    assert d.positions == {"a": (0.0, 0.0), "b": (0.0, 3.0)} and d.fig is fig
    plt.close(fig)


@pytest.mark.parametrize("nodes, edges, match", [
    ([], [], "at least one node"),
    (["a", "a"], [], "appears twice"),
    (["a"], [("a", "b")], "not in nodes"),
    ([("a", "A", "blob")], [], "unknown node kind"),
    ([3], [], "a node must be"),
    (["a", "b"], [("a",)], "an edge must be"),
    (["a", "b"], [{"src": "a", "dst": "b", "style": "wavy"}], "edge style"),
])
def test_diagram_bad_input(nodes, edges, match):
    with pytest.raises((ValueError, TypeError), match=match):
        draw_diagram(nodes, edges)


def test_diagram_bad_direction_and_positions():
    with pytest.raises(ValueError, match="direction"):
        draw_diagram(["a"], [], direction="RL")
    with pytest.raises(ValueError, match="positions lacks"):
        draw_diagram(["a", "b"], [], positions={"a": (0, 0)})


# --------------------------------------------------------------------------------------------- two-level hints
def test_two_level_hints(capsys):
    from course_lib.exercises import Exercise, check, hint, register

    register(Exercise("teachtest.1", "give 2", lambda a: a == 2 or "not two", hint="nudge", hint2="approach"))
    assert not check("teachtest.1", 3)
    first = capsys.readouterr().out
    assert "hint: nudge" in first and "approach:" not in first
    assert not check("teachtest.1", 4)
    assert "approach: approach" in capsys.readouterr().out
    assert check("teachtest.1", 2)
    assert hint("teachtest.1", 2) == "approach" and hint("teachtest.1") == "nudge"
    with pytest.raises(ValueError, match="hint level"):
        hint("teachtest.1", 3)
