"""Experiments of the InputIBA series: the method × metric table on correctly classified cluttered digits, the
maps side by side, the cascading-randomisation sanity check and the zero-initialised-prior ablation, and the
committed course-scale results (``data/input_iba/course_results.json``).

Recompute the cache (≈ 10 min on one idle CPU core; one thread)::

    python -m course_lib.input_iba.experiments course-cache

or split over processes (one per seed, plus the ablation and sanity check) and merge::

    python -m course_lib.input_iba.experiments course-cache --seeds 0 --parts table --out part0.json
    python -m course_lib.input_iba.experiments course-cache --seeds 1 --parts table --no-peers --out part1.json
    python -m course_lib.input_iba.experiments course-cache --seeds 2 --parts table --no-peers --out part2.json
    python -m course_lib.input_iba.experiments course-cache --parts ablation sanity --out part3.json
    python -m course_lib.input_iba.experiments merge --inputs part0.json part1.json part2.json part3.json

Protocol: the same frozen CNN (``data/input_iba/cnn.pt``), the same images (the first ``n_images`` correctly
classified test canvases drawn with ``image_seed``), the same metric code (:mod:`course_lib.attribution`) for
every method. Deletion removes pixels to the normalised background level and insertion starts from it (the
ground-truth-free metrics); the alternative baselines (zero for deletion, blur for insertion) are kept as extra
columns because a baseline favours maps that agree with it. IBA and InputIBA are optimisation-based: they run
once per optimisation seed; every other method is deterministic (random: one seeded draw per seed).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from course_lib import attribution as A
from course_lib.artifacts import artifact_dir, read_json, write_json
from course_lib.device import resolve_device, synchronize
from course_lib.input_iba import peers as P
from course_lib.input_iba.data import ClutteredDigits, cluttered_digits
from course_lib.input_iba.presets import InputIBAPreset

DATA_DIR = artifact_dir("input_iba")
METRICS = ("mask AUROC", "energy in mask", "deletion AUC", "insertion AUC")
EXTRA_METRICS = ("deletion AUC (zero)", "insertion AUC (blur)")
COMMAND = "python -m course_lib.input_iba.experiments course-cache"
#: the layers the sanity check re-initialises, top-down (logits first), as Adebayo et al. §3.1
SANITY_LAYERS = ("fc", "conv4", "conv3", "conv2", "conv1")
SANITY_METHODS = ("Saliency", "IntegratedGradients", "GradCAM", "GuidedBackprop", "IBA", "InputIBA")


# ------------------------------------------------------------------------------------------------ the images
@torch.no_grad()
def select_images(model: torch.nn.Module, n: int, *, seed: int = 2021, pool: int | None = None,
                  clutter: int | None = None, noise: float | None = None) -> ClutteredDigits:
    """The first ``n`` test canvases (drawn with ``seed``) that ``model`` classifies correctly, on the CPU.
    The clutter and noise default to the cached CNN's training configuration."""
    from course_lib.input_iba import model as M

    cfg = M.cached_info()["config"] if M.CACHE.exists() else dataclasses.asdict(M.TrainConfig())
    clutter = cfg["clutter"] if clutter is None else clutter
    noise = cfg["noise"] if noise is None else noise
    pool = pool or max(4 * n, 20)
    data = cluttered_digits(pool, clutter=clutter, noise=noise, split="test", seed=seed)
    dev = next(model.parameters()).device
    pred = model(data.images.to(dev)).argmax(1).cpu()
    keep = torch.nonzero(pred == data.labels).flatten()[:n]
    if len(keep) < n:
        raise RuntimeError(f"only {len(keep)} of {pool} test canvases are classified correctly; need {n}")
    return data.subset(keep)


def layer_stats(model: torch.nn.Module, layer: str, n: int = 1000, seed: int = 7):
    """μ_R, σ_R and the active mask of ``layer`` over ``n`` training canvases (Welford; IBA's estimate step)."""
    from course_lib.input_iba import model as M
    from course_lib.input_iba.welford import estimate_layer_stats

    cfg = M.cached_info()["config"] if M.CACHE.exists() else dataclasses.asdict(M.TrainConfig())
    train = cluttered_digits(n, clutter=cfg["clutter"], noise=cfg["noise"], split="train", seed=seed)
    return estimate_layer_stats(model, layer, train.images.to(next(model.parameters()).device))


# ---------------------------------------------------------------------------------------------- the methods
def _timed(fn: Callable[[], torch.Tensor], device, n: int) -> tuple[torch.Tensor, float]:
    synchronize(device)
    t0 = time.perf_counter()
    out = fn()
    synchronize(device)
    return out, (time.perf_counter() - t0) / n


