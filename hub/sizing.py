"""Sizing for a classroom hub: peak memory (RSS) and CPU of a kernel running each notebook, and the README table.

``python hub/sizing.py measure --scale smoke|course [--budget S] [notebook ...]``
    executes each notebook (default: all, ``00_start_here`` first) in a fresh kernel with nbclient, sampling
    every 0.2 s the resident memory of the kernel process plus all its children (psutil), and merges the
    result into ``hub/sizing.json`` (one record per notebook and scale, written after each notebook, so a long
    run can be stopped and resumed). A notebook that runs past ``--budget`` seconds is stopped and recorded as
    ``timeout`` with the peak seen so far (a lower bound, shown as such).
``python hub/sizing.py server``
    measures the resident memory of an idle single-user server (``jupyter lab``, no kernel) once.
``python hub/sizing.py render``
    renders the per-notebook table and the instructor's table ("N learners on course scale need about X GB and
    Y cores") from ``hub/sizing.json`` into README.md between the ``sizing:begin`` / ``sizing:end`` markers.

``make sizing`` runs all three (smoke and course scale). The kernel runs with ``OMP_NUM_THREADS=1`` and
``COURSE_THREADS=1`` unless the environment says otherwise (recorded); RSS is summed over processes, which
counts pages shared between a kernel and its forked children twice: a conservative (high) figure.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "hub" / "sizing.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- sizing:begin -->", "<!-- sizing:end -->"
SAMPLE_S = 0.2
GB = 1024 ** 3


def discover() -> list[Path]:
    """``00_start_here`` first, then every series notebook (solutions excluded)."""
    found = sorted(p for p in NOTEBOOKS.glob("*/*.ipynb") if "solutions" not in p.parts
                   and ".ipynb_checkpoints" not in p.parts)
    return [NOTEBOOKS / "00_start_here.ipynb", *found]


def tree_rss(proc: psutil.Process) -> tuple[int, float]:
    """Resident bytes and CPU seconds (user + system) of ``proc`` and all its live descendants."""
    rss, cpu = 0, 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            rss += p.memory_info().rss
            t = p.cpu_times()
            cpu += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:  # exited between listing and reading
            pass
    return rss, cpu


class Sampler(threading.Thread):
    """Samples the RSS of a process tree until stopped; keeps the peak and the last CPU total."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.proc, self.peak, self.cpu, self._halt = psutil.Process(pid), 0, 0.0, threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                rss, cpu = tree_rss(self.proc)
            except psutil.NoSuchProcess:
                return
            self.peak, self.cpu = max(self.peak, rss), max(self.cpu, cpu)
            self._halt.wait(SAMPLE_S)

    def stop(self):
        self._halt.set()
        self.join(5)


def measure(nb_path: Path, scale: str, budget: float) -> dict:
    """Run one notebook in a fresh kernel; return its peak RSS, CPU seconds, wall time and status."""
    import nbformat
    from nbclient import NotebookClient

    os.environ.update(COURSE_SCALE=scale, COURSE_HEADLESS="1", MPLBACKEND="Agg")
    nb = nbformat.read(nb_path, as_version=4)
    client = NotebookClient(nb, timeout=int(budget) + 60, kernel_name="python3",
                            resources={"metadata": {"path": str(nb_path.parent)}})
    status, sampler, t0, index = "ok", None, time.monotonic(), -1
    timed_out = threading.Event()
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        sampler = Sampler(pid)
        sampler.start()

        def watchdog():  # kills the kernel when the budget is spent; nbclient then raises DeadKernelError
            if not done.wait(budget):
                timed_out.set()
                for p in [*psutil.Process(pid).children(recursive=True), psutil.Process(pid)]:
                    try:
                        p.kill()
                    except psutil.Error:
                        pass

        done = threading.Event()
        threading.Thread(target=watchdog, daemon=True).start()
        try:
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
        except Exception as exc:  # noqa: BLE001 - recorded, the run goes on with the next notebook
            status = "timeout" if timed_out.is_set() else f"error: {type(exc).__name__}: {str(exc)[-200:]}"
            status += f" (cell {index + 1} of {len(nb.cells)})"
        finally:
            done.set()
            sampler.stop()
    wall = time.monotonic() - t0
    name = nb_path.relative_to(NOTEBOOKS).as_posix() if nb_path.is_relative_to(NOTEBOOKS) else nb_path.name
    return {"notebook": name, "scale": scale, "status": status,
            "peak_rss_mb": round(sampler.peak / 2**20), "cpu_s": round(sampler.cpu, 1), "wall_s": round(wall, 1),
            "threads": os.environ.get("OMP_NUM_THREADS", "unset"),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {"machine": {}, "runs": [], "server": None}


def save(data: dict) -> None:
    data["runs"].sort(key=lambda r: (r["scale"], r["notebook"]))
    RESULTS.write_text(json.dumps(data, indent=1) + "\n")


def record(row: dict) -> None:
    """Merge one measurement into sizing.json (read-modify-write under a lock: several runs may record)."""
    import fcntl

    lock_path = ROOT / "build" / "hub" / "sizing.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = load()
        data["runs"] = [r for r in data["runs"] if (r["notebook"], r["scale"]) != (row["notebook"], row["scale"])]
        data["runs"].append(row)
        data["machine"] = {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / GB, 1),
                           "cpu": platform.processor() or platform.machine(), "python": platform.python_version()}
        save(data)


