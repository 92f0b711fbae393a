import numpy as np
import pandas as pd
import pytest
import torch

from course_lib.gnn_lf_hf.datasets import csbm
from course_lib.gnn_lf_hf.graph import CSRPair
from course_lib.gnn_lf_hf.models import MLP, DecoupledGNN, Propagation, build_model, fast_dropout, sparse_dropout
from course_lib.gnn_lf_hf.propagation import closed_form, iterative_form
from course_lib.gnn_lf_hf.training import (
    TrainConfig,
    bootstrap_ci,
    linear_probe,
    run_seeds,
    summarize,
    train_node_classifier,
)


@pytest.fixture(scope="module")
def small():
    return csbm(300, num_classes=3, homophily=0.9, avg_degree=6, num_features=20, signal=1.5, num_val=60, seed=1)


@pytest.mark.parametrize("kind, form", [("appnp", "iterative"), ("lf", "closed"), ("hf", "closed"),
                                        ("hf", "iterative"), ("sgc", "closed"), ("jknet", "closed")])
def test_propagation_module_matches_functions(kind, form, karate):
    _, _, A_hat = karate
    H = torch.randn(34, 3, dtype=torch.float64)
    mod = Propagation(A_hat, kind, form=form, K=5, alpha=0.2, mu=0.8, beta=1.1)
    ref = (closed_form(kind, H, A_hat, alpha=0.2, mu=0.8, beta=1.1) if form == "closed"
           else iterative_form(kind, H, A_hat, 5, alpha=0.2, mu=0.8, beta=1.1))
    torch.testing.assert_close(mod(H), ref, atol=1e-9, rtol=0)
    if form == "closed" and kind != "sgc":
        chol = Propagation(A_hat, kind, form=form, alpha=0.2, mu=0.8, beta=1.1, solver="cholesky")
        torch.testing.assert_close(chol(H), ref, atol=1e-9, rtol=0)


def test_propagation_gradients_closed_cg(karate):
    _, _, A_hat = karate
    mod = Propagation(A_hat, "lf", form="closed", alpha=0.2, mu=0.7)
    H = torch.randn(34, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda h: mod(h), (H,), atol=1e-6)


def test_model_errors(karate):
    _, _, A_hat = karate
    with pytest.raises(ValueError, match="form"):
        Propagation(A_hat, "lf", form="exact")
    with pytest.raises(ValueError, match="solver"):
        Propagation(A_hat, "lf", form="closed", solver="lu")
    with pytest.raises(ValueError, match="sparse"):
        Propagation(A_hat.to_dense(), "lf")
    with pytest.raises(ValueError, match="2/3"):
        Propagation(A_hat, "lf", alpha=0.8)
    with pytest.raises(ValueError, match="dropout"):
        MLP(5, 2, dropout=1.0)
    assert Propagation(None, None)(torch.ones(2, 2)).sum() == 4


def test_mlp_sparse_dense_and_csr_agree():
    torch.manual_seed(0)
    X = (torch.rand(30, 12) < 0.3).float()
    mlp = MLP(12, 4, hidden=8).eval()
    out = mlp(X)
    torch.testing.assert_close(mlp(X.to_sparse()), out)
    torch.testing.assert_close(mlp(CSRPair(X.to_sparse())), out)
    assert mlp.lin1.bias is None and mlp.lin2.bias is None
    # dropout helpers: identity in eval, unbiased scaling in train
    assert torch.equal(fast_dropout(X, 0.5, False), X)
    big = torch.ones(20000)
    assert float(fast_dropout(big, 0.5, True).mean()) == pytest.approx(1.0, abs=0.05)
    sd = sparse_dropout(torch.ones(200, 100).to_sparse(), 0.5, True)
    assert float(sd.to_dense().mean()) == pytest.approx(1.0, abs=0.05)


def test_training_learns_and_early_stops(small):
    torch.manual_seed(0)
    model = build_model(small, "appnp", K=5)
    res = train_node_classifier(model, small, config=TrainConfig(max_epochs=400, patience=20), seed=0)
    assert res["test_acc"] > 80.0  # homophilous CSBM: propagation makes this easy
    assert res["epochs"] < 400  # early stopping triggered
    assert res["best_epoch"] < res["epochs"]
    mlp = build_model(small, None)
    r2 = train_node_classifier(mlp, small, config=TrainConfig(max_epochs=400, patience=20), seed=0)
    assert r2["test_acc"] < res["test_acc"]
    assert isinstance(model, DecoupledGNN) and model.regularized_weight is model.mlp.lin1.weight


def test_run_seeds_summary_and_determinism(small):
    cfg = TrainConfig(max_epochs=30, patience=10)
    a = run_seeds(small, ["MLP", "GNN-HF-iter"], [0, 1], config=cfg)
    b = run_seeds(small, ["MLP", "GNN-HF-iter"], [0, 1], config=cfg)
    assert list(a["model"]) == ["MLP", "MLP", "GNN-HF-iter", "GNN-HF-iter"]
    np.testing.assert_array_equal(a["test_acc"], b["test_acc"])  # seeded
    s = summarize(a)
    assert set(s.columns) >= {"mean", "ci95", "n"} and (s["n"] == 2).all()
    with pytest.raises(ValueError, match="unknown model"):
        run_seeds(small, ["GAT"], [0], config=cfg)


def test_bootstrap_ci():
    v = [82.0, 83.0, 84.0, 83.5]
    ci = bootstrap_ci(v)
    assert ci["low"] <= ci["mean"] <= ci["high"] and ci["mean"] == pytest.approx(np.mean(v))
    assert bootstrap_ci(v) == ci  # seeded
    assert bootstrap_ci([5.0, 5.0])["half_width"] == 0.0
    with pytest.raises(ValueError):
        bootstrap_ci([])
    with pytest.raises(ValueError):
        bootstrap_ci(v, ci=1.5)
    df = pd.DataFrame({"dataset": "x", "model": "m", "test_acc": v, "epochs": 1, "sec_per_epoch": 0.1})
    assert summarize(df)["ci95"].iloc[0] == pytest.approx(ci["half_width"])


def test_linear_probe(small):
    good = linear_probe(small.x, small, epochs=60)
    noise = linear_probe(torch.randn(small.num_nodes, 20), small, epochs=60)
    assert good["test_acc"] > noise["test_acc"] + 10
    with pytest.raises(ValueError, match="num_nodes"):
        linear_probe(torch.zeros(5, 3), small)
