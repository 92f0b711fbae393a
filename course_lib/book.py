"""``make book``: execute every notebook at a scale and build a navigable static site with Sphinx + myst-nb.

``python -m course_lib.book --scale smoke --out build/book [--jobs 2] [--claims-md FILE | --no-claims]``

1. **Execute** each notebook with papermill (``course_lib.run_notebooks.execute``: the same timeouts and
   parameters as ``make run``) into ``<out>/executed/``. An executed notebook is reused when its key (the
   notebook's cells, the scale and a fingerprint of ``course_lib``) is unchanged, so a rebuild only re-runs what
   changed; ``--reuse DIR`` also looks in another book build's ``executed/`` folder (e.g. CI's cached one).
2. **Assemble** a Sphinx source tree in ``<out>/src``: a landing page (course map, objectives, prerequisites,
   expected times from the presets, measured times of this build), one page per executed notebook (with a
   header cell giving the same information), the claims ledger of this scale (``python -m course_lib.claims``,
   stamped with date, device and commit) and every series' deviations table collected on one page.
3. **Render** with ``sphinx-build`` (myst-nb with ``nb_execution_mode = "off"``: it renders the outputs that
   papermill stored, it never re-executes) into ``<out>/html``. Open ``<out>/html/index.html``.

Why Sphinx + myst-nb and not Jupyter Book 2: both read MyST and render stored outputs, but the Jupyter Book 2
wheel (checked: 2.1.7) is a Node.js bundle (``jupyter_book/dist/jupyter-book.cjs``) that needs ``node`` (it offers
to install one through nodeenv, a download) and fetches its site template from ``api.mystmd.org`` at build time,
so it does not build offline. Sphinx, myst-nb, the bundled alabaster theme and MathJax (jupyter-server-mathjax)
are plain Python wheels pinned in ``constraints.txt``; with ``nb_execution_mode = "off"`` myst-nb renders the
outputs papermill stored and never re-executes a notebook. (Jupyter Book 1 was Sphinx + myst-nb underneath.)
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import hashlib
import html
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
META_KEY = "course_book"


# ------------------------------------------------------------------------------------------------- execution
def library_fingerprint() -> str:
    """sha256 over every file of course_lib (code and registry): a change anywhere re-executes the notebooks."""
    h = hashlib.sha256()
    tooling = {"book.py", "labkit.py", "run_notebooks.py"}  # build tools, not imported by the notebooks
    for path in sorted((ROOT / "course_lib").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".json") \
                and not (path.parent.name == "course_lib" and path.name in tooling):
            h.update(str(path.relative_to(ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def notebook_key(nb_path: Path, scale: str, fingerprint: str) -> str:
    """What an executed notebook depends on: its cells' sources, the scale and the library fingerprint."""
    cells = json.loads(nb_path.read_text())["cells"]
    sources = json.dumps([(c["cell_type"], "".join(c["source"])) for c in cells])
    return hashlib.sha256(f"{scale}\n{fingerprint}\n{sources}".encode()).hexdigest()[:16]


def _stored(executed: Path) -> dict | None:
    try:
        return json.loads(executed.read_text()).get("metadata", {}).get(META_KEY)
    except (OSError, ValueError):
        return None


def execute_one(nb: Path, exec_dir: Path, scale: str, timeout: int, key: str, reuse: list[Path]) -> dict:
    """Execute ``nb`` (or reuse a matching executed copy); returns the run row (seconds, status, reused)."""
    from course_lib.run_notebooks import execute

    rel = nb.relative_to(NOTEBOOKS)
    target = exec_dir / rel
    for candidate in [target] + [d / rel for d in reuse]:
        meta = _stored(candidate) if candidate.exists() else None
        if meta and meta.get("key") == key and meta.get("status") == "ok":
            if candidate != target:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(candidate, target)
            return {"notebook": str(rel), "seconds": meta["seconds"], "status": "ok", "reused": True}
    row = execute(nb, exec_dir, scale, timeout)
    row["reused"] = False
    if target.exists():  # stamp the key so the next build can reuse it
        data = json.loads(target.read_text())
        data.setdefault("metadata", {})[META_KEY] = {"key": key, "scale": scale, "seconds": row["seconds"],
                                                      "status": row["status"]}
        target.write_text(json.dumps(data, indent=1, ensure_ascii=False))
    target.with_suffix(".html").unlink(missing_ok=True)  # run_notebooks' nbconvert page: the book renders its own
    return row


