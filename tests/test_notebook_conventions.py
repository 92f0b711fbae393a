"""Static checks of every committed notebook (DEVELOPERS.md conventions) and of the environment files."""
import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
INLINE_MODEL = re.compile(r"^\s*class\s+\w+\s*\(\s*(torch\.)?nn\.Module\s*\)", re.M)


def _code_cells(nb_path):
    return [c for c in json.loads(nb_path.read_text())["cells"] if c["cell_type"] == "code"]


def _src(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_notebook_is_clean_and_follows_conventions(nb):
    cells = _code_cells(nb)
    assert cells, "notebook has no code cells"
    dirty = [i for i, c in enumerate(cells) if c.get("outputs") or c.get("execution_count") is not None]
    assert not dirty, f"code cells {dirty} carry outputs or execution counts; strip them before committing"
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"need exactly one cell tagged 'parameters', found {len(tagged)}"
    params = _src(cells[tagged[0]])
    for name in ("COURSE_SCALE", "COURSE_DEVICE"):
        assert re.search(rf'{name}\s*=\s*os\.environ\.get\("{name}"', params), \
            f"parameters cell must default {name} from the environment"
    code = "\n".join(_src(c) for c in cells)
    assert "course_lib" in code, "notebook must import from course_lib"
    assert not INLINE_MODEL.search(code), "models belong in course_lib, not inline in notebooks"


def test_every_series_has_three_notebooks_and_solutions():
    series = [d for d in (ROOT / "notebooks").iterdir() if d.is_dir() and re.match(r"\d\d_", d.name)]
    for d in series:
        names = sorted(p.name for p in d.glob("*.ipynb"))
        assert names == ["1_derivation.ipynb", "2_experiments.ipynb", "3_interactive.ipynb"], (d.name, names)
        assert (ROOT / "notebooks" / "solutions" / f"{d.name}_solutions.ipynb").exists(), d.name


def _names(requirements):
    return {re.split(r"[<>=!~\[ ]", r.strip(), maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_environment_yml_matches_pyproject():
    import yaml

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = _names(r for r in pip_section if not r.startswith("-"))
    assert listed == _names(project["dependencies"])
    assert "-e .[test]" in pip_section and "-c constraints.txt" in pip_section


def test_constraints_pin_every_dependency_and_torch():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [ln for ln in (ROOT / "constraints.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    pinned = _names(ln for ln in lines)
    wanted = _names(project["dependencies"]) | _names(project["optional-dependencies"]["test"])
    assert wanted <= pinned, f"not pinned in constraints.txt: {sorted(wanted - pinned)}"
    assert "torch==2.13.0" in lines and all("==" in ln for ln in lines)
    assert not any(ln.lower().startswith("torchvision") for ln in lines)
