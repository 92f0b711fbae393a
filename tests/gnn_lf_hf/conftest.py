"""Fixtures of the GNN-LF / GNN-HF tests: small random graphs (hypothesis) and Cora (skipped if unavailable)."""
import pytest
import torch

from course_lib.data import DataUnavailable, availability
from course_lib.gnn_lf_hf.graph import adjacency, karate_club, normalized_adjacency


def requires(*datasets: str):
    """Skip marker for tests that read registered datasets (absent without cache or COURSE_DATA_MIRROR)."""
    missing = [d for d in datasets if availability().get(d, "missing") == "missing"]
    return pytest.mark.skipif(bool(missing), reason=f"datasets not available: {missing}")


def random_graph(n: int, p: float, seed: int) -> torch.Tensor:
    """Erdős–Rényi edge list (both directions) on n nodes."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.triu(torch.rand(n, n, generator=g) < p, diagonal=1)
    ei = mask.nonzero().t()
    return torch.cat([ei, ei.flip(0)], dim=1)


def a_hat_of(edge_index: torch.Tensor, n: int, dtype=torch.float64) -> torch.Tensor:
    return normalized_adjacency(adjacency(edge_index, n, dtype=dtype))


@pytest.fixture(scope="session")
def karate():
    edge_index, y = karate_club()
    return edge_index, y, a_hat_of(edge_index, y.numel())


@pytest.fixture(scope="session")
def cora():
    from course_lib.gnn_lf_hf.datasets import load_planetoid

    try:
        return load_planetoid("Cora")
    except DataUnavailable as exc:  # pragma: no cover - depends on the data mirror
        pytest.skip(f"Cora not available: {exc}")
