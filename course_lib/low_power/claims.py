"""Claims of the low-power series, the functions that record them, and ``run(scale, device)`` for ``make claims``.

The survey (Goel et al. 2020) has no result table of its own; each claim names the original method paper whose
effect it checks (Jacob et al. 2018 for int8, Han et al. 2015 for magnitude pruning, Li et al. 2017 for filter
pruning, Bengio et al. 2013 / Hubara et al. 2016 for the STE) and is measured on this course's small models.
Thresholds were set once from a calibration run on a 2-core CPU and frozen; a failing claim is reported with its
number, never loosened. Digits and MNIST-1D are not course-registry datasets: digits values are recorded with a
``bundled(...)`` source (real data shipped in scikit-learn), MNIST-1D ones with ``generated(...)``; MNIST t10k
comes from the registry (``dataset("mnist-t10k")``).
"""
from __future__ import annotations

import statistics

from course_lib import pick_preset
from course_lib.claims import Claim, Ledger
from course_lib.low_power.presets import PRESETS

PAPER = "low_power"
ALL = ("smoke", "course", "full")
CF = ("course", "full")
JACOB = "Jacob et al. 2018 (integer-only inference), §2–3"
HAN = "Han et al. 2015 (learning both weights and connections), §3"
LI = "Li et al. 2017 (pruning filters), §3"

