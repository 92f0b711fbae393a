"""The course experiment: student arms over seeds in the low-label SST-2 regime, and teacher B's dual training.

Regenerate the committed results (``data/lm_compression/``) with::

    python -m course_lib.lm_compression.teachers                     # teacher-A features + probe logits (once)
    python -m course_lib.lm_compression.experiments teacher-b        # teacher B: MLM pre-training + dual training
    python -m course_lib.lm_compression.experiments seed 0           # every arm for one seed (run 0, 1, 2)
    python -m course_lib.lm_compression.experiments merge            # -> course_results.json

Each seed writes ``course_seed<k>.json``; ``merge`` joins them into ``course_results.json``, which
:func:`load_course_results` reads.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from course_lib.artifacts import artifact_dir, read_json, save_torch, write_json
from course_lib.lm_compression.presets import PRESETS, LMPreset
from course_lib.lm_compression.student import DualMLM, Encoder, EncoderConfig, fvt_embeddings, rescale

DATA_DIR = artifact_dir("lm_compression")
BUILD_DIR = DATA_DIR.parents[1] / "build" / "lm_compression"
DUAL_FILE = "dual_embeddings.pt"
TEACHER_B_FILE = "teacher_b.pt"


def student_cfg(preset: LMPreset, vocab_size: int) -> EncoderConfig:
    return EncoderConfig(vocab_size=vocab_size, hidden=preset.student_hidden, layers=preset.student_layers,
                         heads=preset.student_heads, ffn=preset.student_ffn, max_len=preset.max_len)


def teacher_b_cfg(preset: LMPreset, vocab_size: int) -> EncoderConfig:
    return EncoderConfig(vocab_size=vocab_size, hidden=preset.teacher_b_hidden, layers=preset.teacher_b_layers,
                         heads=4, ffn=preset.teacher_b_ffn, max_len=preset.max_len, mlm_head=True)


def course_task_data(preset: LMPreset, directory: Path | None = None):
    """Student-vocabulary TaskData of the course split with teacher-A probe logits from the cache (the smoke
    preset takes the first rows of the cached labelled and transfer parts)."""
    from course_lib.lm_compression.data import load_sst2
    from course_lib.lm_compression.teachers import load_teacher_cache
    from course_lib.lm_compression.training import IGNORE, task_data
    from course_lib.lm_compression.vocab import student_tokenizer

    arrays, meta = load_teacher_cache(directory)
    n_lab = int(arrays["n_labelled"])
    if preset.n_labelled > n_lab or preset.n_transfer > len(arrays["logits_transfer"]):
        raise ValueError(f"the teacher cache holds {n_lab} labelled + {len(arrays['logits_transfer'])} transfer "
                         f"phrases; preset asks for {preset.n_labelled} + {preset.n_transfer}")
    train = load_sst2("train")
    index = np.concatenate([arrays["index"][:preset.n_labelled],
                            arrays["index"][n_lab:n_lab + preset.n_transfer]])
    labels = train.labels[index].copy()
    labels[preset.n_labelled:] = IGNORE
    logits = np.concatenate([arrays["logits_labelled"][:preset.n_labelled],
                             arrays["logits_transfer"][:preset.n_transfer]])
    dev = load_sst2("test")
    data = task_data(student_tokenizer(), [train.texts[i] for i in index], labels, logits, dev.texts, dev.labels,
                     preset.max_len)
    return data, meta


def build_teacher_b(preset: LMPreset, seed: int = 0, device=None, save: bool = True, progress: bool = False,
                    max_texts: int | None = None) -> dict:
    """Teacher B: MLM pre-training from scratch (SST-2 train + tinyshakespeare + pydoc topics), then dual training
    on SST-2 phrases with the student vocabulary mixed in. Saves the student-vocabulary embeddings it learned
    (``dual_embeddings.pt``, committed) and the whole teacher (``build/lm_compression/teacher_b.pt``)."""
    from course_lib.lm_compression.data import load_sst2, pretraining_corpus
    from course_lib.lm_compression.mixing import MixedVocab
    from course_lib.lm_compression.training import decreased, dual_train, pretrain_teacher_b
    from course_lib.lm_compression.vocab import student_tokenizer, teacher_b_tokenizer

    torch.manual_seed(seed)
    tb, st = teacher_b_tokenizer(), student_tokenizer()
    corpus = pretraining_corpus()
    rng = np.random.default_rng(seed)
    if max_texts:
        corpus = [corpus[i] for i in rng.choice(len(corpus), size=min(max_texts, len(corpus)), replace=False)]
    teacher = Encoder(teacher_b_cfg(preset, tb.get_vocab_size()))
    t0 = time.perf_counter()
    _, pre_losses = pretrain_teacher_b(teacher, tb, corpus, steps=preset.teacher_b_steps,
                                       batch_size=preset.teacher_b_batch, seed=seed, device=device, progress=progress)
    t1 = time.perf_counter()
    dual = DualMLM(teacher, st.get_vocab_size(), preset.student_hidden)
    sst = list(load_sst2("train").texts)
    texts = [sst[i] for i in rng.choice(len(sst), size=min(max_texts or 20000, len(sst)), replace=False)]
    _, dual_losses, frac = dual_train(dual, MixedVocab(tb, st), texts, steps=preset.dual_steps,
                                      p_max=preset.p_max, batch_size=preset.teacher_b_batch, seed=seed, device=device,
                                      progress=progress)
    t2 = time.perf_counter()
    stats = {"pretrain_loss_first_last": decreased(pre_losses), "dual_loss_first_last": decreased(dual_losses),
             "dual_student_fraction": frac, "pretrain_seconds": t1 - t0, "dual_seconds": t2 - t1,
             "teacher_b_params": sum(p.numel() for p in teacher.parameters()), "threads": torch.get_num_threads(),
             "pretrain_losses": [float(v) for v in np.asarray(pre_losses).ravel()],
             "dual_losses": [float(v) for v in np.asarray(dual_losses).ravel()]}
    if save:
        save_torch(DATA_DIR / DUAL_FILE, {"student_emb": dual.student_emb.weight.detach().half().cpu(),
                                          "stats": {k: v for k, v in stats.items() if not k.endswith("losses")}})
        write_json(DATA_DIR / "teacher_b.json", {**stats, "command": "python -m course_lib.lm_compression."
                                                 "experiments teacher-b"})
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        save_torch(BUILD_DIR / TEACHER_B_FILE, {"state": teacher.state_dict(),
                                                "config": teacher.cfg.__dict__})
    return {"teacher": teacher, "dual": dual, "stats": stats}


def load_teacher_b(directory: Path | None = None) -> Encoder:
    """Teacher B after dual training (from ``build/lm_compression/teacher_b.pt``; regenerate with
    ``python -m course_lib.lm_compression.experiments teacher-b``)."""
    path = (directory or BUILD_DIR) / TEACHER_B_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `python -m course_lib.lm_compression.experiments "
                                "teacher-b`")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    enc = Encoder(EncoderConfig(**blob["config"]))
    enc.load_state_dict(blob["state"])
    return enc


def dual_init(directory: Path | None = None, std: float = 0.05) -> torch.Tensor:
    """The student-vocabulary embeddings learned by teacher B's dual training, rescaled (common scale, ours)."""
    path = (directory or DATA_DIR) / DUAL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `python -m course_lib.lm_compression.experiments "
                                "teacher-b`")
    return rescale(torch.load(path, map_location="cpu", weights_only=True)["student_emb"].float(), std)


