"""Offline loaders for the paper's graphs and a contextual-SBM generator.

* :func:`load_planetoid` — Cora / CiteSeer from the Planetoid raw pickles (own parser, public split 20 per class /
  500 val / 1000 test), via the data registry (``course_lib.data.fetch("planetoid")``); nothing downloads.
* :func:`load_geom_gcn` — Cornell / Texas / Wisconsin / Film (Actor) with their 10 fixed 60/20/20 splits.
* :func:`load_pyg` — the same raw files read by PyTorch Geometric (peer check), with PyG's ``processed/`` folder
  redirected to a writable cache (never into the read-only mirror or the repository).
* :func:`csbm` — contextual stochastic block model with an explicit edge homophily h.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from course_lib.gnn_lf_hf.graph import adjacency, coo, laplacian, normalized_adjacency

PLANETOID = ("Cora", "CiteSeer")
PLANETOID_FILES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
GEOM_GCN = ("cornell", "texas", "wisconsin", "film")
#: Statistics from the mirror's SOURCE.md: nodes, directed edges (after PyG's coalesce), features, classes.
EXPECTED_STATS = {
    "Cora": (2708, 10556, 1433, 7), "CiteSeer": (3327, 9104, 3703, 6),
    "cornell": (183, 298, 1703, 5), "texas": (183, 325, 1703, 5), "wisconsin": (251, 515, 1703, 5),
    "film": (7600, 30019, 932, 5),
}


@dataclasses.dataclass
class GraphData:
    """A node-classification graph: features ``x`` (sparse COO or dense), labels ``y``, directed ``edge_index``
    as stored (the operators symmetrise it), boolean split masks, and the name."""

    name: str
    x: torch.Tensor
    y: torch.Tensor
    edge_index: torch.Tensor
    train_mask: torch.Tensor
    val_mask: torch.Tensor
    test_mask: torch.Tensor

    @property
    def num_nodes(self) -> int:
        return int(self.y.numel())

    @property
    def num_features(self) -> int:
        return int(self.x.size(1))

    @property
    def num_classes(self) -> int:
        return int(self.y.max()) + 1

    def operators(self, *, dtype: torch.dtype = torch.float32, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(Â, L̃) of the undirected version of the graph (§2.1)."""
        A_hat = normalized_adjacency(adjacency(self.edge_index, self.num_nodes, dtype=dtype, device=device))
        return A_hat, laplacian(A_hat)

    def dense_x(self) -> torch.Tensor:
        """Features as a dense tensor."""
        return self.x.to_dense() if self.x.is_sparse else self.x

    def to(self, device) -> GraphData:
        """A copy with every tensor on ``device``."""
        return dataclasses.replace(self, **{f.name: getattr(self, f.name).to(device)
                                            for f in dataclasses.fields(self) if f.name != "name"})


def row_normalize(x: torch.Tensor) -> torch.Tensor:
    """L1 row normalisation of the features, as the official code does (rows of zeros stay zero)."""
    if x.is_sparse:
        x = x.coalesce()
        idx, vals = x.indices(), x.values()
        norms = torch.zeros(x.size(0), dtype=vals.dtype).index_add_(0, idx[0], vals.abs())
        vals = vals / norms.clamp_min(1e-12)[idx[0]]
        return coo(idx, vals, x.shape, coalesced=True)
    return x / x.abs().sum(1, keepdim=True).clamp_min(1e-12)


def _scipy_to_torch(m: sp.spmatrix) -> torch.Tensor:
    m = sp.coo_matrix(m)
    idx = torch.from_numpy(np.vstack([m.row, m.col]).astype(np.int64))
    out = coo(idx, torch.from_numpy(m.data.astype(np.float32)), m.shape)
    return out.coalesce()


