"""Knowledge distillation (Hinton, Vinyals & Dean 2015; Buciluă, Caruana & Niculescu-Mizil 2006).

* :func:`kd_loss` — ``(1 − α)·CE(y, s) + α·T²·KL(softmax(t/T) ‖ softmax(s/T))`` (Hinton et al. §2): soft targets
  at temperature ``T`` carry the teacher's similarities between classes; the ``T²`` keeps the soft term's gradient
  on the same scale for every ``T``, since ``∂[T²·KL]/∂s_i = T·(q_i − p_i)`` (:func:`kd_gradient`), which tends to
  ``(s_i − t_i)/N`` for large ``T`` (logit matching, Hinton et al. §2.1).
* Teacher outputs are computed **once** (:func:`teacher_logits`) and travel with the batches; the teacher never
  runs during student training.
* :func:`train_student` trains with the one loop (:func:`course_lib.train.fit`): CE only (``teacher=None``), KD
  with labels, or KD on a **transfer set** whose labels are hidden (label ``-1``: only the soft term applies).
* Experiments (each over seeds, teachers = the series' cached baselines): :func:`transfer_set_experiment` (digits,
  100 labels vs the teacher's soft labels on the whole unlabelled training set), :func:`full_label_experiment`
  (digits, all labels: the negative result) and :func:`capacity_gap_experiment` (MNIST-1D, CNN teacher → MLP).
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.checks import as_int

PKG = "low_power"
RESULTS_FILE = "kd_results.json"
UNLABELLED = -1


def _check_t_alpha(temperature: float, alpha: float) -> tuple[float, float]:
    temperature, alpha = float(temperature), float(alpha)
    if not temperature > 0:
        raise ValueError(f"temperature T must be > 0, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return temperature, alpha


def soft_targets(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``softmax(z / T)`` (Hinton et al. Eq. 1): higher ``T`` gives a softer distribution over classes."""
    return torch.softmax(logits / _check_t_alpha(temperature, 0.0)[0], dim=-1)


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None = None, *,
            temperature: float = 4.0, alpha: float = 0.5) -> torch.Tensor:
    """Hinton KD loss, averaged over the batch:
    ``(1 − α)·CE(y, s) + α·T²·KL(softmax(t/T) ‖ softmax(s/T))``.

    ``labels`` equal to ``-1`` (or ``labels=None``) mark unlabelled examples of a transfer set: the CE term is the
    mean over the labelled ones only (zero when there are none), the soft term covers every example."""
    temperature, alpha = _check_t_alpha(temperature, alpha)
    if student_logits.shape != teacher_logits.shape or student_logits.ndim != 2:
        raise ValueError(f"student and teacher logits must both be (batch, classes), got "
                         f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}")
    s = student_logits.float()
    #: Soft term: $T^2\,\mathrm{KL}\big(\mathrm{softmax}(t/T)\,\|\,\mathrm{softmax}(s/T)\big)$, batch mean.
    #: The teacher is a constant (its logits were computed once, without gradient).
    log_q = F.log_softmax(s / temperature, dim=-1)
    p = torch.softmax(teacher_logits.detach().float() / temperature, dim=-1)
    soft = F.kl_div(log_q, p, reduction="batchmean") * temperature ** 2
    if labels is None or alpha == 1.0:
        return soft
    #: Hard term: cross-entropy with the true labels at $T = 1$, over the labelled examples only (label $-1$ =
    #: unlabelled transfer example).
    labelled = labels != UNLABELLED
    n = labelled.sum()
    ce = F.cross_entropy(s, labels.clamp_min(0), reduction="none")
    hard = (ce * labelled).sum() / n.clamp_min(1)
    #: $L = (1-\alpha)\,\mathrm{CE} + \alpha\,T^2\,\mathrm{KL}$ (Hinton et al. §2: a weighted average).
    return (1 - alpha) * hard + alpha * soft


