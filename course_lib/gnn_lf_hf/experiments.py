"""The measurements behind the notebooks and the claims, each a plain function returning a DataFrame
or a dict, so notebooks, ``claims.run`` and tests share one implementation.

* numerical: :func:`convergence_table` (iterative → closed), :func:`reduction_errors` (LF μ=1, HF β=0 = PPNP),
  :func:`stationarity_table` (closed form = stationary point of Eq. 3);
* learning: :func:`depth_sweep` (over-smoothing, linear probe on propagated features), :func:`full_models`
  (MLP + propagation, the paper's set-up), :func:`csbm_sweep` and :func:`geom_gcn_table` (heterophily);
* :func:`build_probe_cache` / :func:`load_probe_cache` — the cached Cora accuracy grid of the interactive
  notebook (``data/gnn_lf_hf/cora_probe_grid.json``).
"""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from course_lib.artifacts import artifact_dir, write_json
from course_lib.gnn_lf_hf.datasets import GraphData, csbm, load_geom_gcn
from course_lib.gnn_lf_hf.graph import as_csr, edge_homophily
from course_lib.gnn_lf_hf.objective import objective_grad, objective_spec, stationary_point
from course_lib.gnn_lf_hf.propagation import closed_form, contraction_factor, iterative_form
from course_lib.gnn_lf_hf.training import TrainConfig, linear_probe, run_seeds, summarize

TABLE1 = ("sgc", "gcn", "appnp", "jknet", "dagnn", "lf", "hf")
CACHE_PATH = artifact_dir("gnn_lf_hf") / "cora_probe_grid.json"