def fvt_init(dim: int, std: float = 0.05) -> torch.Tensor:
    """FVT embeddings of the student vocabulary from MiniLM's word-embedding table (Gee et al. 2022)."""
    from course_lib.lm_compression.teachers import load_minilm
    from course_lib.lm_compression.vocab import student_tokenizer, teacher_tokenizer

    _, minilm = load_minilm("cpu")
    return fvt_embeddings(student_tokenizer(), teacher_tokenizer(), minilm.get_input_embeddings().weight, dim, std)


def _student_vocab_size() -> int:
    from course_lib.lm_compression.vocab import student_tokenizer

    return student_tokenizer().get_vocab_size()


def make_student(preset: LMPreset, arm: str, seed: int, vocab_size: int, init: dict[str, torch.Tensor]):
    """A seeded student; ``kd+fvt`` starts from FVT embeddings, ``kd+dual*`` from the dual-trained ones."""
    torch.manual_seed(seed)
    student = Encoder(student_cfg(preset, vocab_size))
    key = "fvt" if arm == "kd+fvt" else "dual" if arm.startswith("kd+dual") and arm != "kd+dualA" else \
        "dualA" if arm == "kd+dualA" else None
    if key is not None:
        with torch.no_grad():
            student.tok.weight.copy_(init[key])
    return student


