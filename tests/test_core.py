"""Unit and property tests of the shared core: device, scale, seeding, claims, exercises, views."""
import dataclasses

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from course_lib import Preset, get_device, get_scale, pick_preset, seed_everything, set_threads, setup_notebook
from course_lib.course_map import PAPERS, concept_graph, plot_course_map
from course_lib.exercises import Exercise, check, register


def test_device_cpu_and_auto(monkeypatch):
    assert get_device("cpu", announce=False).type == "cpu"
    monkeypatch.setenv("COURSE_DEVICE", "auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_device(announce=False).type in (expected, "mps")


def test_device_errors_are_clear(monkeypatch):
    with pytest.raises(ValueError, match="expected one of auto, cpu, cuda, mps"):
        get_device("tpu", announce=False)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            get_device("cuda", announce=False)


def test_device_announced_once(capsys):
    from course_lib import device as device_module

    device_module._announced.clear()
    get_device("cpu")
    get_device("cpu")
    assert capsys.readouterr().out.count("[course_lib] device: cpu") == 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class _P(Preset):
    steps: int


PRESETS = {"smoke": _P(steps=1, expected_seconds=1), "course": _P(steps=10, expected_seconds=10),
           "full": _P(steps=100, expected_seconds=100)}


def test_scale_and_presets(monkeypatch):
    monkeypatch.delenv("COURSE_SCALE", raising=False)
    assert get_scale() == "course"
    monkeypatch.setenv("COURSE_SCALE", "SMOKE")
    assert pick_preset(PRESETS).steps == 1
    assert pick_preset(PRESETS, "full").steps == 100
    with pytest.raises(ValueError, match="expected one of: smoke, course, full"):
        get_scale("huge")
    with pytest.raises(ValueError, match="missing"):
        pick_preset({"smoke": PRESETS["smoke"]})
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["smoke"].steps = 2


@given(st.integers(min_value=0, max_value=2**40))
def test_seeding_repeats_draws(seed):
    seed_everything(seed)
    a = torch.rand(5), torch.randn(2)
    seed_everything(seed)
    b = torch.rand(5), torch.randn(2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_seed_and_threads_validation(monkeypatch):
    with pytest.raises(ValueError):
        seed_everything(-1)
    monkeypatch.setenv("COURSE_THREADS", "zero")
    with pytest.raises(ValueError, match="COURSE_THREADS"):
        set_threads()
    assert set_threads(1) == 1 and torch.get_num_threads() == 1


def test_setup_notebook(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_HEADLESS", "1")
    ctx = setup_notebook(scale="smoke", device="cpu", seed=3)
    assert (ctx.scale, ctx.device.type, ctx.headless) == ("smoke", "cpu", True)
    assert "scale=smoke" in capsys.readouterr().out


# The claims ledger is tested in tests/test_claims.py.


def test_exercises_check(capsys):
    register(Exercise("demo.1", "what is 2+2?", lambda a: a == 4 or "count again", hint="use fingers"))
    assert check("demo.1", None) is False
    assert check("demo.1", 5) is False
    assert check("demo.1", 4) is True
    out = capsys.readouterr().out
    assert "not answered yet" in out and "count again" in out and "hint: use fingers" in out and "correct" in out
    with pytest.raises(KeyError):
        check("nope.1", 1)
    with pytest.raises(ValueError):
        register(Exercise("nodot", "", lambda a: True))


def test_build_checker_compares_boolean_masks():
    from course_lib.exercises import build_checker

    checker = build_checker(lambda x: x > 0.5, lambda rng: (rng.random(20),))
    assert checker(lambda x: x > 0.5) is True
    verdict = checker(lambda x: x >= 0.0)  # a wrong mask: a difference message, not a TypeError
    assert isinstance(verdict, str) and "max abs difference 1" in verdict


def test_core_exercises():
    seed_everything(123)
    assert check("start.2", torch.rand(3))
    assert check("start.1", "smoke") and not check("start.1", "course")


def test_interactive_headless_renders_default(monkeypatch):
    import ipywidgets as widgets

    from course_lib import viz

    monkeypatch.setenv("COURSE_HEADLESS", "1")
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    viz.interactive(plot_course_map, highlight=widgets.Dropdown(options=["all", "graphs"]))
    assert len(shown) == 1 and isinstance(shown[0], plt.Figure)
    with pytest.raises(TypeError, match="value widget"):
        viz.interactive(plot_course_map, highlight="graphs")


def test_interactive_live_redraws(monkeypatch):
    import ipywidgets as widgets

    from course_lib import viz

    monkeypatch.setenv("COURSE_HEADLESS", "0")
    calls = []

    def view(n):
        calls.append(n)
        fig, ax = plt.subplots()
        ax.plot(range(n))
        return fig

    slider = widgets.IntSlider(value=3, min=1, max=9)
    monkeypatch.setattr("IPython.display.display", lambda obj: None)
    box = viz.build_interactive(view, n=slider)
    slider.value = 7
    assert calls == [3, 7] and isinstance(box, widgets.VBox)


def test_course_map():
    g = concept_graph()
    assert len(PAPERS) == 11 and all(f"P{p.number}" in g for p in PAPERS)
    assert all(g.degree(f'P{p.number}') >= 2 for p in PAPERS)
    fig = plot_course_map("attention")
    assert isinstance(fig, plt.Figure)
    plt.close(fig)
    with pytest.raises(ValueError, match="highlight"):
        plot_course_map("nonsense")

