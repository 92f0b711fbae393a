"""Small cached models for the interactive notebook (``data/counting/*.json``, a few kB, human-readable).

:func:`load_pretrained` reads the cached counter + classifier for a task; when the file is missing (e.g. an
installed package without the repository's ``data/`` folder) it trains the same model on the spot (seconds on
one core) and says so. :func:`export_pretrained` regenerates the files.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from course_lib.artifacts import artifact_dir, write_json
from course_lib.counting.models import CountingModel, NMSCounter
from course_lib.counting.training import run_coins, run_toy

DATA_DIR = artifact_dir("counting")
#: The training budget of each cached model (the course budget).
TASKS = {
    "toy": {"l": 0.5, "q": 0.0, "iterations": 400, "batch_size": 128, "seed": 0},
    "coins": {"iterations": 600, "batch_size": 128, "seed": 0},
}


def _path(task: str) -> Path:
    if task not in TASKS:
        raise ValueError(f"task must be one of {tuple(TASKS)}, got {task!r}")
    return DATA_DIR / f"{task}_counter.json"


def train_pretrained(task: str) -> tuple[CountingModel, NMSCounter, dict]:
    """Train the counter (and fit the NMS thresholds) for ``task`` with the budget in ``TASKS``."""
    cfg = dict(TASKS[task])
    if task == "toy":
        l, q = cfg.pop("l"), cfg.pop("q")
        run = run_toy(l, q, models=("counter", "nms"), progress=False, **cfg)
    else:
        run = run_coins(models=("counter", "nms"), progress=False, **cfg)
    metrics = run.metrics.set_index("model")["accuracy"].to_dict()
    return run.models["counter"].eval(), run.models["nms"], metrics


def export_pretrained(task: str) -> Path:
    """Train and write ``data/counting/<task>_counter.json`` (weights as lists, budget and test accuracy)."""
    model, nms, metrics = train_pretrained(task)
    payload = {
        "task": task,
        "budget": TASKS[task],
        "test_accuracy": metrics,
        "nms": {"iou_threshold": nms.iou_threshold, "score_threshold": nms.score_threshold},
        "state": {k: v.tolist() for k, v in model.state_dict().items()},
    }
    return write_json(_path(task), payload)


def load_pretrained(task: str = "toy") -> tuple[CountingModel, NMSCounter]:
    """The cached trained counter model and fitted NMS baseline for ``task`` ("toy" or "coins")."""
    path = _path(task)
    if not path.exists():
        print(f"[counting] {path} not found: training the {task} counter now (a few seconds).")
        model, nms, _ = train_pretrained(task)
        return model, nms
    payload = json.loads(path.read_text())
    model = CountingModel(10)
    model.load_state_dict({k: torch.tensor(v) for k, v in payload["state"].items()})
    return model.eval(), NMSCounter(10, **payload["nms"])
