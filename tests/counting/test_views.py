import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course_lib.counting import views  # noqa: E402
from course_lib.counting.component import Counter  # noqa: E402
from course_lib.counting.models import CountingModel, NMSCounter  # noqa: E402

from ..figures import data, differ  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_scene_view_changes_with_the_count_slider():
    f1 = views.plot_counter_scene(count=2, l=0.3)
    f2 = views.plot_counter_scene(count=6, l=0.3)
    assert isinstance(f1, Figure) and f1._suptitle.get_text() != f2._suptitle.get_text()
    assert "true count 6" in f2._suptitle.get_text()
    trained = views.plot_counter_scene(count=3, weights="trained", model=CountingModel(10))
    assert "classifier" in trained._suptitle.get_text()
    with pytest.raises(ValueError):
        views.plot_counter_scene(weights="trained")
    with pytest.raises(ValueError):
        views.plot_counter_scene(weights="magic")


def test_other_views_draw_their_input():
    hist = pd.DataFrame(
        {"iteration": [0, 1, 0, 1], "model": ["a", "a", "b", "b"], "loss": [2.0, 1.0, 2.0, 1.5]}
    )
    metrics = pd.DataFrame(
        {
            "l": [0.0, 0.5, 0.0, 0.5],
            "model": ["counter", "counter", "s", "s"],
            "accuracy": [1.0, 0.9, 1.0, 0.6],
        }
    )
    w1, w2 = torch.rand(8, 16, generator=torch.Generator().manual_seed(1)), torch.rand(8, 16)
    pairs = {
        "duplicates": (views.plot_duplicates(3, 0.05, 2), views.plot_duplicates(6, 0.05, 2)),
        "soft attention": (views.plot_soft_attention_example(4), views.plot_soft_attention_example(2)),
        "f curves": (views.plot_f_curves({"id": Counter(10)}), views.plot_f_curves({"w": w1})),
        "sweep f": (views.plot_sweep_f({0.0: w1, 1.0: w2}), views.plot_sweep_f({0.0: w2, 1.0: w1})),
        "history": (views.plot_history(hist), views.plot_history(hist.assign(loss=hist.loss * 2))),
        "sweep": (views.plot_sweep(metrics, "l"), views.plot_sweep(metrics.assign(accuracy=0.5), "l")),
        "bars": (views.plot_metric_bars(metrics[metrics.l == 0.5]), views.plot_metric_bars(metrics[metrics.l == 0])),
        "coins": (views.plot_coins_crop(0, CountingModel(10), NMSCounter(10)),
                  views.plot_coins_crop(1, CountingModel(10), NMSCounter(10))),
        "toy": (views.plot_toy_examples(l=0.2), views.plot_toy_examples(l=0.8)),
    }
    for name, (a, b) in pairs.items():
        assert isinstance(a, Figure) and differ(a, b), name
    bars = [arr[3] for arr in data(pairs["bars"][0]) if arr.size == 4]
    assert sorted(bars) == pytest.approx([0.6, 0.9])  # the bars are the accuracies passed in
    assert isinstance(views.plot_tiny_box_iou(), Figure)
    with pytest.raises(ValueError):
        views.plot_sweep(metrics, "q")


def test_trace_view_rejects_unknown_matrices():
    trace = Counter(10).trace(torch.rand(1, 10, 4).sort(-1).values, torch.rand(1, 10))
    with pytest.raises(ValueError):
        views.plot_trace(trace, matrices=("Z",))