CLAIMS = [
    # ---------------------------------------------------------------------------------- cost suite
    Claim(id="lp.macs_match_flop_counter", statement="Our analytic MACs equal FlopCounterMode FLOPs / 2 on every "
          "series model", paper_value="MACs = FLOPs / 2 for conv/linear (convention)", source="this course",
          metric="max |MACs − FLOPs/2| over the five series models", op="<=", threshold=0.0, scales=ALL),
    # ---------------------------------------------------------------------------------- quantisation
    Claim(id="lp.ptq_int8_drop", statement="PTQ int8 (per-channel weights, calibrated activations), run on the "
          "CPU's int8 kernels, loses at most 1 point on digits", paper_value="8-bit is near-lossless for CNNs",
          source=JACOB, metric="worst baseline fp32 − int8 accuracy [points] (3 baselines)", op="<=", threshold=1.0,
          scales=ALL),
    Claim(id="lp.ptq_int8_analytic_ratio", statement="int8 weights make the model ≥ 3.9× smaller analytically",
          paper_value="4× for 32 → 8 bits", source=JACOB,
          metric="fp32 bytes / (int8 weights + fp32 scales + fp32 biases)", op=">=", threshold=3.9, scales=ALL),
    Claim(id="lp.ptq_int8_serialized_ratio", statement="The real int8 model's file is ≥ 3× smaller (not 4×: "
          "metadata)", paper_value="4× (weights only)", source="this course",
          metric="torch.save bytes fp32 / int8 (torch.ao modules)", op=">=", threshold=3.0, scales=ALL),
    Claim(id="lp.int8_agrees_torch_ao", statement="Our int8 model and torch.ao static int8 agree in accuracy",
          paper_value="same scheme (Jacob et al. 2018)", source="this course",
          metric="max over baselines |acc(ours) − acc(torch.ao)| [points]", op="<=", threshold=0.5, scales=ALL),
    Claim(id="lp.ptq_int4_drop", statement="Weight-only per-channel PTQ at 4 bits loses at most 2 points",
          paper_value="—", source="this course",
          metric="worst baseline fp32 − int4 accuracy [points], min/max observer",
          op="<=", threshold=2.0, scales=ALL),
    Claim(id="lp.qat_int2", statement="Weight-only QAT (clipped STE) recovers 2-bit weights to ≥ 95 %",
          paper_value="STE training of low-bit weights (Hubara et al. 2016)",
          source="Bengio et al. 2013; Hubara et al. 2016", metric="lowest int2 QAT accuracy [%] over training seeds",
          op=">=", threshold=95.0, scales=ALL),
    Claim(id="lp.ptq_int2_collapses", statement="2-bit weights without training (PTQ, min/max observer) collapse "
          "below 50 %", paper_value="—", source="this course",
          metric="highest int2 PTQ accuracy [%] over 3 baselines", op="<=", threshold=50.0, scales=CF,
          baseline="2-bit weights", partner="lp.qat_int2"),
    Claim(id="lp.int8_latency_ratio", statement="Measured p50 latency of the real int8 model / fp32 (batch 1, one "
          "thread, this CPU)", paper_value="int8 kernels are faster on large layers", source="this course",
          metric="p50 int8 / p50 fp32", op="report", scales=ALL),
    Claim(id="lp.ptq_int8_mnist_drop", statement="PTQ int8 of the MNIST CNN loses at most 1 point on MNIST "
          "(t10k split)", paper_value="8-bit is near-lossless for CNNs", source=JACOB,
          metric="fp32 − int8 accuracy [points]", op="<=", threshold=1.0, scales=ALL, data="mnist-t10k"),
    # ---------------------------------------------------------------------------------- pruning
    Claim(id="lp.prune_nnz_exact", statement="Magnitude pruning zeroes exactly round(s · n) weights",
          paper_value="—", source=HAN, metric="max |zeros − round(s·n)|", op="<=", threshold=0.0, scales=ALL),
    Claim(id="lp.masks_equal_torch_prune", statement="Our global L1 masks equal torch.nn.utils.prune's",
          paper_value="—", source="this course", metric="differing mask entries", op="<=", threshold=0.0,
          scales=ALL),
    Claim(id="lp.mask_file_unchanged", statement="Masks do not change the file size (dense storage)",
          paper_value="—", source="this course", metric="|bytes(masked) − bytes(dense)|", op="<=", threshold=0.0,
          scales=ALL),
    Claim(id="lp.csr_shrinks", statement="CSR storage shrinks the 80 %-sparse model's file",
          paper_value="Han et al. 2015 store pruned weights sparsely", source=HAN,
          metric="torch.save bytes CSR / dense at 80 % sparsity", op="<=", threshold=0.75, scales=ALL),
    Claim(id="lp.roundtrip_after_remove", statement="After prune.remove a pruned model saves and loads like a "
          "dense one", paper_value="—", source="this course", metric="1 if keys plain and weights equal",
          op=">=", threshold=1.0, scales=ALL),
    Claim(id="lp.prune50_ft", statement="50 % global magnitude pruning + fine-tuning stays within 1 point",
          paper_value="AlexNet 9× fewer parameters without loss (Han et al. 2015)", source=HAN,
          metric="worst seed fp32 − fine-tuned accuracy [points]", op="<=", threshold=1.0, scales=ALL),
    Claim(id="lp.prune80_ft", statement="80 % global magnitude pruning + fine-tuning stays within 1.5 points",
          paper_value="AlexNet 9× fewer parameters without loss (Han et al. 2015)", source=HAN,
          metric="worst seed fp32 − fine-tuned accuracy [points]", op="<=", threshold=1.5, scales=ALL),
    Claim(id="lp.structured_ft", statement="Removing 50 % of the channels + fine-tuning stays within 2 points",
          paper_value="filter pruning keeps accuracy after retraining (Li et al. 2017)", source=LI,
          metric="worst seed fp32 − fine-tuned accuracy [points]", op="<=", threshold=2.0, scales=ALL),
    Claim(id="lp.structured_params", statement="The rebuilt model has ≤ 55 % of the parameters", paper_value="—",
          source=LI, metric="params(pruned) / params(dense)", op="<=", threshold=0.55, scales=ALL),
    Claim(id="lp.structured_macs", statement="The rebuilt model has ≤ 55 % of the MACs", paper_value="—",
          source=LI, metric="MACs(pruned) / MACs(dense)", op="<=", threshold=0.55, scales=ALL),
    Claim(id="lp.structured_matches_torch_pruning", statement="Our channel removal and torch-pruning give the "
          "same layer shapes", paper_value="—", source="this course",
          metric="|params(ours) − params(torch-pruning)| + |MACs(ours) − MACs(torch-pruning)|", op="<=",
          threshold=0.0, scales=ALL),
    Claim(id="lp.structured_latency_ratio", statement="Measured p50 latency structured-pruned / dense (batch 1, "
          "one thread, this CPU)", paper_value="dense smaller layers give real speed-ups (Li et al. 2017)",
          source=LI, metric="p50 pruned / p50 dense", op="report", scales=ALL),
    Claim(id="lp.gradual_vs_one_shot", statement="Gradual pruning (Zhu & Gupta 2017) vs one-shot + fine-tuning at "
          "the highest sparsity, same epochs", paper_value="gradual pruning matches or beats one-shot",
          source="Zhu & Gupta 2017, §3", metric="accuracy gradual − one-shot [points], seed 0", op="report",
          scales=CF),
    # --- factorization / NAS / distillation ---
    Claim(id="lp.separable_mac_ratio", statement="A depthwise-separable pair costs exactly 1/C_out + 1/K² of the "
          "standard convolution's MACs", paper_value="1/N + 1/D_K² (Howard et al. 2017, §3.1)",
          source="Howard et al. 2017 (MobileNets), §3.1", metric="max |MACs ratio − (1/C_out + 1/K²)| over 1-D/2-D "
          "layers", op="<=", threshold=1e-12, scales=ALL),
    Claim(id="lp.separable_ft", statement="The digits CNN with its 16→32 convolution made depthwise-separable "
          "(SVD-initialised) and fine-tuned stays within 2 points", paper_value="MobileNet loses about 1 % on "
          "ImageNet for 8–9× fewer MACs (Howard et al. 2017, Table 4) [verify against the PDF]",
          source="Howard et al. 2017 (MobileNets), Table 4", metric="worst seed dense − fine-tuned accuracy [points]",
          op="<=", threshold=2.0, scales=ALL),
    Claim(id="lp.svd_params_exact", statement="A rank-r factorised n → m layer has exactly r(m + n) + m parameters",
          paper_value="r(m + n) vs mn (Denton et al. 2014, §3)", source="Denton et al. 2014, §3",
          metric="max |params − (r(m+n)+m)| over ranks", op="<=", threshold=0.0, scales=ALL),
    Claim(id="lp.eckart_young", statement="The truncated SVD is the best rank-r approximation: ‖W − W_r‖²_F = "
          "Σ_{i>r} σ_i² and no competitor does better", paper_value="Eckart & Young 1936", source="this course",
          metric="max relative gap (identity; competitor − SVD error)", op="<=", threshold=1e-9, scales=ALL),
    Claim(id="lp.svd_energy_ft", statement="FC 512→64 factorised at the rank keeping 90 % of the spectral energy, "
          "fine-tuned 3 epochs, stays within 1 point", paper_value="~1 % accuracy cost for 2–4.5× speed-ups "
          "(Denton et al. 2014) [verify against the PDF]", source="Denton et al. 2014; Jaderberg et al. 2014",
          metric="worst seed dense − fine-tuned accuracy [points]", op="<=", threshold=1.0, scales=ALL),
    Claim(id="lp.svd_params_ratio", statement="Whole-model parameters after the energy-rank factorisation",
          paper_value="—", source="this course", metric="params(factorised) / params(dense), mean over seeds",
          op="report", scales=ALL),
    Claim(id="lp.nas_within_budget", statement="Every architecture a search evaluates or returns is within the MAC "
          "budget", paper_value="hard constraint (MnasNet uses a soft one, Tan et al. 2019)",
          source="Real et al. 2019; Tan et al. 2019", metric="largest MACs evaluated / budget, every search",
          op="<=", threshold=1.0, scales=ALL),
    Claim(id="lp.nas_budget_error", statement="A budget no architecture meets is refused with a clear error",
          paper_value="—", source="this course", metric="1 if ValueError raised", op=">=", threshold=1.0,
          scales=ALL),
    Claim(id="lp.nas_evolution_vs_random", statement="Regularised evolution vs random search at equal evaluations "
          "(best validation accuracy found), 3 seeds", paper_value="evolution ahead of random search at equal "
          "cost (Real et al. 2019, Fig. 3) [verify against the PDF]", source="Real et al. 2019, §4",
          metric="mean (evolution − random) [points]", op="report", scales=ALL),
    Claim(id="lp.nas_proxy_rank", statement="How well the few-epoch proxy ranks architectures trained longer",
          paper_value="—", source="this course", metric="Spearman ρ proxy vs long training (validation)",
          op="report", scales=ALL),
    Claim(id="lp.kd_gradient", statement="The gradient of T²·KL w.r.t. the student logits is T·(q − p)",
          paper_value="∂C/∂z_i = (q_i − p_i)/T, times T² (Hinton et al. 2015, Eq. 2)",
          source="Hinton et al. 2015, §2.1", metric="max |autograd − T(q − p)/B|", op="<=", threshold=1e-6,
          scales=ALL),
    Claim(id="lp.kd_ce_student_works", statement="The CE-trained MLP-16 student learns digits with all labels",
          paper_value="—", source="this course", metric="lowest test accuracy over seeds [%], CE, all labels", op=">=",
          threshold=95.0, scales=ALL),
    Claim(id="lp.kd_transfer", statement="KD on an unlabelled transfer set beats the same student trained on the "
          "100 labels alone by ≥ 5 points (3 seeds)", paper_value="soft targets transfer the teacher's knowledge "
          "through unlabelled data (Buciluă et al. 2006; Hinton et al. 2015, §3)",
          source="Buciluă et al. 2006; Hinton et al. 2015, §3", metric="worst seed (KD − label-only) [points]", op=">=",
          threshold=5.0, scales=ALL, baseline="label-only student", partner="lp.kd_ce_student_works"),
    Claim(id="lp.kd_mnist1d", statement="MNIST-1D: an MLP distilled from the 1-D CNN beats the CE-trained MLP by "
          "≥ 1.5 points (3 seeds)", paper_value="a student gains from the teacher's soft targets "
          "(Hinton et al. 2015, §3)", source="Hinton et al. 2015, §3", metric="worst seed (KD − CE) [points]", op=">=",
          threshold=1.5, scales=CF, baseline="CE-trained MLP student", partner="lp.kd_ce_student_works"),
    Claim(id="lp.kd_full_label", statement="Digits with every label: KD vs CE for the MLP-16 student (the best KD "
          "setting; a negative result is expected)", paper_value="—", source="this course",
          metric="mean (best KD − CE) [points]", op="report", scales=ALL),
    # --- pareto ---
    Claim(id="lp.pareto_complete", statement="Every technique of the series has a complete row (accuracy, analytic "
          "and serialized bytes, MACs, p50 latency) measured on the same base model and data",
          paper_value="accuracy and parameter counts alone misrepresent energy and latency (abstract)",
          source="this course", metric="fraction of the series' techniques with a complete row", op=">=",
          threshold=1.0, scales=ALL),
    Claim(id="lp.pareto_bytes_front", statement="Techniques on the Pareto front of accuracy vs analytic bytes",
          paper_value="—", source="this course", metric="number of techniques on the front", op="report",
          scales=ALL),
    # --- end pareto ---
]

