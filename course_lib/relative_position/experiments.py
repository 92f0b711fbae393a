"""The series' experiments as functions of a preset (used by notebook 2 and by ``claims.run``)."""
from __future__ import annotations

import time

import pandas as pd

from course_lib.relative_position.synthetic import VARIANTS, LengthResult, run_variant


def length_generalization(preset, *, task: str = "offset", device=None, progress: bool = False,
                          seed: int = 0) -> dict[str, LengthResult]:
    """Headline experiment: the preset's variants on the offset task, train 8–20, test at 40."""
    return {name: run_variant(name, *VARIANTS[name], task=task, steps=preset.steps, seed=seed,
                              num_sequences=preset.eval_sequences, device=device, progress=progress)
            for name in preset.variants}


def ablations(preset, *, device=None, progress: bool = False, seed: int = 0):
    """Clipping-distance ablation (paper Table 2 analogue) and keys-only / values-only (Table 3 analogue)."""
    k_res = {k: run_variant(f"k={k}", "relative", k, steps=preset.ablation_steps, seed=seed,
                            num_sequences=preset.eval_sequences, device=device, progress=progress)
             for k in preset.ablation_ks}
    kv_res = {}
    if preset.kv_ablation:
        for name, pos in (("keys only", "relative_keys"), ("values only", "relative_values")):
            kv_res[name] = run_variant(name, pos, 8, steps=preset.ablation_steps, seed=seed,
                                       num_sequences=preset.eval_sequences, device=device, progress=progress)
        kv_res["keys + values"] = k_res.get(8) or run_variant("keys + values", "relative", 8,
                                                              steps=preset.ablation_steps, seed=seed,
                                                              num_sequences=preset.eval_sequences, device=device)
    return k_res, kv_res


def harder_task(preset, *, device=None, progress: bool = False, seed: int = 0) -> dict[str, LengthResult]:
    """(x_{i−1} + x_{i−2}) mod 10 with 2 layers and √d-scaled embeddings (a learnability contrast)."""
    return {name: run_variant(name, pos, 8, task="sum_mod", steps=preset.harder_steps, num_layers=2,
                              scale_embeddings=True, seed=seed, num_sequences=preset.eval_sequences,
                              device=device, progress=progress)
            for name, pos in (("relative (k=8)", "relative"), ("absolute sinusoidal", "sinusoidal"))}


def far_offset(preset, *, device=None, progress: bool = False, seed: int = 0) -> dict[int, LengthResult]:
    """y_i = x_{i−12} with one layer: for k <= 12 the distance −12 shares the clipped vector w_{−k} with −13, −14,
    … so the source token cannot be singled out; k >= 13 can (the cost of clipping)."""
    return {k: run_variant(f"k={k}", "relative", k, task="far_offset", steps=preset.steps, seed=seed,
                           train_max=24, test_length=48, num_sequences=preset.eval_sequences, device=device,
                           progress=progress)
            for k in preset.far_offset_ks}


def translation_runs(preset, *, schemes=("relative", "sinusoidal"), device=None, progress: bool = False,
                     seed: int = 0) -> dict:
    """Train one tiny translator per position scheme on Multi30k (≤ 12-word sources) and evaluate it.

    Returns {"data": TranslationData, "models": {scheme: model}, "runs": {scheme: {history, bleu, long_bleu,
    by_length, loss_by_length, beam_bleu, greedy_bleu_subset, seconds}}}.
    """
    from course_lib.relative_position.translation import (
        bleu,
        bleu_by_length,
        build_translator,
        loss_by_length,
        prepare_translation,
        train_translator,
        translate,
    )

    data = prepare_translation(vocab_size=preset.mt_vocab, train_limit=preset.mt_train_limit,
                               eval_limit=preset.mt_eval_limit, seed=seed)
    val_pairs = data.val
    src, ref = data.evals["test_2016"]
    lsrc, lref = data.evals["long (>= 20 words)"]
    runs, models = {}, {}
    for scheme in schemes:
        model = build_translator(data, scheme, d_model=preset.mt_d_model, layers=preset.mt_layers,
                                 num_heads=4, d_ff=2 * preset.mt_d_model, seed=seed, device=device)
        t0 = time.perf_counter()
        hist = train_translator(model, data, steps=preset.mt_steps, steps_per_epoch=max(1, preset.mt_steps // 5),
                                val_pairs=val_pairs, seed=seed, progress=progress, desc=f"Multi30k {scheme}")
        seconds = time.perf_counter() - t0
        hyp, lhyp = translate(model, data, src), translate(model, data, lsrc)
        nb = min(preset.mt_beam_sentences, len(src))
        beam = translate(model, data, src[:nb], beam_size=4)
        runs[scheme] = {"history": hist, "bleu": bleu(hyp, ref), "long_bleu": bleu(lhyp, lref),
                        "by_length": bleu_by_length(src + lsrc, hyp + lhyp, ref + lref),
                        "loss_by_length": loss_by_length(model, data, src + lsrc, ref + lref),
                        "beam_bleu": bleu(beam, ref[:nb]), "greedy_bleu_subset": bleu(hyp[:nb], ref[:nb]),
                        "examples": list(zip(src[:3], hyp[:3], ref[:3])), "seconds": seconds}
        models[scheme] = model
    return {"data": data, "models": models, "runs": runs}


def translation_summary(runs: dict) -> pd.DataFrame:
    """One row per scheme: dev loss before/after, BLEU test_2016, long pool, beam vs greedy, train seconds."""
    return pd.DataFrame([{"scheme": s, "dev loss first": r["history"]["val_loss"].iloc[0],
                          "dev loss last": r["history"]["val_loss"].iloc[-1], "BLEU test_2016": r["bleu"],
                          "BLEU >= 20 words": r["long_bleu"], "BLEU greedy (subset)": r["greedy_bleu_subset"],
                          "BLEU beam 4 (subset)": r["beam_bleu"], "train s": r["seconds"]}
                         for s, r in runs.items()]).set_index("scheme")


def speed_tables(preset, *, compile_einsum: bool = False, peers: bool = False, device=None) -> dict:
    """Core (vs SDPA) and module (vs nn.MultiheadAttention) timing tables plus the memory table."""
    from course_lib.relative_position.efficiency import memory_table, timing_table

    return {"core": timing_table(preset.bench_ns, level="core", rounds=preset.bench_rounds, device=device),
            "module": timing_table(preset.bench_ns, level="module", rounds=preset.bench_rounds,
                                   compile_einsum=compile_einsum, peers=peers, device=device),
            "memory": memory_table(preset.memory_ns)}
