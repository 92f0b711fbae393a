"""No graph file is read unverified: caller-given roots and the PyG working copy are sha256-checked first."""
import os
import shutil

import pytest

from course_lib import data
from course_lib.gnn_lf_hf import datasets
from course_lib.gnn_lf_hf.datasets import load_geom_gcn, load_planetoid

from .conftest import requires


def _copy(dataset: str, sub: str, dest):
    shutil.copytree(data.fetch(dataset) / sub, dest / sub)
    return dest


@requires("planetoid")
def test_planetoid_root_is_verified_before_unpickling(tmp_path, monkeypatch):
    root = _copy("planetoid", "Cora", tmp_path)
    assert load_planetoid("Cora", root=root).num_nodes == 2708  # an intact copy loads
    with (root / "Cora" / "raw" / "ind.cora.graph").open("ab") as fh:
        fh.write(b"\x00")
    unpickled = []
    monkeypatch.setattr(datasets.pickle, "load", lambda *a, **k: unpickled.append(a) or {})
    with pytest.raises(data.ChecksumMismatch, match="ind.cora.graph"):
        load_planetoid("Cora", root=root)
    assert unpickled == []  # nothing was unpickled from the unverified folder
    (root / "Cora" / "raw" / "ind.cora.x").unlink()
    with pytest.raises(data.DataUnavailable, match="ind.cora.x"):
        load_planetoid("Cora", root=root)


@requires("geom-gcn")
def test_geom_gcn_root_is_verified(tmp_path):
    root = _copy("geom-gcn", "texas", tmp_path)
    assert load_geom_gcn("texas", root=root, split=3).num_nodes == 183
    (root / "texas" / "raw" / "texas_split_0.6_0.2_3.npz").write_bytes(b"not an npz")
    with pytest.raises(data.ChecksumMismatch, match="texas_split_0.6_0.2_3.npz"):
        load_geom_gcn("texas", root=root, split=3)


@requires("geom-gcn")
def test_stale_pyg_copy_is_repaired_and_reprocessed(tmp_path, monkeypatch):
    pytest.importorskip("torch_geometric")
    monkeypatch.setenv("COURSE_PYG_CACHE", str(tmp_path / "pyg"))
    first = datasets.load_pyg("texas")
    folder = tmp_path / "pyg" / "texas"
    assert (folder / "processed.sha256.json").is_file()
    # a stale working copy: a damaged raw file and a processed file that no longer matches its manifest
    (folder / "raw" / "out1_graph_edges.txt").write_text("node_id\tnode_id\n0\t1\n")
    processed = next((folder / "processed").iterdir())
    processed.write_bytes(b"garbage")
    again = datasets.load_pyg("texas")
    assert again.edge_index.equal(first.edge_index) and again.y.equal(first.y)
    assert data.sha256_of(folder / "raw" / "out1_graph_edges.txt") == next(
        f["sha256"] for f in data.entry("geom-gcn")["files"] if f["path"] == "texas/raw/out1_graph_edges.txt")


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_shared_pyg_folder_is_refused(tmp_path, monkeypatch):
    pytest.importorskip("torch_geometric")
    shared = tmp_path / "pyg"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("COURSE_PYG_CACHE", str(shared))
    with pytest.raises(PermissionError, match="COURSE_PYG_CACHE"):
        datasets._pyg_folder("geom-gcn", "texas")
