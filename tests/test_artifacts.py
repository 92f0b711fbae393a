"""The artefact folder helper and the atomic writer every series uses for its data/<pkg>/ caches."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib import artifacts
from course_lib.artifacts import artifact_dir, read_json, save_npz, save_torch, write_atomic, write_json

ROOT = Path(__file__).resolve().parents[1]


def test_artifact_dir_is_the_repository_data_folder():
    assert artifact_dir("lct") == ROOT / "data" / "lct"
    for bad in ("", "../x", "a/b", ".hidden", 3):
        with pytest.raises(ValueError, match="package name"):
            artifact_dir(bad)


def test_artifact_dir_create(tmp_path, monkeypatch):
    monkeypatch.setattr(artifacts, "DATA_ROOT", tmp_path / "data")
    assert not artifact_dir("new").exists()
    assert artifact_dir("new", create=True).is_dir()


def test_write_atomic_bytes_text_and_callable(tmp_path):
    assert write_atomic(tmp_path / "a" / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert write_atomic(tmp_path / "t.txt", "α β").read_text(encoding="utf-8") == "α β"
    assert write_atomic(tmp_path / "c.bin", lambda fh: fh.write(b"cb")).read_bytes() == b"cb"
    with pytest.raises(TypeError, match="bytes, str or a callable"):
        write_atomic(tmp_path / "x", 3)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["b.bin", "c.bin", "t.txt"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = write_atomic(tmp_path / "grid.json", b"old")

    def crash(fh):
        fh.write(b"half of the new fi")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        write_atomic(target, crash)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["grid.json"]


def test_format_helpers_round_trip(tmp_path):
    obj = {"name": "GNN-LF μ", "values": [1, 2.5]}
    assert read_json(write_json(tmp_path / "x.json", obj)) == obj
    assert (tmp_path / "x.json").read_text(encoding="utf-8").endswith("\n")
    state = {"w": torch.arange(4.0)}
    back = torch.load(save_torch(tmp_path / "m.pt", state), weights_only=True)
    assert torch.equal(back["w"], state["w"])
    path = save_npz(tmp_path / "peers.npz", boxes=np.ones((2, 4), np.float32), fps=np.float32(3))
    with np.load(path) as z:
        assert z["boxes"].shape == (2, 4) and float(z["fps"]) == 3.0


def test_series_write_their_caches_through_the_core():
    """No series builds data/<pkg> by hand or writes it non-atomically (LIM-Net is migrated separately)."""
    offenders = []
    for path in sorted((ROOT / "course_lib").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "course_lib/artifacts.py" or rel.startswith("course_lib/lim_net/"):
            continue
        if re.search(r"parents\[\d\]\s*/\s*[\"']data[\"']", path.read_text(encoding="utf-8")):
            offenders.append(rel)
    assert offenders == []
    from course_lib.counting import pretrained
    from course_lib.gnn_lf_hf import experiments as gnn
    from course_lib.lct import experiments as lct
    from course_lib.relative_position import cache as rp

    assert pretrained.DATA_DIR == artifact_dir("counting") and rp.DATA_DIR == artifact_dir("relative_position")
    assert gnn.CACHE_PATH.parent == artifact_dir("gnn_lf_hf") and lct.data_dir() == artifact_dir("lct")


def test_counting_export_is_atomic(tmp_path, monkeypatch):
    from course_lib.counting import pretrained
    from course_lib.counting.models import CountingModel, NMSCounter

    monkeypatch.setattr(pretrained, "DATA_DIR", tmp_path)
    monkeypatch.setattr(pretrained, "train_pretrained",
                        lambda task: (CountingModel(10), NMSCounter(10, 0.5, 0.1), {"counter": 0.5}))
    path = pretrained.export_pretrained("toy")
    assert json.loads(path.read_text())["task"] == "toy" and [p.name for p in tmp_path.iterdir()] == [path.name]
    model, nms = pretrained.load_pretrained("toy")
    assert nms.iou_threshold == 0.5 and isinstance(model, CountingModel)


def test_relative_position_timings_are_written_atomically(tmp_path, monkeypatch):
    import pandas as pd

    from course_lib.relative_position import cache, efficiency

    monkeypatch.setattr(efficiency, "timing_table", lambda ns, **kw: pd.DataFrame({"n": list(ns), "ms": 1.0}))
    path = cache.build_timings(tmp_path, ns=(8, 16))
    assert set(cache.load_timings(tmp_path)) == {"core", "module"} and path.name == "timings.json"
