import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from course_lib.low_power import views


def _frame(acc_int8=98.0):
    return pd.DataFrame({"accuracy": [98.4, acc_int8, 90.0, 97.0], "analytic_bytes": [1000, 260, 140, 600],
                         "MACs": [5000, 5000, 5000, 2500], "p50_ms": [0.2, 0.15, 0.15, 0.1]},
                        index=["fp32", "PTQ int8", "PTQ int2", "structured 50%"])


def test_series_diagram_draws_the_four_categories_into_one_metric_suite():
    d = views.series_diagram()
    labels = " ".join(d.labels.values())
    for word in ("quantization", "pruning", "factorization", "NAS", "distillation", "metric suite", "Pareto"):
        assert word in labels
    into_metrics = {s for s, t, _, _ in d.edges if t == "metrics"}
    assert into_metrics == {"quant", "prune", "compact", "nas", "kd"}


def test_pareto_view_rings_the_highlight_and_stars_the_live_point():
    frame = _frame()
    fig = views.plot_pareto(frame, highlight="PTQ int8", point={"name": "live", "analytic_bytes": 300,
                                                                 "accuracy": 95.0})
    ax = fig.axes[0]
    offsets = [c.get_offsets() for c in ax.collections]
    assert any(np.allclose(o, [[260, 98.0]]) for o in offsets)      # the ring
    assert any(np.allclose(o, [[300, 95.0]]) for o in offsets)      # the live star
    front = [line for line in ax.lines if line.get_label() == "Pareto front"][0]
    assert list(front.get_xdata()) == [140, 260, 1000]              # fp32, int8, int2 are the front (bytes)
    # the drawn front depends on the data: a worse int8 falls off it
    fig2 = views.plot_pareto(_frame(acc_int8=80.0))
    front2 = [line for line in fig2.axes[0].lines if line.get_label() == "Pareto front"][0]
    assert 260 not in list(front2.get_xdata())
    with pytest.raises(KeyError, match="highlight"):
        views.plot_pareto(frame, highlight="nope")
    with pytest.raises(KeyError, match="columns"):
        views.plot_pareto(frame, x="energy")


def test_pareto_grid_one_panel_per_cost():
    fig = views.plot_pareto_grid(_frame(), highlight=["fp32"])
    assert [a.get_title() for a in fig.axes] == ["accuracy vs analytic_bytes", "accuracy vs MACs",
                                                  "accuracy vs p50_ms"]


def test_rank_view_draws_the_spectrum_and_the_chosen_rank():
    torch.manual_seed(0)
    w = torch.randn(12, 8) @ torch.diag(torch.logspace(0, -2, 8))
    fig = views.plot_rank_effect(w, 3)
    assert isinstance(fig, Figure)
    ax1, ax2 = fig.axes
    assert np.allclose(ax1.lines[0].get_ydata(), torch.linalg.svdvals(w.double()).numpy())
    star = ax2.lines[1]
    assert star.get_xdata()[0] == 3 * (12 + 8) + 12 and "rank 3" in ax2.get_title()
    err3 = star.get_ydata()[0]
    assert views.plot_rank_effect(w, 6).axes[1].lines[1].get_ydata()[0] < err3
    with pytest.raises(ValueError, match="rank"):
        views.plot_rank_effect(w, 9)
    with pytest.raises(ValueError, match="2 dimensions"):
        views.plot_rank_effect(torch.randn(5), 1)


def test_bits_view_draws_the_grid_and_the_sqnr_of_the_chosen_width():
    torch.manual_seed(0)
    w = torch.randn(6, 20)
    fig = views.plot_bits_effect(w, 3)
    ax1, ax2 = fig.axes
    grid = [line for line in ax1.lines]
    assert len(grid) <= 2 ** 3 - 1 and len(grid) >= 3                 # 3 bits symmetric: at most 7 levels
    assert len(views.plot_bits_effect(w, 6).axes[0].lines) > len(grid)  # more bits, more levels drawn
    star = ax2.lines[1]
    assert star.get_xdata()[0] == 3
    sqnr = ax2.lines[0].get_ydata()
    assert np.all(np.diff(sqnr) > 3)                                   # roughly 6 dB per bit
    with pytest.raises(ValueError, match="bits"):
        views.plot_bits_effect(w, 0)


def test_sparsity_view_splits_kept_and_pruned_and_shows_csr_bytes():
    from course_lib.low_power import models

    model = models.build("mnist1d_cnn", seed=0)
    fig = views.plot_sparsity_effect(model, 0.6)
    ax1, ax2, ax3 = fig.axes
    assert "layer" in ax1.get_title() and "pruned" in ax1.get_title()
    mask = ax2.images[0].get_array()
    frac_pruned = 1 - float(np.asarray(mask).mean())
    assert 0.3 < frac_pruned < 0.9                         # the largest layer loses about the global fraction
    dense, csr, star = ax3.lines
    assert len(set(dense.get_ydata())) == 1                # masks leave the dense bytes unchanged
    assert np.all(np.diff(csr.get_ydata()) < 0)            # CSR shrinks as sparsity grows
    assert star.get_xdata()[0] == 0.6
    fig2 = views.plot_sparsity_effect(model, 0.2)
    assert float(np.asarray(fig2.axes[1].images[0].get_array()).mean()) > 1 - frac_pruned
    with pytest.raises(ValueError, match="sparsity"):
        views.plot_sparsity_effect(model, 1.0)
    with pytest.raises(KeyError, match="no prunable layer"):
        views.plot_sparsity_effect(model, 0.5, layer="99")


@pytest.fixture(scope="module")
def trained():
    from course_lib.low_power import models
    from course_lib.low_power.data import load_digits

    split = load_digits()
    model = models.build("digits_cnn", seed=0)
    models.train(model, split, epochs=2, seed=0, device="cpu")
    return model.eval(), split


def test_knobs_move_the_live_point(trained):
    model, split = trained
    row8, row2 = views.knob_row(model, split, "bits", 8), views.knob_row(model, split, "bits", 2)
    assert row2["analytic_bytes"] < row8["analytic_bytes"] and row2["accuracy"] != row8["accuracy"]
    sparse = views.knob_row(model, split, "sparsity", 0.9)
    assert sparse["csr_bytes"] < views.knob_row(model, split, "sparsity", 0.0)["csr_bytes"]
    low = views.knob_row(model, split, "rank", 2)
    assert low["MACs"] < row8["MACs"] and low["params"] < row8["params"]
    frame = _frame().assign(csr_bytes=[1000, None, 140, 600])
    fig = views.live_point(model, split, frame, "rank", 2)
    ax_bytes, ax_macs = fig.axes
    stars = [c.get_offsets() for c in ax_macs.collections if c.get_label().startswith("rank")]
    assert np.allclose(stars[0], [[low["MACs"], low["accuracy"]]])
    fig = views.live_point(model, split, frame, "sparsity", 0.5)
    assert fig.axes[0].get_xlabel() == "csr_bytes"
    with pytest.raises(ValueError, match="knob"):
        views.knob_model(model, "width", 3)
    with pytest.raises(ValueError, match="bits"):
        views.knob_model(model, "bits", 17)
