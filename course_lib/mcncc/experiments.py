"""Experiment drivers shared by the notebooks, ``claims.run`` and the benchmark, and the course-scale result cache
in ``data/mcncc`` (regenerate with ``python -m course_lib.mcncc.experiments``).

* :func:`smoke_gain_retrieval` — §6.4: 10 synthetic patterns, 2 rotations, queries whose **feature channels** get
  random positive gains and offsets: MCNCC is untouched, cosine (and 3D-NCC) are not.
* :func:`synthetic_retrieval` — §6.2 on one seed: every score (MCNCC, weighted MCNCC, 3D-NCC, cosine, the peers)
  with the same features, rotations and masks; CMC.
* :func:`real_retrieval` — §6.3 on mini-FID-300 (50 queries × 38 refs): the same scores, the weighted variant
  trained on tracks 1–25 and tested on 26–50, and the CNN fine-tuned end to end on 1–25.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from course_lib.mcncc import fid300, metrics, peers, search, treads, weighted
from course_lib.mcncc.features import GaborBank, TreadCNN
from course_lib.mcncc.presets import MCNCCPreset

SYN_FILE = "synthetic_course.json"
REAL_FILE = "real_course.json"
CNN_FILE = "tread_cnn.pt"
FT_FILE = "tread_cnn_finetuned.pt"
SCORE_LABELS = {"mcncc": "MCNCC [μc, σc]", "weighted": "weighted MCNCC [μc, σc·Wc]", "ncc3d": "3D-NCC [μ, σ]",
                "cosine": "cosine", "skimage": "skimage match_template", "opencv": "cv2.matchTemplate (4-ch groups)",
                "orb": "ORB + RANSAC", "cnn_mcncc": "MCNCC on CNN features", "cnn_ncc3d": "3D-NCC on CNN features",
                "cnn_cosine": "cosine on CNN features", "ft_mcncc": "fine-tuned CNN, weighted MCNCC"}


def data_dir(create: bool = False):
    from course_lib.artifacts import artifact_dir

    return artifact_dir("mcncc", create=create)


def gabor(preset: MCNCCPreset) -> GaborBank:
    """The preset's Gabor bank (orientations × wavelengths channels, stride 2)."""
    return GaborBank(preset.gabor_orientations, preset.gabor_wavelengths, stride=2)


class ChannelCorruption(nn.Module):
    """Wraps an extractor and applies y_c -> a_c·y_c + b_c to its channels (a_c > 0): the per-channel affine
    change a domain shift does to feature responses."""

    def __init__(self, base: nn.Module, gains, biases):
        super().__init__()
        self.base = base
        self.register_buffer("a", torch.as_tensor(np.asarray(gains), dtype=torch.float32)[None, :, None, None])
        self.register_buffer("b", torch.as_tensor(np.asarray(biases), dtype=torch.float32)[None, :, None, None])
        if bool((self.a <= 0).any()):
            raise ValueError("gains must be positive")

    def forward(self, images):
        return self.base(images) * self.a + self.b


def random_corruption(base: nn.Module, channels: int, seed: int, low: float = 0.1, high: float = 10.0,
                      max_bias: float = 1.0) -> ChannelCorruption:
    """Gains log-uniform in [low, high], offsets uniform in [0, max_bias], one per channel."""
    rng = np.random.default_rng(seed)
    return ChannelCorruption(base, np.exp(rng.uniform(np.log(low), np.log(high), channels)),
                             rng.uniform(0, max_bias, channels))


def synthetic_gallery(n: int, shape: tuple[int, int], seed: int, max_angle: float = 10.0, strength: float = 1.0):
    """``n`` references and one crime-scene query per reference (degradation ``strength``): (references,
    queries, masks, labels)."""
    refs = treads.make_references(n, shape, seed)
    qs = treads.make_queries(refs, seed=seed + 10_000, max_angle=max_angle, strength=strength)
    return refs, [q.image for q in qs], [q.mask for q in qs], np.array([q.label for q in qs])