def random_signal(n: int, channels: int = 7, *, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A seeded Gaussian H (n × channels), the stand-in for MLP logits in the numerical checks."""
    return torch.randn(n, channels, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def convergence_table(A_hat: torch.Tensor, H: torch.Tensor, *, kinds: Sequence[str] = ("appnp", "lf", "hf"),
                      depths: Sequence[int] = (10, 50, 100, 200), alpha: float = 0.1, mu: float = 0.9,
                      beta: float = 0.9) -> pd.DataFrame:
    """max |Z_iter(K) − Z_closed| for each kind and K, next to the contraction bound ρ^K (Thm 4.2 / 4.4)."""
    rows = []
    A = as_csr(A_hat)
    for kind in kinds:
        Zc = closed_form(kind, H, A, alpha=alpha, mu=mu, beta=beta)
        Zs = iterative_form(kind, H, A, max(depths), alpha=alpha, mu=mu, beta=beta, depths=depths)
        rho = contraction_factor(kind, alpha=alpha, mu=mu, beta=beta)
        for K in depths:
            rows.append({"kind": kind, "K": K, "max_abs_err": float((Zs[K] - Zc).abs().max()),
                         "contraction": rho, "rho^K": rho ** K})
    return pd.DataFrame(rows)


def monotone_ratio(table: pd.DataFrame, *, floor: float = 1e-9) -> float:
    """Largest err(K_{i+1}) / err(K_i) over kinds and consecutive depths (< 1 ⇔ the error always decreases).

    Pairs whose earlier error is already below ``floor`` are skipped: there both errors sit at the accuracy of the
    reference solve (CG tolerance 1e-12 relative in float64), where "decreasing" has no meaning (e.g. the GCN
    layer, ρ = ½, reaches it before K = 50)."""
    worst = 0.0
    for _, g in table.sort_values("K").groupby("kind"):
        e = g["max_abs_err"].to_numpy()
        keep = e[:-1] > floor
        if keep.any():
            worst = max(worst, float((e[1:][keep] / e[:-1][keep]).max()))
    return worst


def reduction_errors(A_hat: torch.Tensor, H: torch.Tensor, *, alpha: float = 0.1, K: int = 10) -> dict:
    """max |GNN-LF(μ=1) − PPNP| and max |GNN-HF(β=0) − PPNP|, closed forms (different systems, same solution)
    and iterative forms (vs APPNP with the same K)."""
    A = as_csr(A_hat)
    ppnp = closed_form("appnp", H, A, alpha=alpha)
    appnp = iterative_form("appnp", H, A, K, alpha=alpha)
    return {
        "lf_closed": float((closed_form("lf", H, A, alpha=alpha, mu=1.0) - ppnp).abs().max()),
        "hf_closed": float((closed_form("hf", H, A, alpha=alpha, beta=0.0) - ppnp).abs().max()),
        "lf_iter": float((iterative_form("lf", H, A, K, alpha=alpha, mu=1.0) - appnp).abs().max()),
        "hf_iter": float((iterative_form("hf", H, A, K, alpha=alpha, beta=0.0) - appnp).abs().max()),
    }


def stationarity_table(A_hat: torch.Tensor, H: torch.Tensor, *, kinds: Sequence[str] = TABLE1,
                       alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9) -> pd.DataFrame:
    """For each model: ‖∇O(Z_closed)‖_F (Eq. 3 with the model's ζ, ξ, F₁, F₂) and the distance between the
    per-model closed form and the stationary point solved from the objective alone."""
    rows = []
    A = as_csr(A_hat)
    for kind in kinds:
        spec = objective_spec(kind, alpha=alpha, mu=mu, beta=beta)
        Z = closed_form(kind, H, A, alpha=alpha, mu=mu, beta=beta)
        rows.append({"kind": kind, "zeta": spec.zeta, "xi": spec.xi,
                     "grad_norm": float(objective_grad(Z, H, A, spec).norm()),
                     "closed_vs_objective": float((Z - stationary_point(H, A, spec)).abs().max())})
    return pd.DataFrame(rows)


def depth_sweep(data: GraphData, *, kinds: Sequence[str] = ("sgc", "appnp", "lf", "hf"),
                depths: Sequence[int] = (2, 8, 32, 64), alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9,
                probe_epochs: int = 150, seed: int = 0) -> pd.DataFrame:
    """Over-smoothing sweep: propagate the L1-normalised features K steps (iterative forms, one
    pass for all K), then :func:`linear_probe`. Test accuracy (%) per kind and K."""
    X = data.dense_x().float()  # float32: the probe does not need float64, and it is 2–4× faster
    A = as_csr(data.operators()[0])
    rows = []
    for kind in kinds:
        feats = iterative_form(kind, X, A, max(depths), alpha=alpha, mu=mu, beta=beta, depths=depths)
        for K in depths:
            res = linear_probe(feats[K], data, epochs=probe_epochs, seed=seed)
            rows.append({"dataset": data.name, "kind": kind, "K": K, **res})
    return pd.DataFrame(rows)


def full_models(data: GraphData, *, models: Sequence[str] = ("MLP", "APPNP", "GNN-LF-iter", "GNN-HF-iter"),
                seeds: Sequence[int] = (0, 1, 2), config: TrainConfig | None = None, K: int = 10,
                alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9, device=None,
                progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, summary): the decoupled models trained with the paper's settings over ``seeds``."""
    runs = run_seeds(data, models, seeds, config=config or TrainConfig(), K=K, alpha=alpha, mu=mu, beta=beta,
                     device=device, progress=progress)
    return runs, summarize(runs)


#: Propagations of the heterophily exploration: label -> (kind, params), features propagated in closed form.
CSBM_CONFIGS = {
    "no graph": (None, {}),
    "SGC K=2": ("sgc", {"K": 2}),
    "APPNP α=.1": ("appnp", {"alpha": 0.1}),
    "LF α=.1 μ=.9": ("lf", {"alpha": 0.1, "mu": 0.9}),
    "HF α=.1 β=.9": ("hf", {"alpha": 0.1, "beta": 0.9}),
    "APPNP α=.5": ("appnp", {"alpha": 0.5}),
    "HF α=.5 β=1": ("hf", {"alpha": 0.5, "beta": 1.0}),
    "HF α=.5 β=5": ("hf", {"alpha": 0.5, "beta": 5.0}),
}


def propagate_features(data: GraphData, kind: str | None, params: dict) -> torch.Tensor:
    """Features after one fixed propagation (closed form; SGC: K iterative steps); ``kind=None`` → X itself."""
    X = data.dense_x().float()
    if kind is None:
        return X
    A = as_csr(data.operators()[0])
    p = dict(params)
    if kind == "sgc":
        return iterative_form("sgc", X, A, p.pop("K", 2))
    return closed_form(kind, X, A, **p)


def csbm_sweep(homophilies: Sequence[float], *, configs: Sequence[str] = tuple(CSBM_CONFIGS),
               seeds: Sequence[int] = (0, 1, 2), n: int = 1000, num_classes: int = 3, avg_degree: float = 10.0,
               num_features: int = 50, signal: float = 2.0, probe_epochs: int = 150) -> pd.DataFrame:
    """Heterophily exploration on the contextual SBM: test accuracy (%) of a linear probe on the
    propagated features for every homophily h, configuration and seed."""
    rows = []
    for h in homophilies:
        for seed in seeds:
            data = csbm(n, num_classes=num_classes, homophily=h, avg_degree=avg_degree,
                        num_features=num_features, signal=signal, seed=seed)
            measured_h = edge_homophily(data.edge_index, data.y)
            for name in configs:
                kind, params = CSBM_CONFIGS[name]
                res = linear_probe(propagate_features(data, kind, params), data, epochs=probe_epochs,
                                   seed=seed)
                rows.append({"h": h, "measured_h": measured_h, "seed": seed, "config": name, **res})
    return pd.DataFrame(rows)


def geom_gcn_table(names: Sequence[str] = ("texas", "wisconsin", "film"), *, splits: Sequence[int] = (0, 1, 2),
                   models: Sequence[str] = ("MLP", "APPNP", "GNN-LF-iter", "GNN-HF-iter"),
                   config: TrainConfig | None = None, device=None) -> pd.DataFrame:
    """Full decoupled models on the Geom-GCN heterophilous graphs, one run per fixed split (seed = split);
    mean test accuracy (%) ± bootstrap CI per graph and model, plus the graph's edge homophily."""
    config = config or TrainConfig(max_epochs=300)
    frames = []
    for name in names:
        for split in splits:
            data = load_geom_gcn(name, split=split)
            runs = run_seeds(data, models, [split], config=config, device=device)
            runs["homophily"] = edge_homophily(data.edge_index, data.y)
            frames.append(runs)
    runs = pd.concat(frames, ignore_index=True)
    out = summarize(runs)
    out["homophily"] = out["dataset"].map(runs.groupby("dataset")["homophily"].first())
    return out


# ----------------------------------------------------------------------------------------------------------
# cached grid for the interactive notebook
# ----------------------------------------------------------------------------------------------------------
GRID = {"alpha": (0.05, 0.1, 0.2, 0.5), "mu": (0.5, 0.7, 0.9, 1.0), "beta": (0.0, 0.5, 0.9, 2.0, 5.0),
        "K": (1, 2, 4, 8, 16, 32, 64)}


def build_probe_cache(data: GraphData, path: str | Path = CACHE_PATH, *, grid: dict = GRID,
                      probe_epochs: int = 150, seed: int = 0) -> dict:
    """Compute and write the Cora linear-probe accuracy grid the interactive notebook reads (a few minutes on
    one core). Entries: SGC over K; APPNP over (α, K); LF over (α, μ, K); HF over (α, β, K). Run
    ``python -m course_lib.gnn_lf_hf.experiments`` to regenerate ``data/gnn_lf_hf/cora_probe_grid.json``."""
    t0 = time.perf_counter()
    X = data.dense_x().float()
    A = as_csr(data.operators()[0])
    Ks = tuple(grid["K"])
    entries = []

    def run(kind, **params):
        feats = iterative_form(kind, X, A, max(Ks), depths=Ks, **params)
        for K in Ks:
            acc = linear_probe(feats[K], data, epochs=probe_epochs, seed=seed)["test_acc"]
            entries.append({"kind": kind, "K": K, **params, "test_acc": round(acc, 2)})

    run("sgc")
    for a in grid["alpha"]:
        run("appnp", alpha=a)
        for m in grid["mu"]:
            if a < 2 / 3:
                run("lf", alpha=a, mu=m)
        for b in grid["beta"]:
            run("hf", alpha=a, beta=b)
    out = {"dataset": data.name, "protocol": f"linear probe on propagated L1-normalised features, "
           f"{probe_epochs} Adam epochs, best validation epoch, seed {seed}", "grid": {k: list(v) for k, v in
                                                                                       grid.items()},
           "seconds": round(time.perf_counter() - t0, 1), "entries": entries}
    write_json(path, out)
    return out


def load_probe_cache(path: str | Path = CACHE_PATH) -> pd.DataFrame:
    """The cached grid as a DataFrame (kind, K, alpha, mu, beta, test_acc); a clear error if it is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; regenerate it with `python -m course_lib.gnn_lf_hf.experiments`")
    return pd.DataFrame(json.loads(path.read_text())["entries"])


def lookup_probe(cache: pd.DataFrame, kind: str, *, alpha: float = 0.1, mu: float = 0.9,
                 beta: float = 0.9) -> pd.DataFrame:
    """Rows of the cached grid for one configuration (nearest grid values), sorted by K."""
    sel = cache[cache["kind"] == kind]
    for name, val in (("alpha", alpha), ("mu", mu), ("beta", beta)):
        if name in sel and sel[name].notna().any():
            vals = sel[name].dropna().unique()
            nearest = vals[abs(vals - val).argmin()]
            sel = sel[sel[name] == nearest]
    return sel.sort_values("K")


if __name__ == "__main__":
    from course_lib.gnn_lf_hf.datasets import load_planetoid

    res = build_probe_cache(load_planetoid("Cora"))
    print(f"wrote {CACHE_PATH} ({len(res['entries'])} entries, {res['seconds']} s)")
