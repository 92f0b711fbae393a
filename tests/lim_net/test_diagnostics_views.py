import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch

from course_lib.lim_net import views
from course_lib.lim_net.data import make_target, synthetic_case
from course_lib.lim_net.diagnostics import click_net_vs_size, gap_summary, intensity_profile, propagation_vs_gap
from course_lib.lim_net.models import ClickUNet2D, MaskDecoder, MemoryNet, QualityRegressor
from course_lib.lim_net.pipeline import InferenceConfig, LIMNet


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return LIMNet(ClickUNet2D(base=4), MemoryNet(key_dim=8, value_dim=8, width=4), QualityRegressor(width=4)).eval()


@pytest.fixture(scope="module")
def targets():
    case = synthetic_case((20, 32, 32), seed=3)
    return [make_target(case, int(k), margin=1) for k in np.unique(case.labels[case.labels > 0])]


def test_propagation_vs_gap_scores_copy_exactly(model, targets):
    df = propagation_vs_gap(model, targets, gaps=(1, 2, 4), group="syn")
    assert len(df) > 0 and set(df["gap"]) <= {1, 2, 4} and (df["group"] == "syn").all()
    for col in ("propagation", "copy", "click_2d"):
        assert df[col].between(0, 1).all()
    row = df.iloc[0]
    t = next(t for t in targets if t.name == row["target"])
    z0 = int(np.argmax(t.gt.sum(axis=(1, 2))))
    a, b = t.gt[z0], t.gt[z0 + int(row["direction"]) * int(row["gap"])]
    assert row["copy"] == pytest.approx(2 * (a & b).sum() / (a.sum() + b.sum()))
    s = gap_summary(df)
    assert list(s.columns) == ["group", "gap", "propagation", "copy", "click_2d", "n"] and s["n"].sum() == len(df)


def test_click_net_vs_size_and_intensity_profile(model, targets):
    c = click_net_vs_size(model, targets)
    assert len(c) == len(targets) and c["dice_2d"].between(0, 1).all() and (c["area_px"] > 0).all()
    p = intensity_profile(targets)
    assert (p["contrast"] >= 0).all() and p["inside_mean"].between(0, 1).all()


def test_residual_decoder_starts_from_the_previous_mask():
    torch.manual_seed(0)
    dec = MaskDecoder(8, (4, 8, 16), use_prev=True, residual=True)
    with torch.no_grad():
        dec.head.weight.zero_()
        dec.head.bias.zero_()
    prev = torch.zeros(1, 1, 16, 16)
    prev[..., 4:10, 4:10] = 1
    feats = (torch.randn(1, 4, 16, 16), torch.randn(1, 8, 8, 8), torch.randn(1, 16, 4, 4))
    out = dec(torch.randn(1, 8, 4, 4), feats, prev)
    assert torch.equal(out > 0, prev > 0.5)
    with pytest.raises(ValueError):
        MaskDecoder(8, (4, 8, 16), use_prev=False, residual=True)


def test_gap_plot_draws_the_summary():
    s = pd.DataFrame({"group": ["A"] * 2 + ["B"] * 2, "gap": [1, 2, 1, 2], "propagation": [0.9, 0.8, 0.7, 0.6],
                      "copy": [0.95, 0.7, 0.5, 0.4], "click_2d": [0.6] * 4, "n": [3, 3, 2, 2]})
    fig = views.plot_propagation_vs_gap(s, title="diag")
    assert len(fig.axes) == 2 and fig.axes[0].get_title().startswith("A (6 slices)")
    assert list(fig.axes[1].lines[0].get_ydata()) == [0.7, 0.6]
    fig2 = views.plot_propagation_vs_gap(s, groups=["B"])
    assert len(fig2.axes) == 1 and fig2.axes[0].get_title().startswith("B")
    with pytest.raises(ValueError):
        views.plot_propagation_vs_gap(s, groups=["C"])


def test_architecture_figure_reads_the_model(model):
    texts = lambda f: " ".join(t.get_text() for t in f.axes[0].texts)  # noqa: E731
    a = texts(views.plot_architecture(model, InferenceConfig(top_k=20, fifo_size=4)))
    b = texts(views.plot_architecture(model, InferenceConfig(top_k=5, fifo_size=2, bounded=False)))
    assert "top-k=20" in a and "FIFO 4" in a and "top-k=5" in b and "FIFO 2" in b and "whole volume" in b
    assert f"{model.param_counts()['click_net']:,} params" in a
