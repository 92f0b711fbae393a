"""hub/sizing.py: the kernel's peak memory is measured (a notebook that holds 300 MB shows it), a notebook past
its budget is stopped and marked, and the instructor's table is computed from the measurements (lower bound
flagged). Runs in ``make test-unit`` (no hub is started; one small kernel per measurement)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("hub_sizing", REPO / "hub" / "sizing.py")
sizing = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sizing)


def _notebook(tmp: Path, name: str, *codes: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in codes])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp / name
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_peak_rss_of_the_kernel_is_measured(tmp_path):
    small = sizing.measure(_notebook(tmp_path, "small.ipynb", "x = 1"), "smoke", budget=120)
    big = sizing.measure(_notebook(tmp_path, "big.ipynb", "import numpy as np\na = np.ones(300 * 2**20 // 8)",
                                   "import time\ntime.sleep(1)"), "smoke", budget=120)
    assert small["status"] == big["status"] == "ok"
    assert big["peak_rss_mb"] - small["peak_rss_mb"] >= 250, (small, big)


@pytest.mark.slow
def test_a_notebook_past_its_budget_is_stopped(tmp_path):
    row = sizing.measure(_notebook(tmp_path, "slow.ipynb", "x = 1", "import time\ntime.sleep(600)"), "course",
                         budget=8)
    assert row["status"] == "timeout (cell 2 of 2)" and row["wall_s"] < 60


def _run(name, scale, mb, status="ok"):
    return {"notebook": name, "scale": scale, "status": status, "peak_rss_mb": mb, "cpu_s": 1.0, "wall_s": 2.0,
            "threads": "1"}


def test_table_from_measurements(monkeypatch):
    monkeypatch.setattr(sizing, "discover", lambda: [sizing.NOTEBOOKS / "a.ipynb", sizing.NOTEBOOKS / "b.ipynb"])
    data = {"machine": {"cpus": 2, "memory_gb": 24}, "server": {"server_rss_mb": 100, "hub_rss_mb": 200},
            "runs": [_run("a.ipynb", "course", 924), _run("b.ipynb", "smoke", 400)]}
    table = sizing.render_table(data)
    assert "`a.ipynb`, 924 MB peak RSS" in table and "≈ **1.0 GB**" in table
    assert "| 10 | about 11 GB | 10 |" in table  # ceil(10 * (924 + 100) / 1024 + 200 / 1024)
    assert "**Lower bound:** 1 of 2 notebooks" in table  # b.ipynb has no course measurement
    data["runs"].append(_run("b.ipynb", "course", 2000, status="timeout (cell 3 of 9)"))
    table = sizing.render_table(data)
    assert "`b.ipynb`, 2000 MB peak RSS, or more" in table and "≥ 2000 MB (stopped at cell 3 of 9" in table