def stored_rows(notebooks: list[Path], exec_dir: Path) -> list[dict]:
    """``--no-execute``: the rows of notebooks executed by an earlier build (missing ones are an error)."""
    rows = []
    for nb in notebooks:
        rel = nb.relative_to(NOTEBOOKS)
        meta = _stored(exec_dir / rel)
        if meta is None:
            raise SystemExit(f"--no-execute: {exec_dir / rel} is missing; build once without --no-execute")
        rows.append({"notebook": str(rel), "seconds": meta["seconds"], "status": meta["status"], "reused": True})
    return rows


def execute_all(notebooks: list[Path], exec_dir: Path, scale: str, timeout: int, jobs: int,
                reuse: list[Path]) -> list[dict]:
    fingerprint = library_fingerprint()
    keys = {nb: notebook_key(nb, scale, fingerprint) for nb in notebooks}
    rows: dict[Path, dict] = {}
    with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # each papermill run has its own kernel
        futures = {pool.submit(execute_one, nb, exec_dir, scale, timeout, keys[nb], reuse): nb for nb in notebooks}
        for fut in cf.as_completed(futures):
            nb = futures[fut]
            rows[nb] = fut.result()
            r = rows[nb]
            how = "reused" if r["reused"] else f"{r['seconds']} s"
            print(f"  {r['notebook']}: {r['status']} ({how})", flush=True)
    return [rows[nb] for nb in notebooks]


# -------------------------------------------------------------------------------------------------- assembly
def _series_key(folder: str) -> str:
    return folder.split("_", 1)[1] if "_" in folder and folder.split("_", 1)[0].isdigit() else folder


def _title(nb: dict, fallback: str) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _md_cell(text: str) -> dict:
    return {"cell_type": "markdown", "id": hashlib.sha1(text.encode()).hexdigest()[:8], "metadata": {},
            "source": text}


def _normalized(nb: dict) -> dict:
    """nbformat 4.5 with a unique id on every cell (older notebooks have none; Sphinx would warn per cell)."""
    import nbformat

    node = nbformat.from_dict(nb)
    node.nbformat, node.nbformat_minor = 4, max(5, node.get("nbformat_minor", 0))
    seen = set()
    for k, cell in enumerate(node.cells):
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = f"c{k:04d}"
        seen.add(cell["id"])
    return node


def page_header(rel: Path, row: dict, scale: str, shows_header: bool = False) -> str:
    """Markdown put at the top of a notebook's page: objectives, prerequisites, expected and measured time."""
    from course_lib.syllabus import SERIES, header_markdown

    key = _series_key(rel.parts[0]) if len(rel.parts) > 1 else ""
    parts = [header_markdown(key)] if key in SERIES and not shows_header else []
    parts.append(f"*This page: executed at scale `{scale}` in {row['seconds']} s "
                 f"({'reused from an earlier build' if row.get('reused') else 'this build'}); "
                 f"source `notebooks/{rel.as_posix()}`.*")
    return "\n\n".join(parts)