SCOPES = {
    1: ("lp.macs_match_flop_counter", "lp.ptq_int8_drop", "lp.ptq_int8_analytic_ratio", "lp.ptq_int8_serialized_ratio",
        "lp.int8_agrees_torch_ao", "lp.ptq_int4_drop", "lp.qat_int2", "lp.ptq_int2_collapses",
        "lp.int8_latency_ratio", "lp.ptq_int8_mnist_drop"),
    2: ("lp.prune_nnz_exact", "lp.masks_equal_torch_prune", "lp.mask_file_unchanged", "lp.csr_shrinks",
        "lp.roundtrip_after_remove", "lp.prune50_ft", "lp.prune80_ft", "lp.structured_ft", "lp.structured_params",
        "lp.structured_macs", "lp.structured_matches_torch_pruning", "lp.structured_latency_ratio",
        "lp.gradual_vs_one_shot"),
    3: ("lp.separable_mac_ratio", "lp.separable_ft", "lp.svd_params_exact", "lp.eckart_young", "lp.svd_energy_ft",
        "lp.svd_params_ratio"),
    4: ("lp.nas_within_budget", "lp.nas_budget_error", "lp.nas_evolution_vs_random", "lp.nas_proxy_rank"),
    5: ("lp.kd_gradient", "lp.kd_ce_student_works", "lp.kd_transfer", "lp.kd_mnist1d", "lp.kd_full_label"),
    6: ("lp.pareto_complete", "lp.pareto_bytes_front"),  # --- pareto ---
}