def iba_maps(model, images, targets, stats, preset: InputIBAPreset, seed: int) -> torch.Tensor:
    """IBA's capacity map (bits per pixel) at ``preset.layer`` (β = ``iba_beta``, ``iba_steps``, smoothing σ = 1)."""
    from course_lib.input_iba.attributor import iba_attribution

    return iba_attribution(model, images, targets, stats, layer=preset.layer, beta=preset.iba_beta,
                           steps=preset.iba_steps, seed=seed).capacity


def input_iba_maps(model, images, targets, stats, preset: InputIBAPreset, seed: int,
                   **overrides) -> dict[str, torch.Tensor]:
    """InputIBA on a batch: ``{"InputIBA": Λ (N, H, W), "GAN prior λ_G": λ_G (N, H, W), "feature capacity":
    (N, H, W)}`` with the preset's schedule; ``overrides`` replace config fields (``prior_init="zero"``: the
    ablation)."""
    from course_lib.input_iba.attributor import explain_batch
    from course_lib.input_iba.presets import inputiba_config

    res = explain_batch(model, images, targets, stats, config=inputiba_config(preset, **overrides), seed=seed)
    return {"InputIBA": res.input_mask, "GAN prior λ_G": res.lambda_g, "feature capacity": res.feature_capacity}


def method_maps(model, data: ClutteredDigits, preset: InputIBAPreset, *, stats=None, seeds: Sequence[int] | None = None,
                include_ours: bool = True, progress: bool = False) -> tuple[dict, dict]:
    """Maps of every method on the same images: ``maps[(method, seed)] -> (N, H, W)`` CPU tensors and
    ``seconds[method] -> s/image`` (mean over seeds). Peers are deterministic (seed 0 only)."""
    from tqdm.auto import tqdm

    dev = next(model.parameters()).device
    x, y = data.images.to(dev), data.labels.to(dev)
    seeds = tuple(preset.seeds if seeds is None else seeds)
    maps, seconds = {}, {}
    for s in seeds:
        maps[("random", s)] = A.random_maps(len(data), *data.images.shape[-2:], seed=1000 + s)
    for name, res in P.run_peers(model, x, y, preset.peers).items():
        maps[(name, 0)] = res.maps
        seconds[name] = res.seconds_per_image
    if include_ours:
        stats = stats if stats is not None else layer_stats(model, preset.layer)
        times = {"IBA": [], "InputIBA": []}
        for s in tqdm(seeds, desc="IBA / InputIBA seeds", disable=not progress):
            m, sec = _timed(lambda s=s: iba_maps(model, x, y, stats, preset, s), dev, len(data))
            maps[("IBA", s)] = m.detach().cpu()
            times["IBA"].append(sec)
            out, sec = _timed(lambda s=s: input_iba_maps(model, x, y, stats, preset, s), dev, len(data))
            maps[("InputIBA", s)] = out["InputIBA"].detach().cpu()
            maps[("GAN prior λ_G", s)] = out["GAN prior λ_G"].detach().cpu()
            times["InputIBA"].append(sec)
        seconds.update({k: float(np.mean(v)) for k, v in times.items()})
    return maps, seconds