def kd_gradient(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Closed-form gradient of the soft term ``T²·KL(p ‖ q)`` (batch mean) w.r.t. the student logits:
    ``∂/∂s_i = T·(q_i − p_i) / B`` with ``q = softmax(s/T)``, ``p = softmax(t/T)`` (Hinton et al. Eq. 2, times T²)."""
    temperature = _check_t_alpha(temperature, 0.0)[0]
    q = torch.softmax(student_logits / temperature, dim=-1)
    p = torch.softmax(teacher_logits / temperature, dim=-1)
    return temperature * (q - p) / student_logits.shape[0]


@torch.no_grad()
def teacher_logits(teacher: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """The teacher's logits on ``x``, computed once in eval mode without gradient (on ``x``'s device)."""
    was = teacher.training
    teacher.eval()
    out = torch.cat([teacher(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    teacher.train(was)
    return out.float()


def _triples(x, y, t, batch_size: int, seed: int):
    """``epoch -> [(x, y, t)]`` with a fresh seeded permutation per epoch (the teacher logits ride along)."""
    def make(epoch: int):
        g = torch.Generator().manual_seed(1_000_003 * seed + epoch)
        order = torch.randperm(len(x), generator=g).to(x.device)
        return [(x[idx], y[idx], t[idx]) for idx in order.split(batch_size)]
    return make


def train_student(student: nn.Module, x: torch.Tensor, y: torch.Tensor, *, teacher: torch.Tensor | None = None,
                  temperature: float = 4.0, alpha: float = 0.5, epochs: int, lr: float = 3e-3,
                  batch_size: int = 64, seed: int = 0, x_test: torch.Tensor, y_test: torch.Tensor, device=None,
                  progress: bool = False) -> pd.DataFrame:
    """Train ``student`` on ``(x, y)`` with Adam through :func:`course_lib.train.fit`: cross-entropy when
    ``teacher`` is None, else :func:`kd_loss` against the cached ``teacher`` logits (``y == -1`` marks unlabelled
    transfer examples). Returns the history; ``test_acc`` [%] is only reported, never used to choose an epoch."""
    from course_lib.device import resolve_device
    from course_lib.low_power.models import accuracy
    from course_lib.train import fit

    temperature, alpha = _check_t_alpha(temperature, alpha)
    epochs, batch_size = as_int("epochs", epochs, minimum=1), as_int("batch_size", batch_size, minimum=1)
    if len(x) != len(y) or (teacher is not None and len(teacher) != len(x)):
        raise ValueError(f"x, y (and teacher logits) must have the same length, got {len(x)}, {len(y)}"
                         + ("" if teacher is None else f", {len(teacher)}"))
    if teacher is None and (y == UNLABELLED).any():
        raise ValueError("unlabelled examples (y == -1) need teacher logits")
    device = resolve_device(device)
    student.to(device)
    x, y, x_test, y_test = x.to(device), y.to(device), x_test.to(device), y_test.to(device)
    t = teacher.to(device) if teacher is not None else torch.zeros(len(x), 1, device=device)

    def loss_fn(model, batch):
        xb, yb, tb = batch
        logits = model(xb)
        if teacher is None:
            return F.cross_entropy(logits, yb)
        return kd_loss(logits, tb, yb, temperature=temperature, alpha=alpha)

    opt = torch.optim.Adam(student.parameters(), lr=lr)
    return fit(student, opt, loss_fn, _triples(x, y, t, batch_size, seed), epochs=epochs,
               val_fn=lambda m: {"test_acc": accuracy(m, x_test, y_test)}, device=device, progress=progress,
               desc="student", seed=seed)


# ------------------------------------------------------------------------------------------------ experiments
@dataclasses.dataclass(frozen=True)
class KDRecipe:
    """One student recipe: the same for the CE / label-only student and the KD student."""

    epochs: int
    lr: float = 3e-3
    batch_size: int = 64
    temperature: float = 4.0
    alpha: float = 0.5


def labelled_subset(y: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Indices of ``per_class`` examples of every class (seeded)."""
    g = torch.Generator().manual_seed(as_int("seed", seed, minimum=0))
    per_class = as_int("per_class", per_class, minimum=1)
    picks = []
    for c in torch.unique(y).tolist():
        idx = torch.nonzero(y == c).flatten()
        if len(idx) < per_class:
            raise ValueError(f"class {c} has {len(idx)} examples, fewer than per_class={per_class}")
        picks.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    return torch.cat(picks).sort().values