def smoke_gain_retrieval(seed: int = 0, n: int = 10, shape=(64, 32), rotations: int = 2, max_angle: float = 10.0,
                         strength: float = 0.5) -> dict[str, float]:
    """§6.4: hits (true reference ranked first) out of ``n`` for MCNCC / 3D-NCC / cosine, with the queries'
    Gabor channels corrupted by random per-channel gains and offsets, and cosine / MCNCC without corruption
    (queries with milder crime-scene degradations, ``strength``, so that the gain corruption is what matters)."""
    refs, qs, ms, labels = synthetic_gallery(n, shape, seed, max_angle, strength)
    bank = GaborBank(8, (4.0, 8.0), stride=2)
    angles = search.angles_for(rotations, max_angle)
    feats = search.prepare_references(refs, bank, pad=4)
    clean = search.score_gallery(qs, ms, refs, bank, angles, pad=4, ref_feats=feats)
    bad = search.score_gallery(qs, ms, refs, random_corruption(bank, bank.channels, seed + 1), angles, pad=4,
                               ref_feats=feats)
    hits = lambda s: float((metrics.ranks(s, labels) == 1).sum())  # noqa: E731
    return {"mcncc_corrupted": hits(bad.scores["mcncc"]), "cosine_corrupted": hits(bad.scores["cosine"]),
            "ncc3d_corrupted": hits(bad.scores["ncc3d"]), "cosine_clean": hits(clean.scores["cosine"]),
            "mcncc_clean": hits(clean.scores["mcncc"]), "n": float(n),
            "mcncc_max_change": float(np.abs(bad.scores["mcncc"] - clean.scores["mcncc"]).max())}


def _summaries(scores: dict[str, np.ndarray], labels) -> dict[str, dict[str, float]]:
    return {k: metrics.cmc_summary(v, labels) for k, v in scores.items()}


def synthetic_retrieval(preset: MCNCCPreset, seed: int, cnn: nn.Module | None = None, peer_names=(),
                        progress: bool = False) -> dict:
    """§6.2 on one seed: weights fitted on a disjoint training gallery (seed + 500), then every score on the test
    gallery. Returns {"cmc": {score: summary}, "scores": {score: (Q, N) list}, "labels", "weights", "ms"}."""
    bank = gabor(preset)
    angles = search.angles_for(preset.rotations, preset.max_angle)
    tr_refs, tr_q, tr_m, tr_lab = synthetic_gallery(preset.syn_train_patterns, preset.syn_shape, seed + 500,
                                                    preset.max_angle)
    train = search.score_gallery(tr_q, tr_m, tr_refs, bank, angles, pad=preset.pad, scores=("mcncc",),
                                 progress=progress, desc=f"seed {seed}: training gallery")
    w = weighted.fit_channel_weights(train.channels, tr_lab)
    refs, qs, ms, labels = synthetic_gallery(preset.syn_patterns, preset.syn_shape, seed, preset.max_angle)
    res = search.score_gallery(qs, ms, refs, bank, angles, pad=preset.pad, weights={"weighted": w},
                               progress=progress, desc=f"seed {seed}: Gabor")
    scores = dict(res.scores)
    ms_q = {"ours (all scores)": res.ms_per_query}
    if cnn is not None:
        r2 = search.score_gallery(qs, ms, refs, cnn, angles, pad=preset.pad, progress=progress,
                                  desc=f"seed {seed}: CNN")
        scores.update({f"cnn_{k}": v for k, v in r2.scores.items()})
    for p in peer_names:
        if p == "orb":
            scores[p], ms_q[p] = peers.orb_ransac_scores(qs, refs)
        else:
            scores[p], ms_q[p] = peers.peer_gallery(qs, ms, refs, bank, angles, p, pad=preset.pad,
                                                    progress=progress)
    return {"cmc": _summaries(scores, labels), "scores": {k: np.asarray(v).tolist() for k, v in scores.items()},
            "labels": labels.tolist(), "weights": w.tolist(), "ms_per_query": ms_q}


def get_cnn(preset: MCNCCPreset, recompute: bool = False, progress: bool = False, device=None) -> TreadCNN:
    """The feature CNN trained on synthetic treads: from ``data/mcncc/tread_cnn.pt`` unless missing or
    ``recompute`` (then trained with ``preset.cnn_epochs`` and saved)."""
    from course_lib.artifacts import save_torch

    path = data_dir() / CNN_FILE
    cfg = weighted.CNNConfig(epochs=preset.cnn_epochs)
    if path.exists() and not recompute:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = TreadCNN(state["channels"], state["width"])
        model.load_state_dict(state["model"])
        return model.eval()
    model, hist = weighted.train_cnn(cfg, device=device, progress=progress)
    save_torch(data_dir(create=True) / CNN_FILE, {"model": model.state_dict(), "channels": cfg.channels,
                                                  "width": cfg.width, "epochs": cfg.epochs,
                                                  "loss": hist["train_loss"].tolist()})
    return model


