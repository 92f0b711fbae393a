"""Text data of the LM-compression series, read through the sha256-checked registry (``course_lib.data``).

- SST-2 (Socher et al. 2013; GLUE, Wang et al. 2018): ``train.tsv`` phrases for training, ``test.tsv`` (872
  whole sentences, = the GLUE dev split) for evaluation — every accuracy here is a **dev** number.
- MRPC (Dolan & Brockett 2005) and CoLA (Warstadt et al. 2019): secondary tasks (MRPC test file; CoLA
  out-of-domain dev).
- tinyshakespeare (Karpathy's char-rnn) and the stdlib ``pydoc_data.topics`` help texts: extra pre-training text
  for the from-scratch MLM teacher (B).

The course regime (the low-label regime of Sec. 6 of this course) is :func:`low_label_split`: a seeded 20,000
phrase subset of SST-2 train, of which 2,000 keep their labels and 18,000 are unlabelled transfer phrases that
only the teacher scores.
"""
from __future__ import annotations

import csv
import dataclasses
from functools import cache

import numpy as np

from course_lib.data import fetch


@dataclasses.dataclass(frozen=True)
class TextTask:
    """Sentences (or sentence pairs) with integer labels. ``pairs`` is ``None`` for single-sentence tasks."""

    name: str
    texts: tuple[str, ...]
    labels: np.ndarray
    pairs: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index) -> TextTask:
        index = np.asarray(index, dtype=np.int64)
        pairs = None if self.pairs is None else tuple(self.pairs[i] for i in index)
        return TextTask(self.name, tuple(self.texts[i] for i in index), self.labels[index], pairs)


@cache
def _read_tsv(path: str, header: bool) -> tuple[list[str], np.ndarray]:
    """(texts, labels) of a text<TAB>label file, cached by path: the loaders ask the registry for the file on every
    call, so a data set that went missing is seen even after an earlier load in the same process."""
    texts, labels = [], []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        if header:
            next(rows)
        for row in rows:
            if len(row) < 2:
                continue
            texts.append(row[0].strip())
            labels.append(int(row[1]))
    return texts, np.asarray(labels, dtype=np.int64)


def load_sst2(split: str) -> TextTask:
    """SST-2 ``split`` in {"train", "dev", "test"} as files of the registry entry ``sst2``; ``test`` is GLUE dev."""
    if split not in ("train", "dev", "test"):
        raise ValueError(f"split must be 'train', 'dev' or 'test' (test = GLUE dev), got {split!r}")
    texts, labels = _read_tsv(str(fetch("sst2") / f"{split}.tsv"), header=True)
    return TextTask(f"sst2/{split}", tuple(texts), labels)


def load_cola(split: str) -> TextTask:
    """CoLA ``split`` in {"train", "dev"} (dev = the 516 out-of-domain sentences); metric: MCC."""
    if split not in ("train", "dev"):
        raise ValueError(f"split must be 'train' or 'dev', got {split!r}")
    texts, labels = _read_tsv(str(fetch("cola") / f"{split}.tsv"), header=False)
    return TextTask(f"cola/{split}", tuple(texts), labels)


def load_mrpc(split: str) -> TextTask:
    """MRPC ``split`` in {"train", "test"}: sentence pairs (``texts`` = #1, ``pairs`` = #2), label 1 = paraphrase."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return _read_mrpc(str(fetch("mrpc") / f"msr_paraphrase_{split}.txt"), split)


@cache
def _read_mrpc(path: str, split: str) -> TextTask:
    first, second, labels = [], [], []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(rows)
        for row in rows:
            if len(row) == 5:
                labels.append(int(row[0]))
                first.append(row[3].strip().lower())
                second.append(row[4].strip().lower())
    return TextTask(f"mrpc/{split}", tuple(first), np.asarray(labels, dtype=np.int64), tuple(second))


@dataclasses.dataclass(frozen=True)
class LowLabelSplit:
    """The course regime: ``labelled`` phrases with labels, ``transfer`` phrases scored only by the teacher.
    ``transfer.labels`` are kept for diagnostics (teacher agreement) and never used in training."""

    labelled: TextTask
    transfer: TextTask
    dev: TextTask
    index: np.ndarray  # rows of sst2/train.tsv: labelled first, then transfer


def low_label_split(n_labelled: int = 2000, n_transfer: int = 18000, seed: int = 0) -> LowLabelSplit:
    """Seeded subset of SST-2 train: the first ``n_labelled`` of a permutation keep labels, the next
    ``n_transfer`` are transfer phrases; dev = ``sst2/test.tsv`` (GLUE dev, 872 sentences)."""
    if n_labelled < 1 or n_transfer < 0:
        raise ValueError(f"need n_labelled >= 1 and n_transfer >= 0, got {n_labelled}, {n_transfer}")
    train = load_sst2("train")
    if n_labelled + n_transfer > len(train):
        raise ValueError(f"n_labelled + n_transfer = {n_labelled + n_transfer} exceeds the {len(train)} phrases")
    index = np.random.default_rng(seed).permutation(len(train))[: n_labelled + n_transfer]
    return LowLabelSplit(train.subset(index[:n_labelled]), train.subset(index[n_labelled:]), load_sst2("test"),
                         index)


def shakespeare_lines(max_lines: int | None = None) -> list[str]:
    """Non-empty lower-cased lines of tinyshakespeare (registry entry ``tinyshakespeare``)."""
    text = (fetch("tinyshakespeare") / "input.txt").read_text(encoding="utf-8")
    lines = [line.strip().lower() for line in text.splitlines() if line.strip() and not line.strip().endswith(":")]
    return lines[:max_lines] if max_lines else lines


def pydoc_lines(max_lines: int | None = None) -> list[str]:
    """Non-empty lower-cased lines of the stdlib ``pydoc_data.topics`` help texts (ships with Python)."""
    from pydoc_data.topics import topics

    lines = [line.strip().lower() for key in sorted(topics) for line in topics[key].splitlines()
             if len(line.split()) >= 3]
    return lines[:max_lines] if max_lines else lines


def pretraining_corpus(max_sst2: int | None = None, max_other: int | None = None) -> list[str]:
    """Teacher-B pre-training text: SST-2 train phrases + tinyshakespeare lines + pydoc topics lines."""
    sst = list(load_sst2("train").texts)
    return sst[:max_sst2] + shakespeare_lines(max_other) + pydoc_lines(max_other) if max_sst2 else \
        sst + shakespeare_lines(max_other) + pydoc_lines(max_other)