# ------------------------------------------------------------------------------------------------ the metrics
def evaluate(model, data: ClutteredDigits, maps: dict, preset: InputIBAPreset) -> pd.DataFrame:
    """One row per (method, seed, image) with every metric of :data:`METRICS` and :data:`EXTRA_METRICS`."""
    dev = next(model.parameters()).device
    x, y, masks = data.images.to(dev), data.labels.to(dev), data.masks
    rows = []
    for (name, seed), m in maps.items():
        kw = dict(steps=preset.deletion_steps)
        dele = A.insertion_deletion(model, x, m, y, "deletion", baseline="background", background=data.background,
                                    **kw)["auc"]
        ins = A.insertion_deletion(model, x, m, y, "insertion", baseline="background", background=data.background,
                                   **kw)["auc"]
        dele0 = A.insertion_deletion(model, x, m, y, "deletion", baseline="zero", **kw)["auc"]
        ins_b = A.insertion_deletion(model, x, m, y, "insertion", baseline="blur", **kw)["auc"]
        frame = pd.DataFrame({"method": name, "seed": seed, "image": np.arange(len(data)),
                              "mask AUROC": A.mask_auroc(m, masks), "energy in mask": A.energy_in_mask(m, masks),
                              "deletion AUC": dele, "insertion AUC": ins, "deletion AUC (zero)": dele0,
                              "insertion AUC (blur)": ins_b})
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def per_seed(rows: pd.DataFrame, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean of each metric per (method, seed) over the images."""
    return rows.groupby(["method", "seed"], sort=False)[list(metrics)].mean()


def summary_table(rows: pd.DataFrame, seconds: dict[str, float], metrics: Sequence[str] = METRICS,
                  order: Sequence[str] | None = None) -> pd.DataFrame:
    """Method × metric: mean ± s.e. over images (seeds averaged per image first), s/image and ratio to IG.
    Columns ``<metric>`` (mean), ``<metric> s.e.``, ``s / image``, ``× IG``."""
    per_image = rows.groupby(["method", "image"], sort=False)[list(metrics)].mean()
    out = {}
    for method, frame in per_image.groupby(level=0, sort=False):
        row = {}
        for m in metrics:
            row[m], row[f"{m} s.e."] = A.mean_se(frame[m].to_numpy())
        sec = seconds.get(method, np.nan)
        row["s / image"] = sec
        row["× IG"] = sec / seconds["IntegratedGradients"] if "IntegratedGradients" in seconds else np.nan
        out[method] = row
    table = pd.DataFrame(out).T
    if order is not None:
        table = table.loc[[m for m in order if m in table.index] + [m for m in table.index if m not in order]]
    return table


def format_table(table: pd.DataFrame, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """``mean ± s.e.`` strings per metric, s/image with 3 significant digits, ratio to IG (for display)."""
    out = pd.DataFrame(index=table.index)
    for m in metrics:
        out[m] = [f"{a:.3f} ± {b:.3f}" for a, b in zip(table[m], table[f"{m} s.e."])]
    out["s / image"] = [("—" if not np.isfinite(v) else f"{v:.3g}") for v in table["s / image"]]
    out["× IG"] = [("—" if not np.isfinite(v) else f"{v:.3g}") for v in table["× IG"]]
    return out


# ------------------------------------------------------------------------------------ sanity check, ablation
def explainer(name: str, preset: InputIBAPreset, seed: int = 0) -> Callable:
    """``explain(model, images, targets) -> (N, H, W)`` for the sanity check. IBA/InputIBA re-estimate the layer
    statistics on the (randomised) model, since they are part of the method."""
    if name in P.PEERS:
        return lambda m, x, t: P.explain(name, m, x, t)

    def ours(m, x, t):
        stats = layer_stats(m, preset.layer, n=500)
        if name == "IBA":
            return iba_maps(m, x, t, stats, preset, seed).detach()
        return input_iba_maps(m, x, t, stats, preset, seed)["InputIBA"].detach()

    return ours


def sanity_check(model, data: ClutteredDigits, preset: InputIBAPreset, methods: Sequence[str] = SANITY_METHODS,
                 layers: Sequence[str] = SANITY_LAYERS, *, progress: bool = False) -> pd.DataFrame:
    """Cascading randomisation (:func:`course_lib.attribution.cascading_randomization`) of every method in
    ``methods`` on ``data``: one row per (method, step)."""
    from tqdm.auto import tqdm

    dev = next(model.parameters()).device
    x, y = data.images.to(dev), data.labels.to(dev)
    frames = []
    for name in tqdm(methods, desc="sanity check", disable=not progress):
        f = A.cascading_randomization(model, explainer(name, preset), x, y, layers, seed=0)
        f.insert(0, "method", name)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def ablation(model, data: ClutteredDigits, preset: InputIBAPreset, *, stats=None, seed: int = 0) -> pd.DataFrame:
    """The zero-initialised-prior ablation: λ_G logits start at 0 instead of the IBA map; rows per image for
    "λ_G (zero init)" and "InputIBA (zero-init prior)", same metrics as :func:`evaluate`."""
    dev = next(model.parameters()).device
    stats = stats if stats is not None else layer_stats(model, preset.layer)
    out = input_iba_maps(model, data.images.to(dev), data.labels.to(dev), stats, preset, seed, prior_init="zero")
    maps = {("λ_G (zero init)", seed): out["GAN prior λ_G"].detach().cpu(),
            ("InputIBA (zero-init prior)", seed): out["InputIBA"].detach().cpu()}
    return evaluate(model, data, maps, preset)


# --------------------------------------------------------------------------------------------------- the cache
def course_cache(preset: InputIBAPreset, path=None, *, device=None, progress: bool = True,
                 seeds: Sequence[int] | None = None, parts: Sequence[str] = ("table", "ablation", "sanity"),
                 peers: bool = True) -> dict:
    """Run the course experiment and write ``data/input_iba/<preset.cached>``: per-image metric rows of every
    method and seed, s/image, the ablation rows and the sanity-check table, with the settings and the machine.
    ``seeds`` / ``parts`` / ``peers`` split the work over processes (merged by :func:`merge_caches`)."""
    from course_lib.input_iba.model import cached_info, load_cnn
    from course_lib.input_iba.presets import inputiba_config

    device = resolve_device(device)
    path = path or DATA_DIR / (preset.cached or "course_results.json")
    seeds = tuple(preset.seeds if seeds is None else seeds)
    model = load_cnn(device)
    data = select_images(model, preset.n_images, seed=preset.image_seed)
    stats = layer_stats(model, preset.layer)
    t0 = time.perf_counter()
    payload = {"command": COMMAND, "preset": dataclasses.asdict(preset),
               "inputiba_config": dataclasses.asdict(inputiba_config(preset)), "cnn_test_accuracy":
               cached_info()["test_accuracy"], "torch": torch.__version__, "threads": torch.get_num_threads(),
               "device": str(device), "machine": f"{platform.processor() or platform.machine()}, "
               f"{os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.1f} at start",
               "python": sys.version.split()[0], "seeds_run": list(seeds), "seconds": {}}
    if "table" in parts:
        run_preset = preset if peers else dataclasses.replace(preset, peers=())
        maps, seconds = method_maps(model, data, run_preset, stats=stats, seeds=seeds, progress=progress)
        payload["seconds"] = seconds
        payload["rows"] = evaluate(model, data, maps, preset).to_dict(orient="list")
        write_json(path, payload)
    if "ablation" in parts and preset.ablation_images:
        sub = data.subset(slice(0, preset.ablation_images))
        payload["ablation_rows"] = ablation(model, sub, preset, stats=stats).to_dict(orient="list")
        write_json(path, payload)
    if "sanity" in parts and preset.sanity_images:
        sub = data.subset(slice(0, preset.sanity_images))
        payload["sanity"] = sanity_check(model, sub, preset, progress=progress).to_dict(orient="list")
    payload["wall_seconds"] = time.perf_counter() - t0
    payload["complete"] = True
    write_json(path, payload)
    return payload


def merge_caches(parts: Sequence, path) -> dict:
    """Merge caches computed in separate processes (:func:`course_cache` with ``seeds`` / ``parts``): rows
    concatenated, IBA / InputIBA seconds averaged over the parts that ran them (each part records its own load
    average), peers' seconds from the part that ran them."""
    caches = [read_json(p) for p in parts]
    if not caches:
        raise ValueError("merge_caches: no part files given")
    out = {k: v for k, v in caches[0].items() if k not in ("rows", "ablation_rows", "sanity", "seconds",
                                                           "seeds_run", "wall_seconds", "complete")}
    rows = [pd.DataFrame(c["rows"]) for c in caches if "rows" in c]
    out["rows"] = pd.concat(rows, ignore_index=True).to_dict(orient="list")
    seconds: dict[str, list[float]] = {}
    for c in caches:
        for k, v in c.get("seconds", {}).items():
            seconds.setdefault(k, []).append(v)
    out["seconds"] = {k: float(np.mean(v)) for k, v in seconds.items()}
    for key in ("ablation_rows", "sanity"):
        found = [c[key] for c in caches if key in c]
        if found:
            out[key] = found[0]
    out["machine"] = "; ".join(dict.fromkeys(c["machine"] for c in caches))
    out["parts"] = [{"seeds_run": c.get("seeds_run"), "wall_seconds": c.get("wall_seconds"),
                     "has": [k for k in ("rows", "ablation_rows", "sanity") if k in c]} for c in caches]
    out["complete"] = all(c.get("complete") for c in caches)
    write_json(path, out)
    return out


def load_cache(name: str = "course_results.json") -> dict:
    """The committed course results (``FileNotFoundError`` naming the command that regenerates them)."""
    path = DATA_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; recompute it with `{COMMAND}`")
    return read_json(path)


def cache_rows(cache: dict, key: str = "rows") -> pd.DataFrame:
    """A cache's per-image rows (``"rows"`` or ``"ablation_rows"``) as a DataFrame."""
    return pd.DataFrame(cache[key])


def main(argv: list[str] | None = None) -> int:
    from course_lib.input_iba.presets import PRESETS

    parser = argparse.ArgumentParser(prog="python -m course_lib.input_iba.experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["course-cache", "merge"])
    parser.add_argument("--scale", default="course")
    parser.add_argument("--out", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, nargs="*", help="only these optimisation seeds (one process each)")
    parser.add_argument("--parts", nargs="*", default=["table", "ablation", "sanity"],
                        choices=["table", "ablation", "sanity"])
    parser.add_argument("--no-peers", action="store_true", help="skip the Captum peers (another part runs them)")
    parser.add_argument("--inputs", nargs="*", default=[], help="merge: the part files")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.command == "merge":
        merge_caches(args.inputs, args.out or DATA_DIR / "course_results.json")
        return 0
    course_cache(PRESETS[args.scale], args.out, device=args.device, progress=False, seeds=args.seeds,
                 parts=args.parts, peers=not args.no_peers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