def real_retrieval(preset: MCNCCPreset, cnn: TreadCNN | None = None, peer_names=(), tracks=None,
                   progress: bool = False, finetune: bool = True) -> dict:
    """§6.3 on mini-FID-300: all scores with the Gabor bank over all tracks; the weighted variant (weights fitted
    on tracks 1–25, evaluated on 26–50); the CNN features; the CNN fine-tuned through weighted MCNCC on 1–25,
    evaluated on 26–50."""
    data = fid300.load_fid300_mini(preset.fid_scale, tracks or range(1, fid300.N_TRACKS + 1))
    bank = gabor(preset)
    angles = search.angles_for(preset.fid_rotations, preset.fid_max_angle)
    t0 = time.perf_counter()
    res = search.score_gallery(data.queries, data.masks, data.references, bank, angles, pad=preset.pad,
                               progress=progress, desc="mini-FID-300: Gabor")
    out = {"all": {"scores": {k: v.tolist() for k, v in res.scores.items()}, "labels": data.labels.tolist(),
                   "track_ids": data.track_ids.tolist()},
           "ms_per_query": {"ours (all scores)": res.ms_per_query}, "seconds_gabor": time.perf_counter() - t0}
    scores = dict(res.scores)
    if cnn is not None:
        rc = search.score_gallery(data.queries, data.masks, data.references, cnn, angles, pad=preset.pad,
                                  progress=progress, desc="mini-FID-300: CNN")
        scores.update({f"cnn_{k}": v for k, v in rc.scores.items()})
    for p in peer_names:
        if p == "orb":
            scores[p], out["ms_per_query"][p] = peers.orb_ransac_scores(data.queries, data.references)
        else:
            scores[p], out["ms_per_query"][p] = peers.peer_gallery(data.queries, data.masks, data.references, bank,
                                                                   angles, p, pad=preset.pad, progress=progress)
    out["all"]["scores"] = {k: np.asarray(v).tolist() for k, v in scores.items()}
    out["all"]["cmc"] = _summaries(scores, data.labels)
    train = np.isin(data.track_ids, np.arange(1, 26))
    test = ~train
    if train.any() and test.any():
        w = weighted.fit_channel_weights(res.channels[train], data.labels[train])
        te = data.subset(data.track_ids[test])
        rw = search.score_gallery(te.queries, te.masks, te.references, bank, angles, pad=preset.pad,
                                  scores=("mcncc",), weights={"weighted": w}, progress=progress,
                                  desc="tracks 26-50: weighted")
        split = {"mcncc": rw.scores["mcncc"], "weighted": rw.scores["weighted"]}
        if cnn is not None and finetune:
            tr = data.subset(data.track_ids[train])
            rc_tr = search.score_gallery(tr.queries, tr.masks, tr.references, cnn, angles, pad=preset.pad,
                                         scores=("mcncc",), progress=progress, desc="tracks 1-25: CNN alignment")
            net, w_ft, hist = weighted.finetune(cnn, tr.queries, tr.masks, tr.references, tr.labels,
                                                rc_tr.where["mcncc"], rc_tr.scores["mcncc"], angles, preset.pad,
                                                epochs=preset.finetune_epochs, progress=progress)
            rf = search.score_gallery(te.queries, te.masks, te.references, net, angles, pad=preset.pad,
                                      scores=("mcncc",), weights={"ft": w_ft}, progress=progress,
                                      desc="tracks 26-50: fine-tuned")
            split["cnn_mcncc"] = np.asarray(scores["cnn_mcncc"])[test]
            split["ft_mcncc"] = rf.scores["ft"]
            out["finetune_loss"] = hist["train_loss"].tolist()
            out["finetune_weights"] = w_ft.tolist()
        out["split"] = {"cmc": _summaries(split, te.labels), "weights": w.tolist(),
                        "scores": {k: np.asarray(v).tolist() for k, v in split.items()},
                        "labels": te.labels.tolist()}
    return out


def build_cache(preset: MCNCCPreset | None = None, progress: bool = True, which: Sequence[str] = ("syn", "real")
                ) -> None:
    """Run the course-scale experiments and write ``data/mcncc/{synthetic,real}_course.json`` (+ the CNN)."""
    from course_lib.artifacts import write_json
    from course_lib.mcncc.presets import PRESETS

    preset = preset or PRESETS["course"]
    torch.set_num_threads(1)
    cnn = get_cnn(preset, progress=progress)
    if "syn" in which:
        t0 = time.perf_counter()
        per_seed = {str(s): synthetic_retrieval(preset, s, cnn, preset.syn_peers, progress) for s in preset.syn_seeds}
        write_json(data_dir(create=True) / SYN_FILE, {"preset": _preset_dict(preset), "seeds": per_seed,
                                                      "seconds": time.perf_counter() - t0, "machine": _machine()})
    if "real" in which:
        t0 = time.perf_counter()
        real = real_retrieval(preset, cnn, preset.peers, progress=progress)
        real["seconds"] = time.perf_counter() - t0
        real["preset"] = _preset_dict(preset)
        real["machine"] = _machine()
        write_json(data_dir(create=True) / REAL_FILE, real)