def make_ledger(scale: str | None = None, notebook: int | None = None) -> Ledger:
    """The series ledger (``notebook=None``: every claim, for ``make claims``) or notebook N's."""
    return Ledger.scoped(PAPER, CLAIMS, scale, notebook, SCOPES)


def _mean(values) -> float:
    return statistics.fmean(float(v) for v in values)


def _spread(values) -> str:
    vals = [float(v) for v in values]
    return ", ".join(f"{v:.2f}" for v in vals)


def worst(values, op: str) -> tuple[float, str]:
    """A comparative claim holds over seeds only when it holds on every seed: the worst seed's value for a bound
    ``op`` (``"<="``: the largest, ``">="``: the smallest), and a note with the mean and every seed's value."""
    vals = [float(v) for v in values]
    value = max(vals) if op == "<=" else min(vals)
    return value, f"worst of {len(vals)} seeds; mean {_mean(vals):.2f}; per seed {_spread(vals)}"


def record_macs(ledger: Ledger) -> None:
    """Our MAC count vs FlopCounterMode / 2 on every series model (generated inputs of each model's shape)."""
    import torch

    from course_lib import cost
    from course_lib.claims import generated
    from course_lib.low_power.models import BUILDERS, build

    shapes = {"digits_cnn": (1, 1, 8, 8), "digits_mlp": (1, 1, 8, 8), "mnist1d_cnn": (1, 1, 40),
              "mnist1d_mlp": (1, 1, 40), "mnist_cnn": (1, 1, 28, 28)}
    worst = 0
    for name in BUILDERS:
        model, x = build(name), torch.randn(shapes[name])
        worst = max(worst, abs(cost.count_macs(model, x) - cost.flop_counter_macs(model, x)))
    ledger.record("lp.macs_match_flop_counter", worst, f"{len(BUILDERS)} models",
                  source=generated("random inputs of each series model's shape"))


