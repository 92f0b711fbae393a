"""The mini-FID-300 set through the data registry: 50 real crime-scene crops (FID-300 tracks 1–50) and the 38
lab reference impressions that are their ground truth (§5.1). Report results as "mini-FID-300 (50 queries × 38
refs)", never as FID-300 numbers: the real gallery has 1,175 references.

Preprocessing follows the official code's protocol (§2.4) at a smaller scale: gray in [0, 1], references padded
to one canvas with white paper (1.0), everything scaled by ``scale`` (×0.25 by default, the paper uses ×0.5);
queries larger than the canvas are shrunk to fit by the search.
"""
from __future__ import annotations

import csv
import dataclasses

import cv2
import numpy as np

DATASET = "fid300_mini"
N_TRACKS = 50


@dataclasses.dataclass
class ShoeprintSet:
    """Queries (list of gray images in [0, 1] with validity masks), references (N, H, W) on one canvas, and the
    gallery index of each query's true reference; ``track_ids`` / ``reference_ids`` are the FID-300 numbers."""

    queries: list[np.ndarray]
    masks: list[np.ndarray]
    references: np.ndarray
    labels: np.ndarray
    track_ids: np.ndarray
    reference_ids: np.ndarray
    name: str = "mini-FID-300"

    def subset(self, tracks) -> ShoeprintSet:
        """The same gallery with only the queries of the given FID-300 track ids (e.g. ``range(26, 51)``)."""
        keep = [i for i, t in enumerate(self.track_ids) if int(t) in set(int(x) for x in tracks)]
        return dataclasses.replace(self, queries=[self.queries[i] for i in keep], masks=[self.masks[i] for i in keep],
                                   labels=self.labels[keep], track_ids=self.track_ids[keep])


def _read_gray(path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return img.astype(np.float32) / 255.0


def _resize(img: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return img
    h, w = img.shape
    out = cv2.resize(img, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA)
    return np.clip(out, 0.0, 1.0)


def pad_to_canvas(images: list[np.ndarray], fill: float = 1.0, canvas: tuple[int, int] | None = None) -> np.ndarray:
    """Centre every image on one (H, W) canvas (default: the largest size) filled with ``fill``."""
    hmax = max(i.shape[0] for i in images) if canvas is None else canvas[0]
    wmax = max(i.shape[1] for i in images) if canvas is None else canvas[1]
    out = np.full((len(images), hmax, wmax), fill, np.float32)
    for k, img in enumerate(images):
        h, w = img.shape
        if h > hmax or w > wmax:
            raise ValueError(f"image {k} ({h}×{w}) does not fit the canvas {hmax}×{wmax}")
        y0, x0 = (hmax - h) // 2, (wmax - w) // 2
        out[k, y0:y0 + h, x0:x0 + w] = img
    return out


def load_fid300_mini(scale: float = 0.25, tracks=range(1, N_TRACKS + 1)) -> ShoeprintSet:
    """Load mini-FID-300 through ``course_lib.data.fetch`` (sha256-verified; raises ``DataUnavailable`` when
    neither cached nor mirrored). ``scale`` resizes every image (area interpolation)."""
    from course_lib.data import fetch

    if not 0.05 <= scale <= 1.0:
        raise ValueError(f"scale must be in [0.05, 1], got {scale}")
    root = fetch(DATASET)
    with open(root / "label_table.csv", newline="") as fh:
        table = {int(r["cropped"]): int(r["gt"]) for r in csv.DictReader(fh)}
    tracks = [int(t) for t in tracks]
    bad = [t for t in tracks if not 1 <= t <= N_TRACKS]
    if bad:
        raise ValueError(f"mini-FID-300 has tracks 1..{N_TRACKS} only, got {bad}")
    ref_ids = sorted({table[t] for t in range(1, N_TRACKS + 1)})
    refs = [_resize(_read_gray(root / "references" / f"{r:05d}.png"), scale) for r in ref_ids]
    queries = [_resize(_read_gray(root / "tracks_cropped" / f"{t:05d}-Copy1.jpg"), scale) for t in tracks]
    index = {r: i for i, r in enumerate(ref_ids)}
    return ShoeprintSet(queries=queries, masks=[np.ones(q.shape, bool) for q in queries],
                        references=pad_to_canvas(refs), labels=np.array([index[table[t]] for t in tracks]),
                        track_ids=np.array(tracks), reference_ids=np.array(ref_ids))


def synthetic_set(n: int = 38, shape: tuple[int, int] = (148, 60), seed: int = 0, n_queries: int = 50,
                  max_angle: float = 10.0) -> ShoeprintSet:
    """A synthetic stand-in with the same layout (``course_lib.mcncc.treads``), for offline fallbacks."""
    from course_lib.mcncc import treads

    refs = treads.make_references(n, shape, seed)
    rng = np.random.default_rng(seed + 1)
    labels = rng.integers(0, n, n_queries)
    qs = [treads.make_query(refs[k], int(k), rng, max_angle=max_angle) for k in labels]
    return ShoeprintSet(queries=[q.image for q in qs], masks=[q.mask for q in qs], references=refs,
                        labels=labels, track_ids=np.arange(1, n_queries + 1), reference_ids=np.arange(n),
                        name="synthetic treads (offline stand-in)")
