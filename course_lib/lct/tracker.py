"""The LCT tracker as an ablation ladder (``tracker_lct.m``): KCF → + scale filter → + long-term
confidence gating → + re-detection. One class, switched by the flags of :class:`LCTConfig`.

Per frame (``update``):
1. translation: KCF response on the search window at the last position -> new position (§2.1);
2. confidence: peak C of the long-term filter R on a target-sized window at that position (§2.2);
3. re-detection if C < T_r: detector candidate accepted iff R's peak there > 1.5·C and its score > 0 (§2.4);
4. scale: 1-D scale filter at the final position (§2.3);
5. updates with rate η: translation and scale filters every frame (rung 3+ optionally frozen while C < T_r),
   R and the detector only when C > T_a (conservative long-term memory).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sfft

from course_lib.checks import require_finite
from course_lib.lct import kcf
from course_lib.lct.detector import PADetector
from course_lib.lct.features import FEATURE_SETS, cosine_window, extract_features, gaussian_labels, to_gray
from course_lib.lct.patches import get_subwindow, search_window
from course_lib.lct.scale import ScaleFilter


@dataclass(frozen=True)
class LCTConfig:
    """Every parameter of the tracker (defaults: the released LCT 2.0 code; ``t_r``/``t_a`` are the
    code's ``motion_thresh``/``appearance_thresh``, NOT the CVPR'15 values)."""

    name: str = "LCT"
    features: str = "hog+hist"
    kernel: str = "gaussian"
    kernel_sigma: float = 1.0
    lam: float = 1e-4
    padding: float = 1.8
    fft_friendly: bool = False  # round the search window up to a 2-3-5-smooth cell grid (faster FFTs)
    output_sigma_factor: float = 0.1
    interp_factor: float = 0.01
    cell_size: int = 4
    # scale filter (DSST, code values 33 / 1.02; CVPR'15 ≈ 21 / 1.08, verify against the PDF)
    use_scale: bool = True
    n_scales: int = 33
    scale_step: float = 1.02
    scale_lambda: float = 0.01
    scale_max_area: float = 512.0
    scale_windows: bool = True  # resample the translation/long-term windows at the estimated scale (DSST)
    # long-term filter and gating
    use_longterm: bool = True
    t_r: float = 0.15
    t_a: float = 0.38
    freeze_below_tr: bool = True  # rung-3 gating: no short-term update while C < T_r (code: always update)
    # re-detection
    use_redetect: bool = True
    detect_region: float | None = None  # None = whole frame (ours); 1.2 = x search window (code)
    accept_ratio: float = 1.5
    detector_c: float = 0.5
    prior_sigma: float = 25.0
    seed: int = 0

    def __post_init__(self):
        if self.features not in FEATURE_SETS:
            raise ValueError(f"features must be one of {FEATURE_SETS}, got {self.features!r}")
        if self.kernel not in kcf.KERNELS:
            raise ValueError(f"kernel must be one of {kcf.KERNELS}, got {self.kernel!r}")
        if not 0.0 <= self.interp_factor <= 1.0:
            raise ValueError(f"interp_factor must be in [0, 1], got {self.interp_factor}")
        if self.use_redetect and not self.use_longterm:
            raise ValueError("re-detection needs the long-term filter (use_longterm=True) for its confidence")

    def replace(self, **changes) -> LCTConfig:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


#: The ablation ladder of notebook 2.
LADDER: dict[str, LCTConfig] = {
    "KCF": LCTConfig(name="KCF", use_scale=False, use_longterm=False, use_redetect=False),
    "KCF+scale": LCTConfig(name="KCF+scale", use_longterm=False, use_redetect=False),
    "KCF+scale+LT": LCTConfig(name="KCF+scale+LT", use_redetect=False),
    "LCT": LCTConfig(name="LCT"),
}

#: Side variants of the full tracker (deviations and ablations discussed in the notebooks).
VARIANTS: dict[str, LCTConfig] = {
    "LCT (code window)": LCTConfig(name="LCT (code window)", detect_region=1.2),
    "LCT (code update)": LCTConfig(name="LCT (code update)", freeze_below_tr=False),
    "LCT (linear kernel)": LCTConfig(name="LCT (linear kernel)", kernel="linear"),
    "LCT (HOG only)": LCTConfig(name="LCT (HOG only)", features="hog"),
    "LCT (gray+hist)": LCTConfig(name="LCT (gray+hist)", features="hist"),
}


@dataclass
class FrameState:
    """What the tracker decided on one frame (box in original image pixels, 0-based x, y, w, h)."""

    box: np.ndarray
    confidence: float
    peak: float
    redetect_tried: bool = False
    redetect_accepted: bool = False
    response: np.ndarray | None = None
    app_response: np.ndarray | None = None


class LCTTracker:
    """Long-term correlation tracker; ``init(frame, box)`` then ``update(frame) -> FrameState`` per frame.
    ``frame``: uint8 (H, W) gray or (H, W, 3) RGB; ``box``: (x, y, w, h), 0-based pixels."""

    def __init__(self, config: LCTConfig | None = None, keep_maps: bool = False):
        self.cfg = config or LCTConfig()
        self.keep_maps = keep_maps

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _check_frame(frame: np.ndarray) -> None:
        if not isinstance(frame, np.ndarray) or frame.ndim not in (2, 3) or min(frame.shape[:2]) < 1:
            got = getattr(frame, "shape", type(frame).__name__)
            raise ValueError(f"frame must be an (H, W) or (H, W, 3) array, got {got}")
        if frame.dtype.kind == "f":  # uint8 frames cannot hold NaN; float ones are checked (one pass)
            require_finite("frame", frame)

    def _prepare(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._check_frame(frame)
        if self.im_scale != 1.0:
            import cv2

            h, w = frame.shape[:2]
            frame = cv2.resize(frame, (int(w * self.im_scale), int(h * self.im_scale)),
                               interpolation=cv2.INTER_AREA)
        return frame, to_gray(frame)

    def _features(self, gray, center, size, window=None):
        patch = get_subwindow(gray, center, np.maximum(np.floor(size * self.scale), 2).astype(int)
                              if self.cfg.scale_windows else size, tuple(size))
        x = extract_features(patch, self.cfg.features, self.cfg.cell_size)
        if window is not None:
            x = x * window[..., None]
        return kcf.fft2(x)

    def _train(self, xf, yf, shape):
        return kcf.train_filter(xf, yf, shape, self.cfg.lam, self.cfg.kernel, self.cfg.kernel_sigma)

    def _respond(self, alphaf, model_xf, zf, shape):
        return kcf.detect(alphaf, model_xf, zf, shape, self.cfg.kernel, self.cfg.kernel_sigma)

    def confidence_at(self, gray: np.ndarray, center) -> tuple[float, np.ndarray]:
        """Peak of the long-term filter's response on the target-sized window at ``center`` (§2.2)."""
        zf = self._features(gray, center, self.app_sz)
        resp = self._respond(self.app_alphaf, self.app_xf, zf, self.app_grid)
        return float(resp.max()), resp

    # ------------------------------------------------------------------ API
    def init(self, frame: np.ndarray, box) -> FrameState:
        """Train every filter (and the detector) on the first frame around ``box``.

        ``box`` (x, y, w, h) must be finite, of positive size and overlap the frame; a float frame must be finite.
        """
        cfg = self.cfg
        box = np.asarray(box, float)
        if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"box must be a finite (x, y, w, h) with positive size, got {box}")
        self._check_frame(frame)
        height, width = frame.shape[:2]
        if box[0] >= width or box[1] >= height or box[0] + box[2] <= 0 or box[1] + box[3] <= 0:
            raise ValueError(f"the initial box (x, y, w, h) = {box.tolist()} lies outside the {width}x{height} "
                             f"frame; it must overlap [0, {width}) x [0, {height}) (0-based pixels)")
        self.im_scale = 0.5 if np.sqrt(box[2] * box[3]) >= 100 else 1.0  # ``resize_image`` of the code
        frame_w, gray = self._prepare(frame)
        s = self.im_scale
        self.pos = np.array([(box[1] + box[3] / 2) * s, (box[0] + box[2] / 2) * s])
        self.target_sz = np.floor(np.array([box[3], box[2]]) * s)
        self.window_sz, self.app_sz = search_window(self.target_sz, gray.shape, cfg.padding, cfg.cell_size)
        if cfg.fft_friendly:  # grow the search window to the next 2-3-5-smooth cell grid (fast FFT sizes)
            self.window_sz = cfg.cell_size * np.array([sfft.next_fast_len(int(v), real=True)
                                                       for v in self.window_sz // cfg.cell_size])
        self.grid = tuple(int(v) for v in self.window_sz // cfg.cell_size)
        self.app_grid = tuple(int(v) for v in self.app_sz // cfg.cell_size)
        sigma = np.sqrt(self.target_sz.prod()) * cfg.output_sigma_factor / cfg.cell_size
        self.yf = kcf.fft2(gaussian_labels(self.grid, sigma))
        self.app_yf = kcf.fft2(gaussian_labels(self.app_grid, sigma))
        self.cos = cosine_window(self.grid)
        self.scale = 1.0
        self.frame_index = 0
        if cfg.use_scale:
            self.scale_filter = ScaleFilter(self.app_sz, cfg.n_scales, cfg.scale_step, cfg.scale_lambda,
                                            cfg.scale_max_area, cell_size=cfg.cell_size)
            step = cfg.scale_step
            self.min_scale = step ** np.ceil(np.log(np.max(5.0 / self.window_sz)) / np.log(step))
            room = np.min(np.array(gray.shape) / self.target_sz)
            self.max_scale = step ** np.floor(np.log(room) / np.log(step))
            self.scale_filter.update(gray, self.pos, self.scale, 1.0)
        self.xf = self._features(gray, self.pos, self.window_sz, self.cos)
        self.alphaf = self._train(self.xf, self.yf, self.grid)
        if cfg.use_longterm:
            self.app_xf = self._features(gray, self.pos, self.app_sz)
            self.app_alphaf = self._train(self.app_xf, self.app_yf, self.app_grid)
        if cfg.use_redetect:
            self.detector = PADetector(self.target_sz, self.window_sz, c=cfg.detector_c,
                                       detect_region=cfg.detect_region, prior_sigma=cfg.prior_sigma,
                                       seed=cfg.seed)
            self.detector.train(frame_w, self.pos, self.scale)
        return FrameState(box=self.box(), confidence=1.0 if cfg.use_longterm else float("nan"), peak=1.0)

    def box(self) -> np.ndarray:
        """Current box (x, y, w, h) in original image pixels, including the scale estimate."""
        sz = self.target_sz * self.scale / self.im_scale
        c = self.pos / self.im_scale
        return np.array([c[1] - sz[1] / 2, c[0] - sz[0] / 2, sz[1], sz[0]])

    def update(self, frame: np.ndarray) -> FrameState:
        """Track one frame (steps 1–5 of the module docstring)."""
        cfg = self.cfg
        frame_w, gray = self._prepare(frame)
        self.frame_index += 1
        #: **Translation.** The context filter $R_c$ responds on the search window; the response peak is
        #: the displacement, in cells, so the position moves by the peak times the cell stride.
        # 1. translation
        zf = self._features(gray, self.pos, self.window_sz, self.cos)
        response = self._respond(self.alphaf, self.xf, zf, self.grid)
        dy, dx, peak = kcf.peak_displacement(response)
        stride = cfg.cell_size * (self.scale if cfg.scale_windows else 1.0)
        self.pos = self.pos + stride * np.array([dy, dx])
        self.pos = np.clip(self.pos, 0, np.array(gray.shape) - 1)
        state = FrameState(box=np.zeros(4), confidence=float("nan"), peak=peak)
        if self.keep_maps:
            state.response = np.fft.fftshift(response).astype(np.float32)
        #: **Confidence.** $C$ = the peak response of the long-term appearance filter $R_t$ at the new
        #: position (it is only updated from confident frames, so it remembers what the target looks like).
        # 2. confidence of the long-term filter
        if cfg.use_longterm:
            conf, app_resp = self.confidence_at(gray, self.pos)
            #: **Re-detection** when $C < T_r$: the online detector proposes a candidate; it replaces the
            #: position only if $R_t$ is more confident there.
            # 3. re-detection
            if cfg.use_redetect and conf < cfg.t_r:
                state.redetect_tried = True
                cand, score = self.detector.detect(frame_w, self.pos, self.scale)
                cand_conf, cand_resp = self.confidence_at(gray, cand)
                if cand_conf > cfg.accept_ratio * conf and score > 0:
                    self.pos, conf, app_resp = cand, cand_conf, cand_resp
                    state.redetect_accepted = True
            state.confidence = conf
            if self.keep_maps:
                state.app_response = np.fft.fftshift(app_resp).astype(np.float32)
        #: **Scale** from the 1-D scale filter $R_s$ (DSST). While the target looks lost ($C < T_r$)
        #: scale and model updates are frozen (released-code behaviour).
        frozen = cfg.use_longterm and cfg.freeze_below_tr and state.confidence < cfg.t_r
        # 4. scale
        if cfg.use_scale and not frozen:
            self.scale = float(np.clip(self.scale * self.scale_filter.estimate(gray, self.pos, self.scale),
                                       self.min_scale, self.max_scale))
        #: **Updates** by linear interpolation with rate $\eta$. $R_t$ and the detector learn only from
        #: confident frames, $C > T_a$ — the long-term memory is not polluted by occlusions.
        # 5. updates
        eta = cfg.interp_factor
        if not frozen:
            xf = self._features(gray, self.pos, self.window_sz, self.cos)
            self.alphaf = kcf.interpolate(self.alphaf, self._train(xf, self.yf, self.grid), eta)
            self.xf = kcf.interpolate(self.xf, xf, eta)
            if cfg.use_scale:
                self.scale_filter.update(gray, self.pos, self.scale, eta)
        if cfg.use_longterm and state.confidence > cfg.t_a:
            app_xf = self._features(gray, self.pos, self.app_sz)
            app_alphaf = self._train(app_xf, self.app_yf, self.app_grid)
            self.app_alphaf = kcf.interpolate(self.app_alphaf, app_alphaf, eta)
            self.app_xf = kcf.interpolate(self.app_xf, app_xf, eta)
            if cfg.use_redetect:
                self.detector.train(frame_w, self.pos, self.scale)
        state.box = self.box()
        return state


@dataclass
class TrackResult:
    """A whole run: per-frame boxes (x, y, w, h; original pixels, 0-based), confidences, peaks, flags and
    timing."""

    name: str
    boxes: np.ndarray
    confidence: np.ndarray
    peak: np.ndarray
    redetect_tried: np.ndarray
    redetect_accepted: np.ndarray
    seconds: float
    cpu_seconds: float = float("nan")
    responses: list = field(default_factory=list)
    app_responses: list = field(default_factory=list)

    @property
    def fps(self) -> float:
        """Frames per second of the tracker itself (image decoding excluded, first frame included)."""
        return len(self.boxes) / self.seconds if self.seconds > 0 else float("inf")

    @property
    def cpu_fps(self) -> float:
        """Frames per CPU-second of this process (robust to other processes sharing the cores)."""
        return len(self.boxes) / self.cpu_seconds if self.cpu_seconds > 0 else float("inf")

    @property
    def n_redetections(self) -> int:
        return int(self.redetect_accepted.sum())


def run_tracker(config: LCTConfig, frames, init_box, keep_maps: bool = False,
                name: str | None = None) -> TrackResult:
    """Run :class:`LCTTracker` over ``frames`` (sequence of uint8 images) from ``init_box`` (x, y, w, h)."""
    tracker = LCTTracker(config, keep_maps=keep_maps)
    n = len(frames)
    if n == 0:
        raise ValueError("need at least one frame")
    boxes = np.zeros((n, 4))
    conf, peak = np.full(n, np.nan), np.full(n, np.nan)
    tried, accepted = np.zeros(n, bool), np.zeros(n, bool)
    responses, app_responses = [], []
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        st = tracker.init(frames[i], init_box) if i == 0 else tracker.update(frames[i])
        boxes[i], conf[i], peak[i] = st.box, st.confidence, st.peak
        tried[i], accepted[i] = st.redetect_tried, st.redetect_accepted
        if keep_maps:
            responses.append(st.response)
            app_responses.append(st.app_response)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return TrackResult(name or config.name, boxes, conf, peak, tried, accepted, seconds, cpu, responses,
                       app_responses)
