"""Training pool, the end-to-end training recipe, and the cached course-scale checkpoint.

The course-scale weights (LIM-Net's three nets + the 3D U-Net peer) are cached in the repository as
``data/lim_net/lim_net_course.pt`` (float16, < 5 MB), produced by :func:`train_course_checkpoint` and read with
``torch.load(weights_only=True)`` by :func:`load_weights`. Notebooks load it unless ``RETRAIN = True``.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from course_lib.artifacts import artifact_dir, save_torch, write_atomic
from course_lib.lim_net.data import TRAIN_IDS, Case, load_case, make_target, synthetic_case
from course_lib.lim_net.models import ClickUNet2D, MemoryNet, QualityRegressor, UNet3D
from course_lib.lim_net.pipeline import LIMNet
from course_lib.lim_net.presets import LimNetPreset
from course_lib.lim_net.train import (
    Structure,
    quality_dataset,
    train_click_net,
    train_memory_net,
    train_quality_net,
    train_unet3d,
)

CHECKPOINT_DIR = artifact_dir("lim_net")
COURSE_CHECKPOINT = CHECKPOINT_DIR / "lim_net_course.pt"
FORMAT = 1


def synthetic_cases(preset: LimNetPreset, seed: int = 1000) -> list[Case]:
    """The synthetic training volumes of a preset (seeds ``seed, seed+1, ...``; test volumes use other seeds)."""
    return [synthetic_case(preset.synthetic_shape, seed=seed + i, n_blobs=3) for i in range(preset.n_synthetic)]


def training_pool(preset: LimNetPreset, ct: Case | None = None) -> list[Structure]:
    """Structures to train on: every blob of the synthetic volumes + the CT bones/muscles (``TRAIN_IDS``).

    Test-A organs and the MR volume are never part of the pool (zero-shot protocol).
    """
    pool = []
    for case in synthetic_cases(preset):
        for lid in np.unique(case.labels[case.labels > 0]):
            pool.append(Structure(f"{case.name}/{lid}", case.image, case.labels == lid))
    if ct is not None:
        for lid in TRAIN_IDS:
            m = ct.labels == lid
            if m.sum() >= 200:
                pool.append(Structure(f"ct/{ct.names.get(lid, lid)}", ct.image, m))
    return pool


def training_targets(preset: LimNetPreset, ct: Case | None = None) -> list:
    """z-cropped training targets (for the MRF scorer's data): synthetic blobs + a subset of CT structures."""
    out = []
    for case in synthetic_cases(preset)[: preset.quality_volumes]:
        for lid in np.unique(case.labels[case.labels > 0]):
            out.append(make_target(case, int(lid)))
    if ct is not None:
        for lid in TRAIN_IDS[:: preset.quality_ct_stride]:
            if (ct.labels == lid).sum() >= 200:
                out.append(make_target(ct, lid))
    return out


def train_lim_net(preset: LimNetPreset, ct: Case | None = None, *, device=None, seed: int = 0,
                  progress: bool = True) -> tuple[LIMNet, pd.DataFrame]:
    """Train click net -> memory net -> MRF scorer (the scorer learns from the trained pipeline's outputs)."""
    device = torch.device(device or "cpu")
    torch.manual_seed(seed)
    pool = training_pool(preset, ct)
    model = LIMNet(ClickUNet2D(base=preset.click_base), MemoryNet(), QualityRegressor()).to(device)
    hist = [train_click_net(model.click_net, pool, iters=preset.click_iters, batch=preset.batch, crop=preset.crop,
                            seed=seed, device=device, progress=progress),
            train_memory_net(model.memory_net, pool, iters=preset.memory_iters, batch=preset.batch,
                             crop=preset.crop, seed=seed, device=device, progress=progress)]
    t0 = time.perf_counter()
    x, y, pairs = quality_dataset(model, training_targets(preset, ct), rounds=preset.quality_rounds, seed=seed,
                                  device=device, progress=progress)
    hist.append(pd.DataFrame([{"net": "quality_data", "iter": len(y), "loss": float("nan"),
                               "seconds": time.perf_counter() - t0}]))
    hist.append(train_quality_net(model.quality_net, x, y, pairs, iters=preset.quality_iters, seed=seed,
                                  device=device, progress=progress))
    return model.eval(), pd.concat(hist, ignore_index=True)


def train_peer(preset: LimNetPreset, ct: Case | None = None, *, device=None, seed: int = 0,
               progress: bool = True) -> tuple[UNet3D, pd.DataFrame]:
    """Train the DeepEdit-style 3D U-Net peer on the same training pool (independently seeded)."""
    device = torch.device(device or "cpu")
    torch.manual_seed(seed + 100)
    unet = UNet3D(base=preset.unet_base).to(device)
    hist = train_unet3d(unet, training_pool(preset, ct), iters=preset.unet_iters, batch=preset.unet_batch,
                        size=preset.unet_patch, seed=seed, device=device, progress=progress)
    return unet.eval(), hist


def _peer_job(preset, seed):
    torch.set_num_threads(1)
    unet, hist = train_peer(preset, load_case("ct", preset.size) if preset.use_real else None, seed=seed,
                            progress=False)
    return {k: v.cpu() for k, v in unet.state_dict().items()}, hist


def train_all(preset: LimNetPreset, ct: Case | None = None, *, device=None, seed: int = 0, progress: bool = True,
              with_peer: bool = True, jobs: int = 1) -> tuple[LIMNet, UNet3D | None, pd.DataFrame]:
    """:func:`train_lim_net` then :func:`train_peer`; ``jobs=2`` trains the peer in a parallel CPU process."""
    pending = None
    if with_peer and jobs > 1:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(1)
        pending = pool.apply_async(_peer_job, (preset, seed))
    model, hist = train_lim_net(preset, ct, device=device, seed=seed, progress=progress)
    unet = None
    if pending is not None:
        state, peer_hist = pending.get()
        pool.close()
        unet = UNet3D(base=preset.unet_base)
        unet.load_state_dict(state)
        unet = unet.to(device or "cpu").eval()
        hist = pd.concat([hist, peer_hist], ignore_index=True)
    elif with_peer:
        unet, peer_hist = train_peer(preset, ct, device=device, seed=seed, progress=progress)
        hist = pd.concat([hist, peer_hist], ignore_index=True)
    return model, unet, hist


def save_weights(path: str | Path, model: LIMNet, unet: UNet3D | None, meta: dict | None = None) -> Path:
    """Save the weights as float16 tensors + plain metadata (loadable with ``weights_only=True``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": FORMAT, "meta": dict(meta or {}),
             "arch": {"click_net": dict(model.click_net.config), "memory_net": dict(model.memory_net.config),
                      "quality_net": dict(model.quality_net.config)},
             "lim_net": {k: v.detach().cpu().half() if v.is_floating_point() else v.cpu()
                         for k, v in model.state_dict().items()}}
    if unet is not None:
        state["arch"]["unet3d"] = dict(unet.config)
        state["unet3d"] = {k: v.detach().cpu().half() if v.is_floating_point() else v.cpu()
                           for k, v in unet.state_dict().items()}
    return save_torch(path, state)


def load_weights(path: str | Path = COURSE_CHECKPOINT, device=None) -> tuple[LIMNet, UNet3D | None, dict]:
    """Load a file written by :func:`save_weights` (``torch.load(weights_only=True)``), as float32 models."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no LIM-Net checkpoint at {path}; create it with "
                                "course_lib.lim_net.checkpoint.train_course_checkpoint() or set RETRAIN = True")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("format") != FORMAT:
        raise ValueError(f"{path} has checkpoint format {state.get('format')}, expected {FORMAT}")
    arch = state["arch"]
    arch["memory_net"].setdefault("residual", False)  # checkpoints written before the residual option existed
    model = LIMNet(ClickUNet2D(**arch["click_net"]), MemoryNet(**arch["memory_net"]),
                   QualityRegressor(**arch["quality_net"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["lim_net"].items()})
    unet = None
    if "unet3d" in state:
        unet = UNet3D(**arch["unet3d"])
        unet.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["unet3d"].items()})
        unet = unet.to(device or "cpu").eval()
    return model.to(device or "cpu").eval(), unet, dict(state["meta"])


