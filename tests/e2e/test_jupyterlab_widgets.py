"""Real-browser test: the interactive notebooks' widgets work in JupyterLab (issue 8).

Kernel-side runs (nbval, papermill, ``make test-notebooks``) never render a widget, so they cannot tell
whether a learner's slider redraws its figure. This test does, for ``notebooks/00_start_here.ipynb`` and
every ``notebooks/*/*_interactive.ipynb`` (found by glob, one test each): open it in JupyterLab, run all
cells, wait until every code cell has an execution count, wait for the first ``course_lib.viz.interactive``
view, move its first control (slider: an arrow key on the handle; dropdown: another option), and assert that
the figure's PNG bytes changed and that no cell (nor the kernel, for the widget callback) shows an error.
A full-page screenshot goes to ``build/screenshots/<name>.png`` (also when the test fails); the logs of the
server and the browser go to ``build/e2e/``.

Design choices
- Playwright's Python package, not Selenium: it is already a test dependency and needs no chromedriver
  matched to the browser's version (Debian ships ``chromium`` and ``chromium-driver`` as two packages that
  must move together); its locators, ``expect`` and ``wait_for_function`` wait on DOM state with timeouts,
  so the test has no fixed sleeps; and it speaks CDP to any recent Chromium. Nothing is downloaded: no
  ``playwright install``; the browser is Debian's ``chromium`` (``tests/e2e/browser_setup.sh`` installs it
  when missing; ``$CHROMIUM`` overrides the path).
- We start Chromium ourselves (a subprocess in its own process group, a fresh ``--user-data-dir``, the flags
  needed as root in a closed network, DevTools on an ephemeral loopback port) and attach with
  ``connect_over_cdp``, rather than ``chromium.launch(executable_path=...)``: Playwright's launcher does not
  expose the browser's process id, and we stop the browser by pid and check that nothing of it is left.
- JupyterLab runs from the project's .venv in its own process group on a free 127.0.0.1 port with a random
  token, ``COURSE_SCALE=smoke`` and ``COURSE_HEADLESS`` unset (live widgets), with throwaway settings,
  workspaces, checkpoints and runtime folders: autosave off (the committed notebooks stay output-free; checked by hash),
  every cell kept in the DOM (``windowingMode: none``), no news or update checks, ``window.jupyterapp``
  exposed so the test can run the ``notebook:run-all-cells`` command and read the cell models.
  ``MPLBACKEND`` is removed from its environment: ``MPLBACKEND=Agg`` (which the Makefile exports) stops
  ipykernel from selecting the inline backend, and ``display(fig)`` then shows ``<Figure ...>`` text only.
- Kernels are shut down through the REST API after each notebook (in a background thread while the next
  notebook loads; the next test checks that their processes are gone). At the end JupyterLab and Chromium
  are stopped by pid (SIGTERM to the process group, then SIGKILL to the group and to every recorded
  descendant), and the module asserts that no child process of pytest started by it is still alive.
"""
from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
if not sys.platform.startswith("linux"):
    pytest.skip("the browser test runs on Linux (Debian's chromium, /proc)", allow_module_level=True)

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
SCREENSHOTS = REPO / "build" / "screenshots"
LOGS = REPO / "build" / "e2e"
_VENV_BIN = REPO / ".venv" / "bin"
VENV_BIN = _VENV_BIN if (_VENV_BIN / "jupyter").exists() else Path(sys.executable).parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-default-browser-check", "--disable-dev-shm-usage", "--mute-audio"]
VIEWPORT = {"width": 1280, "height": 900}
MAX_SCREENSHOT_HEIGHT = 16000  # px; the bottom of a taller notebook is cut off

# Timeouts in seconds. They only bound a broken run: every wait ends as soon as the DOM is in the state
# waited for. Smoke notebooks take < 60 s on one core (the contract); RUN_ALL_S leaves room for a loaded
# machine and matches the notebooks stage's --nbval-cell-timeout.
SERVER_START_S = 60
BROWSER_START_S = 30
KERNEL_READY_S = 60
RUN_ALL_S = 300
WIDGET_S = 30
REDRAW_S = 30
SHUTDOWN_S = 20

