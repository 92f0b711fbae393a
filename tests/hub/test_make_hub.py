"""``make hub`` as an instructor runs it: it starts, serves a learner, culls an idle server, and stopping it
(Ctrl-C: SIGINT to the terminal's process group; or SIGTERM to make alone) leaves no process behind.

The hub runs from the Makefile with a free port, a throwaway state folder and a short idle timeout. Before it is
stopped a learner's server and a kernel run, so the check covers the proxy, the culler, the single-user servers
and the kernels: every process that descends from make, listed just before the signal, must be gone within
the grace period (the test then SIGKILLs any straggler and fails).
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.test_jupyterlab_widgets import (  # noqa: F401 (autouse fixture)
    _alive,
    _die_with_parent,
    _family,
    _free_port,
    _tail,
    _wait_until,
    no_leftover_processes,
)
from tests.hub.hubtools import PASSWORD, REPO, Hub, Learner, server_pid

pytestmark = pytest.mark.hub
IDLE_TIMEOUT = 20  # seconds: the culler checks every 10 s


def _make_hub(tmp: Path, idle_timeout: int):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env.update(HUB_PORT=str(port), HUB_STATE=str(tmp / "state"), HUB_PASSWORD=PASSWORD, SCALE="smoke",
               HUB_IDLE_TIMEOUT=str(idle_timeout))
    log = tmp / "make-hub.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["make", "--no-print-directory", "hub"], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_die_with_parent)
    hub = Hub(proc=proc, url=f"http://127.0.0.1:{port}", log=log, state=tmp / "state")

    def up():
        if proc.poll() is not None:
            return "exited"
        with contextlib.suppress(requests.RequestException):
            return "up" if requests.get(f"{hub.url}/hub/api/", timeout=2).ok else None

    state = _wait_until(up, 120, interval=0.5)
    if state != "up":
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"make hub did not come up ({state}); log:\n{_tail(log)}")
    return hub


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm-to-make"])
def test_make_hub_serves_culls_and_stops_clean(tmp_path, how):
    hub = _make_hub(tmp_path, IDLE_TIMEOUT)
    stopped = False
    try:
        tree = _family(hub.proc.pid)
        names = " ".join(Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace") for p in _alive(tree))
        assert "configurable-http-proxy" in names and "jupyterhub_idle_culler" in names, names[:500]

        if how == "ctrl-c":  # the idle culler stops a server that nobody uses
            idle = Learner(hub, "idle")
            assert idle.login() == 302
            idle.get_token()
            idle.start_server()
            env = Path(f"/proc/{server_pid('idle')}/environ").read_bytes().split(b"\0")
            assert b"COURSE_SCALE=smoke" in env and any(e.startswith(b"COURSE_DATA_MIRROR=") for e in env)
            assert (hub.homes() / "idle" / "notebooks" / "00_start_here.ipynb").exists()
            culled = _wait_until(lambda: not idle.hub_api("GET", "/users/idle")["servers"], 6 * IDLE_TIMEOUT, 2)
            assert culled, f"the idle server was not culled within {6 * IDLE_TIMEOUT} s; log:\n{_tail(hub.log)}"

        busy = Learner(hub, "busy")
        assert busy.login() == 302
        busy.get_token()
        busy.start_server()
        session = busy.api("POST", "/sessions", json={"path": "notebooks/00_start_here.ipynb", "type": "notebook",
                                                      "name": "x", "kernel": {"name": "python3"}})
        assert session["kernel"]["id"]
        kernels = _wait_until(lambda: [p for p in _alive(_family(hub.proc.pid))
                                       if b"ipykernel" in Path(f"/proc/{p}/cmdline").read_bytes()], 60)
        assert kernels, "no kernel process under the hub"

        tree = _alive(_family(hub.proc.pid))
        if how == "ctrl-c":
            os.killpg(hub.proc.pid, signal.SIGINT)  # what the terminal sends to make and its children
        else:
            os.kill(hub.proc.pid, signal.SIGTERM)  # make forwards it to the hub
        t0 = time.monotonic()
        hub.proc.wait(90)
        stopped = True
        _wait_until(lambda: not _alive(tree), 10)
        left = _alive(tree)
        assert not left, f"{how}: processes left after make hub stopped: {sorted(left)}"
        print(f"[make-hub] {how}: stopped {len(tree)} processes in {time.monotonic() - t0:.1f} s")
    finally:
        if not stopped:
            for pid in _alive(_family(hub.proc.pid)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                hub.proc.wait(10)
