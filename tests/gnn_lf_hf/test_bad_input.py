"""Bad input to the propagations gets a clear ValueError/TypeError before it reaches torch (issue 13)."""
import numpy as np
import pytest
import torch

from course_lib.gnn_lf_hf.graph import adjacency, coo, karate_club, laplacian, normalized_adjacency
from course_lib.gnn_lf_hf.propagation import check_params, closed_form, iterative_form, propagate
from course_lib.gnn_lf_hf.spectral import laplacian_spectrum, spectral_energy


@pytest.fixture(scope="module")
def graph():
    edge_index, y = karate_club()
    A_hat = normalized_adjacency(adjacency(edge_index, y.numel(), dtype=torch.float64, device="cpu"))
    H = torch.randn(y.numel(), 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    return A_hat, H


@pytest.mark.parametrize("form", ["closed", "iterative"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nonfinite_features_are_named(graph, form, bad):
    A_hat, H = graph
    H = H.clone()
    H[3, 1] = bad
    with pytest.raises(ValueError, match=r"H \(node features\) must be finite.*1 (NaN|inf)"):
        propagate("lf", H, A_hat, form=form)


def test_nonfinite_adjacency_is_named(graph):
    A_hat, H = graph
    vals = A_hat.values().clone()
    vals[0] = float("nan")
    bad = coo(A_hat.indices(), vals, A_hat.shape, coalesced=True)
    with pytest.raises(ValueError, match=r"A_hat \(normalised adjacency\) must be finite"):
        closed_form("appnp", H, bad)
    with pytest.raises(ValueError, match="A_hat"):
        iterative_form("appnp", H, bad, 3)


def test_finite_inputs_still_propagate(graph):
    A_hat, H = graph
    Z = propagate("hf", H, A_hat, form="iterative", K=np.int64(4))  # numpy integers are accepted
    assert Z.shape == H.shape and bool(torch.isfinite(Z).all())


def test_int_like_parameters(graph):
    assert check_params("lf", K=np.int32(3), alpha=np.float32(0.1), mu=np.float64(0.9)) == "lf"
    for bad in (True, 2.5, "3", -1):
        with pytest.raises(ValueError, match="K must be a non-negative int"):
            check_params("appnp", K=bad)
    edge_index, y = karate_club()
    A = adjacency(edge_index, np.int64(y.numel()), device="cpu")
    assert A.shape == (34, 34)
    with pytest.raises(TypeError, match="num_nodes must be an int"):
        adjacency(edge_index, 34.0, device="cpu")


def test_device_and_dtype_mismatch_is_reported(graph):
    A_hat, H = graph
    with pytest.raises(TypeError, match="share a dtype"):
        propagate("appnp", H.float(), A_hat)


def test_spectral_helpers_return_host_arrays(graph):
    A_hat, H = graph
    L = laplacian(A_hat)
    lam = laplacian_spectrum(L)
    lam2, energy = spectral_energy(H, L)
    assert isinstance(lam, np.ndarray) and np.allclose(lam, lam2)
    assert lam.min() > -1e-9 and lam.max() < 2 and energy.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("form", ["iterative", "closed"])
def test_propagation_runs_in_adjacency_precision_under_autocast(form):
    """Under AMP the MLP hands a bfloat16 H to the propagation; sparse products have no bf16 kernels, so the
    module runs in Â's precision and matches the float32 result of the same (rounded) input."""
    from course_lib.gnn_lf_hf.models import Propagation

    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4], [1, 0, 2, 1, 3, 2, 4, 3]])
    prop = Propagation(normalized_adjacency(adjacency(edge_index, 5)), "lf", form=form, K=8)
    H = torch.randn(5, 3).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        Z = prop(H)
    assert Z.dtype == torch.float32
    torch.testing.assert_close(Z, prop(H.float()))
