"""The zero-shot protocol: methods x targets x rounds, summaries, and the values of the claims.

Methods (all driven by the same simulated user, on the same volumes, scored by the same 3D Dice):
``LIM-Net (MRF)``, ``LIM-Net (no MRF)``, ``LIM-Net (oracle MRF)``, ``2D + copy nearest`` (propagation ablation),
``random walker`` (classical seeded 3D peer), ``3D U-Net`` (DeepEdit-style peer).
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from course_lib.lim_net.data import (
    PSEUDO_GT,
    TEST_A_IDS,
    TEST_B_IDS,
    Case,
    Target,
    load_cases_or_synthetic,
    make_targets,
    synthetic_case,
)
from course_lib.lim_net.metrics import dice, fraction_non_decreasing, noc, peak_memory_mb
from course_lib.lim_net.models import UNet3D
from course_lib.lim_net.mrf import oracle_fuse, slice_errors
from course_lib.lim_net.peers import RandomWalkerSession, UNet3DSession
from course_lib.lim_net.pipeline import InferenceConfig, LIMNet, LIMNetSession
from course_lib.lim_net.presets import LimNetPreset
from course_lib.lim_net.user import first_click, next_click

LIM_METHODS = {"LIM-Net (MRF)": "learned", "LIM-Net (no MRF)": "none", "LIM-Net (oracle MRF)": "oracle",
               "2D + copy nearest": "copy"}
PEERS = ("random walker", "3D U-Net")


def session_factory(method: str, model: LIMNet | None, unet: UNet3D | None,
                    cfg: InferenceConfig | None = None, device=None) -> Callable[[Target], object]:
    """``target -> fresh session`` for a method name of :data:`LIM_METHODS` or :data:`PEERS`."""
    if method in LIM_METHODS:
        if model is None:
            raise ValueError(f"{method} needs the LIM-Net model")
        return lambda t: LIMNetSession(model, t.image, mrf=LIM_METHODS[method], cfg=cfg, gt=t.gt, device=device)
    if method == "random walker":
        return lambda t: RandomWalkerSession(t.image)
    if method == "3D U-Net":
        if unet is None:
            raise ValueError("3D U-Net needs the trained peer")
        return lambda t: UNet3DSession(unet, t.image, device=device)
    raise ValueError(f"unknown method {method!r}; expected one of {list(LIM_METHODS) + list(PEERS)}")


def run_method(method: str, factory: Callable[[Target], object], targets: Sequence[Target], n_rounds: int,
               test_set: str = "") -> tuple[pd.DataFrame, list]:
    """Simulated-user sessions of one method on every target -> one row per (target, round), and the sessions.

    Columns: test_set, method, target, round, dice, seconds (wall time of that round's ``step``), clicks.
    """
    rows, sessions = [], []
    for t in targets:
        sess = factory(t)
        last = 0.0
        for r in range(1, n_rounds + 1):
            click = first_click(t.gt) if r == 1 else next_click(sess.current, t.gt)
            if click is None:
                rows.append({"test_set": test_set, "method": method, "target": t.name, "round": r, "dice": last,
                             "seconds": 0.0, "positive": None})
                continue
            t0 = time.perf_counter()
            mask = sess.step(click)
            sec = time.perf_counter() - t0
            last = dice(mask, t.gt)
            rows.append({"test_set": test_set, "method": method, "target": t.name, "round": r, "dice": last,
                         "seconds": sec, "positive": click.positive})
        sessions.append(sess)
    return pd.DataFrame(rows), sessions


def summarize(df: pd.DataFrame, threshold: float = 0.80) -> pd.DataFrame:
    """Per (test set, method): mean Dice at rounds 1 and last, NoC@80, seconds per round and per volume."""
    out = []
    for (ts, method), g in df.groupby(["test_set", "method"], sort=False):
        last = g["round"].max()
        noc_vals = [noc(gg.sort_values("round")["dice"].tolist(), threshold, cap=last + 1)
                    for _, gg in g.groupby("target")]
        per_vol = g.groupby("target")["seconds"].sum()
        out.append({"test_set": ts, "method": method, "targets": g["target"].nunique(),
                    "dice_r1": g.loc[g["round"] == 1, "dice"].mean(),
                    f"dice_r{last}": g.loc[g["round"] == last, "dice"].mean(),
                    f"dice_r{last}_sd": g.loc[g["round"] == last, "dice"].std(ddof=0),
                    "NoC@80": float(np.mean(noc_vals)),
                    "s_per_round": g.loc[g["seconds"] > 0, "seconds"].mean(), "s_per_volume": per_vol.mean()})
    return pd.DataFrame(out)


def curves(df: pd.DataFrame) -> pd.DataFrame:
    """Mean Dice per round: index = round, columns = (test_set, method)."""
    return df.pivot_table(index="round", columns=["test_set", "method"], values="dice", aggfunc="mean")


def oracle_property_violations(sessions: Sequence[LIMNetSession], targets: Sequence[Target]) -> int:
    """Count slices where oracle fusion of consecutive rounds breaks the exact MRF property.

    For every session and every pair (fused round t, raw round t+1): a violation is a slice whose fused error
    exceeds the error of either input on that slice, or whose fused mask equals neither input.
    """
    bad = 0
    for sess, t in zip(sessions, targets):
        for prev, new in zip(sess.masks[:-1], sess.candidates[1:]):
            fused, _ = oracle_fuse(prev, new, t.gt)
            e_f, e_p, e_n = (slice_errors(m, t.gt) for m in (fused, prev, new))
            bad += int((e_f > np.minimum(e_p, e_n)).sum())
            same = (fused == prev).all(axis=(1, 2)) | (fused == new).all(axis=(1, 2))
            bad += int((~same).sum())
    return bad


def mrf_agreement(sessions: Sequence[LIMNetSession], targets: Sequence[Target]) -> dict[str, float]:
    """How often the learned MRF chose as the oracle would, on the slices where its two candidates differ.

    For each round transition of learned-MRF sessions: slices where the previous fused mask and the new raw mask
    differ, have different errors (no tie) and were not just clicked (those are pinned to the new round). The
    oracle choice is the candidate with fewer errors. Returns the learned MRF's agreement with the oracle, the
    agreement of "always take the latest round" (= the fraction of those slices where the new round is better:
    the chance level to beat), their difference and the number of slices.
    """
    agree, latest = [], []
    for sess, t in zip(sessions, targets):
        for r, (prev, new, took) in enumerate(zip(sess.masks[:-1], sess.candidates[1:], sess.took_new[1:]),
                                              start=1):
            e_prev, e_new = slice_errors(prev, t.gt), slice_errors(new, t.gt)
            keep = (e_prev != e_new) & (prev != new).any(axis=(1, 2))
            keep[sess.clicks[r].z] = False
            oracle_new = e_new < e_prev
            agree += list((took == oracle_new)[keep])
            latest += list(oracle_new[keep])
    n = len(agree)
    a = float(np.mean(agree)) if n else float("nan")
    b = float(np.mean(latest)) if n else float("nan")
    return {"learned_agreement": a, "latest_agreement": b, "advantage": a - b, "slices": n}


@dataclasses.dataclass
class ProtocolData:
    """Test targets: ``test_a`` (unseen CT organs), ``test_b`` (MR organs), ``synthetic`` (held-out volumes)."""

    test_a: list[Target]
    test_b: list[Target]
    synthetic: list[Target]
    ct: Case | None
    is_synthetic_fallback: bool


def prepare_data(preset: LimNetPreset) -> ProtocolData:
    """Load the real cases (course/full) and build the test targets; held-out synthetic volumes always."""
    syn = []
    for i in range(preset.n_test_synthetic):
        case = synthetic_case(preset.synthetic_shape, seed=9000 + i, n_blobs=3)
        syn += make_targets(case, [1, 2, 3], min_voxels=50)
    if not preset.use_real:
        return ProtocolData([], [], syn, None, False)
    cases, fallback = load_cases_or_synthetic(preset.size, preset.synthetic_shape)
    ids_a = TEST_A_IDS if not fallback else (1, 2, 3, 4)
    ids_b = TEST_B_IDS if not fallback else (1, 2, 3, 4)
    test_a = make_targets(cases["ct"], ids_a, min_voxels=200)[: preset.max_targets]
    test_b = make_targets(cases["mr"], ids_b, min_voxels=200)[: preset.max_targets]
    return ProtocolData(test_a, test_b, syn, cases["ct"], fallback)


def evaluate(model: LIMNet, unet: UNet3D | None, targets: Sequence[Target], methods: Sequence[str], *,
             n_rounds: int, test_set: str, cfg: InferenceConfig | None = None, device=None,
             progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Run every method on every target; returns the long table and ``{method: sessions}``."""
    from tqdm.auto import tqdm

    frames, sessions = [], {}
    for m in tqdm(methods, desc=f"{test_set}", disable=not progress):
        df, sess = run_method(m, session_factory(m, model, unet, cfg, device), targets, n_rounds, test_set)
        frames.append(df)
        sessions[m] = sess
    return pd.concat(frames, ignore_index=True), sessions


def round_cost(model: LIMNet, unet: UNet3D | None, target: Target, device=None) -> pd.DataFrame:
    """Seconds and peak extra memory (MiB) of ONE interaction round on ``target`` for LIM-Net and the 3D U-Net.

    In-process measurement (see :func:`~course_lib.lim_net.metrics.peak_memory_mb`); the benchmark repeats it
    in fresh processes.
    """
    device = torch.device(device or next(model.parameters()).device)
    click = first_click(target.gt)
    rows = []
    runs = [("LIM-Net", lambda: LIMNetSession(model, target.image, mrf="none", device=device).step(click))]
    if unet is not None:
        runs.append(("3D U-Net", lambda: UNet3DSession(unet, target.image, device=device).step(click)))
    for name, fn in runs:
        fn()  # warm-up
        t0 = time.perf_counter()
        _, mb = peak_memory_mb(fn, device)
        rows.append({"method": name, "seconds": time.perf_counter() - t0, "peak_MiB": mb})
    return pd.DataFrame(rows)


def claim_values(results: dict, scale: str) -> dict[str, tuple[float, str]]:
    """Values for the ledger from the protocol's outputs (see :mod:`course_lib.lim_net.claims`).

    ``results`` holds ``df`` (long table), ``sessions`` ({(test_set, method): sessions}), ``targets``
    ({test_set: targets}), ``params`` and optionally ``cost`` (:func:`round_cost`).
    """
    df = results["df"]
    vals: dict[str, tuple[float, str]] = {}
    ses = results["sessions"]
    tg = results["targets"]
    for ts, cid in (("synthetic", "lim_net.oracle_mrf_property"), ("test A", "lim_net.oracle_mrf_property_real")):
        key = (ts, "LIM-Net (oracle MRF)")
        if key in ses:
            vals[cid] = (float(oracle_property_violations(ses[key], tg[ts])), f"{ts}, {len(tg[ts])} targets")
    cur = curves(df)
    last = int(df["round"].max())

    def at(ts, m, r):
        return float(cur[(ts, m)].loc[r]) if (ts, m) in cur.columns else float("nan")

    if scale == "smoke":
        vals["lim_net.smoke_dice"] = (at("synthetic", "LIM-Net (MRF)", last),
                                      f"held-out synthetic, Dice after round {last}")
    if "test A" in tg:
        a6, a1 = at("test A", "LIM-Net (MRF)", last), at("test A", "LIM-Net (MRF)", 1)
        vals["lim_net.test_a_dice"] = (a6, f"{len(tg['test A'])} organs; {PSEUDO_GT}")
        vals["lim_net.test_a_gain"] = (a6 - a1, f"round 1: {a1:.3f}, round {last}: {a6:.3f}")
        copy6 = at("test A", "2D + copy nearest", last)
        none6 = at("test A", "LIM-Net (no MRF)", last)
        vals["lim_net.propagation_vs_copy"] = (none6 - copy6, f"no-MRF {none6:.3f} vs copy {copy6:.3f}")
        vals["lim_net.mrf_vs_none"] = (a6 - none6, f"MRF {a6:.3f} vs no-MRF {none6:.3f}")
        for ts, cid in (("test A", "lim_net.vs_random_walker_a"), ("test B", "lim_net.vs_random_walker_b")):
            rw, lim = at(ts, "random walker", last), at(ts, "LIM-Net (MRF)", last)
            if not np.isnan(rw):
                vals[cid] = (lim - rw, f"LIM-Net (MRF) {lim:.3f} vs random walker {rw:.3f}")
        gap = results.get("gap_summary")
        if gap is not None and len(gap):
            g = gap[gap["group"] == "test A"].set_index("gap")
            if 1 in g.index:
                vals["lim_net.copy_works_adjacent"] = (float(g.loc[1, "copy"]), f"{int(g.loc[1, 'n'])} slices")
            if 8 in g.index:
                vals["lim_net.propagation_gap8"] = (float(g.loc[8, "propagation"] - g.loc[8, "copy"]),
                                                    f"propagation {g.loc[8, 'propagation']:.3f} vs copy "
                                                    f"{g.loc[8, 'copy']:.3f}, {int(g.loc[8, 'n'])} slices")
        if ("test A", "LIM-Net (MRF)") in ses:
            ag = mrf_agreement(ses[("test A", "LIM-Net (MRF)")], tg["test A"])
            vals["lim_net.mrf_beats_latest"] = (ag["advantage"], f"learned MRF agrees with the oracle on "
                                                f"{ag['learned_agreement']:.3f} of {ag['slices']} differing slices, "
                                                f"'take the latest round' on {ag['latest_agreement']:.3f}")
        vals["lim_net.mrf_monotone"] = (fraction_non_decreasing(cur[("test A", "LIM-Net (MRF)")].to_numpy()),
                                        "transitions of the mean test-A curve")
    if "test B" in tg:
        vals["lim_net.test_b_dice"] = (at("test B", "LIM-Net (MRF)", last), f"{len(tg['test B'])} MR organs; "
                                       + PSEUDO_GT)
    if "params" in results:
        vals["lim_net.click_params"] = (float(results["params"]["click_net"]), "2D click U-Net")
    if results.get("cost") is not None and len(results["cost"]) == 2:
        c = results["cost"].set_index("method")
        vals["lim_net.memory_ratio"] = (float(c.loc["LIM-Net", "peak_MiB"] / max(c.loc["3D U-Net", "peak_MiB"], 1e-6)),
                                        "in-process RSS/CUDA peak, one round")
        vals["lim_net.time_ratio"] = (float(c.loc["LIM-Net", "seconds"] / c.loc["3D U-Net", "seconds"]),
                                      "one round, same target")
    return vals


def methods_for(test_set: str, preset: LimNetPreset | str) -> list[str]:
    """Methods run on a test set: everything on test A; LIM-Net and the peers on test B; on the held-out
    synthetic volumes everything at smoke, only the oracle MRF (its exact property) when the real data is used."""
    if test_set == "test B":
        return ["LIM-Net (MRF)", "LIM-Net (no MRF)", "random walker", "3D U-Net"]
    if test_set == "synthetic" and not isinstance(preset, str) and preset.use_real:
        return ["LIM-Net (oracle MRF)"]
    return list(LIM_METHODS) + list(PEERS)


def full_protocol(scale: str, *, retrain: bool = False, device=None, seed: int = 0, progress: bool = True) -> dict:
    """Everything notebook 2 does, in one call (used by ``claims.run``): data, weights, evaluation, claims.

    Returns a dict with ``preset, data, model, unet, history, df, sessions, targets, params, cost, claims``.
    """
    from course_lib import pick_preset
    from course_lib.lim_net.checkpoint import load_or_train, training_demo
    from course_lib.lim_net.presets import PRESETS

    preset = pick_preset(PRESETS, scale)
    data = prepare_data(preset)
    model, unet, hist = load_or_train(preset, retrain=retrain, ct=data.ct, device=device, seed=seed,
                                      progress=progress)
    if hist is None and preset.demo_iters:
        hist = training_demo(preset, device=device, seed=seed, progress=progress)
    targets = {"synthetic": data.synthetic}
    if preset.use_real:
        targets.update({"test A": data.test_a, "test B": data.test_b})
    frames, sessions = [], {}
    for ts, tgs in targets.items():
        df, ses = evaluate(model, unet, tgs, methods_for(ts, preset), n_rounds=preset.n_rounds, test_set=ts,
                           device=device, progress=progress)
        frames.append(df)
        sessions.update({(ts, m): s for m, s in ses.items()})
    gap = None
    if preset.use_real:
        from course_lib.lim_net.diagnostics import gap_summary, propagation_vs_gap

        gap = gap_summary(propagation_vs_gap(model, data.test_a, group="test A", device=device))
    results = {"preset": preset, "data": data, "model": model, "unet": unet, "history": hist,
               "df": pd.concat(frames, ignore_index=True), "sessions": sessions, "targets": targets,
               "params": model.param_counts(), "cost": None, "gap_summary": gap}
    if preset.use_real and unet is not None:
        big = max(data.test_a, key=lambda t: t.image.shape[0] if t.image.shape[0] <= 64 else 0)
        results["cost"] = round_cost(model, unet, big, device)
    results["claims"] = claim_values(results, scale)
    return results


def round_cost_worker(method: str, depth: int, size: int = 96, device: str = "cpu", reps: int = 3,
                      threads: int = 1) -> dict:
    """Cost of ONE interaction round on a synthetic ``(depth, size, size)`` volume, measured in this process.

    Builds the course-scale architectures (random weights: time and memory do not depend on the weights),
    warms up once, then reports the median seconds of ``reps`` rounds and the peak extra memory of one round
    (RSS on CPU, ``max_memory_allocated`` on CUDA). Run it via :func:`~course_lib.lim_net.metrics.isolated`.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dev = torch.device(device)
    case = synthetic_case((depth, size, size), seed=4242, n_blobs=2)
    lid = int(np.unique(case.labels[case.labels > 0])[0])
    gt = case.labels == lid
    click = first_click(gt)
    if method == "LIM-Net":
        model = LIMNet().to(dev).eval()

        def one_round():
            return LIMNetSession(model, case.image, mrf="none", device=dev).step(click)
        params = model.param_counts()["click_net"] + model.param_counts()["memory_net"]
    elif method == "3D U-Net":
        net = UNet3D().to(dev).eval()

        def one_round():
            return UNet3DSession(net, case.image, device=dev).step(click)
        params = sum(p.numel() for p in net.parameters())
    elif method == "random walker":
        def one_round():
            return RandomWalkerSession(case.image).step(click)
        params = 0
    else:
        raise ValueError(f"unknown method {method!r}")
    one_round()
    _, mb = peak_memory_mb(one_round, dev)
    secs, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        one_round()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        secs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"method": method, "depth": depth, "size": size, "device": device, "seconds": float(np.median(secs)),
            "cpu_seconds": float(np.median(cpu)), "peak_MiB": mb, "params": params}
