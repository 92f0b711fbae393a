"""Bounded load test of the classroom hub, on loopback only: N learners at the same time (default 8).

All learners start together (a barrier): each logs in with the shared password through the login form, gets a
token from the hub's REST API, asks the hub to start its server, and runs every code cell of its own copy of
``00_start_here`` at smoke scale in a kernel (jupyter_server REST API + kernel websocket). Per learner we record
the server start, the time to the first output and the total run time; a sampler records the machine's used
memory (total - available) every 0.25 s. Every run must succeed. The table is printed and written to
``build/hub-tests/load.md`` (+ ``load.json``). The hub is then stopped with SIGTERM and nothing may be left.
``HUB_LOAD_LEARNERS`` sets N.
"""
from __future__ import annotations

import json
import os
import threading
import time

import psutil
import pytest

from tests.e2e.test_jupyterlab_widgets import no_leftover_processes  # noqa: F401 (autouse fixture)
from tests.hub.hubtools import REPO, Learner, running_hub

pytestmark = pytest.mark.hub
N = int(os.environ.get("HUB_LOAD_LEARNERS", "8"))
NOTEBOOK = "notebooks/00_start_here.ipynb"
GB = 1024 ** 3


def _used() -> int:
    vm = psutil.virtual_memory()
    return vm.total - vm.available


def test_learners_at_the_same_time(tmp_path, capsys):
    results: dict[str, dict] = {}
    barrier = threading.Barrier(N + 1)
    peak, stop = [_used()], threading.Event()
    baseline = peak[0]

    def sample():
        while not stop.wait(0.25):
            peak[0] = max(peak[0], _used())

    def learner(name: str, hub):
        row = {"learner": name, "ok": False}
        results[name] = row
        try:
            barrier.wait(60)
            t0 = time.monotonic()
            me = Learner(hub, name)
            assert me.login() == 302, "login refused"
            me.get_token()
            row["server_start_s"] = me.start_server()
            run = me.run_notebook(NOTEBOOK)
            row.update(first_output_s=run["first_output_s"], run_s=run["total_s"], total_s=time.monotonic() - t0,
                       cells=f"{run['cells']}/{run['of']}", ok=run["ok"], error=run["error"])
            row["own_copy"] = (hub.homes() / name / NOTEBOOK).exists()
        except Exception as exc:  # recorded; the assertion below reports every learner's failure
            row["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"

    with running_hub(tmp_path) as hub:
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        threads = [threading.Thread(target=learner, args=(f"learner{i:02d}", hub), daemon=True)
                   for i in range(N)]
        for t in threads:
            t.start()
        barrier.wait(60)
        t0 = time.monotonic()
        for t in threads:
            t.join(900)
        wall = time.monotonic() - t0
        stop.set()
        sampler.join(2)
    rows = [results[k] for k in sorted(results)]
    fmt = lambda v: "–" if v is None else f"{v:.1f}"  # noqa: E731
    machine = f"{os.cpu_count()} cores / {psutil.virtual_memory().total / GB:.1f} GB"
    lines = [f"Load test: {N} learners at once on {machine} "
             f"(loopback, smoke scale, `{NOTEBOOK}`); all done in {wall:.1f} s; machine memory in use "
             f"{baseline / GB:.2f} GB before, peak {peak[0] / GB:.2f} GB (+{(peak[0] - baseline) / GB:.2f} GB).", "",
             "| learner | server start (s) | first output (s) | notebook run (s) | total (s) | cells | success |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['learner']} | {fmt(r.get('server_start_s'))} | {fmt(r.get('first_output_s'))} | "
                     f"{fmt(r.get('run_s'))} | {fmt(r.get('total_s'))} | {r.get('cells', '–')} | "
                     f"{'yes' if r['ok'] and r.get('own_copy') else 'NO: ' + str(r.get('error'))} |")
    out = REPO / "build" / "hub-tests"
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.md").write_text("\n".join(lines) + "\n")
    (out / "load.json").write_text(json.dumps({"learners": N, "wall_s": wall, "baseline_used_gb": baseline / GB,
                                               "peak_used_gb": peak[0] / GB, "rows": rows}, indent=1))
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    failed = [r for r in rows if not (r["ok"] and r.get("own_copy"))]
    assert len(rows) == N and not failed, f"learners whose run failed: {failed}"
