"""``make run``: execute notebooks headlessly with papermill at a scale, render HTML and an index page.

``python -m course_lib.run_notebooks --scale smoke [--paper 03_gnn_lf_hf] --out build/notebooks``
prints a table of per-notebook wall time and status; exits non-zero if any notebook failed.
"""
from __future__ import annotations

import argparse
import html
import os
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def discover(paper: list[str] | None = None, include_solutions: bool = False) -> list[Path]:
    """The start-here notebook and every series notebook (optionally only the given series folders)."""
    found = sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not include_solutions:
        found = [p for p in found if "solutions" not in p.parts]
    if paper:
        found = [p for p in found if any(part in p.relative_to(NOTEBOOKS).parts[0] for part in paper)]
    return found


def execute(nb: Path, out_dir: Path, scale: str, timeout: int) -> dict:
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    rel = nb.relative_to(NOTEBOOKS)
    out_nb = out_dir / rel
    out_nb.parent.mkdir(parents=True, exist_ok=True)
    t0, status = time.perf_counter(), "ok"
    os.environ.update(COURSE_HEADLESS="1", COURSE_SCALE=scale)
    try:
        pm.execute_notebook(str(nb), str(out_nb), parameters={"COURSE_SCALE": scale}, cwd=str(nb.parent),
                            execution_timeout=timeout, progress_bar=False, kernel_name="python3")
    except Exception as exc:  # papermill still writes the partially executed notebook
        status = f"FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
    seconds = time.perf_counter() - t0
    if out_nb.exists():
        body, _ = HTMLExporter().from_notebook_node(nbformat.read(out_nb, as_version=4))
        out_nb.with_suffix(".html").write_text(body)
    return {"notebook": str(rel), "seconds": round(seconds, 1), "status": status,
            "html": str(rel.with_suffix(".html"))}


def write_index(rows: list[dict], out_dir: Path, scale: str) -> Path:
    items = "\n".join(
        f'<tr><td><a href="{html.escape(r["html"])}">{html.escape(r["notebook"])}</a></td>'
        f'<td>{r["seconds"]}</td><td>{html.escape(r["status"])}</td></tr>' for r in rows)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Workbook at scale {scale}</title></head>"
            f"<body><h1>Executed notebooks (scale: {scale})</h1><table border=1 cellpadding=4>"
            f"<tr><th>notebook</th><th>seconds</th><th>status</th></tr>{items}</table></body></html>")
    index = out_dir / "index.html"
    index.write_text(page)
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.run_notebooks", description=__doc__)
    parser.add_argument("--scale", default="course")
    parser.add_argument("--paper", action="append", help="series folder (or part of it), repeatable")
    parser.add_argument("--out", default="build/notebooks")
    parser.add_argument("--timeout", type=int, default=1800, help="per-cell execution timeout in seconds")
    args = parser.parse_args(argv)
    from course_lib.scale import get_scale

    scale = get_scale(args.scale)
    out_dir = Path(args.out).resolve()
    notebooks = discover(args.paper)
    if not notebooks:
        raise SystemExit(f"no notebooks match {args.paper}")
    rows = []
    for nb in notebooks:
        print(f"running {nb.relative_to(NOTEBOOKS)} at scale {scale} ...", flush=True)
        rows.append(execute(nb, out_dir, scale, args.timeout))
    index = write_index(rows, out_dir, scale)
    print(pd.DataFrame(rows)[["notebook", "seconds", "status"]].to_markdown(index=False))
    print(f"index: {index}")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
