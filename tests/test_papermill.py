"""papermill can inject parameters into a notebook's parameters cell (one canary notebook)."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_papermill_injects_scale(tmp_path, monkeypatch):
    import nbformat
    import papermill as pm

    monkeypatch.setenv("COURSE_HEADLESS", "1")
    monkeypatch.setenv("COURSE_SCALE", "course")  # the injected value must win over the environment
    out = tmp_path / "start.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "00_start_here.ipynb"), str(out),
                        parameters={"COURSE_SCALE": "smoke", "SEED": 5}, cwd=str(ROOT / "notebooks"),
                        execution_timeout=120, progress_bar=False, kernel_name="python3")
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'COURSE_SCALE = "smoke"' in injected[0].source
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "scale=smoke" in text and "seed=5" in text
    assert os.environ["COURSE_SCALE"] == "course"