def train_course_checkpoint(path: str | Path = COURSE_CHECKPOINT, preset: LimNetPreset | None = None,
                            seed: int = 0, progress: bool = True, jobs: int = 1, device=None) -> Path:
    """Re-create the cached course-scale checkpoint: train everything at the course preset and save it.

    Takes the preset's ``train_seconds`` of CPU time (LIM-Net and the 3D U-Net peer; ``jobs=2`` trains the peer
    in a second process). Run as ``python -m course_lib.lim_net.checkpoint [--jobs 2]`` from the repository root.
    """
    from course_lib.lim_net.presets import PRESETS

    preset = preset or PRESETS["course"]
    t0, c0 = time.perf_counter(), time.process_time()
    ct = load_case("ct", preset.size)
    device = torch.device(device or "cpu")
    model, unet, hist = train_all(preset, ct, seed=seed, progress=progress, jobs=jobs, device=device)
    meta = {"preset": repr(dataclasses.asdict(preset)), "seed": seed, "device": str(device),
            "seconds": round(time.perf_counter() - t0),
            "main_process_cpu_seconds": round(time.process_time() - c0), "jobs": jobs, "torch": str(torch.__version__),
            "final_losses": repr(hist.groupby("net")["loss"].last().round(4).to_dict())}
    out = save_weights(path, model, unet, meta)
    write_atomic(Path(path).with_suffix(".history.csv"), hist.to_csv(index=False))
    return out