def _read_pickle(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with path.open("rb") as fh:
            return pickle.load(fh, encoding="latin1")


def _planetoid_root(root: str | Path | None, name: str) -> Path:
    """The registry's verified folder, or a caller-given ``root`` whose files are sha256-checked before any is
    unpickled (``course_lib.data.verify_files``)."""
    from course_lib.data import fetch, verify_files

    if root is None:
        return fetch("planetoid")
    pre = name.lower()
    return verify_files("planetoid", root, [f"{name}/raw/ind.{pre}.{k}" for k in PLANETOID_FILES])


def load_planetoid(name: str = "Cora", *, root: str | Path | None = None, normalize: bool = True) -> GraphData:
    """Cora or CiteSeer from the Planetoid raw pickles, public split (20 labels per class, 500 val, 1000 test).

    Follows the reference reader (Kipf's / PyG's): x = [allx; tx] with the test rows re-ordered, CiteSeer's
    isolated test ids padded with zero rows, self-loops and duplicate edges removed. Features are L1
    row-normalised when ``normalize`` (paper code). Raises ``course_lib.data.DataUnavailable`` if the data is
    neither cached nor mirrored.
    """
    if name not in PLANETOID:
        raise ValueError(f"load_planetoid: name must be one of {PLANETOID}, got {name!r}")
    raw = _planetoid_root(root, name) / name / "raw"
    pre = name.lower()
    x, tx, allx, y, ty, ally, graph = (_read_pickle(raw / f"ind.{pre}.{k}") for k in PLANETOID_FILES[:7])
    test_index = np.loadtxt(raw / f"ind.{pre}.test.index", dtype=np.int64)
    test_sorted = np.sort(test_index)
    tx, ty = sp.csr_matrix(tx), np.asarray(ty)
    if name == "CiteSeer":  # isolated test nodes: pad with zero rows (as the reference readers do)
        span = test_sorted[-1] - test_sorted[0] + 1
        tx_ext = sp.lil_matrix((span, tx.shape[1]), dtype=np.float32)
        tx_ext[test_sorted - test_sorted[0], :] = tx
        ty_ext = np.zeros((span, ty.shape[1]), dtype=ty.dtype)
        ty_ext[test_sorted - test_sorted[0], :] = ty
        tx, ty = tx_ext.tocsr(), ty_ext
    feats = sp.vstack([sp.csr_matrix(allx), tx]).tolil()
    feats[test_index, :] = feats[test_sorted, :]
    labels = np.vstack([np.asarray(ally), ty])
    labels[test_index, :] = labels[test_sorted, :]
    y_t = torch.from_numpy(labels.argmax(1).astype(np.int64))
    n = y_t.numel()
    rows = np.concatenate([np.full(len(v), k, dtype=np.int64) for k, v in graph.items()])
    cols = np.concatenate([np.asarray(v, dtype=np.int64) for v in graph.values()])
    keep = rows != cols
    key = np.unique(rows[keep] * n + cols[keep])
    edge_index = torch.from_numpy(np.vstack([key // n, key % n]))
    xt = _scipy_to_torch(feats.tocsr())
    n_train = np.asarray(y).shape[0]
    masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
    masks[0][:n_train] = True
    masks[1][n_train:n_train + 500] = True
    masks[2][torch.from_numpy(test_index)] = True
    return GraphData(name=name, x=row_normalize(xt) if normalize else xt, y=y_t, edge_index=edge_index,
                     train_mask=masks[0], val_mask=masks[1], test_mask=masks[2])


def load_geom_gcn(name: str, *, split: int = 0, root: str | Path | None = None,
                  normalize: bool = True) -> GraphData:
    """A Geom-GCN heterophilous graph (cornell, texas, wisconsin, film) with its fixed 60/20/20 split ``split``.

    The edge list is kept as stored (directed); :meth:`GraphData.operators` symmetrises it like the paper's Â.
    Note: upstream Cornell and Texas share the same feature/label file; only their edges differ.
    """
    name = "film" if name.lower() == "actor" else name.lower()
    if name not in GEOM_GCN:
        raise ValueError(f"load_geom_gcn: name must be one of {GEOM_GCN} (or 'actor'), got {name!r}")
    if not (isinstance(split, int) and 0 <= split < 10):
        raise ValueError(f"load_geom_gcn: split must be an int in [0, 10), got {split!r}")
    from course_lib.data import fetch, verify_files

    if root is None:
        root = fetch("geom-gcn")
    else:  # a caller-given folder is sha256-checked like the registry's own
        verify_files("geom-gcn", root, [f"{name}/raw/out1_node_feature_label.txt", f"{name}/raw/out1_graph_edges.txt",
                                        f"{name}/raw/{name}_split_0.6_0.2_{split}.npz"])
    raw = Path(root) / name / "raw"
    lines = (raw / "out1_node_feature_label.txt").read_text().split("\n")[1:]
    lines = [ln.split("\t") for ln in lines if ln.strip()]
    ids = np.array([int(p[0]) for p in lines])
    y = np.empty(len(lines), dtype=np.int64)
    y[ids] = [int(p[2]) for p in lines]
    if name == "film":  # features are lists of active indices
        r = np.concatenate([np.full(len(p[1].split(",")), int(p[0])) for p in lines])
        c = np.concatenate([np.array(p[1].split(","), dtype=np.int64) for p in lines])
        feats = sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(len(lines), c.max() + 1))
        feats.data[:] = 1.0  # repeated indices are one active feature
    else:
        dense = np.zeros((len(lines), len(lines[0][1].split(","))), dtype=np.float32)
        dense[ids] = np.array([p[1].split(",") for p in lines], dtype=np.float32)
        feats = sp.csr_matrix(dense)
    edges = np.loadtxt(raw / "out1_graph_edges.txt", skiprows=1, dtype=np.int64).reshape(-1, 2)
    n = len(lines)
    key = np.unique(edges[:, 0] * n + edges[:, 1])
    edge_index = torch.from_numpy(np.vstack([key // n, key % n]))
    masks = np.load(raw / f"{name}_split_0.6_0.2_{split}.npz")
    xt = _scipy_to_torch(feats)
    return GraphData(name=name, x=row_normalize(xt) if normalize else xt, y=torch.from_numpy(y),
                     edge_index=edge_index, **{k: torch.from_numpy(masks[k].astype(bool))
                                               for k in ("train_mask", "val_mask", "test_mask")})


def pyg_cache_dir() -> Path:
    """Writable folder for PyG's processed files: ``COURSE_PYG_CACHE`` or a per-user temp folder."""
    env = os.environ.get("COURSE_PYG_CACHE")
    return Path(env) if env else Path(tempfile.gettempdir()) / f"course_lib_pyg_{os.getuid()}"


def _pyg_folder(dataset: str, sub: str) -> Path:
    """``pyg_cache_dir()/sub`` with verified raw files, and a ``processed/`` folder PyG may reuse only if it was
    built from exactly these raw files by this PyG version (a manifest of sha256s says so); otherwise it is
    removed so PyG rebuilds it. Raw files are re-copied from the registry whenever their sha256 is wrong."""
    import torch_geometric

    from course_lib.artifacts import read_json, write_atomic
    from course_lib.data import entry, fetch, sha256_of

    base = pyg_cache_dir()
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = base.stat()
    if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
        raise PermissionError(f"{base} is not a private folder of this user (owner uid {st.st_uid}, mode "
                              f"{oct(st.st_mode & 0o777)}); set COURSE_PYG_CACHE to a folder of your own")
    src_root = fetch(dataset)
    specs = [f for f in entry(dataset)["files"] if f["path"].startswith(f"{sub}/raw/")]
    raw = base / sub / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for f in specs:
        dest = raw / Path(f["path"]).name
        if not dest.is_file() or sha256_of(dest) != f["sha256"]:
            write_atomic(dest, (src_root / f["path"]).read_bytes())
            if sha256_of(dest) != f["sha256"]:
                raise OSError(f"copying {f['path']} into {raw} did not give the registry's sha256")
    processed, manifest = base / sub / "processed", base / sub / "processed.sha256.json"
    want = {"torch_geometric": torch_geometric.__version__, "raw": {Path(f["path"]).name: f["sha256"] for f in specs}}
    if processed.is_dir():
        try:
            ok = read_json(manifest) == {**want, "processed": {p.name: sha256_of(p) for p in processed.iterdir()}}
        except (OSError, ValueError):
            ok = False
        if not ok:
            shutil.rmtree(processed)
    return base


def _seal_pyg_folder(base: Path, dataset: str, sub: str) -> None:
    """Write the manifest that lets :func:`_pyg_folder` trust ``processed/`` next time."""
    import torch_geometric

    from course_lib.artifacts import write_json
    from course_lib.data import entry, sha256_of

    specs = [f for f in entry(dataset)["files"] if f["path"].startswith(f"{sub}/raw/")]
    processed = base / sub / "processed"
    write_json(base / sub / "processed.sha256.json", {
        "torch_geometric": torch_geometric.__version__, "raw": {Path(f["path"]).name: f["sha256"] for f in specs},
        "processed": {p.name: sha256_of(p) for p in processed.iterdir()}})


def load_pyg(name: str):
    """The same graph through PyTorch Geometric (``Planetoid``, ``WebKB`` or ``Actor``) — peers only.

    The verified raw files are copied into :func:`pyg_cache_dir` first (re-checked on every call, as is the
    ``processed/`` folder PyG left there, see :func:`_pyg_folder`), so PyG writes ``processed/`` there and never into
    the read-only mirror; nothing downloads. Requires ``torch_geometric``.
    """
    from torch_geometric.datasets import Actor, Planetoid, WebKB

    if name in PLANETOID:
        dataset, sub = "planetoid", name
    elif name.lower() in GEOM_GCN or name.lower() == "actor":
        dataset, sub = "geom-gcn", "film" if name.lower() == "actor" else name.lower()
    else:
        raise ValueError(f"load_pyg: unknown graph {name!r}; expected one of {PLANETOID + GEOM_GCN}")
    base = _pyg_folder(dataset, sub)
    if name in PLANETOID:
        graph = Planetoid(root=str(base), name=name)[0]
    elif sub == "film":
        graph = Actor(root=str(base / "film"))[0]
    else:
        graph = WebKB(root=str(base), name=sub)[0]
    _seal_pyg_folder(base, dataset, sub)
    return graph


def csbm(n: int = 1000, *, num_classes: int = 3, homophily: float = 0.5, avg_degree: float = 10.0,
         num_features: int = 50, signal: float = 2.0, train_per_class: int = 20, num_val: int = 200,
         seed: int = 0) -> GraphData:
    """Contextual SBM: balanced classes, Gaussian features x_i = signal·m_{y_i} + N(0, I) with random
    unit class means m_c, and n·avg_degree/2 undirected edges of which a fraction ``homophily`` join same-class
    nodes (the rest pick a uniformly random other class). Deterministic given ``seed``.
    """
    if not 0.0 <= homophily <= 1.0:
        raise ValueError(f"csbm: homophily must be in [0, 1], got {homophily}")
    if num_classes < 2 or n < 4 * num_classes:
        raise ValueError(f"csbm: need num_classes >= 2 and n >= 4*num_classes, got {num_classes}, {n}")
    if avg_degree <= 0 or signal < 0:
        raise ValueError(f"csbm: avg_degree must be > 0 and signal >= 0, got {avg_degree}, {signal}")
    if train_per_class * num_classes + num_val >= n:
        raise ValueError("csbm: the training and validation sets leave no test nodes")
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % num_classes
    y = y[torch.randperm(n, generator=g)]
    order = torch.argsort(y, stable=True)  # node ids grouped by class
    counts = torch.bincount(y, minlength=num_classes)
    start = torch.cumsum(counts, 0) - counts
    m = int(round(n * avg_degree / 2))
    u = torch.randint(n, (m,), generator=g)
    intra = torch.rand(m, generator=g) < homophily
    shift = torch.randint(1, num_classes, (m,), generator=g)
    cls = torch.where(intra, y[u], (y[u] + shift) % num_classes)
    pos = (torch.rand(m, generator=g) * counts[cls]).long()
    v = order[start[cls] + pos]
    edge_index = torch.stack([u, v])
    edge_index = edge_index[:, u != v]
    means = torch.randn(num_classes, num_features, generator=g)
    means = means / means.norm(dim=1, keepdim=True)
    x = signal * means[y] + torch.randn(n, num_features, generator=g)
    perm = torch.randperm(n, generator=g)
    train = torch.cat([perm[y[perm] == c][:train_per_class] for c in range(num_classes)])
    rest = perm[~torch.isin(perm, train)]
    masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
    masks[0][train] = True
    masks[1][rest[:num_val]] = True
    masks[2][rest[num_val:]] = True
    return GraphData(name=f"csbm(h={homophily:g})", x=x, y=y, edge_index=edge_index, train_mask=masks[0],
                     val_mask=masks[1], test_mask=masks[2])
