"""Course-lab kit: students' notebooks, and a grader that re-runs their self-checks in a fresh kernel.

``python -m course_lib.labkit student --out build/lab/student [--paper 09_lct]``
    Students' versions of every notebook: outputs stripped, cells tagged ``solution`` or ``instructor`` removed
    (the reference solutions in ``notebooks/solutions/`` are never copied), exercise cells kept with their
    ``check(...)`` self-checks and tagged ``exercise``, and a header cell with the series' objectives,
    prerequisites and expected run times (from the presets). A ``README.md`` lists the exercises per notebook.

``python -m course_lib.labkit grade SUBMISSIONS --out grades.csv [--scale smoke] [--timeout 600]``
    ``SUBMISSIONS`` holds one folder per student (the folder name is the student id) with their notebooks,
    at the same relative paths as in the kit (``09_lct/1_derivation.ipynb``). Each notebook is executed top
    to bottom in a fresh kernel (nbclient, errors allowed so one broken cell does not hide later answers) with
    ``COURSE_GRADE_LOG`` set: ``course_lib.exercises.check`` appends every verdict there, so only the library's
    own checkers count (a student redefining ``check`` records nothing). An exercise counts as correct when its
    last check was correct. The CSV has one row per student: exercises correct / total (the total is the set
    of exercises in the kit's version of each submitted notebook), a score in %, and one column per exercise
    (1 correct, 0 wrong or not answered, empty when that notebook was not submitted).

Why not nbgrader or otter-grader: both grade with their own test cells (nbgrader: cells carrying its
``nbgrader`` metadata, a gradebook database and a source/release/submitted course layout; otter-grader: its
own question/test format, normally graded inside Docker containers). Our exercises already carry their checks
(``course_lib.exercises``, run by CI through the solutions notebooks); converting them would duplicate every
checker in a second format. This grader reuses them as they are and needs nothing but nbclient.
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import re
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([A-Za-z_]\w*\.\d+)["']""")
HIDDEN_TAGS = {"solution", "instructor"}


def exercise_ids(nb: dict) -> list[str]:
    """Exercise ids checked in a notebook's code cells, in order of first appearance."""
    found: list[str] = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            for ex_id in CHECK_CALL.findall("".join(cell["source"])):
                if ex_id not in found:
                    found.append(ex_id)
    return found


def student_version(nb: dict, rel: Path) -> dict:
    """Outputs stripped, hidden cells removed, exercise cells tagged, the syllabus header inserted."""
    from course_lib.syllabus import SERIES, header_markdown

    out = copy.deepcopy(nb)
    cells = []
    for cell in out["cells"]:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & HIDDEN_TAGS:
            continue
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            if CHECK_CALL.search("".join(cell["source"])):
                cell.setdefault("metadata", {})["tags"] = sorted(tags | {"exercise"})
        cells.append(cell)
    key = rel.parts[0].split("_", 1)[1] if len(rel.parts) > 1 and "_" in rel.parts[0] else ""
    shows_it = any("show_header(" in "".join(c["source"]) for c in cells if c["cell_type"] == "code")
    if key in SERIES and not shows_it:
        header = {"cell_type": "markdown", "metadata": {"tags": ["syllabus"]},
                  "source": header_markdown(key)}
        if out.get("nbformat_minor", 0) >= 5:
            header["id"] = "syllabus"
        first_md = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"), -1)
        cells.insert(first_md + 1, header)
    out["cells"] = cells
    return out


def make_student_kit(out_dir: Path, paper: list[str] | None = None) -> list[dict]:
    """Write the students' notebooks and a README; returns one row per notebook (path, exercises)."""
    from course_lib.run_notebooks import discover

    rows = []
    for nb_path in discover(paper):  # never the solutions
        rel = nb_path.relative_to(NOTEBOOKS)
        nb = student_version(json.loads(nb_path.read_text()), rel)
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        rows.append({"notebook": rel.as_posix(), "exercises": exercise_ids(nb)})
    lines = ["# Lab notebooks", "",
             "Open them with `make lab` (or JupyterLab from the course environment). Each exercise cell ends",
             "with `check(\"<id>\", answer)`: replace `answer = None` (or fill in the function) and run the cell.",
             "`hint(\"<id>\")` gives a nudge, `hint(\"<id>\", 2)` the approach (`from course_lib.exercises import",
             "hint`; the second wrong answer also shows the approach). Hand in the notebooks at the same",
             "paths, one folder per student; the instructor re-runs them with `python -m course_lib.labkit grade`.",
             "",
             "| notebook | exercises |", "|---|---|"]
    lines += [f"| {r['notebook']} | {', '.join(r['exercises']) or '—'} |" for r in rows]
    (out_dir / "README.md").write_text("\n".join(lines) + "\n")
    return rows


