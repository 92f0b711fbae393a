"""Real-browser test of the rendered book (``make book SCALE=smoke``): every notebook page is reachable from the
landing page and shows its figures, with no broken image and no error output.

The site is ``build/book-smoke/html`` (``$COURSE_BOOK_DIR`` overrides ``build/book-smoke``); when it is missing
the test builds it first (``python -m course_lib.book --scale smoke --no-claims``: the claims page then lists the
declared claims without running them, which keeps CI's cost to one execution of every notebook; executed
notebooks whose key is unchanged are reused). Chromium is started exactly as in ``test_jupyterlab_widgets.py``
(its ``browser`` fixture and process checks are reused) and pages are opened as ``file://`` URLs: the site is
static, no server needed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urldefrag

import pytest

from tests.e2e.test_jupyterlab_widgets import REPO, browser, no_leftover_processes  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e
BOOK = Path(os.environ.get("COURSE_BOOK_DIR", REPO / "build" / "book-smoke"))
BUILD_TIMEOUT_S = 1800


@pytest.fixture(scope="module")
def site():
    index = BOOK / "html" / "index.html"
    if not index.exists():
        env = {**os.environ, "COURSE_OFFLINE": "1", "MPLBACKEND": "Agg"}
        cmd = [sys.executable, "-m", "course_lib.book", "--scale", "smoke", "--out", str(BOOK), "--no-claims"]
        proc = subprocess.run(cmd,
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        if not index.exists():
            tail = (proc.stdout + proc.stderr)[-3000:]
            pytest.fail(f"the smoke book did not build (exit {proc.returncode}):\n{tail}")
    return BOOK


def _expected_images(executed: Path) -> int:
    """Figures stored by papermill in the executed notebook (image outputs), i.e. what its page must show."""
    nb = json.loads(executed.read_text())
    return sum(1 for cell in nb["cells"] if cell["cell_type"] == "code" for out in cell.get("outputs", [])
               if any(k.startswith("image/") for k in out.get("data", {})))


def _page_state(page) -> dict:
    return page.evaluate("""() => {
        const imgs = [...document.querySelectorAll('div.body img, div.document img')];
        const outputs = [...document.querySelectorAll('.cell_output img')];
        return {
          images: imgs.length,
          output_images: outputs.length,
          broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
          tracebacks: document.querySelectorAll('.output.traceback, .output.error').length,
          title: document.title,
        };
    }""")


def test_book_pages_show_their_figures(site, browser):  # noqa: F811 (fixture from the widgets test)
    from course_lib.run_notebooks import NOTEBOOKS, discover

    timings = json.loads((site / "timings.json").read_text())
    failed = [r["notebook"] for r in timings["notebooks"] if r["status"] != "ok"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto((site / "html" / "index.html").as_uri())
        assert "Eleven papers workbook" in page.title()
        assert _page_state(page)["broken"] == [], "the landing page has a broken image (course map)"
        hrefs = page.eval_on_selector_all("div.body a[href]", "els => els.map(e => e.href)")
        pages = sorted({urldefrag(h)[0] for h in hrefs if "/pages/" in h})
        built = {r["notebook"] for r in timings["notebooks"]}
        assert len(pages) == len(built), f"the landing page links {len(pages)} pages, not {len(built)}"
        if "COURSE_BOOK_DIR" not in os.environ:  # the default smoke book holds every notebook of the workbook
            assert built == {p.relative_to(NOTEBOOKS).as_posix() for p in discover()}
        for extra in ("claims.html", "deviations.html"):
            assert any(h.endswith(extra) for h in hrefs), f"no link to {extra} on the landing page"

        problems = []
        for url in pages:
            page.goto(url)
            state = _page_state(page)
            rel = url.split("/pages/", 1)[1].removesuffix(".html") + ".ipynb"
            want = _expected_images(site / "executed" / rel)
            if state["broken"]:
                problems.append(f"{rel}: broken images {state['broken']}")
            if state["tracebacks"]:
                problems.append(f"{rel}: {state['tracebacks']} error output(s)")
            if state["output_images"] < want:
                problems.append(f"{rel}: shows {state['output_images']} figures, the executed notebook has {want}")
        for extra in ("claims.html", "deviations.html"):
            page.goto((site / "html" / extra).as_uri())
            assert page.locator("div.body table").count() >= 1, f"{extra} shows no table"
        assert not problems, "\n".join(problems)
        assert not failed, f"notebooks that failed to execute in this build: {failed}"
    finally:
        context.close()