def _machine() -> str:
    import os
    import platform

    return (f"{platform.machine()}, {os.cpu_count()} CPU cores, 1-min load {os.getloadavg()[0]:.1f}, torch "
            f"{torch.__version__} with {torch.get_num_threads()} thread(s)")


def _preset_dict(preset: MCNCCPreset) -> dict:
    import dataclasses

    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(preset).items()}


def load_cache(name: str) -> dict | None:
    """A cached result file of ``data/mcncc`` (None when it has not been built)."""
    from course_lib.artifacts import read_json

    path = data_dir() / name
    return read_json(path) if path.exists() else None


def cmc_frame(cmc: dict, order: Sequence[str] | None = None):
    """CMC summaries {score: {metric: value}} as a table with readable score names."""
    import pandas as pd

    keys = [k for k in (order or cmc) if k in cmc]
    return pd.DataFrame({SCORE_LABELS.get(k, k): cmc[k] for k in keys}).T


def seed_table(syn: dict, metric: str = "top-1"):
    """Mean ± std over seeds of one CMC metric per score, from the synthetic cache."""
    import pandas as pd

    seeds = syn["seeds"]
    names = list(next(iter(seeds.values()))["cmc"])
    rows = {}
    for k in names:
        vals = np.array([seeds[s]["cmc"][k][metric] for s in seeds])
        rows[SCORE_LABELS.get(k, k)] = {"mean": vals.mean(), "std": vals.std(), "min": vals.min(),
                                        "per seed": ", ".join(f"{v:.2f}" for v in vals)}
    return pd.DataFrame(rows).T


if __name__ == "__main__":
    import sys

    build_cache(which=tuple(sys.argv[1:]) or ("syn", "real"))


def deviations_markdown(preset: MCNCCPreset) -> str:
    """The "Deviations from the paper" table, rendered from ``preset``."""
    c = preset.gabor_orientations * len(preset.gabor_wavelengths)
    rows = [
        ("features", "ImageNet ResNet-50 cut after res2bx (stride 4, 256 channels)",
         f"Gabor magnitudes, {preset.gabor_orientations} orientations × wavelengths {list(preset.gabor_wavelengths)} "
         f"= {c} channels, stride 2; a small CNN trained from scratch on synthetic treads (no ImageNet weights "
         "offline)"),
        ("image scale", "×0.5", f"×{preset.fid_scale:g} (same feature resolution with stride 2)"),
        ("rotations", "−20°:4°:20° (11 angles)", f"{preset.fid_rotations} angle(s) in ±{preset.fid_max_angle:g}° "
         f"(real), {preset.rotations} in ±{preset.max_angle:g}° (synthetic)"),
        ("translations", "2-px stride (feature stride 4 + 0/2-px offsets)", "every feature cell"),
        ("valid mask", "warped, eroded by 10 % of the feature map", "warped (rotated with the query), eroded by 1 "
         "feature cell"),
        ("placements", "query padded with white to allow every placement",
         f"references padded with {preset.pad} px of white paper"),
        ("flat channels (σ = 0)", "+1e-5 under the square root", "r_c = 0 (defined, never NaN)"),
        ("normalisation", "÷C in one script, ÷(H·W·C) in another", "mean of per-channel Pearson correlations"),
        ("weighted variant", "per-channel weights, CCA projections, Siamese fine-tuning (training code not "
         "released; loss not published)", "logistic regression on per-channel NCC vectors; CNN + weights "
         "fine-tuned with a softmax over the gallery at fixed alignments"),
        ("gallery", "FID-300: 300 queries × 1,175 references", "mini-FID-300: 50 queries × 38 references "
         "(not comparable with FID-300 numbers)"),
        ("OpenCV peer", "—", "TM_CCOEFF_NORMED accepts ≤ 4 channels: 4-channel groups, averaged"),
    ]
    head = "| topic | paper / official code | here |\n|---|---|---|\n"
    return head + "\n".join(f"| {a} | {b} | {c_} |" for a, b, c_ in rows)
