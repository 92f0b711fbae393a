"""Every technique of the series on the SAME trained base model and the SAME data, measured with one metric suite
(:func:`course_lib.cost.table`): accuracy, parameters, non-zeros, analytic / serialized / CSR bytes, MACs, p50/p90
latency (batch of one, one thread), an energy proxy (labelled as such), and the Pareto fronts
(:func:`course_lib.cost.pareto_front`) of accuracy against bytes, MACs and latency.

The techniques come from the series' modules (quantization, pruning, factorization, NAS, distillation); this module
only runs them one after the other on one base model and collects the rows. The course-scale table is cached in
``data/low_power/pareto_<scale>.json`` (with its provenance: data, seeds, settings, torch version, CPU, threads and
the command that regenerates it)::

    python -m course_lib.low_power.pareto --scale course
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime
import platform
import sys
from collections.abc import Callable

import pandas as pd
import torch
from torch import nn

from course_lib import cost
from course_lib.artifacts import artifact_dir, read_json, write_json
from course_lib.checks import as_int
from course_lib.device import resolve_device
from course_lib.low_power import models
from course_lib.low_power.data import Split, load

PKG = "low_power"
#: Cost columns against which the Pareto fronts are drawn (each front: lowest cost, highest accuracy).
COSTS = ("analytic_bytes", "MACs", "p50_ms")
COMMAND = "python -m course_lib.low_power.pareto --scale {scale}"
#: The techniques every table holds, in order (the rows :func:`build_variants` builds).
TECHNIQUES = ("fp32 base", "PTQ int8 (real int8)", "PTQ int4", "QAT int2", "magnitude 50%", "magnitude 80%",
              "structured 50%", "depthwise-separable", "SVD 90% energy", "NAS pick", "KD student")
#: The columns a technique's row must hold to count as measured.
REQUIRED = ("accuracy", "analytic_bytes", "serialized_bytes", "MACs", "p50_ms")


@dataclasses.dataclass(frozen=True)
class ParetoSettings:
    """What one run of :func:`run` does at one scale (the deviations table of notebook 6 renders these)."""

    base: str = "mnist1d_cnn"         # the one base model every technique starts from (models.BASELINES)
    student: str = "mnist1d_mlp"      # the distilled student (models.BUILDERS)
    seeds: tuple[int, ...] = (0,)     # base-model seeds; accuracy is averaged over them (spread kept)
    finetune_epochs: int = 5          # fine-tuning after pruning / factorisation / the separable swap
    qat_epochs: int = 10              # weight-only QAT from the fp32 model
    qat_bits: int = 2
    student_epochs: int = 60          # the distilled student and its label-only twin
    nas_evaluations: int = 12         # architectures evaluated by the search (regularized evolution)
    nas_epochs: int = 3               # proxy training epochs per evaluated architecture
    nas_final_epochs: int = 20        # training of the picked architecture
    latency_repeats: int = 50
    calibration: int = 256            # calibration images for PTQ


SETTINGS = {
    "smoke": ParetoSettings(finetune_epochs=2, qat_epochs=4, student_epochs=15, nas_evaluations=4, nas_epochs=1,
                            nas_final_epochs=5, latency_repeats=20, calibration=128),
    "course": ParetoSettings(seeds=(0, 1, 2), finetune_epochs=10),
    "full": ParetoSettings(seeds=(0, 1, 2, 3, 4), finetune_epochs=10, qat_epochs=20, nas_evaluations=40,
                           nas_epochs=5, nas_final_epochs=30),
}


@dataclasses.dataclass
class Variant:
    """One technique applied to the base model: the model, its weight bits for analytic bytes, its family (the
    survey's category), the arithmetic its MACs run in (for the energy proxy) and what was done."""

    model: nn.Module
    bits: int
    family: str
    mac_dtype: str = "fp32"
    note: str = ""
    packed_bits: int | None = None    # serialized as really packed low-bit codes (quantization.pack_state)


def _finetune(model: nn.Module, split: Split, epochs: int, seed: int, **kw) -> nn.Module:
    models.train(model, split, epochs=epochs, lr=1e-3, seed=seed, device="cpu", **kw)
    return model.cpu().eval()


def build_variants(base: nn.Module, split: Split, settings: ParetoSettings, seed: int = 0,
                   progress: bool = False) -> dict[str, Variant]:
    """Apply every technique to a copy of the trained ``base`` (CPU); ``name -> Variant`` in a fixed order."""
    from course_lib.low_power import distillation, factorization, pruning, quantization

    s, out = settings, {}
    base = copy.deepcopy(base).cpu().eval()
    calib = split.x_train[:s.calibration]
    out["fp32 base"] = Variant(base, 32, "baseline", note=f"{settings.base}, trained fp32")
    #: Quantization: post-training int8 that really runs in int8 (torch's quantized CPU kernels), int4 weights
    #: (fake-quantised; analytic bytes at 4 bits) and QAT at very low precision.
    out["PTQ int8 (real int8)"] = Variant(quantization.to_int8(quantization.ptq(base, calib, 8)), 8,
                                          "quantization", "int8",
                                          "static PTQ, per-channel weights, calibrated activations")
    out["PTQ int4"] = Variant(quantization.ptq(base, calib, 4), 4, "quantization", packed_bits=4,
                              note="int4 per-channel weights, int8 activations (simulated)")
    qat_model, _ = quantization.qat(base, split, s.qat_bits, epochs=s.qat_epochs, seed=seed, device="cpu",
                                    progress=progress)
    out[f"QAT int{s.qat_bits}"] = Variant(qat_model, s.qat_bits, "quantization", packed_bits=s.qat_bits,
                                          note=f"weight-only, {s.qat_epochs} epochs, clipped STE")
    #: Pruning: unstructured magnitude masks (dense storage unchanged; CSR bytes shrink) and structured channel
    #: removal that rebuilds smaller layers (bytes, MACs and latency shrink).
    for sparsity in (0.5, 0.8):
        pruned, masks = pruning.prune_magnitude(base, sparsity)
        pruning.fine_tune(pruned, masks, split, epochs=s.finetune_epochs, seed=seed, device="cpu")
        out[f"magnitude {sparsity:.0%}"] = Variant(pruned.cpu().eval(), 32, "pruning",
                                                   note=f"global L1 + {s.finetune_epochs} epochs, masks kept")
    out["structured 50%"] = Variant(
        _finetune(pruning.prune_channels(base, 0.5), split, s.finetune_epochs, seed), 32, "pruning",
        note=f"half the channels removed (layers rebuilt) + {s.finetune_epochs} epochs")
    #: Compact filters and factorisation: the depthwise-separable swap and a truncated SVD keeping 90 % of the
    #: spectral energy of every layer, each fine-tuned.
    out["depthwise-separable"] = Variant(
        _finetune(factorization.separable_model(base), split, s.finetune_epochs, seed), 32, "compact filters",
        note=f"SVD-initialised + {s.finetune_epochs} epochs")
    out["SVD 90% energy"] = Variant(
        _finetune(factorization.factorize_model(base, energy=0.9), split, s.finetune_epochs, seed), 32,
        "factorization", note=f"rank per layer from energy + {s.finetune_epochs} epochs")
    #: NAS: the architecture regularized evolution picks under a MAC budget of half the base model's MACs
    #: (scored on the tabular benchmark of the search space when it is cached), trained on the same data.
    budget = cost.count_macs(base, split.example()) // 2
    picked, how = nas_pick(split, budget, s, seed)
    out["NAS pick"] = Variant(picked, 32, "NAS",
                              note=f"evolution, {s.nas_evaluations} evaluations ({how}), budget {budget} MACs")
    #: Distillation: a small MLP student taught by the base model (Hinton KD).
    student = models.build(s.student, seed)
    distillation.train_student(student, split.x_train, split.y_train,
                               teacher=distillation.teacher_logits(base, split.x_train), temperature=4.0, alpha=0.5,
                               epochs=s.student_epochs, lr=1e-3, batch_size=100, seed=seed, x_test=split.x_test,
                               y_test=split.y_test, device="cpu")
    out["KD student"] = Variant(student, 32, "distillation",
                                note=f"{s.student} taught by the base (T = 4, α = 0.5), {s.student_epochs} epochs")
    for v in out.values():
        v.model.cpu().eval()
    return out


def nas_pick(split: Split, budget: int, settings: ParetoSettings, seed: int = 0) -> tuple[nn.Module, str]:
    """Regularized evolution (:func:`course_lib.low_power.nas.regularized_evolution`) within ``budget`` MACs,
    scored on the cached tabular benchmark when it covers the whole space (else by short proxy training), then the best
    architecture trained ``settings.nas_final_epochs`` epochs on ``split``. Returns the model and how the
    search scored architectures."""
    from course_lib.low_power import nas

    space = nas.SearchSpace(length=split.input_shape[-1], in_channels=split.input_shape[0])
    try:
        table = nas.load_table()
    except (FileNotFoundError, KeyError, ValueError):
        table = {}
    if all(nas.arch_key(a) in table for a in space.all()):
        evaluate, scored = nas.TableEvaluator(table), "tabular benchmark"
    else:
        scored = f"{settings.nas_epochs}-epoch proxy"
        evaluate = nas.ProxyEvaluator(space, nas.nas_split(seed)[0], epochs=settings.nas_epochs, seed=seed,
                                      device="cpu")
    population = min(10, settings.nas_evaluations)
    result = nas.regularized_evolution(space, evaluate, budget=budget, evaluations=settings.nas_evaluations,
                                       population=population, sample=min(3, population), seed=seed)
    arch = result.best[0]
    torch.manual_seed(seed)
    model = space.build(arch)
    models.train(model, split, epochs=settings.nas_final_epochs, batch_size=100, seed=seed, device="cpu")
    return model.cpu().eval(), f"{nas.arch_key(arch)}, {scored}"


def measure_variants(variants: dict[str, Variant], split: Split, *, timing: bool = True, repeats: int = 50,
                     threads: int = 1) -> pd.DataFrame:
    """One row per variant through :func:`course_lib.cost.table` (batch-of-one MACs and latency, ``threads``),
    plus family, CSR bytes, the energy proxy (Horowitz 45 nm, *analytic*), and the ratios to the fp32 base."""
    from course_lib.low_power import quantization

    specs = {name: (v.model, v.bits) for name, v in variants.items()}
    frame = cost.table(specs, (split.x_test, split.y_test), example=split.example(), timing=timing,
                       repeats=repeats, threads=threads)
    frame.insert(0, "family", [variants[n].family for n in frame.index])
    packed = {n: v for n, v in variants.items() if v.packed_bits}
    for n, v in packed.items():   # low-bit weights really packed (codes + scales), not fp32 fake-quant tensors
        frame.loc[n, "serialized_bytes"] = cost.serialized_bytes(quantization.pack_state(v.model, v.packed_bits))
    frame["csr_bytes"] = [cost.model_csr_bytes(v.model) if any(True for _ in v.model.parameters()) else None
                          for v in variants.values()]
    frame["energy_proxy_uJ"] = [cost.energy_proxy(int(r.MACs), int(r.analytic_bytes),
                                                  dtype=variants[n].mac_dtype)["proxy_uJ"]
                                for n, r in frame.iterrows()]
    frame["note"] = [variants[n].note for n in frame.index]
    return add_ratios(frame)


def add_ratios(frame: pd.DataFrame, base: str | None = None) -> pd.DataFrame:
    """Columns ``<cost> ratio`` = row / base row for bytes, MACs and latency (base: the first row)."""
    base = frame.index[0] if base is None else base
    for col in ("analytic_bytes", "serialized_bytes", "MACs", "p50_ms"):
        if col in frame.columns:
            frame[f"{col} ratio"] = frame[col].astype(float) / float(frame.loc[base, col])
    return frame


def fronts(frame: pd.DataFrame, costs=COSTS) -> pd.DataFrame:
    """Boolean columns ``front <cost>``: the rows on the Pareto front of accuracy against each cost."""
    out = frame.copy()
    for c in costs:
        if c in out.columns:
            out[f"front {c}"] = cost.pareto_front(out, c, "accuracy")
    return out


def summarize(per_seed: list[pd.DataFrame]) -> pd.DataFrame:
    """Mean over seeds of every numeric column, the accuracy spread (std) and the number of seeds."""
    stacked = pd.concat(per_seed, keys=range(len(per_seed)), names=["seed_index", "model"])
    numeric = stacked.select_dtypes("number")
    mean = numeric.groupby(level="model", sort=False).mean()
    mean.insert(0, "family", per_seed[0]["family"])
    mean.insert(2, "accuracy_std", numeric["accuracy"].groupby(level="model", sort=False).std(ddof=0))
    mean["seeds"] = len(per_seed)
    mean["note"] = per_seed[0]["note"]
    return mean.loc[per_seed[0].index]


def run(scale: str = "smoke", *, settings: ParetoSettings | None = None, timing: bool = True, progress: bool = False,
        device=None, log: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, dict]:
    """Train (or load the cached) base model per seed, apply every technique, measure; returns the seed-averaged
    table with its Pareto fronts and the provenance dict. Latency is measured on the CPU with one thread; the base
    training may run on ``device``."""
    settings = SETTINGS[scale] if settings is None else settings
    split = load(models.DATASET_OF[settings.base])
    per_seed = []
    for seed in settings.seeds:
        base = models.baseline(settings.base, as_int("seed", seed, minimum=0), device=resolve_device(device))
        variants = build_variants(base, split, settings, seed, progress)
        per_seed.append(measure_variants(variants, split, timing=timing, repeats=settings.latency_repeats))
        if log:
            log(f"seed {seed}: {len(variants)} techniques measured")
    frame = fronts(summarize(per_seed))
    return frame, provenance(scale, settings, split)


def provenance(scale: str, settings: ParetoSettings, split: Split) -> dict:
    """Where a table comes from: data, settings, software, CPU, threads, date and the regenerating command."""
    return {"scale": scale, "data": split.description, "settings": dataclasses.asdict(settings),
            "torch": torch.__version__, "python": sys.version.split()[0], "cpu": _cpu_name(),
            "threads": 1, "latency": "p50/p90 of batch-of-one calls, torch.inference_mode, 1 thread, warm-up 10",
            "macs": "1 MAC = 1 multiply-add of Linear/Conv; bias, activations, pooling not counted",
            "energy": "analytic proxy (Horowitz, ISSCC 2014, 45 nm): MACs x E_mac + weight bytes x E_DRAM byte; "
                      "not a measurement",
            "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": COMMAND.format(scale=scale)}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_path(scale: str):
    """``data/low_power/pareto_<scale>.json``."""
    if scale not in SETTINGS:
        raise ValueError(f"scale must be one of {sorted(SETTINGS)}, got {scale!r}")
    return artifact_dir(PKG) / f"pareto_{scale}.json"


def save(frame: pd.DataFrame, meta: dict, path=None):
    """Write the table and its provenance as JSON (rows in order)."""
    path = cache_path(meta["scale"]) if path is None else path
    rows = frame.reset_index().rename(columns={"index": "model"}).to_dict(orient="records")
    return write_json(path, {"provenance": meta, "rows": rows})


def load_cache(scale: str = "course", path=None) -> tuple[pd.DataFrame, dict]:
    """The cached table (index = technique) and its provenance; FileNotFoundError names the regenerating command."""
    path = cache_path(scale) if path is None else path
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; regenerate it with {COMMAND.format(scale=scale)}")
    payload = read_json(path)
    frame = pd.DataFrame(payload["rows"]).set_index("model")
    return frame, payload["provenance"]


def record(ledger, frame: pd.DataFrame, meta: dict, path) -> None:
    """Record the Pareto claims of the series from a table (with ``artifact`` provenance: the cached file and its
    sha256): the fraction of :data:`TECHNIQUES` with a complete row, and the size of the bytes front."""
    from course_lib.claims import artifact

    source = artifact(path)
    present = frame.reindex(list(TECHNIQUES))
    complete = present[list(REQUIRED)].notna().all(axis=1)
    seeds = len(meta.get("settings", {}).get("seeds", ()))
    ledger.record_applicable("lp.pareto_complete", float(complete.mean()),
                             f"{int(complete.sum())} of {len(TECHNIQUES)} techniques, {seeds} seed(s), "
                             f"{meta.get('data', '')}", source=source)
    front = frame.index[cost.pareto_front(frame, "analytic_bytes", "accuracy")]
    ledger.record_applicable("lp.pareto_bytes_front", float(len(front)), ", ".join(front), source=source)


def main(argv=None) -> int:
    """Regenerate ``data/low_power/pareto_<scale>.json``."""
    from course_lib.repro import set_threads

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--scale", default="course", choices=sorted(SETTINGS))
    args = ap.parse_args(argv)
    set_threads(1)
    frame, meta = run(args.scale, log=lambda m: print(m, flush=True))
    print(save(frame, meta))
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(frame)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
