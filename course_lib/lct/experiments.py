"""Experiment drivers shared by the notebooks, ``claims.run`` and the benchmark: run trackers (our ladder and
the OpenCV peers) over sequences, tabulate OTB OPE metrics, and measure the synthetic re-detection claim."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from course_lib.lct import metrics
from course_lib.lct.peers import OPENCV_TRACKERS, run_opencv, to_bgr
from course_lib.lct.sequences import OTB_SEQUENCES, Sequence, load_otb, synthetic_occlusion_sequence
from course_lib.lct.tracker import LADDER, LCTConfig, TrackResult, run_tracker

SYNTHETIC = "synthetic-occlusion"


def get_sequence(name: str, max_frames: int | None = None) -> Sequence:
    """``synthetic-occlusion`` or an ``otb_mini`` sequence name, optionally cut to ``max_frames``."""
    if name == SYNTHETIC:
        seq = synthetic_occlusion_sequence()
        return seq if max_frames is None else seq.clip(0, max_frames)
    if name not in OTB_SEQUENCES:
        raise ValueError(f"unknown sequence {name!r}; known: {SYNTHETIC}, {', '.join(OTB_SEQUENCES)}")
    return load_otb(name, max_frames)


def run_one(tracker: LCTConfig | str, seq: Sequence, keep_maps: bool = False, bgr: np.ndarray | None = None
            ) -> TrackResult:
    """Run one of our configurations (an :class:`LCTConfig`) or an OpenCV peer (its name) on ``seq``."""
    if isinstance(tracker, LCTConfig):
        return run_tracker(tracker, seq.frames, seq.init_box, keep_maps=keep_maps)
    if tracker in OPENCV_TRACKERS:
        return run_opencv(tracker, seq.frames, seq.init_box, bgr)
    raise ValueError(f"tracker must be an LCTConfig or one of {', '.join(OPENCV_TRACKERS)}, got {tracker!r}")


def run_all(trackers: Mapping[str, LCTConfig | str], sequences: Iterable[Sequence], progress: bool = True
            ) -> dict[tuple[str, str], TrackResult]:
    """Every tracker on every sequence, in one process (same frames, same timing method)."""
    from tqdm.auto import tqdm

    sequences = list(sequences)
    jobs = [(name, seq) for seq in sequences for name in trackers]
    out: dict[tuple[str, str], TrackResult] = {}
    bgr_cache: dict[str, np.ndarray] = {}
    for name, seq in tqdm(jobs, desc="tracking", disable=not progress):
        tracker = trackers[name]
        bgr = None
        if isinstance(tracker, str):
            bgr = bgr_cache.setdefault(seq.name, to_bgr(seq.frames))
        res = run_one(tracker, seq, bgr=bgr)
        res.name = name
        out[(name, seq.name)] = res
    return out


def summary_table(results: Mapping[tuple[str, str], TrackResult],
                  sequences: Iterable[Sequence]) -> pd.DataFrame:
    """One row per (tracker, sequence): P@20, success AUC, FPS (wall and CPU), re-detections / failure
    frames."""
    seqs = {s.name: s for s in sequences}
    rows = []
    for (tracker, seq_name), res in results.items():
        s = metrics.ope_summary(res.boxes, seqs[seq_name].boxes)
        is_peer = tracker in OPENCV_TRACKERS
        rows.append({"tracker": tracker, "sequence": seq_name, "P@20": s["P@20"], "AUC": s["AUC"],
                     "FPS": res.fps, "CPU FPS": res.cpu_fps,
                     "re-detections": np.nan if is_peer else res.n_redetections,
                     "failure frames": int(res.redetect_tried.sum()) if is_peer else np.nan})
    return pd.DataFrame(rows)


def pivot(table: pd.DataFrame, value: str = "P@20") -> pd.DataFrame:
    """Trackers × sequences table of one metric, with the mean over sequences as a last column."""
    p = table.pivot(index="tracker", columns="sequence", values=value)
    order = list(dict.fromkeys(table["tracker"]))
    p = p.loc[order]
    p["mean"] = p.mean(axis=1)
    return p


def synthetic_recovery(seq: Sequence | None = None, lct: LCTConfig = LADDER["LCT"],
                       kcf: LCTConfig = LADDER["KCF"], tol: float = 10.0,
                       runs: tuple[TrackResult, TrackResult] | None = None) -> dict[str, float]:
    """The §6.4 smoke claim on the synthetic full-occlusion sequence: frames after reappearance until LCT's
    centre error stays < ``tol`` px, the fraction of post-reappearance (and of pre-occlusion) frames KCF-only has
    within ``tol``, and the lowest long-term confidence during the occlusion. ``runs`` = (LCT, KCF) results
    already computed on ``seq`` (otherwise both are run here)."""
    seq = seq or synthetic_occlusion_sequence()
    if seq.occlusion is None:
        raise ValueError("the sequence needs a full-occlusion interval")
    start, stop = seq.occlusion
    if runs is None:
        runs = (run_tracker(lct, seq.frames, seq.init_box), run_tracker(kcf, seq.frames, seq.init_box))
    r_lct, r_kcf = runs
    err_kcf = metrics.center_errors(r_kcf.boxes, seq.boxes)
    return {"lct_frames_to_recover": metrics.frames_to_recover(r_lct.boxes, seq.boxes, stop, tol),
            "kcf_frames_to_recover": metrics.frames_to_recover(r_kcf.boxes, seq.boxes, stop, tol),
            "kcf_fraction_within_tol": float((err_kcf[stop:] < tol).mean()),
            "kcf_fraction_before": float((err_kcf[:start] < tol).mean()),
            "min_confidence_occluded": float(np.nanmin(r_lct.confidence[start:stop])),
            "lct_p20": metrics.ope_summary(r_lct.boxes, seq.boxes)["P@20"],
            "kcf_p20": metrics.ope_summary(r_kcf.boxes, seq.boxes)["P@20"],
            "lct_cpu_fps": r_lct.cpu_fps, "kcf_cpu_fps": r_kcf.cpu_fps}


def threshold_sweep(seq: Sequence, t_r_values: Iterable[float], t_a_values: Iterable[float],
                    base: LCTConfig = LADDER["LCT"]) -> pd.DataFrame:
    """P@20 / AUC / re-detections of the full tracker over a grid of (T_r, T_a) on one sequence."""
    rows = []
    for t_r in t_r_values:
        for t_a in t_a_values:
            res = run_tracker(base.replace(t_r=float(t_r), t_a=float(t_a)), seq.frames, seq.init_box)
            s = metrics.ope_summary(res.boxes, seq.boxes)
            rows.append({"T_r": t_r, "T_a": t_a, "P@20": s["P@20"], "AUC": s["AUC"],
                         "re-detections": res.n_redetections})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------- peer cache
def data_dir():
    """``data/lct`` of the repository (small generated artefacts, see ``data/README.md``)."""
    from course_lib.artifacts import artifact_dir

    return artifact_dir("lct")


PEER_CACHE = "jogging1_peers.npz"


def build_peer_cache(peers: Iterable[str] | None = None, path=None) -> dict[str, np.ndarray]:
    """Run the OpenCV peers on the whole of Jogging.1 (initialised on frame 0) and save their boxes and FPS to
    ``data/lct/jogging1_peers.npz`` (≈ 30 kB), which the interactive notebook overlays on its clip.
    Regenerate with ``python -m course_lib.lct.experiments``."""
    from course_lib.lct.peers import DEFAULT_PEERS, available_opencv_trackers

    peers = [p for p in (peers or DEFAULT_PEERS) if p in available_opencv_trackers()]
    seq = get_sequence("Jogging.1")
    bgr = to_bgr(seq.frames)
    out: dict[str, np.ndarray] = {}
    for name in peers:
        res = run_opencv(name, seq.frames, seq.init_box, bgr)
        out[name] = res.boxes.astype(np.float32)
        out[f"{name}__cpu_fps"] = np.float32(res.cpu_fps)
    import cv2

    from course_lib.artifacts import save_npz

    save_npz(path or data_dir() / PEER_CACHE, opencv_version=np.array(cv2.__version__), **out)
    return out


def load_peer_cache(path=None, recompute: bool = False) -> dict[str, np.ndarray]:
    """Peer boxes on Jogging.1 from the cache (name -> (307, 4)); recomputed when missing or ``recompute``."""
    path = path or data_dir() / PEER_CACHE
    if recompute or not path.exists():
        build_peer_cache(path=path)
    with np.load(path) as z:
        return {k: z[k] for k in z.files if "__" not in k and k != "opencv_version"}


if __name__ == "__main__":
    built = build_peer_cache()
    print(f"wrote {data_dir() / PEER_CACHE}: {sorted(k for k in built if '__' not in k)}")
