"""Exercises of the LCT series with self-checks (answers are recomputed by the checkers, never stored)."""
from __future__ import annotations

import functools

import numpy as np

from course_lib.exercises import Exercise, build_checker, register


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


def _krr_inputs(rng) -> tuple[np.ndarray, np.ndarray, float]:
    m, n, d = int(rng.integers(4, 9)), int(rng.integers(3, 8)), int(rng.integers(1, 4))
    return rng.standard_normal((m, n, d)), rng.standard_normal((m, n)), float(rng.uniform(0.05, 0.5))


def _krr_reference(x, y, lam):
    from course_lib.lct.kcf import brute_force_krr

    return brute_force_krr(x, y, lam, "linear")


_check_build_krr = build_checker(_krr_reference, _krr_inputs, atol=1e-8, name="fourier_krr")


def _check_alpha(ans) -> bool | str:
    x, y = exercise_signal()
    ans = np.asarray(ans, float)
    if ans.shape != (6, 4):
        return f"α must have the spatial shape (6, 4), got {ans.shape}"
    return bool(np.allclose(ans, _krr_reference(x, y, 0.1), atol=1e-8)) or \
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
             hint="KCF Eq. 17 gives α̂; the kernel correlation of x with itself is the linear one",
             hint2="the library's kcf module has the FFT helpers and the training step (mind the kernel "
             "argument); α is the inverse transform of α̂"),
    Exercise("lct.2", "On a 16×12-cell response grid (cell = 4 px) the peak is at index (14, 3). What "
             "displacement (dy, dx) in pixels does the tracker apply?", _check_shift,
             hint="where do the labels peak, and what happens to a shift past the edge of the grid?",
             hint2="the response is cyclic: an index past the middle of an axis of length M stands for the "
             "negative shift index − M; convert cells to pixels at the end"),
    Exercise("lct.3", "With the released code's scale filter (S = 33, a = 1.02), what is the largest scale "
             "change factor it can apply in ONE frame?", _check_scale,
             hint="the S candidate scales are powers of a, centred on the current scale",
             hint2="the exponents run symmetrically from −(S − 1)/2 to (S − 1)/2; the largest one-frame change "
             "is the largest candidate factor"),
    Exercise("lct.4", "On the synthetic sequence, at which (0-based) frame does the full LCT first ACCEPT a "
             "re-detection?", _check_first_redetection,
             hint="run the full tracker on the synthetic sequence and look at its per-frame flags",
             hint2="run_tracker(LADDER['LCT'], seq.frames, seq.init_box) returns a TrackResult with a boolean "
             "per frame in redetect_accepted; find its first True"),
    Exercise("lct.5", "Scan only the released code's re-detection window (detect_region = 1.2 × search "
             "window). How many frames after reappearance does LCT need on the synthetic sequence "
             "(float('inf') if it never recovers)?", _check_code_window,
             hint="the ladder configurations are dataclasses: change one field of LADDER['LCT']",
             hint2="LADDER['LCT'].replace(detect_region=1.2), run it, then "
             "metrics.frames_to_recover(result.boxes, seq.boxes, seq.reappear)"),
    Exercise("lct.6", "Success AUC (OTB: mean success rate over IoU thresholds 0:0.05:1) of pred vs gt from "
             "exercise_boxes()?", _check_auc, hint="first the per-frame IoU, then the success curve",
             hint2="metrics.overlaps, then metrics.success_curve, then metrics.auc"),
    Exercise("lct.7", "Find a re-detection threshold T_r for which LCT does NOT recover on Jogging.1 (first "
             "100 frames: not back within 20 px in the 10 frames after the occlusion). Enter that T_r.",
             _check_tr_breaks,
             hint="re-detection only runs when C < T_r: look at the minimum of C during the occlusion",
             hint2="a threshold below every confidence reached during the occlusion never triggers "
             "re-detection"),
    Exercise("lct.8", "Set T_a = 0, so the long-term filter is updated on every frame like the short-term "
             "one. Does LCT still recover on Jogging.1 (first 100 frames)? Answer True or False.",
             _check_ta_zero, hint="watch C during the occlusion with the T_a slider at 0",
             hint2="if R_t learns the occluder, does its confidence at the true target stay high?"),
    Exercise("lct.9", "Build it: write fourier_krr(x, y, lam) with numpy only (no course_lib) that returns the "
             "spatial dual coefficients α (M, N) of a LINEAR-kernel KCF, for a feature map x (M, N, D) and "
             "labels y (M, N), solved in the Fourier domain. The linear kernel of all cyclic shifts is "
             "k = F⁻¹(Σ_d x̂_d ⊙ x̂_d*) / (M N D). Checked against explicit ridge regression on the "
             "M·N shifted copies, for random sizes.", _check_build_krr,
             hint="the training set is every cyclic shift of x, so the kernel matrix is circulant: "
             "one DFT diagonalises it and the inverse becomes an element-wise division",
             hint2="Eq. 17: α̂ = ŷ / (k̂ˣˣ + λ); np.fft.fft2 works on the first two axes (axes=(0, 1)), sum the "
             "channels after multiplying the spectra, and return the real part of the inverse transform"),
)
