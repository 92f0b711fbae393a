"""Training and evaluation on counting tasks, and sweeps over the box side l and the noise q.

The toy task is step-based (a fresh batch per iteration, no epochs) and all models are trained on the SAME
batches, as in the official ``toy/train.py``. Training goes through the shared loop (:class:`course_lib.train.Loop`,
steps mode): the models sit side by side in one module whose step loss is the sum of their losses, with one Adam
holding a parameter group per model — Adam is per-parameter, so this is exactly one Adam per model.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from course_lib.counting.models import MODEL_NAMES, CountingModel, NMSCounter, make_model
from course_lib.counting.toy import CountingBatch, ToyCountingDataset
from course_lib.train import Callback, Loop

#: Models compared in the toy sweeps by default (all of them).
DEFAULT_MODELS = MODEL_NAMES


def _trainable(model: nn.Module) -> bool:
    return any(p.requires_grad for p in model.parameters())


class _SideBySide(nn.Module):
    """Several counting models trained on the same batch: forward returns each model's cross-entropy."""

    def __init__(self, models: Mapping[str, nn.Module]):
        super().__init__()
        self.models = nn.ModuleDict(models)

    def forward(self, batch: CountingBatch) -> dict[str, torch.Tensor]:
        return {name: F.cross_entropy(m(batch.boxes, batch.attention), batch.count) for name, m in self.models.items()}


class _LossLog(Callback):
    """Each model's loss at every ``every``-th step and the last (kept on the device until :meth:`frame`)."""

    def __init__(self, names: Sequence[str], every: int):
        self.names, self.every, self.rows = list(names), every, []

    def on_step_end(self, loop: Loop, step: int, metrics: dict[str, torch.Tensor]) -> None:
        if step % self.every == 0 or step == loop.total_steps - 1:
            self.rows.append((step, torch.stack([metrics[n] for n in self.names])))

    def frame(self) -> pd.DataFrame:
        values = torch.stack([v for _, v in self.rows]).cpu().tolist() if self.rows else []
        return pd.DataFrame([{"iteration": it, "model": name, "loss": loss}
                             for (it, _), row in zip(self.rows, values) for name, loss in zip(self.names, row)],
                            columns=["iteration", "model", "loss"])


def train_models(
    models: Mapping[str, nn.Module],
    dataset,
    *,
    iterations: int,
    batch_size: int,
    lr: float = 0.01,
    device: torch.device | str = "cpu",
    nms_fit_batches: int = 4,
    log_every: int = 10,
    progress: bool = True,
    desc: str = "train",
) -> pd.DataFrame:
    """Train every model with its own Adam on the same stream of batches (cross-entropy over 0…n).

    The learning rate is ``lr`` (the paper's 0.01) unless a model declares ``preferred_lr`` (the neural
    baselines, see ``models.BASELINE_LR``).

    ``dataset`` has ``batch(batch_size) -> CountingBatch`` (toy or coins). Parameter-free NMS models get their
    thresholds fitted on the first ``nms_fit_batches`` training batches. Returns the loss history (long
    format: iteration, model, loss), logged every ``log_every`` iterations.
    """
    if iterations < 1 or batch_size < 1:
        raise ValueError(f"iterations and batch_size must be positive, got {iterations}, {batch_size}")
    device = torch.device(device)
    trainable = {k: m for k, m in models.items() if _trainable(m)}
    nms_buffer: list[CountingBatch] = []

    def sample(step: int) -> CountingBatch:
        batch = dataset.batch(batch_size).to(device)
        if len(nms_buffer) < nms_fit_batches:
            nms_buffer.append(batch)
        return batch

    def step_loss(net: nn.Module, batch: CountingBatch) -> dict[str, torch.Tensor]:
        losses = net(batch)
        return {"loss": sum(losses.values()), **losses}

    log = _LossLog(list(trainable), log_every)
    if trainable:
        together = _SideBySide(trainable)
        optimiser = torch.optim.Adam([{"params": m.parameters(), "lr": getattr(m, "preferred_lr", None) or lr}
                                      for m in trainable.values()], lr=lr)
        Loop(together, optimiser, step_loss, device=device, callbacks=[log]).run(
            sample, steps=iterations, progress=progress, desc=desc)
    else:  # only parameter-free models: draw the batches their thresholds are fitted on
        for step in range(min(iterations, nms_fit_batches)):
            sample(step)
    for model in models.values():
        if isinstance(model, NMSCounter) and nms_buffer:
            model.fit_thresholds(
                torch.cat([b.boxes for b in nms_buffer]),
                torch.cat([b.attention for b in nms_buffer]),
                torch.cat([b.count for b in nms_buffer]),
            )
    return log.frame()


def count_metrics(pred: torch.Tensor, true: torch.Tensor) -> dict[str, float]:
    """accuracy P(ĉ = c), off-by-one rate P(|ĉ − c| = 1), MAE and RMSE of the predicted integer count."""
    err = (pred.long() - true.long()).abs().float()
    return {
        "accuracy": (err == 0).float().mean().item(),
        "off_by_one": (err == 1).float().mean().item(),
        "mae": err.mean().item(),
        "rmse": err.pow(2).mean().sqrt().item(),
    }