def run_arm(preset: LMPreset, data, arm: str, seed: int, init: dict, teacher_layers=None, device=None,
            save: Path | None = None) -> dict:
    """Train one arm for one seed; returns its row (dev accuracy, first/last loss, seconds). ``save``: write the
    trained student there (fp16 weights + config)."""
    from course_lib.lm_compression.training import decreased, train_student

    student = make_student(preset, arm, seed, _student_vocab_size(), init)
    t0 = time.perf_counter()
    _, acc, losses = train_student(student, data, arm, steps=preset.steps, batch_size=preset.batch_size,
                                   lr=preset.lr, seed=seed, teacher_layers=teacher_layers,
                                   lam=preset.proj_lambda, device=device)
    first, last = decreased(losses)
    if save is not None:
        save_torch(save, {"state": {k: v.half() if v.is_floating_point() else v
                                    for k, v in student.state_dict().items()},
                          "config": dataclasses.asdict(student.cfg), "arm": arm, "seed": seed, "dev_acc": acc})
    return {"arm": arm, "seed": seed, "dev_acc": acc, "loss_first": first, "loss_last": last,
            "seconds": time.perf_counter() - t0, "steps": preset.steps}


def run_seed(preset: LMPreset, seed: int, device=None, out: Path | None = None, wait_teacher_b: float = 0) -> list:
    """Every arm of ``preset`` for one seed, written to ``course_seed<seed>.json`` after each arm."""
    data, meta = course_task_data(preset)
    init = {"fvt": fvt_init(preset.student_hidden)}
    rows: list[dict] = []
    out = out or DATA_DIR / f"course_seed{seed}.json"
    command = f"python -m course_lib.lm_compression.experiments seed {seed}"
    if out.name != f"course_seed{seed}.json":
        command += " --arms " + " ".join(preset.arms)
    for arm in preset.arms:
        teacher_layers = None
        if arm.startswith("kd+dual"):
            deadline = time.time() + wait_teacher_b
            while not (DATA_DIR / DUAL_FILE).is_file() and time.time() < deadline:
                time.sleep(30)
            init["dual"] = dual_init()
            if arm == "kd+dual+proj":
                teacher_layers = load_teacher_b().layers
        rows.append(run_arm(preset, data, arm, seed, init, teacher_layers, device))
        write_json(out, {"preset": preset.__dict__ | {"seeds": list(preset.seeds), "arms": list(preset.arms)},
                         "teacher_probe_dev_acc": meta["probe_dev_acc"], "rows": rows,
                         "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                         "command": command})
        print(rows[-1], flush=True)
    return rows


RESULTS_FILE = "course_results.json"
STUDENT_FILE = "student_kd_fvt_seed0.pt"


def save_demo_student(preset: LMPreset | None = None, arm: str = "kd+fvt", seed: int = 0, device=None) -> dict:
    """Train the course ``arm`` for ``seed`` again and save it (fp16 weights + config) as the notebooks' demo
    student (``student_kd_fvt_seed0.pt``)."""
    preset = preset or PRESETS["course"]
    data, _ = course_task_data(preset)
    init = {"fvt": fvt_init(preset.student_hidden)} if arm == "kd+fvt" else {"dual": dual_init()}
    return run_arm(preset, data, arm, seed, init, None, device, save=DATA_DIR / STUDENT_FILE)


def load_demo_student(directory: Path | None = None) -> Encoder:
    """The committed demo student (eval mode, float32); regenerate with ``python -m
    course_lib.lm_compression.experiments student``."""
    path = (directory or DATA_DIR) / STUDENT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `python -m course_lib.lm_compression.experiments student`")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = Encoder(EncoderConfig(**blob["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state"].items()})
    return model.eval()




def merge_seed_results(directory: Path | None = None) -> Path:
    """Merge every ``course_seed*.json`` into ``course_results.json`` (the one file the claims and notebooks
    read, so its sha256 covers every seed)."""
    directory = directory or DATA_DIR
    files = sorted(directory.glob("course_seed*.json"))
    if not files:
        raise FileNotFoundError(f"no course_seed*.json in {directory}")
    blobs = [read_json(f) for f in files]
    rows, seen = [], set()
    for r in (r for b in blobs for r in b["rows"]):  # one row per (arm, seed): the first file wins
        if (r["arm"], r["seed"]) not in seen:
            seen.add((r["arm"], r["seed"]))
            rows.append(r)
    meta = {k: v for k, v in blobs[0].items() if k not in ("rows", "command")}
    meta["commands"] = [b["command"] for b in blobs] + ["python -m course_lib.lm_compression.experiments merge"]
    write_json(directory / RESULTS_FILE, {**meta, "rows": rows})
    return directory / RESULTS_FILE


def load_course_results(directory: Path | None = None) -> tuple[pd.DataFrame, dict]:
    """(table of rows arm × seed, metadata) from ``course_results.json``."""
    path = (directory or DATA_DIR) / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `python -m course_lib.lm_compression.experiments seed k` "
                                "for k = 0, 1, 2, then `... experiments merge`")
    blob = read_json(path)
    return pd.DataFrame(blob["rows"]), {k: v for k, v in blob.items() if k != "rows"}


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (ddof=1), min and max dev accuracy per arm, and the number of seeds."""
    g = table.groupby("arm", sort=False)["dev_acc"]
    return pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "min": g.min(), "max": g.max(),
                         "seeds": g.count()})


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="LM-compression course runs")
    ap.add_argument("what", choices=["teacher-b", "seed", "merge", "student"])
    ap.add_argument("seed", nargs="?", type=int, default=0)
    ap.add_argument("--scale", default="course")
    ap.add_argument("--device", default=None)
    ap.add_argument("--wait", type=float, default=3600.0, help="seconds to wait for teacher B's embeddings")
    ap.add_argument("--arms", nargs="+", default=None, help="only these arms (written to course_seed<k>_<arm>.json)")
    args = ap.parse_args(argv)
    preset = PRESETS[args.scale]
    if args.what == "merge":
        print(merge_seed_results())
    elif args.what == "student":
        print(save_demo_student(device=args.device))
    elif args.what == "teacher-b":
        print(build_teacher_b(preset, device=args.device)["stats"] | {"pretrain_losses": "...", "dual_losses": "..."})
    else:
        if args.arms:
            preset = dataclasses.replace(preset, arms=tuple(args.arms))
            out = DATA_DIR / f"course_seed{args.seed}_{'_'.join(a.replace('+', '-') for a in args.arms)}.json"
        else:
            out = None
        run_seed(preset, args.seed, device=args.device, out=out, wait_teacher_b=args.wait)


if __name__ == "__main__":
    main()
