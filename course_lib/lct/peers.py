"""OpenCV contrib trackers as peers: same sequences, same failure protocol (keep the last
box when ``update`` reports failure), same metric code, FPS measured in the same process.

Only trackers that run offline are listed: ``TrackerDaSiamRPN``, ``TrackerNano`` and ``TrackerVit`` exist in
OpenCV 5 but need ONNX model files that are not bundled, and GOTURN is gone."""
from __future__ import annotations

import time

import cv2
import numpy as np

from course_lib.lct.tracker import TrackResult

#: peer name -> (module path, factory name); ``legacy`` trackers come from ``cv2.legacy``
OPENCV_TRACKERS: dict[str, tuple[str, str]] = {
    "CV-KCF": ("cv2", "TrackerKCF_create"),
    "CV-CSRT": ("cv2", "TrackerCSRT_create"),
    "CV-MIL": ("cv2", "TrackerMIL_create"),
    "CV-TLD": ("cv2.legacy", "TrackerTLD_create"),
    "CV-MOSSE": ("cv2.legacy", "TrackerMOSSE_create"),
    "CV-MedianFlow": ("cv2.legacy", "TrackerMedianFlow_create"),
    "CV-Boosting": ("cv2.legacy", "TrackerBoosting_create"),
}
#: the peers of notebook 2's table (Boosting is available but left out of the default table: slow and weak)
DEFAULT_PEERS = ("CV-KCF", "CV-CSRT", "CV-MIL", "CV-TLD", "CV-MOSSE", "CV-MedianFlow")


def _factory(name: str):
    module, attr = OPENCV_TRACKERS[name]
    mod = cv2.legacy if module == "cv2.legacy" else cv2
    return getattr(mod, attr, None)


def available_opencv_trackers() -> dict[str, str]:
    """Peers present in this OpenCV build: name -> ``module.factory``."""
    return {name: f"{m}.{a}" for name, (m, a) in OPENCV_TRACKERS.items() if _factory(name) is not None}


def make_opencv_tracker(name: str):
    """A fresh OpenCV tracker object for peer ``name`` (e.g. ``"CV-CSRT"``)."""
    if name not in OPENCV_TRACKERS:
        raise ValueError(f"unknown peer {name!r}; known: {', '.join(OPENCV_TRACKERS)}")
    factory = _factory(name)
    if factory is None:
        raise RuntimeError(f"{name} is not available in OpenCV {cv2.__version__} (needs opencv-contrib)")
    return factory()


def to_bgr(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) gray or (T, H, W, 3) RGB uint8 frames -> (T, H, W, 3) BGR, as OpenCV trackers expect."""
    if frames.ndim == 3:
        return np.repeat(frames[..., None], 3, axis=-1)
    return np.ascontiguousarray(frames[..., ::-1])


def run_opencv(name: str, frames: np.ndarray, init_box, frames_bgr: np.ndarray | None = None) -> TrackResult:
    """Run one OpenCV peer over ``frames`` from ``init_box`` (x, y, w, h; 0-based). When ``update`` returns
    False the last box is kept (the failure protocol of notebook 2); ``redetect_tried`` marks those failure frames.
    """
    bgr = to_bgr(frames) if frames_bgr is None else frames_bgr
    n = len(bgr)
    tracker = make_opencv_tracker(name)
    box = np.asarray(init_box, float)
    legacy = OPENCV_TRACKERS[name][0] == "cv2.legacy"
    rect = tuple(float(v) for v in box) if legacy else tuple(int(round(v)) for v in box)
    boxes = np.zeros((n, 4))
    failed = np.zeros(n, bool)
    t0, c0 = time.perf_counter(), time.process_time()
    tracker.init(bgr[0], rect)
    boxes[0] = box
    last = box
    for i in range(1, n):
        ok, out = tracker.update(bgr[i])
        if ok:
            last = np.asarray(out, float)
        else:
            failed[i] = True
        boxes[i] = last
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    nan = np.full(n, np.nan)
    return TrackResult(name, boxes, nan, nan.copy(), failed, np.zeros(n, bool), seconds, cpu)