def _student(name: str, seed: int) -> nn.Module:
    from course_lib.low_power.models import build

    return build(name, seed)


def _final(hist: pd.DataFrame) -> float:
    return float(hist["test_acc"].iloc[-1])


def transfer_set_experiment(seeds=(0, 1, 2), *, per_class: int = 10, label_only: KDRecipe, kd: KDRecipe,
                            student: str = "digits_mlp", teacher: str = "digits_cnn", device=None,
                            progress: bool = False) -> pd.DataFrame:
    """Digits, per seed: a student trained on ``10·per_class`` labelled images only (CE) vs the same student trained
    on the whole training set with its labels hidden except those, against the teacher's soft labels (KD on a
    transfer set; Buciluă et al. 2006, Hinton et al. 2015 §3). The teacher is the cached ``teacher`` baseline of
    that seed (trained on every label). Final test accuracy [%], one row per seed."""
    from course_lib.low_power.data import load_digits
    from course_lib.low_power.models import accuracy, baseline

    d = load_digits()
    rows = []
    for seed in seeds:
        tm = baseline(teacher, seed, device="cpu")
        t_logits = teacher_logits(tm, d.x_train)
        idx = labelled_subset(d.y_train, per_class, seed)
        t0 = time.perf_counter()
        only = _student(student, seed)
        train_student(only, d.x_train[idx], d.y_train[idx], epochs=label_only.epochs, lr=label_only.lr,
                      batch_size=label_only.batch_size, seed=seed, x_test=d.x_test, y_test=d.y_test,
                      device=device, progress=progress)
        y_transfer = torch.full_like(d.y_train, UNLABELLED)
        y_transfer[idx] = d.y_train[idx]
        kd_model = _student(student, seed)
        train_student(kd_model, d.x_train, y_transfer, teacher=t_logits, temperature=kd.temperature,
                      alpha=kd.alpha, epochs=kd.epochs, lr=kd.lr, batch_size=kd.batch_size, seed=seed,
                      x_test=d.x_test, y_test=d.y_test, device=device, progress=progress)
        rows.append({"seed": seed, "teacher": accuracy(tm, d.x_test, d.y_test),
                     "label_only": accuracy(only.cpu(), d.x_test, d.y_test),
                     "kd_transfer": accuracy(kd_model.cpu(), d.x_test, d.y_test), "labelled": len(idx),
                     "transfer": len(d.y_train), "seconds": time.perf_counter() - t0})
    df = pd.DataFrame(rows).set_index("seed")
    df["gain"] = df["kd_transfer"] - df["label_only"]
    return df


def _ce_vs_kd(dataset: str, student: str, teacher: str, seeds, ce: KDRecipe, kds: dict[str, KDRecipe], device,
              progress) -> pd.DataFrame:
    from course_lib.low_power.data import load
    from course_lib.low_power.models import accuracy, baseline

    d = load(dataset)
    rows = []
    for seed in seeds:
        tm = baseline(teacher, seed, device="cpu")
        t_logits = teacher_logits(tm, d.x_train)
        t0 = time.perf_counter()
        row = {"seed": seed, "teacher": accuracy(tm, d.x_test, d.y_test)}
        m = _student(student, seed)
        train_student(m, d.x_train, d.y_train, epochs=ce.epochs, lr=ce.lr, batch_size=ce.batch_size, seed=seed,
                      x_test=d.x_test, y_test=d.y_test, device=device, progress=progress)
        row["ce"] = accuracy(m.cpu(), d.x_test, d.y_test)
        for name, r in kds.items():
            m = _student(student, seed)
            train_student(m, d.x_train, d.y_train, teacher=t_logits, temperature=r.temperature, alpha=r.alpha,
                          epochs=r.epochs, lr=r.lr, batch_size=r.batch_size, seed=seed, x_test=d.x_test,
                          y_test=d.y_test, device=device, progress=progress)
            row[name] = accuracy(m.cpu(), d.x_test, d.y_test)
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
    return pd.DataFrame(rows).set_index("seed")