@torch.no_grad()
def evaluate_models(
    models: Mapping[str, nn.Module], batches: Iterable[CountingBatch], device: torch.device | str = "cpu"
) -> pd.DataFrame:
    """Metrics of every model on the same evaluation batches (argmax of the logits = predicted count).

    Returns one row per model: accuracy, off_by_one, mae, rmse and sec_per_batch (forward time).
    """
    device = torch.device(device)
    batches = [b.to(device) for b in batches]
    true = torch.cat([b.count for b in batches])
    rows = []
    for name, model in models.items():
        model.to(device).eval()
        t0 = time.perf_counter()
        pred = torch.cat([model(b.boxes, b.attention).argmax(dim=1) for b in batches])
        seconds = (time.perf_counter() - t0) / max(1, len(batches))
        rows.append({"model": name, **count_metrics(pred, true), "sec_per_batch": seconds})
    return pd.DataFrame(rows)


@dataclasses.dataclass
class ToyRun:
    """Result of :func:`run_toy`: trained models, loss history and evaluation metrics."""

    models: dict[str, nn.Module]
    history: pd.DataFrame
    metrics: pd.DataFrame
    seconds: float

    def accuracy(self, name: str) -> float:
        """Evaluation accuracy of model ``name``."""
        return float(self.metrics.set_index("model").loc[name, "accuracy"])


def run_toy(
    l: float,
    q: float,
    *,
    models: Sequence[str] = ("counter", "attention_sum"),
    iterations: int = 400,
    batch_size: int = 128,
    lr: float = 0.01,
    eval_batches: int = 40,
    eval_batch_size: int = 128,
    n: int = 10,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> ToyRun:
    """Train the named models on the toy task (l, q) on shared batches and evaluate them.

    Training stream: seed ``seed``; evaluation stream: seed ``seed + 1_000_003`` (disjoint draws).
    """
    t0 = time.perf_counter()
    built = {name: make_model(name, n, seed) for name in models}
    train = ToyCountingDataset(l, q, n=n, seed=seed)
    history = train_models(
        built,
        train,
        iterations=iterations,
        batch_size=batch_size,
        lr=lr,
        device=device,
        progress=progress,
        desc=f"toy l={l:.2f} q={q:.2f}",
    )
    test = ToyCountingDataset(l, q, n=n, seed=seed + 1_000_003)
    metrics = evaluate_models(built, test.batches(eval_batches, eval_batch_size), device=device)
    return ToyRun(built, history, metrics, time.perf_counter() - t0)


def counter_f_weights(model: nn.Module) -> torch.Tensor:
    """The 8 × d weights of the counter inside ``model`` (a CountingModel or a Counter)."""
    counter = model.counter if isinstance(model, CountingModel) else model
    return torch.stack([f.weight.detach().cpu().clone() for f in counter.f])


@dataclasses.dataclass
class SweepResult:
    """Result of :func:`sweep`: one metrics row per (value, model) and the learned f weights per value."""

    param: str
    metrics: pd.DataFrame
    f_weights: dict[float, torch.Tensor]


def sweep(
    param: str,
    values: Sequence[float],
    *,
    fixed: float,
    models: Sequence[str] = DEFAULT_MODELS,
    progress: bool = True,
    **run_kwargs,
) -> SweepResult:
    """Accuracy vs the box side (``param="l"``, q = ``fixed``) or the noise (``param="q"``, l = ``fixed``).

    Every grid point trains all ``models`` from scratch with :func:`run_toy` (``run_kwargs``: iterations,
    batch_size, eval_batches, ...). The paper's figure uses 101 points, 1 000 iterations × batch 1 024.
    """
    if param not in ("l", "q"):
        raise ValueError(f"param must be 'l' (box side) or 'q' (noise), got {param!r}")
    frames, f_weights = [], {}
    for value in tqdm(list(values), desc=f"sweep {param}", disable=not progress):
        l, q = (value, fixed) if param == "l" else (fixed, value)
        run = run_toy(l, q, models=models, progress=False, **run_kwargs)
        frames.append(run.metrics.assign(**{param: float(value)}))
        if "counter" in run.models:
            f_weights[float(value)] = counter_f_weights(run.models["counter"])
    metrics = pd.concat(frames, ignore_index=True)
    return SweepResult(param, metrics[[param] + [c for c in metrics.columns if c != param]], f_weights)


def run_coins(
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    iterations: int = 600,
    batch_size: int = 128,
    lr: float = 0.01,
    eval_batches: int = 40,
    eval_batch_size: int = 128,
    n: int = 10,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
    **dataset_kwargs,
) -> ToyRun:
    """Train on crops of the left half of ``coins`` and evaluate on the right half (disjoint coins).

    ``dataset_kwargs`` go to :class:`~course_lib.counting.coins.CoinsCountingDataset` (detector simulation).
    """
    from course_lib.counting.coins import CoinsCountingDataset

    t0 = time.perf_counter()
    built = {name: make_model(name, n, seed) for name in models}
    train = CoinsCountingDataset(n=n, region="left", seed=seed, **dataset_kwargs)
    history = train_models(
        built,
        train,
        iterations=iterations,
        batch_size=batch_size,
        lr=lr,
        device=device,
        progress=progress,
        desc="coins",
    )
    test = CoinsCountingDataset(n=n, region="right", seed=seed + 1_000_003, **dataset_kwargs)
    metrics = evaluate_models(
        built, [test.batch(eval_batch_size) for _ in range(eval_batches)], device=device
    )
    return ToyRun(built, history, metrics, time.perf_counter() - t0)
