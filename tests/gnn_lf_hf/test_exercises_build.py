"""Build-it exercise gnn_lf_hf.9 (the GNN-LF propagation without course_lib) and the two-level hints."""
import numpy as np

from course_lib.exercises import check, get


def lf_propagate(A, H, alpha, mu, K):
    """Reference solution (as in notebooks/solutions/03_gnn_lf_hf_solutions.ipynb): numpy only."""
    A_tilde = A + np.eye(len(A))
    d = A_tilde.sum(1)
    A_hat = A_tilde / np.sqrt(d[:, None] * d[None, :])
    c = 1 + alpha * mu - alpha
    Z0 = (mu / c) * H + ((1 - mu) / c) * (A_hat @ H)
    Z = Z0
    for _ in range(K):
        Z = ((1 + alpha * mu - 2 * alpha) / c) * (A_hat @ Z) + alpha * Z0
    return Z


def test_build_lf_accepts_the_solution_and_rejects_wrong_ones(capsys):
    assert check("gnn_lf_hf.9", lf_propagate) is True

    def appnp_instead(A, H, alpha, mu, K):  # forgets the low-pass fitting term: APPNP, not GNN-LF
        return lf_propagate(A, H, alpha, 1.0, K)

    def row_normalised(A, H, alpha, mu, K):  # row-normalised D̃⁻¹Ã instead of the symmetric normalisation
        A_hat = (A + np.eye(len(A))) / (A.sum(1, keepdims=True) + 1)
        c = 1 + alpha * mu - alpha
        Z0 = (mu / c) * H + ((1 - mu) / c) * (A_hat @ H)
        Z = Z0
        for _ in range(K):
            Z = ((1 + alpha * mu - 2 * alpha) / c) * (A_hat @ Z) + alpha * Z0
        return Z

    assert check("gnn_lf_hf.9", appnp_instead) is False
    assert check("gnn_lf_hf.9", row_normalised) is False
    assert check("gnn_lf_hf.9", lambda A, H, alpha, mu, K: lf_propagate(A, H, alpha, mu, K + 1)) is False
    assert "differs from the library" in capsys.readouterr().out


def test_build_lf_refuses_course_lib():
    import torch

    from course_lib.gnn_lf_hf import graph, propagation

    def borrowed(A, H, alpha, mu, K):
        A_hat = graph.normalized_adjacency(torch.as_tensor(A).to_sparse())
        return propagation.iterative_form("lf", torch.as_tensor(H), A_hat, K, alpha=alpha, mu=mu)

    assert check("gnn_lf_hf.9", borrowed) is False


def test_every_exercise_has_two_hint_levels():
    for i in range(1, 10):
        ex = get(f"gnn_lf_hf.{i}")
        assert ex.hint and ex.hint2 and ex.hint != ex.hint2, ex.id
    assert "'+ αH'" not in get("gnn_lf_hf.4").hint  # the old hint named the answer