REFINE_PHASES = ("click", "memory", "quality")


def refine_checkpoint(phase: str, iters: int, *, base: str | Path = COURSE_CHECKPOINT,
                      out: str | Path = COURSE_CHECKPOINT, lr: float = 1e-3, seed: int = 0, device=None,
                      progress: bool = True, command: str = "") -> Path:
    """Continue training one part of a saved checkpoint and save it (the course checkpoint's later stages).

    ``phase`` = ``"click"`` (click U-Net, :func:`train_click_net`), ``"memory"`` (memory net,
    :func:`train_memory_net`; an old non-residual memory net is loaded into the residual decoder, whose gain
    starts at 2) or ``"quality"`` (rebuild the MRF scorer's data from the current pipeline and train it further).
    The 3D U-Net peer is kept. Each call appends its record (iterations, wall and CPU seconds, device, command)
    to ``meta["stages"]`` and its loss rows to the history CSV beside ``out``.
    """
    from course_lib.lim_net.presets import PRESETS

    if phase not in REFINE_PHASES:
        raise ValueError(f"phase must be one of {REFINE_PHASES}, got {phase!r}")
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    device = torch.device(device or "cpu")
    preset = PRESETS["course"]
    model, unet, meta = load_weights(base, device)
    t0, c0 = time.perf_counter(), time.process_time()
    ct = load_case("ct", preset.size)
    pool = training_pool(preset, ct)
    torch.manual_seed(seed)
    if phase == "click":
        hist = train_click_net(model.click_net, pool, iters=iters, batch=preset.batch, crop=preset.crop, lr=lr,
                               seed=seed + 10, device=device, progress=progress)
    elif phase == "memory":
        if not model.memory_net.config.get("residual"):
            old = model.memory_net.state_dict()
            model.memory_net = MemoryNet(**{**model.memory_net.config, "residual": True}).to(device)
            missing = model.memory_net.load_state_dict(old, strict=False).missing_keys
            if missing != ["decoder.prev_gain"]:
                raise RuntimeError(f"unexpected missing keys {missing}")
        hist = train_memory_net(model.memory_net, pool, iters=iters, batch=preset.batch, crop=preset.crop, lr=lr,
                                seed=seed + 10, device=device, progress=progress)
    else:
        x, y, pairs = quality_dataset(model, training_targets(preset, ct), rounds=preset.quality_rounds, seed=seed,
                                      device=device, progress=progress)
        hist = train_quality_net(model.quality_net, x, y, pairs, iters=iters, lr=lr, seed=seed + 10, device=device,
                                 progress=progress)
    hist["stage"] = f"refine {phase}"
    stages = list(meta.get("stages", []))
    stages.append(repr({"phase": phase, "iters": iters, "lr": lr, "seconds": round(time.perf_counter() - t0),
                        "cpu_seconds": round(time.process_time() - c0), "device": str(device),
                        "threads": torch.get_num_threads(), "command": command}))
    meta["stages"] = stages
    path = save_weights(out, model, unet, meta)
    csv = Path(out).with_suffix(".history.csv")
    if csv.is_file():
        hist = pd.concat([pd.read_csv(csv), hist], ignore_index=True)
    write_atomic(csv, hist.to_csv(index=False))
    return path