def collect_deviations(exec_dir: Path, notebooks: list[Path]) -> dict:
    """A notebook made of every executed 'Deviations from the paper' section (its cells with their outputs)."""
    cells = [_md_cell("# Deviations from the papers\n\nEach series states where it departs from its paper and why "
                      "(collected from the executed notebooks of this build; the tables are rendered from the "
                      "presets).")]
    for nb_path in notebooks:
        target = exec_dir / nb_path.relative_to(NOTEBOOKS)
        if not target.exists():
            continue
        nb = json.loads(target.read_text())
        section, level = [], None
        for cell in nb["cells"]:
            text = "".join(cell["source"])
            heading = text.lstrip().split("\n", 1)[0] if cell["cell_type"] == "markdown" else ""
            if heading.startswith("#"):
                this_level = len(heading) - len(heading.lstrip("#"))
                if level is not None and this_level <= level:
                    break
                if level is None and "deviation" in heading.lower():
                    level = this_level
                    body = text.lstrip().split("\n", 1)[1] if "\n" in text.lstrip() else ""
                    cell = dict(cell, source=f"## {_title(nb, nb_path.stem)}\n\n"
                                             f"*from `{nb_path.relative_to(NOTEBOOKS).as_posix()}`*\n\n{body}")
            if level is not None:
                section.append(cell)
        cells.extend(section)
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _table_md(df) -> str:
    """A DataFrame as a markdown table whose cells may contain '|' (escaped) and newlines (flattened)."""
    import pandas as pd

    clean = df.copy()
    for col in clean.columns:
        if not pd.api.types.is_numeric_dtype(clean[col]):
            clean[col] = clean[col].map(lambda v: str(v).replace("|", "\\|").replace("\n", " "))
    return clean.to_markdown(index=False)


def claims_page(scale: str, out: Path, claims_md: Path | None, skip: bool, device: str | None = None,
                packages: list[str] | None = None) -> tuple[str, float]:
    """The claims ledger at this scale as a markdown page.

    Runs every series' ``claims.run`` through ``course_lib.claims.run_paper`` (what ``python -m course_lib.claims``
    does) and stamps date, device and commit; ``claims_md`` uses a ledger written by ``make claims`` instead;
    ``skip`` lists the declared claims (paper value, threshold) with the status "not run in this build".
    """
    import importlib

    from course_lib.claims import Ledger, commit_hash, paper_packages, run_paper

    stamp = f"built {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · commit `{commit_hash()}`"
    t0 = time.perf_counter()
    if claims_md is not None:
        body = claims_md.read_text()
        head, _, rest = body.partition("\n")
        return (f"# Claims ledger (from `{claims_md.name}`) at scale `{scale}`\n\n*{stamp}; the ledger file was "
                f"written by `make claims`.*\n{rest}", time.perf_counter() - t0)
    parts = [f"# Claims ledger of this build at scale `{scale}`", "",
             f"*{stamp}. Columns: the paper's value (the paper column is never ours), the metric, the threshold at "
             "this scale, our measured value with its provenance, the status; each section names its device and "
             "wall time.*", ""]
    for pkg in [p for p in paper_packages() if packages is None or p in packages]:
        if skip:
            module = importlib.import_module(f"course_lib.{pkg}.claims")
            table = Ledger(pkg, module.CLAIMS, scale).table().drop(columns=["statement"])
            table["status"] = "not run in this build"
            parts += [f"## {pkg}", "", "*Not run in this build (`--no-claims`); run `make claims SCALE="
                      f"{scale}` or `make book` to measure.*", "", _table_md(table), ""]
            continue
        try:
            ledger = run_paper(pkg, scale, device)
        except Exception as exc:  # one broken series must not hide the others
            parts += [f"## {pkg}", "", f"**The claims run failed:** `{type(exc).__name__}: {exc}`"[:600], ""]
            continue
        parts += [f"## {pkg}", "", f"device: `{ledger.device}` · wall time: {ledger.wall_s:.0f} s · "
                  f"{len(ledger.failures())} failing", "", _table_md(ledger.table().drop(columns=["statement"])), ""]
    return "\n".join(parts), time.perf_counter() - t0


