import pytest
import torch

from course_lib.gnn_lf_hf.datasets import EXPECTED_STATS, csbm, load_geom_gcn, load_planetoid, row_normalize
from course_lib.gnn_lf_hf.graph import edge_homophily

from .conftest import requires


def _stats(d):
    return d.num_nodes, d.edge_index.size(1), d.num_features, d.num_classes


@requires("planetoid")
@pytest.mark.parametrize("name", ["Cora", "CiteSeer"])
def test_planetoid_statistics_and_split(name):
    d = load_planetoid(name)
    assert _stats(d) == EXPECTED_STATS[name]
    assert int(d.train_mask.sum()) == 20 * d.num_classes
    assert int(d.val_mask.sum()) == 500 and int(d.test_mask.sum()) == 1000
    assert not bool((d.train_mask & d.test_mask).any() or (d.val_mask & d.test_mask).any())
    assert torch.bincount(d.y[d.train_mask]).eq(20).all()
    sums = torch.zeros(d.num_nodes).index_add_(0, d.x.indices()[0], d.x.values())
    assert torch.allclose(sums[sums > 0], torch.ones(1))  # L1 row-normalised
    A_hat, L = d.operators()
    assert A_hat.shape == (d.num_nodes, d.num_nodes)


@requires("geom-gcn")
@pytest.mark.parametrize("name", ["cornell", "texas", "wisconsin", "film"])
def test_geom_gcn_statistics(name):
    d = load_geom_gcn(name, split=3)
    assert _stats(d) == EXPECTED_STATS[name]
    masks = d.train_mask.int() + d.val_mask.int() + d.test_mask.int()
    assert int(masks.max()) == 1
    assert edge_homophily(d.edge_index, d.y) < 0.35  # heterophilous graphs


def test_loader_errors():
    with pytest.raises(ValueError, match="Cora"):
        load_planetoid("PubMed")
    with pytest.raises(ValueError, match="split"):
        load_geom_gcn("texas", split=10)
    with pytest.raises(ValueError, match="cornell"):
        load_geom_gcn("chameleon")


@requires("planetoid", "geom-gcn")
def test_pyg_reads_the_same_graphs(tmp_path, monkeypatch):
    pytest.importorskip("torch_geometric")
    from course_lib.gnn_lf_hf.datasets import load_pyg

    monkeypatch.setenv("COURSE_PYG_CACHE", str(tmp_path))
    for name, ours in (("Cora", load_planetoid("Cora")), ("texas", load_geom_gcn("texas"))):
        p = load_pyg(name)
        n = ours.num_nodes
        assert torch.equal(torch.sort(p.edge_index[0] * n + p.edge_index[1]).values,
                           torch.sort(ours.edge_index[0] * n + ours.edge_index[1]).values)
        assert torch.equal(p.y, ours.y)
        torch.testing.assert_close(row_normalize(p.x), ours.dense_x())
    assert (tmp_path / "Cora" / "processed").is_dir()  # PyG wrote into the cache, not the mirror


def test_csbm_homophily_balance_and_determinism():
    for h in (0.1, 0.5, 0.9):
        d = csbm(600, num_classes=3, homophily=h, seed=2)
        assert edge_homophily(d.edge_index, d.y) == pytest.approx(h, abs=0.05)
        assert torch.bincount(d.y).tolist() == [200, 200, 200]
    a, b = csbm(400, homophily=0.3, seed=5), csbm(400, homophily=0.3, seed=5)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x)
    assert not torch.equal(a.x, csbm(400, homophily=0.3, seed=6).x)
    assert int(a.train_mask.sum()) == 60 and int(a.val_mask.sum()) == 200
    with pytest.raises(ValueError, match="homophily"):
        csbm(100, homophily=1.5)
    with pytest.raises(ValueError, match="test"):
        csbm(100, num_val=90)
