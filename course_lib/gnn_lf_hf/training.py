"""Training with the paper's settings (§2.7) and two light-weight evaluation protocols.

* :func:`train_node_classifier` — full-batch Adam (lr 0.01), loss NLL + λ/2‖W₁‖² (λ = 5e-3, first layer only),
  early stopping with patience 100 on validation accuracy *and* loss (reset when either improves; the best
  state is remembered by accuracy, then loss), as the official ``training.py`` / ``earlystopping.py``.
  A paper-specific loop instead of ``course_lib.train.fit``: the two-criterion ranked early stopping and a
  full-batch graph (one "batch" per epoch, evaluation on the same forward graph) do not map onto ``fit``'s single
  monitor, and a few thousand tiny epochs must not pay per-epoch DataFrame/progress overhead.
* :func:`run_seeds` — several seeds of several models, one row per run; :func:`summarize` — mean ± bootstrap CI.
* :func:`linear_probe` — softmax regression on fixed (propagated) features, best validation epoch (brief §6.2).
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from course_lib.gnn_lf_hf.graph import CSRPair
from course_lib.gnn_lf_hf.models import build_model


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of §2.7 (official defaults for Cora/CiteSeer); ``max_epochs`` is cut at reduced scales."""

    hidden: int = 64
    dropout: float = 0.5
    lr: float = 0.01
    reg_lambda: float = 5e-3
    max_epochs: int = 10_000
    patience: int = 100


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
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    best_acc, best_loss = -1.0, float("inf")  # early-stopping references (either improving resets patience)
    rem_acc, rem_loss, rem_state, rem_epoch = -1.0, float("inf"), None, 0
    patience = config.patience
    t0 = time.perf_counter()
    epoch = -1
    for epoch in range(config.max_epochs):
        model.train()
        opt.zero_grad()
        out = model(x)
        loss = F.nll_loss(out[tr], y[tr]) + config.reg_lambda / 2 * (model.regularized_weight ** 2).sum()
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            out = model(x)
            vloss = float(F.nll_loss(out[va], y[va]) + config.reg_lambda / 2 * (model.regularized_weight ** 2).sum())
            vacc = float((out[va].argmax(1) == y[va]).float().mean())
        if vacc >= best_acc or vloss <= best_loss:
            best_acc, best_loss = max(best_acc, vacc), min(best_loss, vloss)
            patience = config.patience
            if vacc > rem_acc or (vacc == rem_acc and vloss < rem_loss):  # ranked: accuracy, then loss
                rem_acc, rem_loss, rem_epoch = vacc, vloss, epoch
                rem_state = {name: p.detach().clone() for name, p in model.named_parameters()}
        else:
            patience -= 1
            if patience == 0:
                break
    seconds = time.perf_counter() - t0
    if rem_state is not None:  # restore the remembered weights (the graph buffers never change)
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(rem_state[name])
    model.eval()
    with torch.no_grad():
        pred = model(x).argmax(1)
    acc = {name: 100.0 * float((pred[m] == y[m]).float().mean()) for name, m in (("train", tr), ("val", va),
                                                                                   ("test", te))}
    return {"test_acc": acc["test"], "val_acc": acc["val"], "train_acc": acc["train"], "best_epoch": rem_epoch,
            "epochs": epoch + 1, "sec_per_epoch": seconds / max(epoch + 1, 1), "seconds": seconds}


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


def linear_probe(features: torch.Tensor, data, *, lr: float = 0.2, weight_decay: float = 5e-5,
                 epochs: int = 150, seed: int = 0) -> dict:
    """Softmax regression on fixed node features (brief §6.2): Adam, ``epochs`` full-batch steps on the training
    nodes, report test accuracy (%) at the best validation epoch. With propagated features Π·X this is the
    decoupled model with a linear f_θ (propagation and a linear map commute: (ΠX)W = Π(XW))."""
    if features.dim() != 2 or features.size(0) != data.num_nodes:
        raise ValueError(f"linear_probe: features must be (num_nodes={data.num_nodes}, d), got "
                         f"{tuple(features.shape)}")
    g = torch.Generator().manual_seed(seed)
    X = features.float()
    y = data.y.to(X.device)
    tr, va, te = (m.to(X.device) for m in (data.train_mask, data.val_mask, data.test_mask))
    W = (torch.randn(X.size(1), data.num_classes, generator=g) * 0.01).to(X.device).requires_grad_()
    b = torch.zeros(data.num_classes, device=X.device, requires_grad=True)
    opt = torch.optim.Adam([W, b], lr=lr, weight_decay=weight_decay)
    Xtr, ytr, Xva, yva = X[tr], y[tr], X[va], y[va]
    best_val, best = -1.0, None
    for _ in range(epochs):
        opt.zero_grad()
        F.cross_entropy(Xtr @ W + b, ytr).backward()
        opt.step()
        with torch.no_grad():
            val = float(((Xva @ W + b).argmax(1) == yva).float().mean())
        if val > best_val:
            best_val, best = val, (W.detach().clone(), b.detach().clone())
    with torch.no_grad():  # test accuracy of the best-validation weights, computed once
        best_test = float(((X[te] @ best[0] + best[1]).argmax(1) == y[te]).float().mean())
    return {"val_acc": 100 * best_val, "test_acc": 100 * best_test}
