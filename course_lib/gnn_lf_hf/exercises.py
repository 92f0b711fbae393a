"""Self-checked exercises of the GNN-LF / GNN-HF series (``check("gnn_lf_hf.N", answer)``).

1–3: derivation notebook · 4–6: experiments notebook · 7–8: interactive notebook.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from course_lib.exercises import Exercise, build_checker, register


def _close(expected: float, tol: float = 1e-6):
    def checker(ans) -> bool | str:
        val = float(ans)
        if math.isclose(val, expected, rel_tol=tol, abs_tol=tol):
            return True
        return f"got {val:.6g}; that is not it"
    return checker


def _karate_reg() -> float:
    from course_lib.gnn_lf_hf.experiments import random_signal
    from course_lib.gnn_lf_hf.graph import adjacency, karate_club, normalized_adjacency
    from course_lib.gnn_lf_hf.objective import laplacian_regularizer

    edge_index, y = karate_club()
    A_hat = normalized_adjacency(adjacency(edge_index, y.numel(), dtype=torch.float64))
    return float(laplacian_regularizer(random_signal(y.numel(), 2, seed=1), A_hat))


def _check_reg(ans) -> bool | str:
    return _close(_karate_reg(), 1e-8)(ans)


def _lf_limit(ans) -> bool | str:
    from course_lib.gnn_lf_hf.spectral import filter_response

    if isinstance(ans, str):
        return "give a number: the limit of g(λ = 1) as K → ∞"
    want = float(filter_response("lf", [1.0], form="closed", alpha=0.1, mu=0.9)[0])
    val = float(ans)
    if abs(val) < 1e-9:
        return "0 is SGC's limit; GNN-LF adds a restart term αZ⁽⁰⁾ in every step"
    return math.isclose(val, want, rel_tol=1e-6, abs_tol=1e-9) or f"got {val:.6g}; that is not the limit"


def _texas_h() -> float:
    from course_lib.gnn_lf_hf.datasets import load_geom_gcn
    from course_lib.gnn_lf_hf.graph import edge_homophily

    d = load_geom_gcn("texas")
    return edge_homophily(d.edge_index, d.y)


def _best_mu(ans) -> bool | str:
    from course_lib.gnn_lf_hf.experiments import load_probe_cache

    c = load_probe_cache()
    sel = c[(c["kind"] == "lf") & (c["alpha"] == 0.1) & (c["K"] == 64)]
    mine = sel[np.isclose(sel["mu"], float(ans))]
    if mine.empty:
        return f"μ = {ans} is not in the grid {sorted(sel['mu'].unique())}"
    if float(mine["test_acc"].max()) >= float(sel["test_acc"].max()):
        return True
    return f"μ = {ans} reaches {float(mine['test_acc'].max()):.1f}%, not the best"


def _graph_inputs(rng):
    n, f = int(rng.integers(5, 13)), int(rng.integers(1, 4))
    upper = np.triu(rng.random((n, n)) < 0.35, 1)
    upper[np.arange(n - 1), np.arange(1, n)] = True  # a path through all nodes: connected, degrees differ
    A = (upper | upper.T).astype(np.float64)
    return (A, rng.standard_normal((n, f)), float(rng.uniform(0.05, 0.5)), float(rng.uniform(0.5, 1.0)),
            int(rng.integers(1, 7)))


def _lf_reference(A, H, alpha, mu, K):
    from course_lib.gnn_lf_hf.graph import normalized_adjacency
    from course_lib.gnn_lf_hf.propagation import iterative_form

    A_hat = normalized_adjacency(torch.as_tensor(A).to_sparse())
    return iterative_form("lf", torch.as_tensor(H), A_hat, K, alpha=alpha, mu=mu)


register(
    Exercise("gnn_lf_hf.1", "Contraction factor of the GNN-LF iteration (Eq. 34) for α = 0.2, μ = 0.6.",
             _close((1 + 0.2 * 0.6 - 2 * 0.2) / (1 + 0.2 * 0.6 - 0.2)),
             hint="the contraction factor is the coefficient in front of ÂZ^(k−1) in the update",
             hint2="write Eq. 34 as Z ← coef·ÂZ + αZ^(0) and read coef off, with c = 1 + αμ − α"),
    Exercise("gnn_lf_hf.2", "Karate club, Z = random_signal(34, 2, seed=1): compute tr(ZᵀL̃Z) with your own "
             "pairwise sum ½Σ_ij Ã_ij ‖Z_i/√d̃_i − Z_j/√d̃_j‖² (d̃ = degree + 1).", _check_reg,
             hint="loop over both directions of each edge; self-loops contribute 0",
             hint2="d̃ counts the self-loop; divide each row of Z by √d̃ first, then sum the squared edge "
             "differences over edge_index (both directions) and halve"),
    Exercise("gnn_lf_hf.3", "Largest α (supremum) such that 1 + αμ − 2α > 0 for every μ ∈ [1/2, 1].",
             _close(2 / 3), hint="the expression is linear in μ: which μ is the worst case?",
             hint2="at the worst-case μ the condition becomes linear in α; solve it for equality"),
    Exercise("gnn_lf_hf.4", "GNN-LF with α = 0.1, μ = 0.9: the iterative filter response g(λ) converges as "
             "K → ∞. What is its limit at λ = 1?", _lf_limit,
             hint="a convergent iteration tends to its fixed point, and the fixed point is a closed form",
             hint2="replace Â by its eigenvalue 1 − λ in the closed form of Eq. 33 and evaluate at λ = 1; compare "
             "with spectral.filter_response('lf', [1.0], form='iterative', K=K) for growing K"),
    Exercise("gnn_lf_hf.5", "Edge homophily of the Texas graph (fraction of edges, self-loops excluded, "
             "joining same-class nodes), as loaded by load_geom_gcn('texas').", lambda a: _close(_texas_h())(a),
             hint="count edges whose two ends share a label",
             hint2="course_lib.gnn_lf_hf.graph.edge_homophily(d.edge_index, d.y)"),
    Exercise("gnn_lf_hf.6", "Closed-form GNN-HF response g(λ = 1) for α = 0.1, β = 0.9.",
             _close(1.9 / (1.9 + 9.0)), hint="replace Â by its eigenvalue 1 − λ in the closed form",
             hint2="g(λ) = (1 + βλ)/(1 + βλ + (1/α − 1)λ)"),
    Exercise("gnn_lf_hf.7", "With α = 0.5, which β makes the closed-form GNN-HF response at λ = 2 equal 0.5?",
             _close(0.5), hint="write the closed-form response at λ = 2 as a function of β",
             hint2="solve (1 + 2β)/(1 + 2β + 2ξ) = 1/2 with ξ = 1/α − 1"),
    Exercise("gnn_lf_hf.8", "In the cached Cora grid, which μ gives GNN-LF (α = 0.1) its best accuracy at "
             "K = 64?", _best_mu, hint="the probe cache is a table of runs",
             hint2="filter load_probe_cache() on kind, alpha and K, then take the μ of the best test_acc"),
    Exercise("gnn_lf_hf.9", "Build it: write lf_propagate(A, H, alpha, mu, K) with numpy only (no course_lib): "
             "for a dense symmetric 0/1 adjacency A (n, n) without self-loops and features H (n, f), return "
             "the K-step GNN-LF iteration Z^(K) of Eq. 34 with the normalised adjacency "
             "Â = D̃^{-1/2}(A + I)D̃^{-1/2}. Checked against the library on random graphs.",
             build_checker(_lf_reference, _graph_inputs, atol=1e-9, name="lf_propagate"),
             hint="two parts: build Â (self-loops first, then the symmetric degree normalisation), then start "
             "from the low-pass filtered input and repeat one affine step K times",
             hint2="c = 1 + αμ − α; Z0 = (μ/c)H + ((1 − μ)/c)ÂH; Z = Z0; K times: "
             "Z = ((1 + αμ − 2α)/c)·ÂZ + αZ0"),
)
