"""Exercises of the LCT series with self-checks (answers are recomputed by the checkers, never stored)."""
from __future__ import annotations

import functools

import numpy as np

from course_lib.exercises import Exercise, register


def exercise_signal() -> tuple[np.ndarray, np.ndarray]:
    """Inputs of exercise lct.1: a (6, 4, 2) feature map x and Gaussian labels y (6, 4) with σ = 1."""
    from course_lib.lct.features import gaussian_labels

    rng = np.random.default_rng(7)
    return rng.standard_normal((6, 4, 2)), gaussian_labels((6, 4), 1.0).astype(np.float64)


def exercise_boxes() -> tuple[np.ndarray, np.ndarray]:
    """Inputs of exercise lct.6: predicted and ground-truth boxes (x, y, w, h) of a 5-frame toy run."""
    gt = np.array([[10, 10, 20, 40], [12, 10, 20, 40], [14, 11, 20, 40], [16, 12, 20, 40], [18, 12, 20, 40]],
                  float)
    pred = np.array([[10, 10, 20, 40], [13, 11, 20, 40], [20, 16, 20, 40], [40, 30, 20, 40],
                     [60, 12, 20, 40]], float)
    return pred, gt


@functools.cache
def _synthetic_run(**changes):
    from course_lib.lct.sequences import synthetic_occlusion_sequence
    from course_lib.lct.tracker import LADDER, run_tracker

    seq = synthetic_occlusion_sequence()
    return run_tracker(LADDER["LCT"].replace(**changes), seq.frames, seq.init_box), seq


def _check_alpha(ans) -> bool | str:
    from course_lib.lct.kcf import brute_force_krr

    x, y = exercise_signal()
    ans = np.asarray(ans, float)
    if ans.shape != (6, 4):
        return f"α must have the spatial shape (6, 4), got {ans.shape}"
    return bool(np.allclose(ans, brute_force_krr(x, y, 0.1, "linear"), atol=1e-8)) or \
        "not the kernel-ridge-regression solution; did you use the linear kernel k = F⁻¹(Σ_d x̂_d x̂_d*)/(MND)?"


def _check_shift(ans) -> bool | str:
    dy, dx = (int(v) for v in ans)
    if (dy, dx) == (14 * 4, 3 * 4):
        return "that is the raw index times the cell size: indices past the middle wrap to negative shifts"
    return (dy, dx) == (-8, 12)


def _check_scale(ans) -> bool | str:
    return bool(abs(float(ans) - 1.02**16) < 1e-3) or "the largest factor is a^((S-1)/2)"


def _check_first_redetection(ans) -> bool | str:
    res, _ = _synthetic_run()
    truth = int(np.flatnonzero(res.redetect_accepted)[0])
    return int(ans) == truth or "look for the first True in result.redetect_accepted"


def _check_code_window(ans) -> bool | str:
    from course_lib.lct import metrics

    res, seq = _synthetic_run(detect_region=1.2)
    truth = metrics.frames_to_recover(res.boxes, seq.boxes, seq.reappear)
    if float(ans) == truth:
        return True
    return "it never recovers: answer float('inf')" if np.isinf(truth) else "use metrics.frames_to_recover"


def _check_auc(ans) -> bool | str:
    from course_lib.lct import metrics

    pred, gt = exercise_boxes()
    truth = metrics.auc(metrics.success_curve(metrics.overlaps(pred, gt)))
    return bool(abs(float(ans) - truth) < 1e-9) or "AUC = mean over the 21 IoU thresholds of the success rate"


@functools.cache
def _jogging_recovery(**changes) -> float:
    """Frames after the Jogging.1 occlusion (ends at frame 79) until LCT is back within 20 px (first 100
    frames)."""
    from course_lib.lct import metrics
    from course_lib.lct.sequences import load_otb
    from course_lib.lct.tracker import LADDER, run_tracker

    seq = load_otb("Jogging.1", 100)
    res = run_tracker(LADDER["LCT"].replace(**changes), seq.frames, seq.init_box)
    return metrics.frames_to_recover(res.boxes, seq.boxes, seq.occlusion[1], tol=20.0)


def _check_tr_breaks(ans) -> bool | str:
    t_r = float(ans)
    if not 0.0 <= t_r <= 1.0:
        return "T_r must be in [0, 1]"
    frames = _jogging_recovery(t_r=round(t_r, 4))
    return bool(frames > 10) or f"with T_r = {t_r:g} LCT is back {frames:g} frames after the occlusion"


def _check_ta_zero(ans) -> bool | str:
    if not isinstance(ans, (bool, np.bool_)):
        return "answer True or False"
    return bool(ans) == bool(_jogging_recovery(t_a=0.0) <= 10)


register(
    Exercise("lct.1", "Compute the dual coefficients α (spatial, shape (6, 4)) of a LINEAR-kernel KCF with "
             "λ = 0.1 for x, y = exercise_signal(), in the Fourier domain.", _check_alpha,
             "α = F⁻¹(ŷ / (k̂ˣˣ + λ)); kcf.train_filter(kcf.fft2(x), kcf.fft2(y), (6, 4), 0.1, 'linear')"),
    Exercise("lct.2", "On a 16×12-cell response grid (cell = 4 px) the peak is at index (14, 3). What "
             "displacement (dy, dx) in pixels does the tracker apply?", _check_shift,
             "labels peak at (0, 0) and wrap around: index 14 of 16 is the shift −2"),
    Exercise("lct.3", "With the released code's scale filter (S = 33, a = 1.02), what is the largest scale "
             "change factor it can apply in ONE frame?", _check_scale, "scale factors are a^n, n = −16 … 16"),
    Exercise("lct.4", "On the synthetic sequence, at which (0-based) frame does the full LCT first ACCEPT a "
             "re-detection?", _check_first_redetection,
             "run_tracker(LADDER['LCT'], seq.frames, seq.init_box).redetect_accepted"),
    Exercise("lct.5", "Scan only the released code's re-detection window (detect_region = 1.2 × search "
             "window). How many frames after reappearance does LCT need on the synthetic sequence "
             "(float('inf') if it never recovers)?", _check_code_window,
             "LADDER['LCT'].replace(detect_region=1.2)"),
    Exercise("lct.6", "Success AUC (OTB: mean success rate over IoU thresholds 0:0.05:1) of pred vs gt from "
             "exercise_boxes()?", _check_auc, "metrics.overlaps, then success_curve, then auc"),
    Exercise("lct.7", "Find a re-detection threshold T_r for which LCT does NOT recover on Jogging.1 (first "
             "100 frames: not back within 20 px in the 10 frames after the occlusion). Enter that T_r.",
             _check_tr_breaks,
             "re-detection only runs when C < T_r: look at the minimum of C during the occlusion"),
    Exercise("lct.8", "Set T_a = 0, so the long-term filter is updated on every frame like the short-term "
             "one. Does LCT still recover on Jogging.1 (first 100 frames)? Answer True or False.",
             _check_ta_zero, "watch C during the occlusion with the T_a slider at 0"),
)