def landing_page(rows: list[dict], scale: str, titles: dict[str, str]) -> str:
    from course_lib.course_map import PAPERS
    from course_lib.syllabus import SERIES, expected_seconds, format_seconds

    by_folder: dict[str, list[dict]] = {}
    for r in rows:
        by_folder.setdefault(Path(r["notebook"]).parts[0] if "/" in r["notebook"] else "", []).append(r)
    out = ["# Eleven papers workbook", "",
           f"The workbook's notebooks, executed at scale `{scale}` with their outputs and figures. "
           "Each series derives the paper's method (notebook 1), reproduces its experiments (notebook 2) and "
           "lets you explore it (notebook 3). Run them yourself with `make lab`.", "",
           "![course map](course_map.png)", "", "## Start here", ""]
    for r in by_folder.get("", []):
        out.append(f"- [{titles[r['notebook']]}](pages/{Path(r['notebook']).with_suffix('').as_posix()}.ipynb)")
    out += ["", "## The series", ""]
    for paper in PAPERS:
        series_rows = by_folder.get(paper.folder)
        if not series_rows:
            continue
        out += [f"### {paper.number}. {paper.title}", "", f"*{paper.citation}* · concepts: {', '.join(paper.concepts)}",
                ""]
        info = SERIES.get(paper.key)
        if info:
            out += ["**You will learn to** " + "; ".join(info.objectives) + ".", "",
                    "**Prerequisites:** " + "; ".join(info.prerequisites) + ".", ""]
        times = expected_seconds(paper.key)
        out += ["**Expected time** (heaviest notebook, from the presets): "
                + " · ".join(f"{s} {format_seconds(t)}" for s, t in times.items()), "",
                "| notebook | measured here | status |", "|---|---|---|"]
        for r in series_rows:
            link = f"pages/{Path(r['notebook']).with_suffix('').as_posix()}.ipynb"
            out.append(f"| [{titles[r['notebook']]}]({link}) | {r['seconds']} s | {r['status']} |")
        out.append("")
    out += ["## Across the course", "", "- [Claims ledger of this build](claims.md)",
            "- [Deviations from the papers](deviations.ipynb)", "",
            "```{toctree}", ":hidden:", ":maxdepth: 1", ""]
    out += [f"pages/{Path(r['notebook']).with_suffix('').as_posix()}" for r in rows]
    out += ["claims", "deviations", "```", ""]
    return "\n".join(out)


CONF = '''# Generated by course_lib.book: Sphinx + myst-nb render the notebooks executed by papermill.
project = "Eleven papers workbook"
extensions = ["myst_nb"]
nb_execution_mode = "off"          # outputs come from the papermill run; never re-executed here
nb_output_stderr = "remove"        # progress bars and warnings
myst_enable_extensions = ["dollarmath", "amsmath"]
html_theme = "alabaster"
html_theme_options = {"page_width": "1200px", "sidebar_width": "260px", "show_relbars": True}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_title = "Eleven papers workbook"
exclude_patterns = ["_build"]
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]
'''
# MathJax 2 from the jupyter-server-mathjax wheel, copied into the site: equations render with no network.
LOCAL_MATHJAX = '''
html_static_path = ["_mathjax_static"]
myst_update_mathjax = False  # myst's MathJax 3/4 options would shadow the MathJax 2 configuration
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {"tex2jax": {"inlineMath": [["\\\\(", "\\\\)"]], "displayMath": [["\\\\[", "\\\\]"]],
                               "processEscapes": True},
                   "HTML-CSS": {"availableFonts": ["STIX-Web"], "preferredFont": "STIX-Web", "webFont": "STIX-Web",
                                "imageFont": None}}  # the wheel ships the STIX-Web fonts only
'''