def record_quantization(ledger: Ledger, q: dict) -> None:
    """Record notebook 1's claims from :func:`course_lib.low_power.quantization.study`'s result ``q``."""
    from course_lib.low_power.data import provenance

    src = provenance(q["split"])
    i8, sweep, qat = q["int8"], q["sweep"], q["qat"]
    n = f"{len(i8)} baselines"
    ledger.record("lp.ptq_int8_drop", *worst(i8["drop"], "<="), source=src)
    ledger.record("lp.ptq_int8_analytic_ratio", float(i8["analytic_ratio"].min()), source=src)
    ledger.record("lp.ptq_int8_serialized_ratio", float(i8["serialized_ratio"].min()),
                  f"torch.ao static: {i8['ao_serialized_ratio'].min():.2f}×", source=src)
    ledger.record("lp.int8_agrees_torch_ao", float((i8["real_int8"] - i8["torch_ao_static"]).abs().max()), n,
                  source=src)
    int4 = sweep[(sweep.bits == 4) & (sweep.observer == "minmax")]
    ledger.record("lp.ptq_int4_drop", *worst(int4["drop"], "<="), source=src)
    int2 = sweep[(sweep.bits == 2) & (sweep.observer == "minmax")]
    int2_mse = sweep[(sweep.bits == 2) & (sweep.observer == "mse")]
    value, note = worst(int2["accuracy"], "<=")
    ledger.record_applicable("lp.ptq_int2_collapses", value, f"{note}; MSE observer: {_mean(int2_mse['accuracy']):.1f}",
                  source=src)
    q2 = qat[qat.bits == 2]
    ledger.record("lp.qat_int2", *worst(q2["qat"], ">="), source=src)
    peers = q["peers"]
    ledger.record("lp.int8_latency_ratio",
                  float(peers.loc["ours int8 (x86 kernels)", "p50_ms"] / peers.loc["fp32", "p50_ms"]),
                  "batch 1, 1 thread", source=src)


