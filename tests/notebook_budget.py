"""pytest plugin (``-p tests.notebook_budget``): per-notebook wall-time budget for nbval runs.

Sums setup + call + teardown durations of every cell of a notebook, prints a timing table at the end and fails
the session when a notebook exceeds ``COURSE_NB_BUDGET`` seconds (default 60, the smoke-scale budget).
"""
from __future__ import annotations

import os
from collections import defaultdict

BUDGET = float(os.environ.get("COURSE_NB_BUDGET", "60"))
_seconds: dict[str, float] = defaultdict(float)
_failed: set[str] = set()
_over: list[str] = []


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration
        if report.failed:
            _failed.add(path)


def pytest_sessionfinish(session, exitstatus):
    _over.clear()
    _over.extend(f"{nb}: {sec:.1f} s > budget {BUDGET:.0f} s" for nb, sec in sorted(_seconds.items())
                 if sec > BUDGET)
    if _over and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _seconds:
        return
    tr = terminalreporter
    tr.section(f"notebook timings (budget {BUDGET:.0f} s each)")
    for nb, sec in sorted(_seconds.items(), key=lambda kv: -kv[1]):
        flag = "FAILED" if nb in _failed else ("OVER BUDGET" if sec > BUDGET else "ok")
        tr.write_line(f"{sec:7.1f} s  {flag:11s}  {nb}")
    tr.write_line(f"{sum(_seconds.values()):7.1f} s  total over {len(_seconds)} notebooks (sum of cell times)")
    for line in _over:
        tr.write_line(f"NOTEBOOK OVER BUDGET: {line}", red=True)