# ----------------------------------------------------------------------------------------------------- grading
def run_checks(nb_path: Path, *, scale: str = "smoke", timeout: int = 600, kernel: str = "python3") -> dict:
    """Execute a submitted notebook in a fresh kernel; returns ``{exercise id: last verdict}`` and errors."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(nb_path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "grade.jsonl"
        env_before = {k: os.environ.get(k) for k in ("COURSE_GRADE_LOG", "COURSE_SCALE", "COURSE_HEADLESS")}
        os.environ.update(COURSE_GRADE_LOG=str(log), COURSE_SCALE=scale, COURSE_HEADLESS="1")
        try:  # the kernel inherits this environment: the parameters cell reads COURSE_SCALE from it
            client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True,
                                    resources={"metadata": {"path": str(nb_path.parent)}})
            t0 = time.perf_counter()
            error = ""
            try:
                client.execute()
            except Exception as exc:  # a kernel death or a timeout: grade what was recorded so far
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            seconds = time.perf_counter() - t0
        finally:
            for k, v in env_before.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        verdicts: dict[str, str] = {}
        if log.exists():
            for line in log.read_text().splitlines():
                entry = json.loads(line)
                verdicts[entry["id"]] = entry["verdict"]
    cell_errors = sum(1 for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []) if o.get("output_type") == "error")
    return {"verdicts": verdicts, "error": error, "cell_errors": cell_errors, "seconds": round(seconds, 1)}


def grade_folder(submissions: Path, out_csv: Path, *, scale: str = "smoke", timeout: int = 600,
                 reference: Path = NOTEBOOKS) -> list[dict]:
    """Grade every student folder under ``submissions`` and write ``out_csv``; returns the rows."""
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise SystemExit(f"no student folders in {submissions} (expected one folder per student)")
    results, all_ids = [], []
    for student in students:
        expected: list[str] = []
        correct: dict[str, int] = {}
        notes = []
        for nb_path in sorted(student.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in nb_path.parts:
                continue
            rel = nb_path.relative_to(student)
            ref = reference / rel
            ids = exercise_ids(json.loads(ref.read_text())) if ref.exists() else \
                exercise_ids(json.loads(nb_path.read_text()))
            print(f"[grade] {student.name}: {rel.as_posix()} ({len(ids)} exercises) ...", flush=True)
            run = run_checks(nb_path, scale=scale, timeout=timeout)
            for ex_id in ids:
                correct[ex_id] = int(run["verdicts"].get(ex_id) == "correct")
            expected += [i for i in ids if i not in expected]
            if run["error"] or run["cell_errors"]:
                notes.append(f"{rel.as_posix()}: {run['cell_errors']} cell error(s) {run['error']}".strip())
        all_ids += [i for i in expected if i not in all_ids]
        total, n_ok = len(expected), sum(correct.values())
        results.append({"student": student.name, "correct": n_ok, "total": total,
                        "score_percent": round(100.0 * n_ok / total, 1) if total else 0.0,
                        "notes": "; ".join(notes), **{i: correct.get(i, "") for i in expected}})
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    fields = ["student", "correct", "total", "score_percent", *all_ids, "notes"]
    with open(out_csv, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(results)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.labkit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("student", help="write the students' notebooks")
    st.add_argument("--out", default="build/lab/student")
    st.add_argument("--paper", action="append")
    gr = sub.add_parser("grade", help="grade a folder of submissions (one folder per student)")
    gr.add_argument("submissions", type=Path)
    gr.add_argument("--out", default="build/lab/grades.csv")
    gr.add_argument("--scale", default="smoke", help="scale the submissions are re-run at (default smoke)")
    gr.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    if args.command == "student":
        rows = make_student_kit(Path(args.out), args.paper)
        print(f"wrote {len(rows)} notebooks ({sum(len(r['exercises']) for r in rows)} exercises) to {args.out}")
        return 0
    results = grade_folder(args.submissions, Path(args.out), scale=args.scale, timeout=args.timeout)
    for r in results:
        print(f"{r['student']}: {r['correct']}/{r['total']} ({r['score_percent']} %) {r['notes']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
