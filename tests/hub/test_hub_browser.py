"""Two learners use the classroom hub (hub/jupyterhub_config.py) in a real Chromium, as a class would.

Each learner logs in through the hub's login page with the shared password, lands in their own JupyterLab,
runs ``00_start_here`` and ``09_lct/3_interactive`` (run all cells, move the first slider, see the figure's PNG
change, no error anywhere: ``check_notebook`` of the JupyterLab browser test, run here against the learner's
server behind the hub's proxy). Learner A then edits and saves a notebook: A's copy changes, B's copy (on disk
and through B's server) and the repository's notebook do not. A wrong password is refused. The hub is started
as ``make hub`` starts it (its config file, with a free port and throwaway state), stopped with SIGTERM, and
nothing it started may be left (``running_hub``).
"""
from __future__ import annotations

import hashlib
import time
from types import SimpleNamespace

import pytest

from tests.e2e.test_jupyterlab_widgets import (  # noqa: F401 (fixtures)
    NOTEBOOKS,
    VIEWPORT,
    Lab,
    browser,
    check_notebook,
    no_leftover_processes,
)
from tests.hub.hubtools import PASSWORD, REPO, Learner, running_hub, server_pid

pytestmark = pytest.mark.hub
INTERACTIVE = NOTEBOOKS / "09_lct" / "3_interactive.ipynb"  # one of the lightest interactive notebooks at smoke
EDITED = "notebooks/04_faan/1_derivation.ipynb"
LOGIN_S = 180


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("hub-browser")) as h:
        yield h


def _browser_login(context, hub, name: str, password: str):
    """Log in through the hub's login page; returns the page (left wherever the hub sent it)."""
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    return page


def _learner_lab(browser, hub, name: str):  # noqa: F811
    """Log ``name`` in with the browser (spawning their server); return (context, Lab handle, REST learner)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = _browser_login(context, hub, name, PASSWORD)
    page.wait_for_url(f"**/user/{name}/lab/**", timeout=LOGIN_S * 1000)  # spawned, default URL = start-here
    page.close()
    learner = Learner(hub, name)
    assert learner.login() == 302
    learner.get_token()
    pid = server_pid(name)
    assert pid, f"no single-user server process found for {name}"
    lab = Lab(proc=SimpleNamespace(pid=pid), url=learner.server_url, token=learner.token, log=hub.log)
    return context, lab, learner


def test_wrong_password_is_refused(hub, browser):  # noqa: F811
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = _browser_login(context, hub, "mallory", "not-the-password")
        page.wait_for_selector(".login_error", timeout=30_000)
        assert "/hub/login" in page.url
        assert not any(c["name"].startswith("jupyterhub-session") for c in context.cookies())
    finally:
        context.close()
    assert Learner(hub, "mallory").login("not-the-password") == 403
    assert not (hub.homes() / "mallory").exists(), "a refused login must not create a home"


def test_two_learners_run_notebooks_and_keep_their_own_copies(hub, browser, capsys):  # noqa: F811
    repo_digest = hashlib.sha256((REPO / EDITED).read_bytes()).hexdigest()
    marker = f"edited by learner A at {time.time():.0f}"
    summaries = []
    t0 = time.monotonic()
    ctx_a, lab_a, _ = _learner_lab(browser, hub, "alice")
    try:
        for nb in (NOTEBOOKS / "00_start_here.ipynb", INTERACTIVE):
            summaries.append("alice " + check_notebook(nb, lab_a, ctx_a))
        # A edits a notebook in JupyterLab and saves it
        page = ctx_a.new_page()
        page.goto(f"{lab_a.url}/lab/tree/{EDITED}?reset")
        page.wait_for_function("(p) => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                               " return !!(w && w.context && w.context.isReady && w.context.path === p"
                               " && w.content.widgets.length); }", arg=EDITED, timeout=60_000)
        page.evaluate("async (m) => { const w = window.jupyterapp.shell.currentWidget;"
                      " w.content.widgets[0].model.sharedModel.setSource('# ' + m); await w.context.save(); }",
                      marker)
        page.close()
        lab_a.shutdown_kernels()
    finally:
        ctx_a.close()
    assert marker in (hub.homes() / "alice" / EDITED).read_text(), "learner A's save did not reach A's copy"

    ctx_b, lab_b, learner_b = _learner_lab(browser, hub, "bob")
    try:
        for nb in (NOTEBOOKS / "00_start_here.ipynb", INTERACTIVE):
            summaries.append("bob   " + check_notebook(nb, lab_b, ctx_b))
        lab_b.shutdown_kernels()
    finally:
        ctx_b.close()
    b_first = learner_b.notebook(EDITED)["cells"][0]["source"]
    assert marker not in b_first, "learner B sees learner A's edit"
    assert marker not in (hub.homes() / "bob" / EDITED).read_text()
    assert hashlib.sha256((REPO / EDITED).read_bytes()).hexdigest() == repo_digest, "the repository's notebook changed"
    with capsys.disabled():
        print(f"\n[hub-browser] two learners in {time.monotonic() - t0:.1f} s")
        for s in summaries:
            print(f"[hub-browser] {s}")
