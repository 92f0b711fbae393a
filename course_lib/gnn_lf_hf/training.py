"""Training with the paper's settings (§2.7) and two light-weight evaluation protocols.

* :func:`train_node_classifier` — full-batch Adam (lr 0.01), loss NLL + λ/2‖W₁‖² (λ = 5e-3, first layer only),
  early stopping with patience 100 on validation accuracy *and* loss (reset when either improves; the best
  state is remembered by accuracy, then loss), as the official ``training.py`` / ``earlystopping.py``.
  Runs on the shared loop (:class:`course_lib.train.Loop`, steps mode): one step = one full-batch epoch (the graph
  is captured by the step function), an evaluation round after every step, and the two-criterion rule as a
  callback (:class:`RankedEarlyStopping`).
* :func:`run_seeds` — several seeds of several models, one row per run; :func:`summarize` — mean ± bootstrap CI.
* :func:`linear_probe` — softmax regression on fixed (propagated) features, best validation epoch,
  on the same loop with :class:`course_lib.train.EarlyStopping` (no patience, best weights restored).
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.gnn_lf_hf.graph import CSRPair
from course_lib.gnn_lf_hf.models import build_model
from course_lib.train import Callback, EarlyStopping, Loop


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of §2.7 (official defaults for Cora/CiteSeer); ``max_epochs`` is cut at reduced scales."""

    hidden: int = 64
    dropout: float = 0.5
    lr: float = 0.01
    reg_lambda: float = 5e-3
    max_epochs: int = 10_000
    patience: int = 100


class RankedEarlyStopping(Callback):
    """The official ``earlystopping.py`` rule: patience is reset when validation accuracy *or* loss improves
    (ties count); the remembered state is the best by accuracy, then loss. Needs ``val_acc`` and ``val_loss`` in
    the history row; restores the remembered parameters at the end (the graph buffers never change)."""

    def __init__(self, patience: int):
        self.patience, self.left = patience, patience
        self.best_acc, self.best_loss = -1.0, float("inf")  # early-stopping references
        self.rem_acc, self.rem_loss, self.rem_state, self.rem_epoch = -1.0, float("inf"), None, 0

    def on_round_end(self, loop: Loop, row: dict) -> None:
        vacc, vloss = row["val_acc"], row["val_loss"]
        if vacc >= self.best_acc or vloss <= self.best_loss:
            self.best_acc, self.best_loss = max(self.best_acc, vacc), min(self.best_loss, vloss)
            self.left = self.patience
            if vacc > self.rem_acc or (vacc == self.rem_acc and vloss < self.rem_loss):  # ranked: acc, then loss
                self.rem_acc, self.rem_loss, self.rem_epoch = vacc, vloss, row["step"] - 1
                self.rem_state = {name: p.detach().clone() for name, p in loop.model.named_parameters()}
        else:
            self.left -= 1
            if self.left == 0:
                loop.stop = True

    def on_fit_end(self, loop: Loop) -> None:
        if self.rem_state is not None:
            with torch.no_grad():
                for name, p in loop.model.named_parameters():
                    p.copy_(self.rem_state[name])


def train_node_classifier(model, data, *, config: TrainConfig | None = None, seed: int = 0,
                          device=None) -> dict:
    """Train ``model`` (a :class:`~course_lib.gnn_lf_hf.models.DecoupledGNN`) on ``data``; return a dict with
    test/val/train accuracy (%) of the remembered best state, best epoch, epochs run and seconds per epoch."""
    config = config or TrainConfig()
    device = torch.device(device) if device is not None else next(model.parameters()).device
    torch.manual_seed(seed)
    model.to(device)
    x = CSRPair(data.x).to(device) if data.x.is_sparse else data.x.to(device)
    y = data.y.to(device)
    tr, va, te = (m.to(device) for m in (data.train_mask, data.val_mask, data.test_mask))

    def penalty(m):
        return config.reg_lambda / 2 * (m.regularized_weight ** 2).sum()

    def step_loss(m, _batch):  # full batch: the whole graph is captured here, the "batch" is None
        return F.nll_loss(m(x)[tr], y[tr]) + penalty(m)

    def evaluate(m):
        out = m(x)
        return {"val_loss": float(F.nll_loss(out[va], y[va]) + penalty(m)),
                "val_acc": float((out[va].argmax(1) == y[va]).float().mean())}

    stopper = RankedEarlyStopping(config.patience)
    loop = Loop(model, torch.optim.Adam(model.parameters(), lr=config.lr), step_loss, device=device,
                callbacks=[stopper])
    t0 = time.perf_counter()
    loop.run(lambda step: None, steps=config.max_epochs, eval_every=1, evaluate=evaluate, progress=False)
    seconds = time.perf_counter() - t0
    epochs = loop.global_step
    model.eval()
    with torch.no_grad():
        pred = model(x).argmax(1)
    acc = {name: 100.0 * float((pred[m] == y[m]).float().mean()) for name, m in (("train", tr), ("val", va),
                                                                                   ("test", te))}
    return {"test_acc": acc["test"], "val_acc": acc["val"], "train_acc": acc["train"],
            "best_epoch": stopper.rem_epoch, "epochs": epochs, "sec_per_epoch": seconds / max(epochs, 1),
            "seconds": seconds}


