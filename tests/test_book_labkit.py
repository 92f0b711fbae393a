"""course_lib.labkit: students' notebooks and the grader (a correct and a wrong submission, fresh kernels)."""
import csv
import json

from course_lib import labkit


def _code(src):
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": src}


def _write_nb(path, cells):
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                      "language": "python"}}, "nbformat": 4, "nbformat_minor": 4}
    path.write_text(json.dumps(nb))


def test_student_kit_strips_outputs_and_solutions_and_keeps_the_checks(tmp_path):
    rows = labkit.make_student_kit(tmp_path, ["09_lct"])
    assert [r["notebook"] for r in rows] == ["09_lct/1_derivation.ipynb", "09_lct/2_experiments.ipynb",
                                              "09_lct/3_interactive.ipynb"]
    assert not list(tmp_path.rglob("*solutions*"))
    nb = json.loads((tmp_path / "09_lct" / "1_derivation.ipynb").read_text())
    assert all(c.get("outputs", []) == [] for c in nb["cells"] if c["cell_type"] == "code")
    tagged = [c for c in nb["cells"] if "exercise" in c.get("metadata", {}).get("tags", [])]
    assert {i for c in tagged for i in labkit.CHECK_CALL.findall("".join(c["source"]))} >= {"lct.1", "lct.9"}
    assert not [c for c in nb["cells"] if "syllabus" in c.get("metadata", {}).get("tags", [])]  # it calls show_header
    assert any("show_header(" in "".join(c["source"]) for c in nb["cells"])
    nb2 = json.loads((tmp_path / "09_lct" / "2_experiments.ipynb").read_text())
    header = [c for c in nb2["cells"] if "syllabus" in c.get("metadata", {}).get("tags", [])]
    assert len(header) == 1 and "**Prerequisites:**" in header[0]["source"]
    assert "lct.9" in (tmp_path / "README.md").read_text()


def test_student_version_drops_solution_cells():
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# T"},
                    dict(_code("answer = 42"), metadata={"tags": ["solution"]}),
                    dict(_code('check("x.1", answer)'), outputs=[{"output_type": "stream", "name": "stdout",
                                                                  "text": "correct"}], execution_count=3)],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    from pathlib import Path

    out = labkit.student_version(nb, Path("99_demo/1.ipynb"))
    sources = ["".join(c["source"]) for c in out["cells"]]
    assert "answer = 42" not in sources and out["cells"][-1]["outputs"] == []
    assert out["cells"][-1]["metadata"]["tags"] == ["exercise"] and nb["cells"][2]["outputs"]  # input untouched


def test_grader_scores_a_correct_and_a_wrong_submission(tmp_path):
    params = _code('import os\nCOURSE_SCALE = os.environ.get("COURSE_SCALE", "course")')
    imports = _code("from course_lib.exercises import check")
    _write_nb(tmp_path / "subs" / "alice" / "demo.ipynb", [
        params, imports,
        _code('answer = "smoke"\ncheck("start.1", answer)'),
        _code("import torch\nfrom course_lib import seed_everything\nseed_everything(123)\n"
              'answer = torch.rand(3)\ncheck("start.2", answer)')])
    _write_nb(tmp_path / "subs" / "bob" / "demo.ipynb", [
        params, imports,
        _code('answer = "course"\ncheck("start.1", answer)'),
        _code('raise RuntimeError("unfinished")\ncheck("start.2", None)'),
        _code('check = lambda *args: True  # a fake check records nothing\ncheck("start.2", 0)')])
    out = tmp_path / "grades.csv"
    results = labkit.grade_folder(tmp_path / "subs", out, scale="smoke", timeout=120)
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"alice", "bob"} and len(results) == 2
    assert (rows["alice"]["correct"], rows["alice"]["total"], rows["alice"]["score_percent"]) == ("2", "2", "100.0")
    assert (rows["alice"]["start.1"], rows["alice"]["start.2"]) == ("1", "1")
    assert (rows["bob"]["correct"], rows["bob"]["total"], rows["bob"]["score_percent"]) == ("0", "2", "0.0")
    assert (rows["bob"]["start.1"], rows["bob"]["start.2"]) == ("0", "0")
    assert "1 cell error" in rows["bob"]["notes"] and rows["alice"]["notes"] == ""
