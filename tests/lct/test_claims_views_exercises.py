import dataclasses

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from course_lib.exercises import check
from course_lib.lct import claims as C
from course_lib.lct import exercises as E
from course_lib.lct import experiments as ex
from course_lib.lct import kcf, metrics, views
from course_lib.lct.presets import PRESETS, LCTPreset
from course_lib.lct.sequences import synthetic_occlusion_sequence
from course_lib.lct.tracker import LADDER, run_tracker

from ..figures import data, differ

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def synthetic_runs():
    seq = synthetic_occlusion_sequence()
    runs = {n: run_tracker(LADDER[n], seq.frames, seq.init_box, keep_maps=True) for n in ("KCF", "LCT")}
    return seq, runs


def test_claims_declared_once_and_exact_checks_pass():
    ids = [c.id for c in C.CLAIMS]
    assert len(ids) == len(set(ids)) and all(i.startswith("lct.") for i in ids)
    ledger = C.make_ledger("smoke", notebook=1)
    C.record_exact(ledger, C.exact_checks())
    assert ledger.status("lct.fourier_krr") == "PASS" and ledger.status("lct.paper_otb2013") == "not at this scale"
    assert ledger.status("lct.jog1_gain") == "not at this scale"
    with pytest.raises(AssertionError, match="lct.syn_recovery: not run"):
        ledger.check()  # notebook 1 measures the synthetic claims too
    assert all(c.paper_value for c in C.CLAIMS if c.id.startswith("lct.paper_"))
    assert not [c.id for c in C.CLAIMS if c.id.startswith("lct.paper_") and c.scales]  # quoted, never measured


def test_synthetic_claims_and_their_partner(synthetic_runs):
    seq, runs = synthetic_runs
    values = ex.synthetic_recovery(seq, runs=(runs["LCT"], runs["KCF"]))
    ledger = C.make_ledger("smoke", notebook=3)
    C.record_synthetic(ledger, values)
    ledger.check()
    assert ledger.status("lct.syn_kcf_fails") == "PASS" and values["kcf_fraction_before"] >= 0.9
    broken = dict(values, kcf_fraction_before=0.0)  # a KCF that never tracks also "fails after the occlusion"
    ledger = C.make_ledger("smoke", notebook=3)
    C.record_synthetic(ledger, broken)
    assert ledger.status("lct.syn_kcf_fails").startswith("UNPAIRED")


def test_record_otb_refuses_synthetic_sequences(synthetic_runs, capsys):
    seq, runs = synthetic_runs
    renamed = dataclasses.replace(seq, name="Car4")  # still flagged synthetic: a stand-in for OTB Car4
    ledger = C.make_ledger("course")
    C.record_otb(ledger, {("KCF", "Car4"): runs["KCF"], ("LCT", "Car4"): runs["LCT"]}, [renamed])
    assert not ledger.measured
    assert ledger.status("lct.car4_scale_gain").startswith("skipped: dataset otb_mini not available")
    assert "DATA UNAVAILABLE: otb_mini" in capsys.readouterr().out


def test_record_otb_from_results(synthetic_runs):
    """The arithmetic of the recorder (the synthetic frames relabelled as a real sequence, for this test only)."""
    seq, runs = synthetic_runs
    renamed = dataclasses.replace(seq, name="Car4", synthetic=False)
    results = {("KCF", "Car4"): runs["KCF"], ("LCT", "Car4"): runs["LCT"]}
    ledger = C.make_ledger("course")
    C.record_otb(ledger, results, [renamed])
    assert ledger.measured["lct.car4_scale_gain"].source.label() == "dataset otb_mini"
    lct = metrics.ope_summary(runs["LCT"].boxes, seq.boxes)["AUC"]
    kcf_auc = metrics.ope_summary(runs["KCF"].boxes, seq.boxes)["AUC"]
    assert ledger.measured["lct.car4_scale_gain"][0] == pytest.approx(lct - kcf_auc)
    assert "lct.jog1_gain" not in ledger.measured


