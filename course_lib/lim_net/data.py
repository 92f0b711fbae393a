"""Real volumes from the registry (``totalseg_examples``) and the zero-shot split.

Labels are **TotalSegmentator model outputs (pseudo-GT)**, not expert annotations: every Dice on them says so.

Preprocessing (workbook design choices): reorient to RAS, slices as ``(Z, H, W)`` with anterior at the top and
the patient's right on the image's left, CT window [-200, 300] HU -> [0, 1], MR 1st-99th percentile -> [0, 1],
in-plane zero-pad to a square then resize to ``size`` x ``size`` (aspect kept; 3 mm slices along z unchanged).

Split: **train** on bones and muscles of ``example_ct`` (plus synthetic volumes); **test A** = unseen abdominal
organs of the same CT; **test B** = organs of the MR volume (unseen modality). Test structures are never trained on.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from course_lib.lim_net.synthetic import make_synthetic_volume

DATASET = "totalseg_examples"
PSEUDO_GT = "labels: TotalSegmentator model output (pseudo-GT), not expert annotation"

FILES = {
    "ct": ("example_ct.nii.gz", "example_seg_fast_force_split.nii.gz", "CT"),
    "ct_sm": ("example_ct_sm.nii.gz", "example_seg.nii.gz", "CT"),
    "mr": ("example_mr_sm.nii.gz", "example_seg_mr.nii.gz", "MR"),
}

CT_NAMES = {
    1: "spleen", 2: "kidney_right", 3: "kidney_left", 4: "gallbladder", 5: "liver", 6: "stomach", 7: "pancreas",
    18: "small_bowel", 19: "duodenum", 20: "colon", 21: "urinary_bladder", 25: "sacrum", 26: "vertebrae_S1",
    27: "vertebrae_L5", 28: "vertebrae_L4", 29: "vertebrae_L3", 30: "vertebrae_L2", 31: "vertebrae_L1",
    32: "vertebrae_T12", 52: "aorta", 63: "inferior_vena_cava", 75: "femur_left", 76: "femur_right",
    77: "hip_left", 78: "hip_right", 80: "gluteus_maximus_left", 81: "gluteus_maximus_right",
    82: "gluteus_medius_left", 83: "gluteus_medius_right", 84: "gluteus_minimus_left",
    85: "gluteus_minimus_right", 86: "autochthon_left", 87: "autochthon_right", 88: "iliopsoas_left",
    89: "iliopsoas_right",
}
MR_NAMES = {
    1: "spleen", 2: "kidney_right", 3: "kidney_left", 4: "gallbladder", 5: "liver", 6: "stomach", 7: "pancreas",
    13: "small_bowel", 14: "duodenum", 15: "colon", 19: "vertebrae", 23: "aorta", 46: "autochthon_left",
    47: "autochthon_right",
}
#: training structures (bones and muscles of example_ct with >= 1,000 voxels); ribs are too small to use
TRAIN_IDS = (25, 26, 27, 28, 29, 30, 31, 32, 75, 76, 77, 78, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89)
#: test A: unseen abdominal organs of example_ct with >= 2,000 voxels
TEST_A_IDS = (5, 1, 2, 3, 6, 18, 19, 20, 21)
#: test B: MR organs with >= 1,000 voxels (unseen modality)
TEST_B_IDS = (5, 1, 2, 3, 4, 6, 7, 15)


@dataclasses.dataclass
class Case:
    """One preprocessed volume: ``image`` float32 ``(Z, H, W)`` in [0, 1], ``labels`` int16 ``(Z, H, W)``."""

    name: str
    modality: str
    image: np.ndarray
    labels: np.ndarray
    names: dict[int, str]
    synthetic: bool = False


@dataclasses.dataclass
class Target:
    """One binary segmentation task: a z-crop of a case around one structure.

    ``image`` float32 ``(Z, H, W)``, ``gt`` bool ``(Z, H, W)``; ``z0`` is the crop's first slice in the case.
    """

    name: str
    source: str
    image: np.ndarray
    gt: np.ndarray
    z0: int = 0

    def __post_init__(self):
        if self.image.shape != self.gt.shape or self.image.ndim != 3:
            raise ValueError(f"image {self.image.shape} and gt {self.gt.shape} must be equal (Z, H, W) shapes")
        if not self.gt.any():
            raise ValueError(f"target {self.name!r} has an empty ground truth")


def normalise(image: np.ndarray, modality: str) -> np.ndarray:
    """CT: window [-200, 300] HU -> [0, 1]; MR: 1st-99th percentile -> [0, 1]."""
    image = image.astype(np.float32)
    if modality == "CT":
        lo, hi = -200.0, 300.0
    elif modality == "MR":
        lo, hi = np.percentile(image, [1, 99])
    else:
        raise ValueError(f"modality must be 'CT' or 'MR', got {modality!r}")
    return np.clip((image - lo) / (hi - lo), 0, 1).astype(np.float32)


def to_slices(image: np.ndarray, labels: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """RAS ``(x, y, z)`` arrays -> ``(Z, size, size)`` slices: square zero-pad, then bilinear / nearest resize."""
    img = np.ascontiguousarray(np.transpose(image, (2, 1, 0))[:, ::-1, ::-1])
    lab = np.ascontiguousarray(np.transpose(labels, (2, 1, 0))[:, ::-1, ::-1])
    Z, H, W = img.shape
    side = max(H, W)
    py, px = side - H, side - W
    pad = ((0, 0), (py // 2, py - py // 2), (px // 2, px - px // 2))
    img, lab = np.pad(img, pad), np.pad(lab, pad)
    t = torch.from_numpy(img)[:, None]
    img = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)[:, 0].numpy()
    lt = torch.from_numpy(lab.astype(np.int64))[:, None].float()
    lab = F.interpolate(lt, size=(size, size), mode="nearest")[:, 0].numpy().astype(np.int16)
    return img.astype(np.float32), lab


def load_case(which: str = "ct", size: int = 96) -> Case:
    """Load and preprocess one ``totalseg_examples`` pair (``ct``, ``ct_sm`` or ``mr``) via the data registry.

    Raises ``course_lib.data.DataUnavailable`` when the dataset is neither cached nor mirrored.
    """
    import nibabel as nib

    from course_lib.data import fetch_file

    if which not in FILES:
        raise ValueError(f"which must be one of {tuple(FILES)}, got {which!r}")
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    img_name, lab_name, modality = FILES[which]
    img = nib.as_closest_canonical(nib.load(fetch_file(DATASET, img_name)))
    lab = nib.as_closest_canonical(nib.load(fetch_file(DATASET, lab_name)))
    image = normalise(np.asanyarray(img.dataobj), modality)
    labels = np.asanyarray(lab.dataobj).astype(np.int16)
    image, labels = to_slices(image, labels, size)
    names = CT_NAMES if modality == "CT" else MR_NAMES
    return Case(name=which, modality=modality, image=image, labels=labels, names=dict(names))


def synthetic_case(shape: tuple[int, int, int] = (32, 64, 64), seed: int = 0, n_blobs: int = 3) -> Case:
    """A synthetic :class:`Case` from :func:`make_synthetic_volume` (training data and the no-data fallback)."""
    vol = make_synthetic_volume(shape, n_blobs=n_blobs, seed=seed)
    return Case(name=f"synthetic_{seed}", modality="synthetic", image=vol.image, labels=vol.labels,
                names=dict(vol.names), synthetic=True)


def make_target(case: Case, label_id: int, *, margin: int = 3) -> Target:
    """Binary target of structure ``label_id``, z-cropped to its extent plus ``margin`` slices each side.

    The z-crop is a workbook choice (an ROI along z, as interactive 3D benchmarks crop around the object); the
    in-plane field of view is the full slice.
    """
    gt = case.labels == label_id
    zs = np.flatnonzero(gt.any(axis=(1, 2)))
    if zs.size == 0:
        raise ValueError(f"label {label_id} ({case.names.get(label_id, '?')}) is absent from case {case.name}")
    z0, z1 = max(0, zs[0] - margin), min(case.image.shape[0], zs[-1] + margin + 1)
    return Target(name=case.names.get(label_id, f"label_{label_id}"), source=case.name,
                  image=case.image[z0:z1].copy(), gt=gt[z0:z1].copy(), z0=int(z0))


def make_targets(case: Case, label_ids: Sequence[int], *, margin: int = 3, min_voxels: int = 1) -> list[Target]:
    """:func:`make_target` for each id present with at least ``min_voxels`` voxels (after resizing)."""
    out = []
    for lid in label_ids:
        if int((case.labels == lid).sum()) >= min_voxels:
            out.append(make_target(case, lid, margin=margin))
    return out


def training_structures(case: Case, ids: Sequence[int] = TRAIN_IDS) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(image, mask)`` pairs of the training structures of a case (full z range, for slice sampling)."""
    out = []
    for lid in ids:
        m = case.labels == lid
        if m.sum() >= 200:
            out.append((case.image, m))
    return out


def check_split(train_ids: Sequence[int] = TRAIN_IDS, test_ids: Sequence[int] = TEST_A_IDS) -> None:
    """Raise if a test structure is among the training structures (the zero-shot protocol forbids it)."""
    leak = sorted(set(train_ids) & set(test_ids))
    if leak:
        raise ValueError(f"structures {leak} are both trained on and tested: the zero-shot split is broken")


def load_cases_or_synthetic(size: int = 96, shape: tuple[int, int, int] = (40, 96, 96)) -> tuple[dict, bool]:
    """``{"ct": Case, "mr": Case}`` from the registry, or synthetic stand-ins (loud banner) when unavailable."""
    from course_lib.data import load_or_synthetic

    def loader():
        return {"ct": load_case("ct", size), "mr": load_case("mr", size)}

    def synthetic():
        return {"ct": synthetic_case((shape[0], size, size), seed=101, n_blobs=4),
                "mr": synthetic_case((max(16, shape[0] // 2), size, size), seed=102, n_blobs=4)}

    return load_or_synthetic(loader, synthetic, what=f"{DATASET} (CT + MR volumes)")