def _local_mathjax(src: Path) -> bool:
    """Copy MathJax (if its wheel is installed) under ``src/_mathjax_static/mathjax``; False when unavailable."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        return False
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").exists():
        return False
    shutil.copytree(static, src / "_mathjax_static" / "mathjax")
    return True


def assemble(exec_dir: Path, src: Path, rows: list[dict], notebooks: list[Path], scale: str, claims_text: str) -> None:
    from course_lib.course_map import plot_course_map

    if src.exists():
        shutil.rmtree(src)
    (src / "pages").mkdir(parents=True)
    titles = {}
    for nb_path, row in zip(notebooks, rows):
        rel = nb_path.relative_to(NOTEBOOKS)
        executed = exec_dir / rel
        nb = json.loads(executed.read_text()) if executed.exists() else json.loads(nb_path.read_text())
        titles[row["notebook"]] = _title(nb, rel.stem)
        shows = any("show_header(" in "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        header = _md_cell(page_header(rel, row, scale, shows_header=shows))
        first_md = next((i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"), -1)
        nb["cells"].insert(first_md + 1, header)  # below the notebook's title cell
        target = src / "pages" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(_normalized(nb), ensure_ascii=False))
    import matplotlib

    matplotlib.use("Agg")
    fig = plot_course_map()
    fig.savefig(src / "course_map.png", dpi=80, bbox_inches="tight")
    (src / "conf.py").write_text(CONF + (LOCAL_MATHJAX if _local_mathjax(src) else ""))
    (src / "index.md").write_text(landing_page(rows, scale, titles))
    (src / "claims.md").write_text(claims_text)
    deviations = _normalized(collect_deviations(exec_dir, notebooks))
    (src / "deviations.ipynb").write_text(json.dumps(deviations, ensure_ascii=False))


def sphinx(src: Path, html_dir: Path, jobs: int) -> float:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", str(max(1, jobs)), str(src), str(html_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    log = src.parent / "sphinx.log"
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise SystemExit(f"sphinx-build failed (exit {proc.returncode}); see {log}:\n{tail}")
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------------------------------ main
def build(scale: str, out: Path, *, paper: list[str] | None = None, jobs: int = 2, timeout: int = 1800,
          reuse: list[Path] | None = None, claims_md: Path | None = None, no_claims: bool = False,
          no_execute: bool = False) -> dict:
    """Execute, assemble and render; returns the timings (also written to ``<out>/timings.json``)."""
    from course_lib.run_notebooks import discover
    from course_lib.scale import get_scale

    scale = get_scale(scale)
    notebooks = discover(paper)
    if not notebooks:
        raise SystemExit(f"no notebooks match {paper}")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    print(f"[book] executing {len(notebooks)} notebooks at scale {scale} ({jobs} at a time)", flush=True)
    if no_execute:
        rows = stored_rows(notebooks, out / "executed")
    else:
        rows = execute_all(notebooks, out / "executed", scale, timeout, jobs, reuse or [])
    t_exec = time.perf_counter() - t0
    print("[book] claims ledger ...", flush=True)
    packages = sorted({_series_key(nb.relative_to(NOTEBOOKS).parts[0]) for nb in notebooks
                       if len(nb.relative_to(NOTEBOOKS).parts) > 1}) if paper else None
    claims_text, t_claims = claims_page(scale, out, claims_md, no_claims, packages=packages)
    assemble(out / "executed", out / "src", rows, notebooks, scale, claims_text)
    print("[book] sphinx-build ...", flush=True)
    t_sphinx = sphinx(out / "src", out / "html", jobs)
    timings = {"scale": scale, "notebooks": rows, "execute_s": round(t_exec, 1), "claims_s": round(t_claims, 1),
               "sphinx_s": round(t_sphinx, 1), "total_s": round(time.perf_counter() - t0, 1),
               "date": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"}
    (out / "timings.json").write_text(json.dumps(timings, indent=1))
    failed = [r for r in rows if r["status"] != "ok"]
    print(f"[book] {len(rows)} pages ({len(failed)} failed notebooks) · execute {timings['execute_s']} s · "
          f"claims {timings['claims_s']} s · sphinx {timings['sphinx_s']} s · total {timings['total_s']} s")
    print(f"[book] open {html.escape(str(out / 'html' / 'index.html'))}")
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.book", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="course")
    parser.add_argument("--out", default="build/book")
    parser.add_argument("--paper", action="append", help="series folder (or part of it), repeatable")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed in parallel")
    parser.add_argument("--timeout", type=int, default=1800, help="per-cell execution timeout in seconds")
    parser.add_argument("--reuse", action="append", type=Path, default=[],
                        help="a folder of executed notebooks to reuse when their key matches (repeatable)")
    parser.add_argument("--claims-md", type=Path,
                        help="use this claims ledger (written by make claims) instead of running it")
    parser.add_argument("--no-claims", action="store_true",
                        help="list the declared claims without running them (cheaper; CI's browser test uses it)")
    parser.add_argument("--no-execute", action="store_true",
                        help="re-assemble and re-render from <out>/executed of an earlier build")
    args = parser.parse_args(argv)
    timings = build(args.scale, Path(args.out).resolve(), paper=args.paper, jobs=args.jobs, timeout=args.timeout,
                    reuse=args.reuse, claims_md=args.claims_md, no_claims=args.no_claims,
                    no_execute=args.no_execute)
    return 0 if all(r["status"] == "ok" for r in timings["notebooks"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