LAB_SETTINGS = {  # plugin id -> user settings, written to a throwaway user-settings folder
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False,
                                                    "doNotDisturbMode": True},
}


def _notebook_name(path: Path) -> str:
    """``00_start_here`` or ``<series folder>-<n>_interactive`` (the screenshot's and the test id's name)."""
    rel = path.relative_to(NOTEBOOKS) if path.is_relative_to(NOTEBOOKS) else path.relative_to(REPO)
    return "-".join([*rel.parts[:-1], rel.stem])


def _notebooks_under_test() -> list:
    paths = [NOTEBOOKS / "00_start_here.ipynb", *sorted(NOTEBOOKS.glob("*/*_interactive.ipynb"))]
    return [pytest.param(p, id=_notebook_name(p)) for p in paths]


# ------------------------------------------------------------------------------------------------ processes
def _proc_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state letter) of every process, read from /proc."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def _descendants(pid: int, table: dict | None = None) -> set[int]:
    table = _proc_table() if table is None else table
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, (ppid, _, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def _family(pid: int) -> set[int]:
    """The process, its process group and all their descendants (kernels run in sessions of their own)."""
    table = _proc_table()
    group = {p for p, (_, pgid, _) in table.items() if pgid == pid} | {pid}
    return group | {d for g in group for d in _descendants(g, table)}


def _marked(marker: str | None) -> set[int]:
    """Processes whose command line contains ``marker`` (a temporary folder of this run), except this one."""
    if not marker:
        return set()
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker.encode() in Path(entry.path, "cmdline").read_bytes():
                    found.add(int(entry.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    """The pids that still run (zombies waiting for their parent to reap them count as gone)."""
    table = _proc_table()
    return {p for p in pids if p in table and table[p][2] not in ("Z", "X")}


def _wait_until(predicate, timeout: float, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy or ``timeout`` s pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def _stop_process(proc: subprocess.Popen, name: str, marker: str | None = None, grace: float = 15.0) -> None:
    """Stop ``proc`` (started with start_new_session=True) and all it started; assert that nothing is left.

    "All it started": its process group, its descendants, and processes whose command line holds ``marker``
    (daemons that left both, like Chromium's crash handler, or kernels whose parent died).
    """
    family = _family(proc.pid) | _marked(marker)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)
    if not _wait_until(lambda: not _alive(family), grace / 3):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in _alive(family):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    proc.wait(10)
    _wait_until(lambda: not _alive(family), 10)
    assert not _alive(family), f"{name}: processes {sorted(_alive(family))} still alive after SIGKILL"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: have the kernel send SIGTERM to this child when pytest dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module", autouse=True)
def no_leftover_processes(tmp_path_factory):
    """Set up first, torn down last: nothing this module started may outlive it (its descendants, and any
    process whose command line names this run's temporary folder).

    SIGTERM (a CI timeout, ``timeout``) is turned into KeyboardInterrupt meanwhile, so that pytest still runs
    the finalizers that stop JupyterLab and Chromium; their children also get SIGTERM if pytest dies.
    """
    marker = f"{tmp_path_factory.getbasetemp()}{os.sep}"
    before = _descendants(os.getpid()) | _marked(marker)

    def leftovers():
        return _alive(_descendants(os.getpid()) | _marked(marker)) - before

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
    _wait_until(lambda: not leftovers(), SHUTDOWN_S)
    assert not leftovers(), f"processes left behind by the browser test: {sorted(leftovers())}"


@dataclass
class Lab:
    """A running JupyterLab server."""

    proc: subprocess.Popen
    url: str
    token: str
    log: Path
    _pending: tuple | None = None

    def api(self, method: str, path: str, timeout: float = 10.0):
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self, wait: bool = True) -> None:
        """Delete every session and kernel, and check that the kernels' processes are gone.

        With ``wait=False`` the graceful shutdown (1-3 s) runs in a background thread while the next notebook
        loads; the next :meth:`join_shutdown` (or call of this method) waits for it and does the checks.
        """
        self.join_shutdown()
        kernels = {k["id"] for k in self.api("GET", "/api/kernels")}
        pids = _alive(_descendants(self.proc.pid))  # the kernels and whatever they started
        errors: list[BaseException] = []

        def delete():
            try:
                for session in self.api("GET", "/api/sessions"):  # deleting a session stops its kernel
                    with contextlib.suppress(urllib.error.HTTPError):
                        self.api("DELETE", f"/api/sessions/{session['id']}", timeout=SHUTDOWN_S)
                for kernel in self.api("GET", "/api/kernels"):  # kernels without a session
                    with contextlib.suppress(urllib.error.HTTPError):
                        self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=SHUTDOWN_S)
            except BaseException as exc:  # re-raised in the test's thread by join_shutdown
                errors.append(exc)

        thread = threading.Thread(target=delete, name="kernel-shutdown", daemon=True)
        thread.start()
        self._pending = (thread, kernels, pids, errors)
        if wait:
            self.join_shutdown()

    def join_shutdown(self) -> None:
        """Wait for a pending kernel shutdown; assert that those kernels and their processes are gone."""
        if self._pending is None:
            return
        thread, kernels, pids, errors = self._pending
        self._pending = None
        thread.join(2 * SHUTDOWN_S + 5)
        assert not thread.is_alive(), "deleting the sessions and kernels through the REST API hung"
        if errors:
            raise errors[0]

        def listed():
            return kernels & {k["id"] for k in self.api("GET", "/api/kernels")}

        _wait_until(lambda: not listed(), SHUTDOWN_S)
        assert not listed(), f"kernels {sorted(listed())} are still running after their shutdown"
        _wait_until(lambda: not _alive(pids), SHUTDOWN_S)
        assert not _alive(pids), f"kernel processes {sorted(_alive(pids))} still alive after their shutdown"

    def log_errors(self, since: int, limit: int = 15) -> list[str]:
        """Error lines of the server log (which also holds the kernels' stderr) written after byte ``since``."""
        try:
            with open(self.log, "rb") as f:
                f.seek(since)
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return []
        return [ln for ln in lines if ln.startswith("[E ") or "Traceback" in ln or "Error:" in ln][-limit:]


def _write_lab_settings(folder: Path) -> None:
    for plugin, values in LAB_SETTINGS.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _start_lab(home: Path, log: Path) -> Lab:
    jupyter = VENV_BIN / "jupyter"
    if not jupyter.exists():
        pytest.fail(f"{jupyter} not found: run `make setup` first")
    _write_lab_settings(home / "settings")
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_HEADLESS", "MPLBACKEND", "JUPYTER_TOKEN")}
    env.update(COURSE_SCALE="smoke", PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_CONFIG_DIR=str(home / "config"))
    env.setdefault("OMP_NUM_THREADS", "1")
    token = secrets.token_hex(24)
    for _attempt in range(3):  # the free port may be taken between probing and binding: retry on a new one
        port = _free_port()
        cmd = [str(jupyter), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={REPO}", "--ServerApp.terminals_enabled=False",
               "--LabApp.expose_app_in_browser=True", "--LabApp.extension_manager=readonly",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               f"--LabApp.user_settings_dir={home / 'settings'}",
               f"--LabApp.workspaces_dir={home / 'workspaces'}",
               # JupyterLab checkpoints a file it opens: keep those copies out of the repository
               f"--FileCheckpoints.checkpoint_dir={home / 'checkpoints'}"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_die_with_parent)
        lab = Lab(proc=proc, url=f"http://127.0.0.1:{port}", token=token, log=log)

        def answers(lab=lab):
            if lab.proc.poll() is not None:
                return "exited"
            try:
                lab.api("GET", "/api/status", timeout=2)
                return "up"
            except OSError:  # URLError, ConnectionError, timeouts
                return None

        state = _wait_until(answers, SERVER_START_S, interval=0.2)
        if state == "up":
            return lab
        _stop_process(proc, "jupyterlab", marker=f"{home}{os.sep}")
        if state is None:
            pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s; log:\n{_tail(log)}")
    pytest.fail(f"JupyterLab exited at start three times; log:\n{_tail(log)}")


def _keep_log(log: Path) -> None:
    """Copy a log from this run's temporary folder to build/e2e/ (concurrent runs do not write into it)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # pytest -n N: one server and browser per worker
    with contextlib.suppress(OSError):
        shutil.copyfile(log, LOGS / (f"{log.stem}-{worker}{log.suffix}" if worker else log.name))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("jupyterlab")
    server = _start_lab(home, home / "jupyterlab.log")
    try:
        yield server
    finally:
        try:
            server.shutdown_kernels()
        finally:
            _stop_process(server.proc, "jupyterlab", marker=f"{home}{os.sep}")
            _keep_log(server.log)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: run `bash tests/e2e/browser_setup.sh` (or set CHROMIUM)")
    base = tmp_path_factory.mktemp("chromium")
    profile, home, log = base / "profile", base / "home", base / "chromium.log"
    home.mkdir()
    cmd = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
           "about:blank"]
    env = {**os.environ, "HOME": str(home)}  # its crash handler's database goes there, not to ~/.config
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_die_with_parent)
    pw = None
    try:
        port_file = profile / "DevToolsActivePort"  # Chromium writes "<port>\n<path>" there once listening

        def listening():
            return proc.poll() is not None or (port_file.exists() and len(port_file.read_text().split()) == 2)

        _wait_until(listening, BROWSER_START_S)
        if proc.poll() is not None or not port_file.exists():
            pytest.fail(f"Chromium did not start (exit code {proc.poll()}); log:\n{_tail(log)}")
        port = int(port_file.read_text().split()[0])
        pw = sync_playwright().start()
        browser = pw.chromium.connect_over_cdp(f"http://127.0.0.1:{port}", timeout=BROWSER_START_S * 1000)
        yield browser
    finally:
        if pw is not None:
            with contextlib.suppress(Exception):  # fails when the driver is gone already (e.g. SIGTERM)
                pw.stop()  # disconnects and ends Playwright's driver process
        _stop_process(proc, "chromium", marker=f"{base}{os.sep}")
        _keep_log(log)


@pytest.fixture(scope="module")
def browser_context(browser):
    """One browser context for all notebooks (its HTTP cache makes the later JupyterLab loads faster)."""
    context = browser.new_context(viewport=VIEWPORT)
    yield context
    with contextlib.suppress(Exception):  # the browser process is stopped (and checked) anyway
        context.close()


# ------------------------------------------------------------------------------------------------ in the page
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on screen
STDERR = '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'

KERNEL_READY_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(kernel && w.context.isReady && kernel.connectionStatus === 'connected'
            && kernel.status === 'idle');
}"""

# Records every error the kernel publishes from now on: installed after run-all, it catches the exceptions
# raised in widget callbacks (they belong to no cell, and JupyterLab shows them in no cell either).
WATCH_KERNEL_ERRORS_JS = """() => {
  window.__e2eKernelErrors = [];
  window.jupyterapp.shell.currentWidget.sessionContext.iopubMessage.connect((_, msg) => {
    const c = msg.content;
    if (msg.header.msg_type === 'error') window.__e2eKernelErrors.push(`${c.ename}: ${c.evalue}`);
    if (msg.header.msg_type === 'stream' && c.name === 'stderr' && c.text.includes('Traceback'))
      window.__e2eKernelErrors.push(c.text.trim().slice(-600));
  });
}"""

# {done, failed} once the kernel is idle, no cell is queued or running ([*]) and either every code cell has
# an execution count or a cell holds an error (run-all stops there; later cells keep an empty prompt).
RUN_FINISHED_JS = """(panelSel) => {
  const panel = document.querySelector(panelSel);
  const indicator = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
  if (!indicator || indicator.getAttribute('data-status') !== 'idle') return false;
  const prompts = Array.from(panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'),
                             p => p.textContent.trim());
  if (prompts.length === 0 || prompts.some(p => p.includes('*'))) return false;
  const done = prompts.every(p => /^\\[\\d+\\]:$/.test(p));
  const failed = window.jupyterapp.shell.currentWidget.content.widgets.some(cell =>
      cell.model.type === 'code' && !(cell.model.getMetadata('tags') || []).includes('raises-exception')
      && cell.model.outputs.toJSON().some(o => o.output_type === 'error'));
  return (done || failed) ? {done, failed} : false;
}"""

# Every error the notebook shows: error outputs of the cell models, tracebacks printed to stderr, widgets that
# failed to render, and errors the kernel published outside any cell (widget callbacks). Cells tagged
# `raises-exception` may hold an error (as for nbval, and JupyterLab's run-all goes on past them).
ERRORS_JS = """([stderrSel]) => {
  const errors = [];
  window.jupyterapp.shell.currentWidget.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code' || (cell.model.getMetadata('tags') || []).includes('raises-exception')) return;
    for (const out of cell.model.outputs.toJSON())
      if (out.output_type === 'error') errors.push(`cell ${i} error output: ${out.ename}: ${out.evalue}`);
    for (const e of cell.node.querySelectorAll(stderrSel))
      if (e.textContent.includes('Traceback')) errors.push(`cell ${i} stderr: ` + e.textContent.trim().slice(-600));
    for (const e of cell.node.querySelectorAll('.jp-OutputArea-output'))
      if (e.textContent.includes('Error displaying widget')) errors.push(`cell ${i} widget: ` + e.textContent.trim());
  });
  for (const e of window.__e2eKernelErrors || []) errors.push('kernel (widget callback): ' + e);
  return [...new Set(errors)];
}"""

# True once the figure's <img> has another src; also stops the wait when the kernel reports a new error.
# [position of the (first) handle, maximum] of a noUiSlider element (ipywidgets' sliders)
SLIDER_STATE_JS = "(el) => [Number([].concat(el.noUiSlider.get())[0]), Number(el.noUiSlider.options.range.max)]"

IMAGE_CHANGED_JS = """([output, before, nErrors]) => {
  const img = output.querySelector('img');
  return (!!img && img.getAttribute('src') !== before) || window.__e2eKernelErrors.length > nErrors;
}"""


@contextlib.contextmanager
def _explain(what: str):
    """Turn a Playwright timeout or failed ``expect`` into a short AssertionError that says what was awaited."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        yield
    except (AssertionError, PlaywrightTimeoutError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        raise AssertionError(f"{what} [{type(exc).__name__}: {first}]") from None


def _add_note(exc: BaseException, note: str) -> None:
    if hasattr(exc, "add_note"):  # Python >= 3.11; on 3.10 the extra context is only lost
        exc.add_note(note)


def _png_digest(src: str | None) -> str:
    assert src and src.startswith("data:image/png;base64,"), f"figure is not an inline PNG: {str(src)[:60]!r}"
    data = base64.b64decode(src.split(",", 1)[1])
    assert data.startswith(b"\x89PNG"), "the figure's data is not a PNG"
    return hashlib.sha256(data).hexdigest()


def _move_first_control(view) -> str:
    """Move the view's first control (a slider or a dropdown) to another value; returns what was done."""
    from playwright.sync_api import expect

    control = view.locator(".widget-hbox").first.locator(":scope > .widget-inline-hbox").first
    with _explain("the interactive view's first control did not render"):
        expect(control).to_be_visible(timeout=WIDGET_S * 1000)
    classes = (control.get_attribute("class") or "").split()
    label = control.locator(".widget-label").first.inner_text().strip() or "?"
    if {"widget-slider", "widget-hslider", "widget-vslider"} & set(classes):
        slider = control.locator(".noUi-target").first  # noUiSlider; aria-valuenow is rounded, so ask its API
        before, top = slider.evaluate(SLIDER_STATE_JS)
        key = "ArrowRight" if before < top else "ArrowLeft"
        control.locator(".noUi-handle").first.press(key)  # focuses the handle, then the key
        with _explain(f"slider {label!r} did not move on {key}"):
            slider.page.wait_for_function("([el, v]) => Number([].concat(el.noUiSlider.get())[0]) !== v",
                                          arg=[slider.element_handle(), before], timeout=WIDGET_S * 1000)
        after = slider.evaluate(SLIDER_STATE_JS)[0]
        readout = control.locator(".widget-readout")
        shown = f" (readout {readout.inner_text().strip()!r})" if readout.count() else ""
        return f"slider {label!r}: {key} from {before:g} to {after:g}{shown}"
    if "widget-dropdown" in classes:
        select = control.locator("select")
        current = select.input_value()
        others = [v for v in select.locator("option").evaluate_all("os => os.map(o => o.value)") if v != current]
        assert others, f"dropdown {label!r} has a single option: nothing to change"
        select.select_option(value=others[0])
        return f"dropdown {label!r}: {current!r} -> {others[0]!r}"
    raise AssertionError("the first control of the first interactive view must be a slider or a dropdown "
                         f"(course_lib.viz.interactive contract), found a widget with classes {classes}")


def _full_page_screenshot(page, path: Path) -> None:
    """Grow the viewport to the notebook's full height (JupyterLab scrolls inside a panel), then screenshot."""
    scroller = f"{PANEL} .jp-WindowedPanel-outer"
    page.evaluate("() => window.jupyterapp && window.jupyterapp.shell.collapseLeft()")
    scroll_height, client_height = page.evaluate(
        "(sel) => { const s = document.querySelector(sel); return s ? [s.scrollHeight, s.clientHeight] : [0, 0]; }",
        scroller)
    height = min(MAX_SCREENSHOT_HEIGHT, VIEWPORT["height"] + max(0, scroll_height - client_height))
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    with contextlib.suppress(Exception):  # wait for JupyterLab's relayout; screenshot anyway if it lags
        page.wait_for_function("([sel, h]) => { const s = document.querySelector(sel); "
                               "return !s || s.clientHeight >= Math.min(s.scrollHeight, h) - 2; }",
                               arg=[scroller, height - VIEWPORT["height"] // 4], timeout=5000)
    page.evaluate("(sel) => { const s = document.querySelector(sel); if (s) s.scrollTop = 0; }", scroller)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)


# ------------------------------------------------------------------------------------------------ the test
def check_notebook(notebook: Path, lab: Lab, context) -> str:
    """Open ``notebook`` in JupyterLab, run it, move its first control; returns a one-line timing summary."""
    from playwright.sync_api import expect

    name = _notebook_name(notebook)
    rel = notebook.relative_to(REPO).as_posix()
    digest_before = hashlib.sha256(notebook.read_bytes()).hexdigest()
    log_start = lab.log.stat().st_size
    page = context.new_page()
    page.set_default_timeout(WIDGET_S * 1000)
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: console.append(f"page error: {exc}"))
    times: dict[str, float] = {}
    t0 = time.monotonic()

    def lap(step: str) -> None:
        times[step] = time.monotonic() - t0 - sum(times.values())

    try:
        try:
            page.goto(f"{lab.url}/lab/tree/{urllib.parse.quote(rel)}?reset&token={lab.token}",
                      wait_until="domcontentloaded")
            with _explain("JupyterLab did not show the notebook"):
                expect(page.locator(f"{PANEL} .jp-Notebook")).to_be_visible(timeout=KERNEL_READY_S * 1000)
            lab.join_shutdown()  # the previous notebook's kernel, shut down while this page loaded
            lap("load")
            with _explain(f"the kernel was not idle within {KERNEL_READY_S} s"):
                page.wait_for_function(KERNEL_READY_JS, timeout=KERNEL_READY_S * 1000, polling=200)
                expect(page.locator(f"{PANEL} .jp-Notebook-ExecutionIndicator")).to_have_attribute(
                    "data-status", "idle", timeout=KERNEL_READY_S * 1000)
            lap("kernel")
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            with _explain(f"run-all did not finish within {RUN_ALL_S} s"):
                state = page.wait_for_function(RUN_FINISHED_JS, arg=PANEL, timeout=RUN_ALL_S * 1000,
                                               polling=250).json_value()
            lap("run all")
            page.evaluate(WATCH_KERNEL_ERRORS_JS)
            errors = page.evaluate(ERRORS_JS, [STDERR])
            if errors:
                raise AssertionError(f"{rel}: the notebook shows errors:\n" + "\n".join(errors))
            assert state["done"], f"{rel}: some code cells did not run, yet no error output was found"

            view = page.locator(f"{PANEL} .widget-vbox:has(.widget-output)").first
            with _explain("no live course_lib.viz.interactive view (controls + an Output widget) rendered; "
                          "is COURSE_HEADLESS set, or does the notebook not call interactive()?"):
                expect(view).to_be_visible(timeout=WIDGET_S * 1000)
            output = view.locator(".widget-output").first
            with _explain("the first interactive view shows no figure (<img>) in its output area"):
                expect(output.locator("img").first).to_be_visible(timeout=WIDGET_S * 1000)
            src_before = output.locator("img").first.get_attribute("src")
            png_before = _png_digest(src_before)
            lap("widgets")
            n_errors = page.evaluate("() => window.__e2eKernelErrors.length")
            action = _move_first_control(view)
            with _explain(f"{rel}: the figure did not change within {REDRAW_S} s after {action}"):
                page.wait_for_function(IMAGE_CHANGED_JS, arg=[output.element_handle(), src_before, n_errors],
                                       timeout=REDRAW_S * 1000, polling=100)
            errors = page.evaluate(ERRORS_JS, [STDERR])
            if errors:
                raise AssertionError(f"{rel}: errors after {action}:\n" + "\n".join(errors))
            assert _png_digest(output.locator("img").first.get_attribute("src")) != png_before, (
                f"{rel}: the figure's PNG is the same after {action}")
            lap("redraw")
        except Exception as exc:
            _add_note(exc, f"screenshot: build/screenshots/{name}.png; server log: build/e2e/jupyterlab*.log "
                         "(after the run)")
            if console:
                _add_note(exc, "browser console errors:\n" + "\n".join(console[-10:]))
            if log_errors := lab.log_errors(log_start):
                _add_note(exc, "server/kernel log errors:\n" + "\n".join(log_errors))
            raise
        finally:
            with contextlib.suppress(Exception):
                _full_page_screenshot(page, SCREENSHOTS / f"{name}.png")
            lap("screenshot")
    finally:
        failing = sys.exc_info()[1] is not None
        with contextlib.suppress(Exception):
            page.close()
        try:
            lab.shutdown_kernels(wait=False)  # finished and checked while the next notebook loads
        except Exception:
            if not failing:  # else the test's own error is the one to report
                raise
    assert hashlib.sha256(notebook.read_bytes()).hexdigest() == digest_before, f"{rel} was modified on disk"
    steps = ", ".join(f"{k} {v:.1f}" for k, v in times.items())
    return f"{name}: {time.monotonic() - t0:.1f} s ({steps}); {action}"


@pytest.mark.parametrize("notebook", _notebooks_under_test())
def test_interactive_notebook_in_jupyterlab(notebook: Path, lab: Lab, browser_context, capsys):
    summary = check_notebook(notebook, lab, browser_context)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        print(f"[e2e] {summary}")  # a worker's terminal is not shown: `-rP` prints this in the summary
    else:
        with capsys.disabled():
            print(f"\n[e2e] {summary}")
