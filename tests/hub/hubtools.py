"""Start the classroom hub (hub/jupyterhub_config.py) for a test, and act as a learner over HTTP.

``running_hub(tmp)`` starts ``jupyterhub -f`` a small test config that loads the real one (free port, state in
``tmp``, smoke scale, the browser test's JupyterLab settings) in its own process group, and on exit stops it with
SIGTERM (as Ctrl-C / ``make hub`` would), then checks that nothing it started is left: its process group, its
descendants (the proxy, the idle culler, every learner's server and kernel) and any process whose command line
names ``tmp``; stragglers are SIGKILLed and reported. ``Learner`` logs in with the shared password through the
login form (as a browser does), asks the hub's REST API for a token, starts its server and runs a notebook's code
cells in a kernel through jupyter_server's REST API and the kernel websocket.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.test_jupyterlab_widgets import (  # process helpers shared with the browser test
    LAB_SETTINGS,
    VENV_BIN,
    _alive,
    _die_with_parent,
    _family,
    _free_port,
    _marked,
    _tail,
    _wait_until,
)

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "hub" / "jupyterhub_config.py"
PASSWORD = "hub-test-password"
HUB_START_S = 90
SERVER_START_S = 180


def _test_config(tmp: Path, lab_settings: Path) -> Path:
    """A config file that loads the real one, then adds what the tests need to observe learners' JupyterLab."""
    path = tmp / "test_config.py"
    path.write_text(
        f"load_subconfig({str(CONFIG)!r})\n"
        "c = get_config()  # noqa: F821\n"
        "c.Spawner.args = [*c.Spawner.args, '--LabApp.expose_app_in_browser=True',\n"
        f"    '--LabApp.user_settings_dir={lab_settings}']\n")
    return path


@dataclass
class Hub:
    proc: subprocess.Popen
    url: str
    log: Path
    state: Path
    started: set = field(default_factory=set)

    def homes(self) -> Path:
        return self.state / "homes"


def start_hub(tmp: Path, scale: str = "smoke", extra_env: dict | None = None) -> Hub:
    settings = tmp / "lab-settings"
    for plugin, values in LAB_SETTINGS.items():
        p = settings / f"{plugin}.jupyterlab-settings"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(values))
    config = _test_config(tmp, settings)
    state, log = tmp / "state", tmp / "hub.log"
    jupyterhub = VENV_BIN / "jupyterhub"
    if not jupyterhub.exists():
        raise RuntimeError(f"{jupyterhub} not found: run `make setup`")
    for _attempt in range(3):
        port = _free_port()
        drop = ("COURSE_HEADLESS", "MPLBACKEND", "JUPYTERHUB_API_TOKEN")  # learners get live widgets, inline figures
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(HUB_PORT=str(port), HUB_STATE=str(state), HUB_SCALE=scale, HUB_PASSWORD=PASSWORD,
                   COURSE_OFFLINE="1", HF_HUB_OFFLINE="1", **(extra_env or {}))
        with open(log, "ab") as out:
            proc = subprocess.Popen([str(jupyterhub), "-f", str(config)], cwd=tmp, env=env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=_die_with_parent)
        hub = Hub(proc=proc, url=f"http://127.0.0.1:{port}", log=log, state=state)

        def answers(hub=hub):
            import requests
            if hub.proc.poll() is not None:
                return "exited"
            try:
                ok = requests.get(f"{hub.url}/hub/api/", timeout=2).status_code == 200
                return "up" if ok else None
            except requests.RequestException:
                return None

        status = _wait_until(answers, HUB_START_S, interval=0.3)
        if status == "up":
            return hub
        stop_hub(hub, marker=f"{tmp}{os.sep}")
        if status is None:
            raise RuntimeError(f"the hub did not answer within {HUB_START_S} s; log:\n{_tail(log)}")
    raise RuntimeError(f"the hub exited at start three times; log:\n{_tail(log)}")