def record_mnist(ledger: Ledger, calib_samples: int = 256) -> None:
    """PTQ int8 on the registry's MNIST t10k (skipped with a banner when the data is unavailable)."""
    from course_lib.claims import dataset
    from course_lib.data import DataUnavailable
    from course_lib.low_power.quantization import mnist_int8

    try:
        r = mnist_int8(calib_samples)
    except DataUnavailable as exc:
        ledger.unavailable("mnist-t10k", str(exc)[:200])
        return
    ledger.record("lp.ptq_int8_mnist_drop", r["drop"], f"fp32 {r['fp32']:.2f} → int8 {r['int8']:.2f}",
                  source=dataset("mnist-t10k"))


def record_pruning(ledger: Ledger, p: dict) -> None:
    """Record notebook 2's claims from :func:`course_lib.low_power.pruning.study`'s result ``p``."""
    from course_lib.low_power.data import provenance

    src = provenance(p["split"])
    masks, ft, st = p["masks"], p["fine_tune"], p["structured"]
    ledger.record("lp.prune_nnz_exact", float((masks["zeros"] - masks["target"]).abs().max()), source=src)
    ledger.record("lp.masks_equal_torch_prune", float(masks["mask_differences"].max()), source=src)
    ledger.record("lp.mask_file_unchanged", float((masks["masked_bytes"] - masks["dense_bytes"]).abs().max()),
                  source=src)
    m80 = masks[masks.sparsity == 0.8]
    ledger.record("lp.csr_shrinks", float((m80["csr_bytes"] / m80["dense_bytes"]).max()), source=src)
    ledger.record("lp.roundtrip_after_remove", float(masks["roundtrip_ok"].min()), source=src)
    for s, cid in ((0.5, "lp.prune50_ft"), (0.8, "lp.prune80_ft")):
        rows = ft[ft.sparsity == s]
        ledger.record(cid, *worst(rows["drop"], "<="), source=src)
    ledger.record("lp.structured_ft", *worst(st["drop"], "<="), source=src)
    ledger.record("lp.structured_params", float(st["ours_params_ratio"].max()), source=src)
    ledger.record("lp.structured_macs", float(st["ours_macs_ratio"].max()), source=src)
    diff = ((st["ours_params_ratio"] - st["torch-pruning_params_ratio"]).abs().max()
            + (st["ours_macs_ratio"] - st["torch-pruning_macs_ratio"]).abs().max())
    ledger.record("lp.structured_matches_torch_pruning", float(diff), source=src)
    ledger.record("lp.structured_latency_ratio", float(st["latency_ratio"].dropna().iloc[0]), "batch 1, 1 thread",
                  source=src)
    if "gradual" in p:
        g = p["gradual"]
        ledger.record_applicable("lp.gradual_vs_one_shot", g["gradual"] - g["one_shot_fine_tuned"],
                                 f"{g['sparsity']:.0%}: gradual {g['gradual']:.2f}, one-shot "
                                 f"{g['one_shot_fine_tuned']:.2f}", source=src)


def run(scale: str, device=None) -> Ledger:
    """Measure every claim applicable at ``scale`` (``make claims``)."""
    from course_lib.low_power import pruning, quantization

    preset = pick_preset(PRESETS, scale)
    ledger = make_ledger(scale)
    record_macs(ledger)
    record_quantization(ledger, quantization.study(preset, device=device))
    if preset.mnist_check:
        record_mnist(ledger, preset.calib_samples)
    record_pruning(ledger, pruning.study(preset, device=device))
    # --- factorization / NAS / distillation ---
    from course_lib.low_power import distillation, factorization, nas

    factorization.record(ledger, factorization.study(preset, device=device))
    nas.record(ledger, nas.study(preset))
    distillation.record(ledger, distillation.study(preset, device=device))
    # --- pareto --- (from the committed table of this scale: python -m course_lib.low_power.pareto --scale S)
    from course_lib.low_power import pareto

    if pareto.cache_path(scale).is_file():
        pareto.record(ledger, *pareto.load_cache(scale), pareto.cache_path(scale))
    else:
        ledger.not_measured("lp.pareto_complete", "lp.pareto_bytes_front",
                            reason=f"no table at this scale: run {pareto.COMMAND.format(scale=scale)}")
    return ledger
