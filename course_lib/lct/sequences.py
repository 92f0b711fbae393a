"""Tracking sequences: the OTB loader (``otb_mini`` from the data registry) and the synthetic full-occlusion
generator of the smoke claims.

Boxes are (x, y, w, h) in 0-based pixels (OTB files are 1-based: we subtract 1 from x and y on load). Frames
are uint8 arrays, (H, W) for gray sequences and (H, W, 3) RGB for colour ones."""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import cv2
import numpy as np

#: name -> (folder, ground-truth file, 0-based [start, stop) of the full occlusion)
OTB_SEQUENCES = {
    "Jogging.1": ("Jogging", "groundtruth_rect.1.txt", (68, 79)),
    "Jogging.2": ("Jogging", "groundtruth_rect.2.txt", (49, 56)),
    "Car4": ("Car4", "groundtruth_rect.txt", None),
}


@dataclass(frozen=True)
class Sequence:
    """Frames + ground-truth boxes; ``occlusion`` = [start, stop) frames where the target is fully hidden."""

    name: str
    frames: np.ndarray
    boxes: np.ndarray
    occlusion: tuple[int, int] | None = None
    synthetic: bool = False

    def __post_init__(self):
        if len(self.frames) != len(self.boxes):
            raise ValueError(f"{self.name}: {len(self.frames)} frames but {len(self.boxes)} boxes")
        if self.boxes.ndim != 2 or self.boxes.shape[1] != 4:
            raise ValueError(f"{self.name}: boxes must be (T, 4), got {self.boxes.shape}")

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def init_box(self) -> np.ndarray:
        return self.boxes[0]

    @property
    def reappear(self) -> int | None:
        """First frame after the full occlusion (None without one)."""
        return None if self.occlusion is None else self.occlusion[1]

    def clip(self, start: int = 0, stop: int | None = None) -> Sequence:
        """Frames [start, stop) as a new sequence (occlusion indices shifted, dropped when outside)."""
        stop = len(self) if stop is None else min(stop, len(self))
        if not 0 <= start < stop:
            raise ValueError(f"bad clip [{start}, {stop}) of a {len(self)}-frame sequence")
        occ = None
        if self.occlusion is not None and self.occlusion[0] >= start and self.occlusion[1] <= stop:
            occ = (self.occlusion[0] - start, self.occlusion[1] - start)
        return dataclasses.replace(self, frames=self.frames[start:stop], boxes=self.boxes[start:stop],
                                   occlusion=occ, name=self.name if (start, stop) == (0, len(self))
                                   else f"{self.name}[{start}:{stop}]")


def read_boxes(path) -> np.ndarray:
    """OTB ground truth (``x,y,w,h`` per line, commas or whitespace, 1-based) -> (T, 4) 0-based floats."""
    rows = []
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line:
                rows.append([float(v) for v in line.replace(",", " ").replace("\t", " ").split()])
    boxes = np.asarray(rows, float)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{path}: expected 4 numbers per line, got shape {boxes.shape}")
    boxes[:, :2] -= 1.0
    return boxes


@functools.lru_cache(maxsize=3)
def _read_frames(folder: str, n: int) -> np.ndarray:
    frames = []
    for i in range(1, n + 1):
        im = cv2.imread(f"{folder}/img/{i:04d}.jpg", cv2.IMREAD_UNCHANGED)
        if im is None:
            raise FileNotFoundError(f"cannot read {folder}/img/{i:04d}.jpg")
        frames.append(cv2.cvtColor(im, cv2.COLOR_BGR2RGB) if im.ndim == 3 else im)
    out = np.stack(frames)
    out.setflags(write=False)
    return out


def load_otb(name: str, max_frames: int | None = None) -> Sequence:
    """Load one ``otb_mini`` sequence (``Jogging.1``, ``Jogging.2``, ``Car4``) through the data registry
    (``course_lib.data.fetch``, sha256-verified); raises ``DataUnavailable`` when the data cannot be found."""
    from course_lib.data import fetch

    if name not in OTB_SEQUENCES:
        raise ValueError(f"unknown OTB sequence {name!r}; available: {', '.join(OTB_SEQUENCES)}")
    folder, gt_file, occ = OTB_SEQUENCES[name]
    root = fetch("otb_mini") / folder
    boxes = read_boxes(root / gt_file)
    n = len(boxes) if max_frames is None else min(max_frames, len(boxes))
    frames = _read_frames(str(root), n)
    if occ is not None and occ[1] > n:
        occ = None
    return Sequence(name, frames, boxes[:n], occ)


