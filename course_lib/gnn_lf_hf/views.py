"""Plotting functions of the series; each returns a matplotlib Figure (the interactive notebook wraps them with
``course_lib.viz.interactive``)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from course_lib.gnn_lf_hf.graph import adjacency, karate_club, normalized_adjacency
from course_lib.gnn_lf_hf.propagation import check_params, closed_form, iterative_form
from course_lib.gnn_lf_hf.spectral import filter_response, theta_coefficients

COLORS = {"sgc": "tab:gray", "gcn": "tab:brown", "appnp": "tab:blue", "jknet": "tab:purple",
          "dagnn": "tab:pink", "lf": "tab:green", "hf": "tab:red"}
LABELS = {"sgc": "SGC", "gcn": "GCN layer", "appnp": "PPNP/APPNP", "jknet": "JKNet", "dagnn": "DAGNN",
          "lf": "GNN-LF", "hf": "GNN-HF"}


def plot_filter_response(alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9, K: int = 10,
                         kinds: tuple[str, ...] = ("sgc", "appnp", "lf", "hf")) -> Figure:
    """g(λ) over λ ∈ [0, 2]: closed forms solid, K-step iterative forms dashed (SGC: (1−λ)^K only)."""
    lam = np.linspace(0, 2, 401)
    fig, ax = plt.subplots(figsize=(7, 4))
    for kind in kinds:
        c = COLORS[kind]
        if kind != "sgc":
            ax.plot(lam, filter_response(kind, lam, alpha=alpha, mu=mu, beta=beta), color=c, lw=2,
                    label=f"{LABELS[kind]} closed")
        ax.plot(lam, filter_response(kind, lam, form="iterative", K=K, alpha=alpha, mu=mu, beta=beta), color=c,
                ls="--", lw=1.3, label=f"{LABELS[kind]} K={K}")
    ax.axhline(0, color="k", lw=0.6)
    ax.set(xlabel="eigenvalue λ of L̃ (0 = smooth, 2 = oscillating)", ylabel="filter response g(λ)",
           title=f"Frequency response  α={alpha:g}, μ={mu:g}, β={beta:g}, K={K}", xlim=(0, 2), ylim=(-1.05, 1.1))
    ax.legend(fontsize=7, ncol=2, loc="upper right")
    fig.tight_layout()
    return fig


def plot_theta(kind: str = "lf", K: int = 10, alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9) -> Figure:
    """The coefficients θ_k of Z = Σ_k θ_k L̃^k H for the K-step iterative form (App. A.3), symlog scale."""
    theta = theta_coefficients(kind, K, alpha=alpha, mu=mu, beta=beta)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar(np.arange(theta.size), theta, color=COLORS[check_params(kind, alpha=alpha, mu=mu, beta=beta)])
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set(xlabel="k (power of L̃)", ylabel="θ_k", title=f"{LABELS[kind]}: θ_k for K = {K}")
    fig.tight_layout()
    return fig


def _karate_signal(seed: int = 0, noise: float = 0.9) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    edge_index, y = karate_club()
    g = torch.Generator().manual_seed(seed)
    H = torch.nn.functional.one_hot(y, 2).double() + noise * torch.randn(y.numel(), 2, generator=g,
                                                                          dtype=torch.float64)
    return edge_index, y, H


def karate_embeddings(kind: str = "appnp", K: int = 10, *, alpha: float = 0.1, mu: float = 0.9,
                      beta: float = 0.9, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(H, Z^(K), labels) on the karate club: H = noisy one-hot of the club (2-D "logits"), Z its K-step
    propagation — the data of :func:`plot_embeddings`."""
    edge_index, y, H = _karate_signal(seed)
    A_hat = normalized_adjacency(adjacency(edge_index, y.numel(), dtype=torch.float64))
    return H, iterative_form(kind, H, A_hat, K, alpha=alpha, mu=mu, beta=beta), y