def training_demo(preset: LimNetPreset, *, device=None, seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """Run every training loop for ``preset.demo_iters`` iterations on fresh tiny models (a code check only).

    Used at smoke scale, where the evaluation uses the cached course weights: the losses show that the
    samplers, click simulation and losses run; the models are thrown away.
    """
    n = max(1, preset.demo_iters)
    pool = training_pool(preset)
    device = torch.device(device or "cpu")
    model = LIMNet(ClickUNet2D(base=preset.click_base), MemoryNet(key_dim=16, value_dim=16, width=8),
                   QualityRegressor(width=8)).to(device)
    hist = [train_click_net(model.click_net, pool, iters=n, batch=preset.batch, crop=preset.crop, seed=seed,
                            device=device, progress=progress),
            train_memory_net(model.memory_net, pool, iters=n, batch=preset.batch, crop=preset.crop, seed=seed,
                             device=device, progress=progress)]
    x, y, pairs = quality_dataset(model, training_targets(preset)[:1], rounds=2, perturbed=1, max_slices=4,
                                  seed=seed, device=device, progress=progress)
    hist.append(train_quality_net(model.quality_net, x, y, pairs, iters=n, batch=8, seed=seed, device=device,
                                  progress=progress))
    unet = UNet3D(base=preset.unet_base).to(device)
    hist.append(train_unet3d(unet, pool, iters=n, batch=1, size=preset.unet_patch, seed=seed, device=device,
                             progress=progress))
    return pd.concat(hist, ignore_index=True)


def load_or_train(preset: LimNetPreset, *, retrain: bool = False, ct: Case | None = None, device=None,
                  seed: int = 0, progress: bool = True) -> tuple[LIMNet, UNet3D | None, pd.DataFrame | None]:
    """The cached course weights when ``preset.use_checkpoint`` (unless ``retrain``), else train with the preset.

    With ``retrain`` at smoke/course scale, the *course* recipe is trained (about 25 min on one core).
    """
    if preset.use_checkpoint and not retrain:
        model, unet, meta = load_weights(COURSE_CHECKPOINT, device)
        print(f"[lim_net] loaded cached weights {COURSE_CHECKPOINT.name} (trained in {meta.get('seconds')} s; "
              "set RETRAIN = True to train again)")
        return model, unet, None
    if preset.use_checkpoint:  # retrain at smoke/course scale: the course recipe
        from course_lib.lim_net.presets import PRESETS

        preset = PRESETS["course"]
        ct = ct if ct is not None else load_case("ct", preset.size)
    return train_all(preset, ct, device=device, seed=seed, progress=progress)


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="re-create data/lim_net/lim_net_course.pt")
    parser.add_argument("--jobs", type=int, default=1, help="2: train the 3D U-Net peer in a parallel process")
    parser.add_argument("--out", default=str(COURSE_CHECKPOINT))
    parser.add_argument("--refine", choices=REFINE_PHASES, help="continue training one part of --base")
    parser.add_argument("--base", default=str(COURSE_CHECKPOINT))
    parser.add_argument("--iters", type=int, default=500)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    if args.refine:
        print(refine_checkpoint(args.refine, args.iters, base=args.base, out=args.out, lr=args.lr,
                                device=args.device, command="python -m course_lib.lim_net.checkpoint "
                                + " ".join(sys.argv[1:])))
    else:
        print(train_course_checkpoint(args.out, jobs=args.jobs, device=args.device))