def full_label_experiment(seeds=(0, 1, 2), *, ce: KDRecipe, kds: dict[str, KDRecipe], device=None,
                          progress: bool = False) -> pd.DataFrame:
    """Digits with **every** label: the small MLP student trained with CE vs with KD from the digits CNN, per seed
    and per KD setting (``kds``: name → recipe). A negative result is expected and shown, not hidden."""
    return _ce_vs_kd("digits", "digits_mlp", "digits_cnn", seeds, ce, kds, device, progress)


def capacity_gap_experiment(seeds=(0, 1, 2), *, ce: KDRecipe, kd: KDRecipe, device=None,
                            progress: bool = False) -> pd.DataFrame:
    """MNIST-1D: an MLP student (no translation invariance) trained with CE vs with KD from the 1-D CNN teacher,
    per seed — the regime where the teacher knows something the student's inductive bias lacks."""
    df = _ce_vs_kd("mnist1d", "mnist1d_mlp", "mnist1d_cnn", seeds, ce, {"kd": kd}, device, progress)
    df["gain"] = df["kd"] - df["ce"]
    return df


# --------------------------------------------------------------------------------------------------- cache
def results_path():
    from course_lib.artifacts import artifact_dir

    return artifact_dir(PKG) / RESULTS_FILE


def load_results(path=None) -> dict:
    """The committed course-scale KD results (``{"config": …, "transfer": rows, "full_label": …, "mnist1d": …}``)."""
    from course_lib.artifacts import read_json

    path = path or results_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; recompute it with python -m course_lib.low_power.distillation")
    return read_json(path)


def frame(results: dict, part: str) -> pd.DataFrame:
    """One part of :func:`load_results` as a DataFrame indexed by seed."""
    return pd.DataFrame(results[part]).set_index("seed")


def main(argv=None) -> int:
    """Recompute the course KD results: ``python -m course_lib.low_power.distillation [--parts ...]`` (CPU, one
    thread); recipes from the course preset."""
    from course_lib.artifacts import read_json, write_json
    from course_lib.low_power.presets import PRESETS
    from course_lib.repro import set_threads

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--parts", nargs="*", default=["transfer", "full_label", "mnist1d"])
    ap.add_argument("--scale", default="course")
    ap.add_argument("--seeds", nargs="*", type=int, default=None, help="override the preset's kd_seeds")
    ap.add_argument("--out", default=None, help="write to this file instead of data/low_power/kd_results.json")
    args = ap.parse_args(argv)
    set_threads()
    p = PRESETS[args.scale]
    if args.seeds is not None:
        p = dataclasses.replace(p, kd_seeds=tuple(args.seeds))
    path = Path(args.out) if args.out else results_path()
    out = read_json(path) if path.is_file() else {}
    out["command"] = f"python -m course_lib.low_power.distillation --scale {args.scale}"
    for part in args.parts:
        t0 = time.perf_counter()
        if part == "transfer":
            df = transfer_set_experiment(p.kd_seeds, per_class=p.kd_per_class, label_only=p.kd_label_only,
                                         kd=p.kd_transfer, device="cpu")
            cfg = {"per_class": p.kd_per_class, "label_only": dataclasses.asdict(p.kd_label_only),
                   "kd": dataclasses.asdict(p.kd_transfer)}
        elif part == "full_label":
            df = full_label_experiment(p.kd_seeds, ce=p.kd_full_ce, kds=dict(p.kd_full_label), device="cpu")
            cfg = {"ce": dataclasses.asdict(p.kd_full_ce),
                   "kd": {k: dataclasses.asdict(v) for k, v in p.kd_full_label}}
        elif part == "mnist1d":
            df = capacity_gap_experiment(p.kd_seeds, ce=p.kd_mnist1d_ce, kd=p.kd_mnist1d, device="cpu")
            cfg = {"ce": dataclasses.asdict(p.kd_mnist1d_ce), "kd": dataclasses.asdict(p.kd_mnist1d)}
        else:
            raise ValueError(f"unknown part {part!r}; expected transfer, full_label or mnist1d")
        out[part] = df.reset_index().to_dict(orient="records")
        out[f"{part}_config"] = cfg
        out[f"{part}_seconds"] = time.perf_counter() - t0
        write_json(path, out)
        print(part, df, flush=True)
    return 0


