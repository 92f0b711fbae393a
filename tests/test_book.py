"""course_lib.book (the static site) and course_lib.syllabus, without executing the real notebooks."""
import json
from pathlib import Path

import pytest

from course_lib import book, syllabus


def _nb(cells, minor=4):
    out = []
    for kind, text, *outputs in cells:
        cell = {"cell_type": kind, "metadata": {}, "source": text}
        if kind == "code":
            cell.update(execution_count=1, outputs=outputs[0] if outputs else [])
        out.append(cell)
    return {"cells": out, "metadata": {}, "nbformat": 4, "nbformat_minor": minor}


def test_notebook_key_changes_with_cells_scale_and_library(tmp_path):
    p = tmp_path / "a.ipynb"
    p.write_text(json.dumps(_nb([("markdown", "# T"), ("code", "x = 1")])))
    k = book.notebook_key(p, "smoke", "lib1")
    assert k == book.notebook_key(p, "smoke", "lib1")
    assert k != book.notebook_key(p, "course", "lib1") and k != book.notebook_key(p, "smoke", "lib2")
    p.write_text(json.dumps(_nb([("markdown", "# T"), ("code", "x = 2")])))
    assert k != book.notebook_key(p, "smoke", "lib1")
    assert len(book.library_fingerprint()) == 64


def test_execute_one_reuses_a_matching_executed_notebook(tmp_path, monkeypatch):
    nb = book.NOTEBOOKS / "00_start_here.ipynb"
    exec_dir = tmp_path / "executed"
    calls = []

    def fake_execute(nb_path, out_dir, scale, timeout):
        calls.append(nb_path)
        (out_dir / "00_start_here.ipynb").parent.mkdir(parents=True, exist_ok=True)
        (out_dir / "00_start_here.ipynb").write_text(json.dumps(_nb([("markdown", "# Start")])))
        return {"notebook": "00_start_here.ipynb", "seconds": 1.5, "status": "ok", "html": ""}

    monkeypatch.setattr("course_lib.run_notebooks.execute", fake_execute)
    first = book.execute_one(nb, exec_dir, "smoke", 60, "key1", [])
    again = book.execute_one(nb, exec_dir, "smoke", 60, "key1", [])
    changed = book.execute_one(nb, exec_dir, "smoke", 60, "key2", [])
    assert [first["reused"], again["reused"], changed["reused"]] == [False, True, False] and len(calls) == 2
    assert again["seconds"] == 1.5
    stored = json.loads((exec_dir / "00_start_here.ipynb").read_text())["metadata"][book.META_KEY]
    assert stored == {"key": "key2", "scale": "smoke", "seconds": 1.5, "status": "ok"}
    other = tmp_path / "other"  # --reuse: an executed copy elsewhere with the right key is copied over
    book.execute_one(nb, other, "smoke", 60, "key3", [exec_dir])
    assert len(calls) == 3
    assert book.execute_one(nb, tmp_path / "third", "smoke", 60, "key3", [other])["reused"]
    assert (tmp_path / "third" / "00_start_here.ipynb").exists()


def test_deviations_are_collected_with_their_outputs(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "NOTEBOOKS", tmp_path / "notebooks")
    src = tmp_path / "notebooks" / "09_lct" / "1_derivation.ipynb"
    src.parent.mkdir(parents=True)
    table = {"output_type": "display_data", "data": {"text/markdown": "| a | b |\n|---|---|\n| 1 | 2 |"},
             "metadata": {}}
    nb = _nb([("markdown", "# LCT 1"), ("markdown", "## 1. Maths"), ("code", "x"),
              ("markdown", "## Deviations from the paper\n\nWhy we differ."), ("code", "show()", [table]),
              ("markdown", "## Exercises"), ("code", "check()")])
    src.write_text(json.dumps(nb))
    (tmp_path / "executed" / "09_lct").mkdir(parents=True)
    (tmp_path / "executed" / "09_lct" / "1_derivation.ipynb").write_text(json.dumps(nb))
    dev = book.collect_deviations(tmp_path / "executed", [src])
    texts = ["".join(c["source"]) for c in dev["cells"]]
    assert texts[0].startswith("# Deviations from the papers")
    assert texts[1].startswith("## LCT 1") and "Why we differ." in texts[1] and "09_lct/1_derivation" in texts[1]
    assert dev["cells"][2]["outputs"] == [table]
    assert len(dev["cells"]) == 3  # stops at the next heading of the same level
    normal = book._normalized(dev)
    assert normal["nbformat_minor"] >= 5 and len({c["id"] for c in normal["cells"]}) == 3