#: The models of the paper's Table 3 that we train: name -> (kind, form) of the propagation (None: MLP).
MODEL_ZOO = {
    "MLP": (None, "iterative"),
    "SGC-prop": ("sgc", "iterative"),
    "APPNP": ("appnp", "iterative"),
    "PPNP": ("appnp", "closed"),
    "GNN-LF-iter": ("lf", "iterative"),
    "GNN-LF-closed": ("lf", "closed"),
    "GNN-HF-iter": ("hf", "iterative"),
    "GNN-HF-closed": ("hf", "closed"),
}


def run_seeds(data, models: Sequence[str], seeds: Sequence[int], *, config: TrainConfig | None = None,
              K: int = 10, alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9, device=None,
              progress: bool = False) -> pd.DataFrame:
    """Train every model of ``models`` (keys of :data:`MODEL_ZOO`) once per seed; one row per run."""
    config = config or TrainConfig()
    unknown = [m for m in models if m not in MODEL_ZOO]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; expected keys of MODEL_ZOO: {list(MODEL_ZOO)}")
    A_hat, _ = data.operators(device=device)
    rows = []
    jobs = [(m, s) for m in models for s in seeds]
    if progress:
        from tqdm.auto import tqdm

        jobs = tqdm(jobs, desc=f"train {data.name}")
    for name, seed in jobs:
        kind, form = MODEL_ZOO[name]
        torch.manual_seed(seed)
        model = build_model(data, kind, form=form, K=K, alpha=alpha, mu=mu, beta=beta, hidden=config.hidden,
                            dropout=config.dropout, A_hat=A_hat, device=device)
        res = train_node_classifier(model, data, config=config, seed=seed, device=device)
        rows.append({"dataset": data.name, "model": name, "seed": seed, **res})
    return pd.DataFrame(rows)


def bootstrap_ci(values, *, ci: float = 0.95, n_boot: int = 1000, seed: int = 0) -> dict:
    """Mean and percentile-bootstrap CI of the mean (seeded). ``half_width`` = max distance of a CI end from the
    mean, the "±" of the paper's Table 3 (its ``calc_uncertainty``)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"bootstrap_ci: need a non-empty 1-D sequence, got shape {v.shape}")
    if not 0 < ci < 1:
        raise ValueError(f"bootstrap_ci: ci must be in (0, 1), got {ci}")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(1)
    lo, hi = np.quantile(means, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    m = float(v.mean())
    return {"mean": m, "low": float(lo), "high": float(hi), "half_width": float(max(m - lo, hi - m)),
            "n": int(v.size)}


def summarize(runs: pd.DataFrame, value: str = "test_acc") -> pd.DataFrame:
    """Per (dataset, model): mean, bootstrap 95 % CI half-width, number of seeds, mean epochs, s/epoch."""
    rows = []
    for (ds, model), g in runs.groupby(["dataset", "model"], sort=False):
        ci = bootstrap_ci(g[value].to_numpy())
        rows.append({"dataset": ds, "model": model, "mean": ci["mean"], "ci95": ci["half_width"], "n": ci["n"],
                     "epochs": float(g["epochs"].mean()), "ms_per_epoch": 1e3 * float(g["sec_per_epoch"].mean())})
    return pd.DataFrame(rows)


class _Affine(nn.Module):
    """x @ W + b with the probe's seeded initialisation (W ~ 0.01·N(0, 1), b = 0)."""

    def __init__(self, d: int, k: int, generator: torch.Generator, device):
        super().__init__()
        self.W = nn.Parameter((torch.randn(d, k, generator=generator) * 0.01).to(device))
        self.b = nn.Parameter(torch.zeros(k, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W + self.b


def linear_probe(features: torch.Tensor, data, *, lr: float = 0.2, weight_decay: float = 5e-5,
                 epochs: int = 150, seed: int = 0) -> dict:
    """Softmax regression on fixed node features: Adam, ``epochs`` full-batch steps on the training
    nodes, report test accuracy (%) at the best validation epoch. With propagated features Π·X this is the
    decoupled model with a linear f_θ (propagation and a linear map commute: (ΠX)W = Π(XW))."""
    if features.dim() != 2 or features.size(0) != data.num_nodes:
        raise ValueError(f"linear_probe: features must be (num_nodes={data.num_nodes}, d), got "
                         f"{tuple(features.shape)}")
    X = features.float()
    y = data.y.to(X.device)
    tr, va, te = (m.to(X.device) for m in (data.train_mask, data.val_mask, data.test_mask))
    probe = _Affine(X.size(1), data.num_classes, torch.Generator().manual_seed(seed), X.device)
    Xtr, ytr, Xva, yva = X[tr], y[tr], X[va], y[va]
    best = EarlyStopping("val_acc", mode="max")  # strict improvement: the first best epoch is kept, then restored
    Loop(probe, torch.optim.Adam(probe.parameters(), lr=lr, weight_decay=weight_decay),
         lambda m, _batch: F.cross_entropy(m(Xtr), ytr), device=X.device, callbacks=[best]).run(
        lambda step: None, steps=epochs, eval_every=1, progress=False,
        evaluate=lambda m: {"val_acc": float((m(Xva).argmax(1) == yva).float().mean())})
    with torch.no_grad():  # test accuracy of the best-validation weights, computed once
        best_test = float((probe(X[te]).argmax(1) == y[te]).float().mean())
    return {"val_acc": 100 * best.best, "test_acc": 100 * best_test}