# ----------------------------------------------------------------------------------------------- synthetic
def pink_noise(shape: tuple[int, int], rng: np.random.Generator, exponent: float = 1.0) -> np.ndarray:
    """1/f^exponent noise, normalised to zero mean and unit standard deviation."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    spec = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f**exponent
    spec[0, 0] = 0.0
    img = np.fft.irfft2(spec, s=shape)
    return (img - img.mean()) / img.std()


def _smooth_path(keys: np.ndarray, n: int) -> np.ndarray:
    """Monotone-cubic (PCHIP) interpolation of key points (t, x, y) to n frames -> (n, 2) centres (x, y)."""
    from scipy.interpolate import PchipInterpolator

    t = np.arange(n)
    return np.stack([PchipInterpolator(keys[:, 0], keys[:, k])(t) for k in (1, 2)], axis=1)


def synthetic_occlusion_sequence(n_frames: int = 120, seed: int = 0, target: int = 16,
                                 occluder: tuple[int, int] = (36, 116)) -> Sequence:
    """The smoke sequence: 160×120 gray frames, a textured target (a crop of scikit-image's bundled
    ``camera`` image) moving on a smooth path over 1/f-noise background, fully hidden behind a brick-textured
    wall (columns ``occluder``) for ≈10 frames and reappearing on the far side, > 1.5 search windows away
    from where it disappeared. Deterministic for a given ``seed``; ``occlusion`` = frames fully hidden."""
    from skimage import data as skdata

    if n_frames < 92:  # the path's last key point (frame 90) must precede the last frame
        raise ValueError(f"the synthetic occlusion sequence needs >= 92 frames, got {n_frames}")
    h, w = 120, 160
    rng = np.random.default_rng(seed)
    background = 0.5 + 0.08 * pink_noise((h, w), rng)
    cam = skdata.camera().astype(np.float32) / 255.0
    patch = cv2.resize(cam[40:200, 170:330], (target, target), interpolation=cv2.INTER_AREA)
    patch = 0.5 + 1.6 * (patch - patch.mean())
    brick = skdata.brick().astype(np.float32) / 255.0
    wall = cv2.resize(brick[:240, :2 * (occluder[1] - occluder[0])], (occluder[1] - occluder[0], h),
                      interpolation=cv2.INTER_AREA)
    wall = 0.5 + 0.7 * (wall - wall.mean())
    half = target / 2
    # key points (frame, x, y): loop on the left, cross behind the wall quickly, wander on the right
    keys = np.array([[0, 20, 35], [15, 24, 70], [30, 16, 92], [44, 20, 60], [50, 26, 55],
                     [54, 40, 56], [60, 74, 59], [65, 112, 62], [69, 130, 64], [90, 140, 88],
                     [n_frames - 1, 134, 40]], float)
    centres = _smooth_path(keys, n_frames)
    frames = np.empty((n_frames, h, w), np.uint8)
    boxes = np.zeros((n_frames, 4))
    hidden = np.zeros(n_frames, bool)
    for t in range(n_frames):
        img = background + 0.01 * rng.standard_normal((h, w))
        cx, cy = centres[t]
        x0, y0 = int(round(cx - half)), int(round(cy - half))
        img[y0:y0 + target, x0:x0 + target] = patch
        img[:, occluder[0]:occluder[1]] = wall
        frames[t] = np.clip(img * 255.0, 0, 255).astype(np.uint8)
        boxes[t] = (x0, y0, target, target)
        hidden[t] = x0 >= occluder[0] and x0 + target <= occluder[1]
    idx = np.flatnonzero(hidden)
    occ = (int(idx[0]), int(idx[-1]) + 1) if len(idx) else None
    frames.setflags(write=False)
    return Sequence("synthetic-occlusion", frames, boxes, occ, synthetic=True)