def stop_hub(hub: Hub, marker: str, grace: float = 30.0) -> list[int]:
    """SIGTERM the hub (as Ctrl-C / ``make hub`` stopping does); return the pids still alive after ``grace`` s
    (then SIGKILLed). An empty list means the hub stopped its proxy, culler, servers and kernels itself."""
    family = _family(hub.proc.pid) | _marked(marker)
    with contextlib.suppress(ProcessLookupError):
        os.kill(hub.proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        hub.proc.wait(grace)
    _wait_until(lambda: not _alive(family | _marked(marker)), 5)
    left = sorted(_alive(family | _marked(marker)))
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        hub.proc.wait(10)
    return left


@contextlib.contextmanager
def running_hub(tmp: Path, **kwargs):
    hub = start_hub(tmp, **kwargs)
    left: list[int] = []
    try:
        yield hub
    finally:
        left = stop_hub(hub, marker=f"{tmp}{os.sep}")
        keep = REPO / "build" / "hub-tests"
        keep.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            (keep / f"{tmp.name}.log").write_bytes(hub.log.read_bytes())
    assert not left, f"processes still alive after stopping the hub (SIGKILLed): {left}"


# ------------------------------------------------------------------------------------------------ a learner
class Learner:
    """One learner: password login through the hub's form, then the hub's and the server's REST APIs."""

    def __init__(self, hub: Hub, name: str):
        import requests

        self.hub, self.name, self.session, self.token = hub, name, requests.Session(), None

    def login(self, password: str = PASSWORD) -> int:
        """Post the login form; returns the HTTP status (302 on success, 403 when the password is wrong)."""
        page = self.session.get(f"{self.hub.url}/hub/login", timeout=30)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        assert xsrf, "the hub's login page has no _xsrf field"
        r = self.session.post(f"{self.hub.url}/hub/login", allow_redirects=False, timeout=60,
                              data={"username": self.name, "password": password, "_xsrf": xsrf.group(1)})
        return r.status_code

    def get_token(self) -> str:
        r = self.session.post(f"{self.hub.url}/hub/api/users/{self.name}/tokens", timeout=30,
                              json={"note": "hub test", "expires_in": 3600},
                              headers={"X-XSRFToken": self.session.cookies.get("_xsrf", "")})
        r.raise_for_status()
        self.token = r.json()["token"]
        return self.token

    def hub_api(self, method: str, path: str, **kw):
        r = self.session.request(method, f"{self.hub.url}/hub/api{path}", timeout=60,
                                 headers={"Authorization": f"token {self.token}"}, **kw)
        r.raise_for_status()
        return r.json() if r.content else None

    def start_server(self) -> float:
        """Ask the hub to start this learner's server; wait until it is ready; returns the seconds it took."""
        t0 = time.monotonic()
        r = self.session.post(f"{self.hub.url}/hub/api/users/{self.name}/server", timeout=SERVER_START_S,
                              headers={"Authorization": f"token {self.token}"})
        if r.status_code not in (201, 202, 400):  # 400: already running
            r.raise_for_status()

        def ready():
            server = self.hub_api("GET", f"/users/{self.name}").get("servers", {}).get("", {})
            return server.get("ready")

        if not _wait_until(ready, SERVER_START_S, interval=0.5):
            raise TimeoutError(f"{self.name}'s server was not ready within {SERVER_START_S} s")
        return time.monotonic() - t0

    @property
    def server_url(self) -> str:
        return f"{self.hub.url}/user/{self.name}"

    def api(self, method: str, path: str, **kw):
        r = self.session.request(method, f"{self.server_url}/api{path}", timeout=60,
                                 headers={"Authorization": f"token {self.token}"}, **kw)
        r.raise_for_status()
        return r.json() if r.content else None

    def notebook(self, rel: str) -> dict:
        return self.api("GET", f"/contents/{rel}")["content"]

    def run_notebook(self, rel: str, cell_timeout: float = 300) -> dict:
        """Run every code cell of ``rel`` (the learner's copy) in a new kernel session over the websocket.

        Returns {"ok", "first_output_s", "total_s", "cells", "error"}; times from the session request.
        """


        nb = self.notebook(rel)
        codes = [c["source"] for c in nb["cells"] if c["cell_type"] == "code"]
        t0 = time.monotonic()
        session = self.api("POST", "/sessions", json={"path": rel, "type": "notebook", "name": Path(rel).name,
                                                       "kernel": {"name": "python3"}})
        kernel = session["kernel"]["id"]
        try:
            result = asyncio.run(self._execute(kernel, codes, cell_timeout, t0))
        finally:
            with contextlib.suppress(Exception):
                self.api("DELETE", f"/sessions/{session['id']}")
        result["total_s"] = time.monotonic() - t0
        return result

    async def _execute(self, kernel: str, codes: list[str], cell_timeout: float, t0: float) -> dict:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = f"{self.server_url.replace('http://', 'ws://')}/api/kernels/{kernel}/channels"
        ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {self.token}"},
                                                 request_timeout=60, connect_timeout=60))
        first, error, done = None, None, 0
        session = uuid.uuid4().hex
        try:
            for code in codes:
                msg_id = uuid.uuid4().hex
                ws.write_message(json.dumps({
                    "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                               "username": self.name, "version": "5.3", "date": ""},
                    "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                    "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                                "allow_stdin": False, "stop_on_error": True}}))
                idle = reply = False
                while not (idle and reply):
                    raw = await asyncio.wait_for(ws.read_message(), cell_timeout)
                    if raw is None:
                        raise ConnectionError("the kernel websocket closed")
                    if isinstance(raw, bytes):
                        continue  # binary frames (widget buffers)
                    msg = json.loads(raw)
                    if msg.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    kind = msg["header"]["msg_type"]
                    if kind in ("stream", "display_data", "execute_result") and first is None:
                        first = time.monotonic() - t0
                    elif kind == "error":
                        error = f"{msg['content']['ename']}: {msg['content']['evalue']}"
                    elif kind == "status" and msg["content"]["execution_state"] == "idle":
                        idle = True
                    elif kind == "execute_reply":
                        reply = True
                if error:
                    break
                done += 1
        finally:
            ws.close()
        return {"ok": error is None and done == len(codes), "first_output_s": first, "cells": done,
                "of": len(codes), "error": error}


def server_pid(name: str) -> int | None:
    """The pid of ``name``'s single-user server (its environment names the learner), read from /proc."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if b"jupyterhub-singleuser" not in Path(entry.path, "cmdline").read_bytes():
                continue
            if f"JUPYTERHUB_USER={name}".encode() in Path(entry.path, "environ").read_bytes().split(b"\0"):
                return int(entry.name)
    return None