def plot_embeddings(K: int = 4, kind: str = "appnp", alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9,
                    seed: int = 0) -> Figure:
    """Karate club: left, the graph coloured by the propagated prediction argmax Z^(K); right, the 2-D rows of
    H (faint) and Z^(K) (solid) with graph edges — smoothing pulls neighbours together, SGC collapses them."""
    import networkx as nx

    edge_index, y, _ = _karate_signal(seed)
    H, Z, y = karate_embeddings(kind, K, alpha=alpha, mu=mu, beta=beta, seed=seed)
    G = nx.karate_club_graph()
    pos = nx.spring_layout(G, seed=3)
    pred = Z.argmax(1).numpy()
    acc = float((Z.argmax(1) == y).double().mean())
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(10, 4.2))
    nx.draw_networkx_edges(G, pos, ax=a0, alpha=0.3)
    nx.draw_networkx_nodes(G, pos, ax=a0, node_size=110, node_color=["tab:blue" if p == 0 else "tab:orange"
                                                                      for p in pred],
                           edgecolors=["k" if p != t else "none" for p, t in zip(pred, y.numpy())])
    a0.set_title(f"prediction after {LABELS[kind]} K={K}: {100 * acc:.0f}% correct (black ring = wrong)",
                 fontsize=9)
    a0.axis("off")
    Zn = Z.numpy()
    for i, j in edge_index.t().numpy():
        if i < j:
            a1.plot(Zn[[i, j], 0], Zn[[i, j], 1], color="k", alpha=0.08, lw=0.8)
    cols = np.where(y.numpy() == 0, "tab:blue", "tab:orange")
    a1.scatter(H[:, 0], H[:, 1], c=cols, alpha=0.25, s=18, label="H (input)")
    a1.scatter(Zn[:, 0], Zn[:, 1], c=cols, s=30, edgecolors="k", linewidths=0.4, label=f"Z^({K})")
    a1.plot([-2, 3], [-2, 3], color="gray", ls=":", lw=1)
    a1.set(xlabel="channel 0 (club 'Mr. Hi')", ylabel="channel 1 (club 'Officer')",
           title="rows of H and Z (colour = true club)", xlim=(-2, 3), ylim=(-2, 3))
    a1.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_convergence(table: pd.DataFrame) -> Figure:
    """max |Z_iter(K) − Z_closed| vs K (log scale) per kind, with the contraction bound ρ^K dashed."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for kind, g in table.groupby("kind", sort=False):
        g = g.sort_values("K")
        c = COLORS.get(kind, None)
        label = f"{LABELS.get(kind, kind)} (ρ={g['contraction'].iloc[0]:.3f})"
        ax.semilogy(g["K"], g["max_abs_err"], "o-", color=c, label=label)
        ax.semilogy(g["K"], g["rho^K"], ":", color=c)
    ax.axhline(1e-6, color="k", lw=0.7, ls="--")
    ax.set(xlabel="iterations K", ylabel="max |Z_iter − Z_closed|", title="Iterative → closed form (dotted: ρ^K)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_depth_sweep(df: pd.DataFrame, *, highlight_K: int | None = None) -> Figure:
    """Test accuracy vs propagation depth K per kind (over-smoothing plot, Fig. 1 of the paper in spirit)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for kind, g in df.groupby("kind", sort=False):
        g = g.sort_values("K")
        ax.plot(g["K"], g["test_acc"], "o-", color=COLORS.get(kind), label=LABELS.get(kind, kind))
    if highlight_K is not None:
        ax.axvline(highlight_K, color="k", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set(xlabel="propagation steps K", ylabel="test accuracy (%)",
           title=f"{df['dataset'].iloc[0] if 'dataset' in df else ''} — accuracy vs depth")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_cached_accuracy(cache: pd.DataFrame, alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9,
                         K: int = 8) -> Figure:
    """Cora accuracy vs K from the cached grid for SGC / APPNP(α) / LF(α, μ) / HF(α, β), the chosen K marked."""
    from course_lib.gnn_lf_hf.experiments import lookup_probe

    fig, ax = plt.subplots(figsize=(7, 4))
    text = []
    for kind in ("sgc", "appnp", "lf", "hf"):
        a = min(alpha, 0.5) if kind == "lf" else alpha
        g = lookup_probe(cache, kind, alpha=a, mu=mu, beta=beta)
        ax.plot(g["K"], g["test_acc"], "o-", color=COLORS[kind], label=LABELS[kind])
        at = g[g["K"] == g["K"].iloc[(g["K"] - K).abs().argmin()]]
        text.append(f"{LABELS[kind]} {float(at['test_acc'].iloc[0]):.1f}%")
    ax.axvline(K, color="k", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set(xlabel="propagation steps K", ylabel="Cora test accuracy (%)", ylim=(40, 90),
           title=f"cached linear-probe runs, α={alpha:g}, μ={mu:g}, β={beta:g}\nat K={K}: " + ", ".join(text))
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def plot_csbm(df: pd.DataFrame) -> Figure:
    """Mean test accuracy vs homophily h for every configuration of the contextual-SBM sweep."""
    mean = df.groupby(["h", "config"], sort=False)["test_acc"].mean().unstack()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for name in mean.columns:
        ls = "-" if "HF" in name else ("--" if name == "no graph" else "-.")
        ax.plot(mean.index, mean[name], marker="o", ls=ls, label=name)
    ax.set(xlabel="edge homophily h", ylabel="test accuracy (%)", title="Contextual SBM: homophily sweep")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_accuracy_table(summary: pd.DataFrame, paper: dict[str, float]) -> Figure:
    """Our mean ± CI next to the paper's Table 3 number for each model."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    x = np.arange(len(summary))
    ax.bar(x - 0.2, summary["mean"], 0.4, yerr=summary["ci95"], capsize=3, label="ours (mean ± 95 % CI)")
    ax.bar(x + 0.2, [paper.get(m, np.nan) for m in summary["model"]], 0.4, label="paper Table 3")
    ax.set_xticks(x, summary["model"], rotation=20, fontsize=8)
    ax.set(ylabel="test accuracy (%)", ylim=(40, 90), title="Cora, MLP + propagation")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_closed_vs_iter_matrix(kind: str = "lf", K: int = 10, alpha: float = 0.1, mu: float = 0.9,
                               beta: float = 0.9) -> Figure:
    """Karate club: the dense propagation matrices Π_closed and Π_iter(K) side by side, and their difference."""
    edge_index, y = karate_club()
    A_hat = normalized_adjacency(adjacency(edge_index, y.numel(), dtype=torch.float64))
    eye = torch.eye(y.numel(), dtype=torch.float64)
    Pc = closed_form(kind, eye, A_hat, alpha=alpha, mu=mu, beta=beta, method="dense").numpy()
    Pi = iterative_form(kind, eye, A_hat, K, alpha=alpha, mu=mu, beta=beta).numpy()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    vmax = max(np.abs(Pc).max(), np.abs(Pi).max())
    for ax, M, t in zip(axes, (Pc, Pi, Pi - Pc), ("closed form Π", f"iterative, K={K}", "difference")):
        im = ax.imshow(M, cmap="RdBu_r", vmin=-vmax if t != "difference" else None,
                       vmax=vmax if t != "difference" else None)
        ax.set_title(t, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"{LABELS[kind]} propagation matrix on the karate club", fontsize=10)
    fig.tight_layout()
    return fig