def _idle_rss(cmd: list[str], url: str, env: dict | None = None) -> int:
    """Start ``cmd`` (own process group), wait until ``url`` answers, settle 3 s, return its tree's RSS; stop it."""
    import urllib.request

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"{cmd[0]} did not answer at {url}")
        time.sleep(3)
        return tree_rss(psutil.Process(proc.pid))[0]
    finally:
        os.killpg(proc.pid, 15)  # both stop their children on SIGTERM
        proc.wait(60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure_server() -> dict:
    """Idle RSS of one learner's server (``jupyter lab``, no kernel) and of the hub with its proxy and culler."""
    import tempfile

    venv_bin = Path(sys.executable).parent
    root = ["--allow-root"] if os.getuid() == 0 else []
    port = _free_port()
    server = _idle_rss([str(venv_bin / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                        "--IdentityProvider.token=sizing", "--ServerApp.root_dir=/tmp", *root],
                       f"http://127.0.0.1:{port}/api/status?token=sizing")
    port = _free_port()
    with tempfile.TemporaryDirectory() as state:
        hub = _idle_rss([str(venv_bin / "jupyterhub"), "-f", str(ROOT / "hub" / "jupyterhub_config.py")],
                        f"http://127.0.0.1:{port}/hub/api/", env={"HUB_PORT": str(port), "HUB_STATE": state})
    row = {"server_rss_mb": round(server / 2**20), "hub_rss_mb": round(hub / 2**20),
           "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    data = load()
    data["server"] = row
    save(data)
    return row


# ------------------------------------------------------------------------------------------------ rendering
SERIES_NEW = ("02_input_iba", "06_low_power", "07_lm_compression")


def _cell(run: dict | None) -> str:
    if run is None:
        return "not measured"
    where = re.search(r"\(cell (\d+) of (\d+)\)", run["status"])
    at = f"at cell {where[1]} of {where[2]}, " if where else ""
    if run["status"].startswith("timeout"):
        return f"≥ {run['peak_rss_mb']} MB (stopped {at}after {run['wall_s']:.0f} s)"
    if run["status"] != "ok":
        return f"≥ {run['peak_rss_mb']} MB (failed {at}after {run['wall_s']:.0f} s)"
    return f"{run['peak_rss_mb']} MB · {run['wall_s']:.0f} s · {run['cpu_s']:.0f} s CPU"


def render_table(data: dict) -> str:
    runs = {(r["notebook"], r["scale"]): r for r in data["runs"]}
    names = sorted({n for n, _ in runs} | {p.relative_to(NOTEBOOKS).as_posix() for p in discover()})
    course = [r for r in data["runs"] if r["scale"] == "course"]  # a stopped or failed run: a lower bound
    server = data.get("server") or {}
    lines = []
    if course and server:
        heavy = max(course, key=lambda r: r["peak_rss_mb"])
        per_learner_gb = (heavy["peak_rss_mb"] + server["server_rss_mb"]) / 1024
        hub_gb = server["hub_rss_mb"] / 1024
        measured = {r["notebook"] for r in course if r["status"] == "ok"}
        missing = [n for n in names if n not in measured]
        lines += [f"Measured on {data['machine'].get('cpus')} CPU cores / {data['machine'].get('memory_gb')} GB, one "
                  f"kernel at a time with `OMP_NUM_THREADS={heavy['threads']}`. Per learner: the heaviest kernel "
                  f"measured at course scale (`{heavy['notebook']}`, {heavy['peak_rss_mb']} MB peak RSS"
                  f"{'' if heavy['status'] == 'ok' else ', or more: it did not run to its end'}) plus an idle "
                  f"single-user server ({server['server_rss_mb']} MB) ≈ **{per_learner_gb:.1f} GB**, with one open "
                  f"kernel per learner (shut down the previous notebook's kernel); the hub, its proxy and the culler "
                  f"take {server['hub_rss_mb']} MB. A kernel runs one thread (`HUB_THREADS`), so it keeps about one "
                  "core busy while it computes; with fewer cores than running kernels, runs slow down, they do not "
                  "fail.", ""]
        if missing:
            lines += [f"**Lower bound:** {len(missing)} of {len(names)} notebooks were not measured to their end at "
                      "course scale (table below: not measured, stopped, or failed); a heavier one would raise these "
                      "figures.", ""]
        lines += ["| learners on course scale | memory (one kernel each) | cores (all computing at once) |",
                  "|---:|---:|---:|"]
        for n in (1, 10, 20, 30, 50):
            lines.append(f"| {n} | about {math.ceil(n * per_learner_gb + hub_gb)} GB | {n} |")
        lines.append("")
    lines += ["<details><summary>Per notebook: peak RSS of the kernel and its children · wall time · CPU time"
              "</summary>", "", "| notebook | smoke | course |", "|---|---|---|"]
    for name in names:
        lines.append(f"| `{name}` | {_cell(runs.get((name, 'smoke')))} | {_cell(runs.get((name, 'course')))} |")
    absent = [s for s in SERIES_NEW if not any(n.startswith(s) for n in names)]
    lines += ["", *([f"Series not in this checkout when measured: {', '.join(absent)}.", ""] if absent else []),
              "Wall times were measured on a machine shared with other jobs (CPU time is the kernel's own).",
              "</details>", "",
              "Regenerate: `make sizing` (both scales; long at course scale), or one notebook with "
              "`.venv/bin/python hub/sizing.py measure --scale course notebooks/<folder>/<name>.ipynb`, then "
              "`.venv/bin/python hub/sizing.py render`."]
    return "\n".join(lines)


def render() -> None:
    text = README.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} markers to render the sizing table into")
    table = render_table(load())
    new = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: f"{BEGIN}\n{table}\n{END}", text,
                 flags=re.S)
    README.write_text(new)
    print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hub/sizing.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--scale", choices=["smoke", "course", "full"], required=True)
    m.add_argument("--budget", type=float, default=900, help="seconds per notebook before it is stopped")
    m.add_argument("--skip-measured", action="store_true", help="skip notebooks already measured at this scale")
    m.add_argument("notebooks", nargs="*", type=Path)
    sub.add_parser("server")
    sub.add_parser("render")
    args = parser.parse_args(argv)
    if args.cmd == "render":
        render()
        return 0
    if args.cmd == "server":
        print(measure_server())
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("COURSE_THREADS", "1")
    os.environ.setdefault("COURSE_OFFLINE", "1")
    default_mirror = ROOT.parent / "shared" / "datasets"
    if default_mirror.is_dir():
        os.environ.setdefault("COURSE_DATA_MIRROR", str(default_mirror))
    notebooks = [p.resolve() for p in args.notebooks] or discover()
    done = {(r["notebook"], r["scale"]) for r in load()["runs"]} if args.skip_measured else set()
    failed = 0
    for nb in notebooks:
        if (nb.relative_to(NOTEBOOKS).as_posix(), args.scale) in done:
            continue
        row = measure(nb, args.scale, args.budget)
        record(row)
        failed += row["status"] not in ("ok",)
        print(f"{row['notebook']:45s} {args.scale:6s} {row['status'][:60]:10s} peak {row['peak_rss_mb']:6d} MB  "
              f"cpu {row['cpu_s']:7.1f} s  wall {row['wall_s']:7.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
