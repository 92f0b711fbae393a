"""The claims ledger: each paper declares what it claims, with the paper's number, our metric and a threshold
per scale; notebooks record measured values, show the ledger as a table and assert it.

``python -m course_lib.claims --scale smoke [--paper PKG]`` runs every paper's ``claims.run(scale)`` and writes
``build/claims.md`` (that is ``make claims``).
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from course_lib.scale import SCALES, get_scale

OPS = (">=", "<=", "report")


@dataclasses.dataclass(frozen=True)
class Claim:
    """One checkable statement: the paper's value and source, our metric, and the threshold at each scale."""

    id: str
    statement: str
    paper_value: str
    source: str
    metric: str
    op: str = ">="
    threshold: Mapping[str, float] | float | None = None
    scales: Sequence[str] = SCALES

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"claim {self.id}: op must be one of {OPS}, got {self.op!r}")
        bad = [s for s in self.scales if s not in SCALES]
        if bad:
            raise ValueError(f"claim {self.id}: unknown scales {bad}; valid: {SCALES}")
        if self.op != "report" and self.threshold is None:
            raise ValueError(f"claim {self.id}: op {self.op!r} needs a threshold")

    def threshold_at(self, scale: str) -> float | None:
        if self.threshold is None or isinstance(self.threshold, (int, float)):
            return self.threshold
        return self.threshold.get(scale)

    def holds(self, value: float, scale: str) -> bool | None:
        """True/False against the threshold at ``scale``; None for report-only claims or no threshold."""
        limit = self.threshold_at(scale)
        if self.op == "report" or limit is None:
            return None
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return value >= limit if self.op == ">=" else value <= limit


class Ledger:
    """Measured values of one paper's claims at one scale."""

    def __init__(self, paper: str, claims: Sequence[Claim], scale: str | None = None):
        self.paper, self.scale = paper, get_scale(scale)
        self.claims = {c.id: c for c in claims}
        if len(self.claims) != len(claims):
            raise ValueError(f"{paper}: duplicate claim ids")
        self.measured: dict[str, tuple[float, str]] = {}

    def applicable(self) -> list[Claim]:
        return [c for c in self.claims.values() if self.scale in c.scales]

    def record(self, claim_id: str, value: float, note: str = "") -> bool | None:
        """Store a measured value; returns whether the claim holds at this scale (None for report-only)."""
        if claim_id not in self.claims:
            raise KeyError(f"{self.paper} has no claim {claim_id!r}; declared: {', '.join(self.claims)}")
        value = float(value)
        self.measured[claim_id] = (value, note)
        return self.claims[claim_id].holds(value, self.scale)

    def status(self, claim_id: str) -> str:
        claim = self.claims[claim_id]
        if self.scale not in claim.scales:
            return "not at this scale"
        if claim_id not in self.measured:
            return "not run"
        verdict = claim.holds(self.measured[claim_id][0], self.scale)
        return "reported" if verdict is None else ("PASS" if verdict else "FAIL")

    def table(self) -> pd.DataFrame:
        rows = []
        for c in self.claims.values():
            value, note = self.measured.get(c.id, (float("nan"), ""))
            limit = c.threshold_at(self.scale)
            rows.append({"id": c.id, "statement": c.statement, "paper": f"{c.paper_value} ({c.source})",
                         "metric": c.metric, "threshold": "—" if c.op == "report" or limit is None
                         else f"{c.op} {limit:g}", "measured": value, "status": self.status(c.id), "note": note})
        return pd.DataFrame(rows)

    def failures(self, require_all: bool = False) -> list[str]:
        bad = []
        for c in self.applicable():
            st = self.status(c.id)
            if st == "FAIL" or (require_all and st == "not run"):
                value = self.measured.get(c.id, (float("nan"), ""))[0]
                bad.append(f"{c.id}: {st} (measured {value:.4g}, need {c.op} {c.threshold_at(self.scale)}) "
                           f"— {c.statement}")
        return bad

    def check(self, require_all: bool = False) -> None:
        """Raise AssertionError naming every failed claim (and unmeasured ones when ``require_all``)."""
        bad = self.failures(require_all)
        if bad:
            raise AssertionError(f"{self.paper} at scale {self.scale}: {len(bad)} claim(s) do not hold:\n  "
                                 + "\n  ".join(bad))
        print(f"[claims] {self.paper} @ {self.scale}: {len(self.measured)} recorded, all checked claims hold.")

    def markdown(self) -> str:
        return self.table().drop(columns=["statement"]).to_markdown(index=False)


def paper_packages() -> list[str]:
    """course_lib subpackages that provide a ``claims`` module (the landed paper series)."""
    root = Path(__file__).parent
    return sorted(p.parent.name for p in root.glob("*/claims.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.claims", description=__doc__)
    parser.add_argument("--scale", default=None, help="smoke | course | full (default: COURSE_SCALE or course)")
    parser.add_argument("--paper", action="append", help="restrict to these packages (repeatable)")
    parser.add_argument("--out", default="build/claims.md")
    args = parser.parse_args(argv)
    scale = get_scale(args.scale)
    parts, failed = [f"# Claims ledger at scale `{scale}`\n"], []
    for pkg in args.paper or paper_packages():
        module = importlib.import_module(f"course_lib.{pkg}.claims")
        t0 = time.perf_counter()
        ledger = module.run(scale)
        bad = ledger.failures(require_all=True)
        failed += bad
        parts.append(f"## {pkg} ({time.perf_counter() - t0:.0f} s)\n\n{ledger.markdown()}\n")
        print(f"{pkg}: {len(ledger.measured)} measured, {len(bad)} failing")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(parts))
    print(f"wrote {args.out}")
    for line in failed:
        print("FAIL", line)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