def test_presets():
    assert set(PRESETS) == {"smoke", "course", "full"}
    assert all(isinstance(p, LCTPreset) for p in PRESETS.values())
    assert PRESETS["smoke"].max_frames is not None and PRESETS["course"].max_frames is None


def test_summary_table_and_views(synthetic_runs):
    seq, runs = synthetic_runs
    results = {(n, seq.name): r for n, r in runs.items()}
    table = ex.summary_table(results, [seq])
    assert list(table["tracker"]) == ["KCF", "LCT"] and table["P@20"].between(0, 1).all()
    assert ex.pivot(table).shape == (2, 2)
    kcf_only = {"KCF": runs["KCF"]}
    pairs = {
        "confidence": (views.plot_confidence(runs["LCT"], seq), views.plot_confidence(runs["LCT"], seq, t_r=0.3)),
        "centre errors": (views.plot_center_errors(runs, seq), views.plot_center_errors(kcf_only, seq)),
        "ope": (views.plot_ope_curves(results, [seq]),
                views.plot_ope_curves({("KCF", seq.name): runs["KCF"]}, [seq])),
        "bars": (views.plot_summary_bars(table), views.plot_summary_bars(table.assign(**{"P@20": 0.5}))),
        "frame": (views.plot_tracking_frame(seq.frames[60], {n: r.boxes[60] for n, r in runs.items()}, seq.boxes[60]),
                  views.plot_tracking_frame(seq.frames[10], {n: r.boxes[10] for n, r in runs.items()}, seq.boxes[10])),
        "shifts": (views.plot_cyclic_shifts(np.sin(np.arange(12.0)), np.exp(-np.arange(12.0))),
                   views.plot_cyclic_shifts(np.cos(np.arange(12.0)), np.exp(-np.arange(12.0)))),
        "maps": (views.plot_response_maps(runs["LCT"].responses[5], runs["LCT"].app_responses[5], np.ones(33)),
                 views.plot_response_maps(runs["LCT"].responses[50], runs["LCT"].app_responses[50], np.ones(33))),
    }
    for name, (a, b) in pairs.items():
        assert isinstance(a, Figure) and differ(a, b), name
    heights = sorted(arr[3] for arr in data(pairs["bars"][0]) if arr.size == 4)
    assert heights == pytest.approx(sorted(table["P@20"]))  # the bars are the P@20 values passed in
    matplotlib.pyplot.close("all")


def test_clip_explorer_changes_with_the_frame(synthetic_runs):
    seq, _ = synthetic_runs
    explorer = views.ClipExplorer(seq.clip(40, 80), {"CV-X": np.tile(seq.boxes[40], (40, 1))})
    a, b = explorer.figure(frame=0), explorer.figure(frame=20)
    assert a.axes[0].get_title() != b.axes[0].get_title()
    assert len(explorer.results()) == 2
    matplotlib.pyplot.close(a)
    matplotlib.pyplot.close(b)


def test_exercises_accept_right_and_reject_wrong_answers():
    x, y = E.exercise_signal()
    alpha = kcf.ifft2(kcf.train_filter(kcf.fft2(x), kcf.fft2(y), (6, 4), 0.1, "linear"), (6, 4))
    assert check("lct.1", alpha) and not check("lct.1", alpha + 0.1) and not check("lct.1", None)
    assert check("lct.2", (-8, 12)) and not check("lct.2", (56, 12))
    assert check("lct.3", 1.02**16) and not check("lct.3", 1.02)
    pred, gt = E.exercise_boxes()
    assert check("lct.6", metrics.auc(metrics.success_curve(metrics.overlaps(pred, gt))))
    assert not check("lct.6", 0.5)
    assert not check("lct.8", "yes")


def test_threshold_sweep_grid():
    seq = synthetic_occlusion_sequence().clip(0, 15)
    sweep = ex.threshold_sweep(seq, [0.1, 0.2], [0.38])
    assert list(sweep.columns) == ["T_r", "T_a", "P@20", "AUC", "re-detections"] and len(sweep) == 2
    assert sweep["P@20"].between(0, 1).all()