def test_landing_page_links_every_notebook_and_shows_presets_times():
    rows = [{"notebook": "00_start_here.ipynb", "seconds": 3.0, "status": "ok"},
            {"notebook": "09_lct/1_derivation.ipynb", "seconds": 12.0, "status": "ok"},
            {"notebook": "09_lct/2_experiments.ipynb", "seconds": 40.0, "status": "FAILED: x"}]
    titles = {r["notebook"]: f"title {i}" for i, r in enumerate(rows)}
    page = book.landing_page(rows, "smoke", titles)
    for r in rows:
        assert f"pages/{Path(r['notebook']).with_suffix('').as_posix()}.ipynb" in page
    assert "FAILED: x" in page and "(claims.md)" in page and "(deviations.ipynb)" in page
    times = syllabus.expected_seconds("lct")
    assert f"course {syllabus.format_seconds(times['course'])}" in page  # from the presets, not typed
    assert "### 9. LCT" in page and "```{toctree}" in page
    assert "derive the kernelised correlation filter" in page


def test_claims_page_stamps_and_reuses_a_given_ledger(tmp_path):
    md = tmp_path / "claims.md"
    md.write_text("# Claims ledger at scale `smoke`\n\ncommit: `abc`\n\n## lct\n\ndevice: `cpu`\n\n"
                  "| id |\n|---|\n| x |\n")
    text, _ = book.claims_page("smoke", tmp_path, md, skip=False)
    assert text.startswith("# Claims ledger (from `claims.md`) at scale `smoke`")
    assert "built 20" in text and "commit `" in text and "device: `cpu`" in text and "| x |" in text


def test_claims_page_without_running_lists_every_declared_claim(tmp_path):
    from course_lib.claims import paper_packages

    text, _ = book.claims_page("smoke", tmp_path, None, skip=True)
    for pkg in paper_packages():
        assert f"## {pkg}" in text
    assert "not run in this build" in text and "threshold" in text and "paper" in text
    only, _ = book.claims_page("smoke", tmp_path, None, skip=True, packages=["lct"])
    assert "## lct" in only and "## counting" not in only


def test_table_cells_with_pipes_are_escaped():
    import pandas as pd

    md = book._table_md(pd.DataFrame({"metric": ["max |c − Σa|"], "value": [1.0]}))
    row = md.splitlines()[2]
    assert "\\|c − Σa\\|" in row and row.count(" | ") == 1  # one column separator, the pipes escaped


def test_page_header_and_syllabus():
    head = book.page_header(Path("11_counting/1_derivation.ipynb"), {"seconds": 7.0, "reused": False}, "smoke")
    assert "**You will learn to**" in head and "in 7.0 s" in head and "notebooks/11_counting/1_derivation" in head
    assert "You will learn" not in book.page_header(Path("00_start_here.ipynb"), {"seconds": 1, "reused": True},
                                                    "smoke")
    assert "You will learn" not in book.page_header(Path("11_counting/1_derivation.ipynb"), {"seconds": 1},
                                                    "smoke", shows_header=True)  # the notebook shows it itself
    md = syllabus.header_markdown("counting")
    assert "**Prerequisites:**" in md and "smoke 30 s" in md  # counting's presets: expected_seconds=30 at smoke
    with pytest.raises(KeyError, match="no syllabus entry"):
        syllabus.header_markdown("nope")
    assert syllabus.expected_seconds("nope") == {"smoke": None, "course": None, "full": None}
    assert syllabus.format_seconds(600) == "10 min" and syllabus.format_seconds(None) == "—"
    for key in ("gnn_lf_hf", "lct", "relative_position", "counting", "lim_net"):
        assert all(v is not None for v in syllabus.expected_seconds(key).values()), key
    from course_lib.course_map import landed

    assert {p.key for p in landed()} <= set(syllabus.SERIES), "a landed series has no syllabus entry"