def summary(df: pd.DataFrame, cols) -> dict[str, tuple[float, float]]:
    """``{col: (mean, std)}`` over seeds (std with ddof=1; 0 for one seed)."""
    return {c: (float(df[c].mean()), float(df[c].std(ddof=1)) if len(df) > 1 else 0.0) for c in cols}


# ------------------------------------------------------------------------------------------ the series' study
def study(preset, device=None, progress: bool = False) -> dict:
    """Notebook 5's measurements: the three experiments over ``preset.kd_seeds``, read from the committed course
    run (``data/low_power/kd_results.json``) unless ``preset.kd_recompute``; the closed-form gradient check."""
    g = torch.Generator().manual_seed(0)
    s, t = 3 * torch.randn(64, 10, generator=g, dtype=torch.float64), 3 * torch.randn(64, 10, generator=g,
                                                                                      dtype=torch.float64)
    grad_err = 0.0
    for temperature in (1.0, 2.0, 4.0, 8.0):
        leaf = s.clone().requires_grad_()
        kd_loss(leaf, t, None, temperature=temperature).backward()
        grad_err = max(grad_err, float((leaf.grad - kd_gradient(s, t, temperature)).abs().max()))
    out = {"gradient_error": grad_err, "cached": not preset.kd_recompute}
    if preset.kd_recompute:
        out["transfer"] = transfer_set_experiment(preset.kd_seeds, per_class=preset.kd_per_class,
                                                  label_only=preset.kd_label_only, kd=preset.kd_transfer,
                                                  device=device, progress=progress)
        out["full_label"] = full_label_experiment(preset.kd_seeds, ce=preset.kd_full_ce,
                                                  kds=dict(preset.kd_full_label), device=device, progress=progress)
        out["mnist1d"] = capacity_gap_experiment(preset.kd_seeds, ce=preset.kd_mnist1d_ce, kd=preset.kd_mnist1d,
                                                 device=device, progress=progress)
    else:
        res = load_results()
        for part in ("transfer", "full_label", "mnist1d"):
            out[part] = frame(res, part)
    return out


def record(ledger, k: dict) -> None:
    """Record notebook 5's claims from :func:`study`'s result."""
    from course_lib.claims import artifact, bundled, generated
    from course_lib.low_power.claims import worst

    def src(fresh):
        return artifact(results_path()) if k["cached"] else fresh

    digits_src = src(bundled("scikit-learn digits", "scikit-learn"))
    ledger.record("lp.kd_gradient", k["gradient_error"], "T = 1, 2, 4, 8; 64×10 random logits",
                  source=generated("random logits"))
    fl, tr, m1 = k["full_label"], k["transfer"], k["mnist1d"]
    kd_cols = [c for c in fl.columns if c.startswith("kd_")]
    ledger.record("lp.kd_ce_student_works", *worst(fl["ce"], ">="), source=digits_src)
    value, note = worst(tr["gain"], ">=")
    ledger.record("lp.kd_transfer", value,
                  f"label-only {tr['label_only'].mean():.2f} ± {tr['label_only'].std():.2f} → KD "
                  f"{tr['kd_transfer'].mean():.2f} ± {tr['kd_transfer'].std():.2f}; gain: {note}", source=digits_src)
    value, note = worst(m1["gain"], ">=")
    ledger.record_applicable("lp.kd_mnist1d", value,
                  f"CE {m1['ce'].mean():.2f} ± {m1['ce'].std():.2f} → KD {m1['kd'].mean():.2f} ± "
                  f"{m1['kd'].std():.2f}; gain: {note}",
                  source=src(generated("MNIST-1D (mnist1d generator, default arguments)")))
    best = max(kd_cols, key=lambda c: fl[c].mean())
    ledger.record("lp.kd_full_label", float(fl[best].mean() - fl["ce"].mean()),
                  "; ".join(f"{c}: {fl[c].mean() - fl['ce'].mean():+.2f}" for c in kd_cols) + " (best shown)",
                  source=digits_src)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["KDRecipe", "capacity_gap_experiment", "full_label_experiment", "kd_gradient", "kd_loss",
           "labelled_subset", "load_results", "soft_targets", "summary", "teacher_logits", "train_student",
           "transfer_set_experiment"]
