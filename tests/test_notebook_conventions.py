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


# ---------------------------------------------------------------------------------------------------------------
# Prose rule (CONTRIBUTING.md, "Numbers in prose"): a markdown cell types no number. Measured numbers are rendered
# from results (display(Markdown(f"..."))); numbers quoted from the paper are wrapped in <span class="paper">…</span>;
# parameters and formulas go in $math$ or `code`. Structural digits stay allowed: headings, list/exercise numbers,
# references (Table 3, Fig. 1, §6.2, Eq. 4, notebook 2, ...), years, and names that contain digits (WMT14, Car4).
_ALLOWED_IN_PROSE = [
    re.compile(r"```.*?```", re.S),                                   # code blocks
    re.compile(r"`[^`\n]*`"),                                          # inline code
    re.compile(r"\$\$.*?\$\$", re.S),                                  # display math
    re.compile(r"\$[^$\n]+\$"),                                         # inline math
    re.compile(r"<!--.*?-->", re.S),                                  # comments
    re.compile(r'<span class="paper">.*?</span>', re.S),              # quoted from the paper
    re.compile(r"\]\([^)]*\)|https?://\S+"),                           # link targets, URLs
    re.compile(r"^#+ .*$", re.M),                                     # headings
    re.compile(r"^\s*(?:[-*] )?(?:\d+\.|\*\*\d+\.\*\*)\s", re.M),          # list / exercise numbers
    re.compile(r"\b(?:1[89]|20)\d\d\b"),                                # years
    re.compile(r"(?:§|#|\b(?:Tables?|Figs?\.|Figures?|Eqs?\.|Equations?|[Ss]ections?|Thm|Theorems?|Lemma|Algorithm|"
               r"Appendix|App\.|[Nn]otebooks?|[Vv]iews?|[Rr]ungs?|[Tt]asks?|[Ee]xercises?|[Ss]teps?|[Pp]arts?|arXiv:?))\s*"
               r"[A-Z]?\d+(?:\.\d+)*(?:\s*(?:[–-]|,|/|and|&)\s*[A-Z]?\d+(?:\.\d+)*)*"),  # references
    re.compile(r"[A-Za-z_]+[\w.\-@']*\d[\w.]*|\d+[A-Za-z_]+\w*"),          # names with digits: WMT14, Car4, 2D
]


def typed_numbers(markdown: str) -> list[str]:
    """Lines of a markdown cell that still contain a digit after removing everything the prose rule allows."""
    for pattern in _ALLOWED_IN_PROSE:
        markdown = pattern.sub(" ", markdown)
    return [line.strip() for line in markdown.splitlines() if re.search(r"\d", line)]


def test_prose_rule_catches_typed_results_and_allows_structure():
    assert typed_numbers("The counter reaches 0.991 accuracy.") == ["The counter reaches 0.991 accuracy."]
    assert typed_numbers("GNN-LF is 1.3× slower") and typed_numbers("APPNP ~25 points above")
    ok = ("## 3. Sweeps\n1. first step\n**4.** An exercise on Table 3, Fig. 1, §6.2 and Eq. 4 of notebook 2 "
          "(2018), issue #2, on WMT14 and Car4, with $k = 0$, `lr=0.01` and <span class=\"paper\">83.53</span>.")
    assert typed_numbers(ok) == []


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_no_number_typed_into_prose(nb):
    cells = json.loads(nb.read_text())["cells"]
    bad = {i: typed_numbers(_src(c)) for i, c in enumerate(cells) if c["cell_type"] == "markdown"}
    bad = {i: lines for i, lines in bad.items() if lines}
    assert not bad, ("numbers typed into markdown (render measured ones from results, wrap the paper's in "
                     '<span class="paper">…</span>, put parameters in $math$; CONTRIBUTING.md "Numbers in prose"): '
                     + "; ".join(f"cell {i}: {lines[:3]}" for i, lines in bad.items()))


LEARNER_CANNOT_OPEN = re.compile(r"\b(?:the|this|our) (?:brief|issue)\b|\bbrief\s*§|\bissue's\b|\bthe brief's\b",
                                 re.I)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_no_reference_a_learner_cannot_open(nb):
    cells = json.loads(nb.read_text())["cells"]
    bad = [i for i, c in enumerate(cells) if LEARNER_CANNOT_OPEN.search(_src(c))]
    assert not bad, f"cells {bad} refer to the brief / the issue: cite the paper's section or ship the text"


# Every series has a derivation, an experiments and an interactive notebook; a series whose paper is a survey of
# several technique families (low-power) has one notebook per family, a comparison and the interactive one.
SERIES_NOTEBOOKS = {"06_low_power": ("1_quantization", "2_pruning", "3_compact_filters", "4_nas", "5_distillation",
                                     "6_pareto", "7_interactive")}


def test_every_series_has_its_notebooks_and_solutions():
    series = [d for d in (ROOT / "notebooks").iterdir() if d.is_dir() and re.match(r"\d\d_", d.name)]
    for d in series:
        names = sorted(p.name for p in d.glob("*.ipynb"))
        expected = SERIES_NOTEBOOKS.get(d.name, ("1_derivation", "2_experiments", "3_interactive"))
        assert names == [f"{n}.ipynb" for n in expected], (d.name, names)
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


def test_library_text_cites_what_a_learner_can_open():
    """Docstrings and comments of course_lib reach learners through show_source / help: no brief, no issue."""
    pattern = re.compile(r"\bbrief\b|\bthe issue\b|\bissue's\b", re.I)
    bad = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "course_lib").rglob("*.py"))
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not bad, f"cite the paper (section, table, figure) or the notebook instead of the brief / the issue: {bad}"
