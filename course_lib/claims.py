"""The claims ledger: each paper declares what it claims (the paper's number, our metric, a threshold per scale);
notebooks and ``run(scale, device)`` record measured values with their provenance; the ledger shows a table and
asserts it. It is built so that it cannot say something untrue:

* every recorded value names where it came from (:func:`dataset`, :func:`generated`, :func:`artifact`); a
  synthetic :func:`standin` or a :func:`paper` number is never accepted as a measurement;
* a claim about real data names its datasets (``data=``) and accepts only those; when the data is missing the
  notebook calls :meth:`Ledger.unavailable` and the row reads "skipped: dataset ... not available";
* :meth:`Ledger.check` fails on every applicable claim that was neither measured nor explicitly marked
  :meth:`Ledger.not_measured` (with a reason the table prints);
* a bound saying a baseline fails (``baseline=``) names a ``partner`` claim that the same baseline works where it
  should; the bound only passes when its partner passes at the same scale.

``python -m course_lib.claims --scale smoke [--paper PKG] [--device cpu]`` runs every paper's
``claims.run(scale, device=...)`` and writes ``build/claims.md`` with the device, wall time and commit (that is
``make claims``).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib
import inspect
import math
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from course_lib.scale import SCALES, get_scale

OPS = (">=", "<=", "report")
KINDS = ("dataset", "bundled", "generated", "artifact", "standin", "paper")


class ProvenanceError(ValueError):
    """A value was recorded from a source its claim does not accept (or from a synthetic stand-in / the paper)."""


# --------------------------------------------------------------------------------------------------- provenance
@dataclasses.dataclass(frozen=True)
class Source:
    """Where a recorded value came from. Build it with :func:`dataset`, :func:`bundled`, :func:`generated`,
    :func:`artifact`, :func:`standin` or :func:`paper`."""

    kind: str
    name: str
    dataset: str = ""  # artifact: the registered dataset it was computed from; standin: the dataset it replaces
    sha256: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"source kind must be one of {KINDS}, got {self.kind!r}")
        if not self.name:
            raise ValueError(f"a {self.kind} source needs a name")

    def label(self) -> str:
        if self.kind == "artifact":
            origin = f", from {self.dataset}" if self.dataset else ""
            return f"artifact {self.name} (sha256 {self.sha256[:12]}{origin})"
        return f"{self.kind} {self.name}"


def dataset(name: str) -> Source:
    """A registered real dataset (``course_lib.data`` registry name, e.g. ``"planetoid"``)."""
    from course_lib.data import entry

    entry(name)  # unknown names raise a KeyError listing the registered ones
    return Source("dataset", name)


def bundled(what: str, package: str) -> Source:
    """Real data that ships inside an installed package (e.g. scikit-learn's digits): not a registry download, not
    generated. The package's installed version is part of the label (``package="python"``: the standard library)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = platform.python_version() if package == "python" else version(package)
        return Source("bundled", f"{what} (package {package} {release})")
    except PackageNotFoundError:
        raise ValueError(f"bundled data {what!r}: package {package!r} is not installed") from None


def generated(what: str) -> Source:
    """Data the experiment generates by design (a synthetic task, random tensors, a closed form)."""
    return Source("generated", what)


def standin(for_dataset: str, what: str = "synthetic stand-in") -> Source:
    """A synthetic fallback used because ``for_dataset`` is unavailable: never accepted by :meth:`Ledger.record`."""
    return Source("standin", what, dataset=for_dataset)


def paper(where: str) -> Source:
    """The paper's own number: never a measured value (put it in ``Claim.paper_value``)."""
    return Source("paper", where)


def artifact(path: str | Path, *, dataset: str = "", sha256: str | None = None) -> Source:
    """A cached file of results (``dataset``: the registry name it was computed from, if any). The file's sha256
    is computed; a given ``sha256`` must match it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"artifact {path} does not exist; a cached value needs its file")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if sha256 is not None and sha256 != digest:
        raise ProvenanceError(f"artifact {path}: sha256 is {digest}, expected {sha256}")
    if dataset:
        from course_lib.data import entry

        entry(dataset)
    root = Path(__file__).resolve().parents[1]  # the repository: its files are named relative to it
    name = path.resolve().relative_to(root) if path.resolve().is_relative_to(root) else path
    return Source("artifact", str(name), dataset=dataset, sha256=digest)


# -------------------------------------------------------------------------------------------------------- claims
@dataclasses.dataclass(frozen=True)
class Claim:
    """One checkable statement: the paper's value and where the paper says it, our metric, the threshold at each
    scale, the real datasets it is about (``data``), and for a bound saying a ``baseline`` fails, its
    ``partner`` claim that the same baseline works where it should."""

    id: str
    statement: str
    paper_value: str
    source: str
    metric: str
    op: str = ">="
    threshold: Mapping[str, float] | float | None = None
    scales: Sequence[str] = SCALES
    data: Sequence[str] | str = ()
    baseline: str = ""
    partner: str = ""

    def __post_init__(self):
        if isinstance(self.data, str):
            object.__setattr__(self, "data", (self.data,) if self.data else ())
        object.__setattr__(self, "data", tuple(self.data))
        object.__setattr__(self, "scales", tuple(self.scales))
        if self.op not in OPS:
            raise ValueError(f"claim {self.id}: op must be one of {OPS}, got {self.op!r}")
        bad = [s for s in self.scales if s not in SCALES]
        if bad:
            raise ValueError(f"claim {self.id}: unknown scales {bad}; valid: {SCALES}")
        if self.op == "report":
            if self.threshold is not None:
                raise ValueError(f"claim {self.id}: a report-only claim takes no threshold")
            if self.baseline:
                raise ValueError(f"claim {self.id}: a bound on baseline {self.baseline!r} must assert (op <= or >=)")
        elif self.threshold is None:
            raise ValueError(f"claim {self.id}: op {self.op!r} needs a threshold")
        elif isinstance(self.threshold, Mapping):
            missing = [s for s in self.scales if s not in self.threshold]
            unknown = [s for s in self.threshold if s not in SCALES]
            if missing or unknown:
                raise ValueError(f"claim {self.id}: threshold mapping lacks applicable scales {missing}"
                                 + (f" and has unknown scales {unknown}" if unknown else "")
                                 + f"; it applies at {list(self.scales)}")
        if self.baseline and not self.partner:
            raise ValueError(f"claim {self.id} bounds baseline {self.baseline!r}: declare partner= the claim that "
                             "this baseline works where it should (at the same scales)")
        if self.partner and not self.baseline:
            raise ValueError(f"claim {self.id}: partner= pairs a baseline bound; also name baseline=")

    def threshold_at(self, scale: str) -> float | None:
        if self.op == "report" or self.threshold is None:
            return None
        if isinstance(self.threshold, (int, float)):
            return float(self.threshold)
        return self.threshold.get(scale)

    def holds(self, value: float, scale: str) -> bool | None:
        """True/False against the threshold at ``scale``; None for report-only claims."""
        limit = self.threshold_at(scale)
        if limit is None:
            return None
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return value >= limit if self.op == ">=" else value <= limit

    def refusal(self, source: Source) -> str | None:
        """Why this claim refuses a value from ``source`` (None when accepted)."""
        if not isinstance(source, Source):
            return (f"source must be a course_lib.claims.Source (dataset(...), generated(...), artifact(...)), got "
                    f"{type(source).__name__}")
        if source.kind == "paper":
            return (f"claim {self.id}: the paper's number ({source.name}) is never a measured value; it belongs in "
                    "the claim's paper_value")
        if source.kind == "standin":
            if self.data:
                return (f"claim {self.id} is about dataset {', '.join(self.data)}; a synthetic stand-in for "
                        f"{source.dataset} is not that data. Call ledger.unavailable({source.dataset!r}) so the row "
                        "reads 'skipped: dataset not available'")
            return (f"claim {self.id}: a synthetic stand-in for {source.dataset} is not what this claim measures "
                    "(it accepts generated data only)")
        used = source.name if source.kind == "dataset" else source.dataset
        if self.data and used not in self.data:
            return (f"claim {self.id} is about dataset {', '.join(self.data)}; got a value from "
                    f"{source.label()}")
        if not self.data and used:
            return (f"claim {self.id} declares no dataset (data=()), but the value comes from {source.label()}; "
                    f"declare data=({used!r},) on the claim")
        return None


# -------------------------------------------------------------------------------------------------------- ledger
class Entry(NamedTuple):
    """One recorded value (``entry[0]`` is the value, as in the ledger's first version)."""

    value: float
    source: Source
    note: str = ""


class Ledger:
    """Measured values of one paper's claims at one scale, with their provenance and the explicit skips."""

    def __init__(self, paper: str, claims: Sequence[Claim], scale: str | None = None):
        self.paper, self.scale = paper, get_scale(scale)
        self.claims = {c.id: c for c in claims}
        if len(self.claims) != len(claims):
            raise ValueError(f"{paper}: duplicate claim ids")
        for c in claims:
            if c.partner:
                self._check_partner(c)
        self.measured: dict[str, Entry] = {}
        self.skipped: dict[str, str] = {}
        self.device: str = ""
        self.wall_s: float | None = None

    def _check_partner(self, c: Claim) -> None:
        p = self.claims.get(c.partner)
        if p is None:
            raise ValueError(f"{self.paper}: claim {c.id} names partner {c.partner!r}, which is not declared")
        if p.id == c.id or p.baseline and p.partner:
            raise ValueError(f"{self.paper}: partner {p.id} of {c.id} must assert that {c.baseline!r} works, not be "
                             "another baseline bound")
        if p.op == "report":
            raise ValueError(f"{self.paper}: partner {p.id} of {c.id} is report-only; it must assert (op <= or >=)")
        missing = [s for s in c.scales if s not in p.scales]
        if missing:
            raise ValueError(f"{self.paper}: claim {c.id} bounds {c.baseline!r} at {missing} where its partner {p.id} "
                             "is not declared; declare the partner at the same scales")

    def applicable(self) -> list[Claim]:
        return [c for c in self.claims.values() if self.scale in c.scales]

    def _claim(self, claim_id: str) -> Claim:
        if claim_id not in self.claims:
            raise KeyError(f"{self.paper} has no claim {claim_id!r}; declared: {', '.join(self.claims)}")
        return self.claims[claim_id]

    def record(self, claim_id: str, value: float, note: str = "", *, source: Source) -> bool | None:
        """Store a measured value with its provenance; returns whether the claim holds at this scale (None for
        report-only). Raises :class:`ProvenanceError` when the claim does not accept ``source``."""
        claim = self._claim(claim_id)
        why = claim.refusal(source)
        if why:
            raise ProvenanceError(why)
        value = float(value)
        self.measured[claim_id] = Entry(value, source, note)
        self.skipped.pop(claim_id, None)
        return claim.holds(value, self.scale)

    def not_measured(self, *claim_ids: str, reason: str) -> None:
        """Mark claims as deliberately not measured in this run; ``reason`` is printed in the table."""
        if not reason or not reason.strip():
            raise ValueError("not_measured needs a reason the table can print")
        for cid in claim_ids:
            self._claim(cid)
            if cid not in self.measured:
                self.skipped[cid] = f"not measured here: {reason}"

    @classmethod
    def scoped(cls, paper: str, claims: Sequence[Claim], scale: str | None, notebook: int | None,
               scopes: Mapping[int, Sequence[str]]) -> Ledger:
        """The ledger of ``make claims`` (``notebook=None``: every claim) or of ``notebook`` N, which measures only
        ``scopes[N]`` (the others read "not measured here: measured in notebook M and by make claims")."""
        ledger = cls(paper, claims, scale)
        if notebook is None:
            return ledger
        if notebook not in scopes:
            raise ValueError(f"notebook must be one of {sorted(scopes)}, got {notebook!r}")
        others = ", ".join(f"notebook {n}" for n in scopes if n != notebook)
        return ledger.only(*scopes[notebook], elsewhere=f"measured in {others} and by make claims")

    def record_applicable(self, claim_id: str, value: float, note: str = "", *, source: Source) -> bool | None:
        """:meth:`record` when ``claim_id`` applies at this scale; otherwise nothing (returns None)."""
        if self.scale in self._claim(claim_id).scales:
            return self.record(claim_id, value, note, source=source)
        return None

    def only(self, *claim_ids: str, elsewhere: str) -> Ledger:
        """This run (a notebook) measures only ``claim_ids``: every other claim reads "not measured here:
        ``elsewhere``". Returns the ledger, so ``Ledger(...).only(...)`` builds a notebook's ledger."""
        for cid in claim_ids:
            self._claim(cid)
        others = [cid for cid in self.claims if cid not in claim_ids]
        if others:
            self.not_measured(*others, reason=elsewhere)
        return self

    def unavailable(self, name: str, reason: str = "") -> list[str]:
        """Dataset ``name`` is missing: mark every applicable, unmeasured claim about it as skipped, print a banner,
        and return their ids."""
        from course_lib.data import banner, entry

        entry(name)
        done = f"skipped: dataset {name} not available"
        ids = [c.id for c in self.applicable() if name in c.data and c.id not in self.measured
               and not self.skipped.get(c.id, "").startswith(done)]
        for cid in ids:
            self.skipped[cid] = f"skipped: dataset {name} not available" + (f" ({reason})" if reason else "")
        if ids:
            print(banner(f"DATA UNAVAILABLE: {name}. These claims are SKIPPED, not measured on a stand-in:\n"
                         + "\n".join(f"  {cid}" for cid in ids)))
        return ids

    def status(self, claim_id: str) -> str:
        claim = self._claim(claim_id)
        if self.scale not in claim.scales:
            return "not at this scale"
        if claim_id in self.skipped:
            return self.skipped[claim_id]
        if claim_id not in self.measured:
            return "not run"
        verdict = claim.holds(self.measured[claim_id].value, self.scale)
        if verdict is None:
            return "reported"
        if not verdict:
            return "FAIL"
        if claim.partner:
            partner = self.status(claim.partner)
            if partner != "PASS":
                return f"UNPAIRED: partner {claim.partner} is {partner}"
        return "PASS"

    def table(self) -> pd.DataFrame:
        rows = []
        for c in self.claims.values():
            entry = self.measured.get(c.id)
            limit = c.threshold_at(self.scale)
            rows.append({"id": c.id, "statement": c.statement, "paper": f"{c.paper_value} ({c.source})",
                         "metric": c.metric, "threshold": "—" if limit is None else f"{c.op} {limit:g}",
                         "measured": entry.value if entry else float("nan"),
                         "provenance": entry.source.label() if entry else "",
                         "status": self.status(c.id), "note": entry.note if entry else ""})
        return pd.DataFrame(rows)

    def failures(self) -> list[str]:
        """One line per applicable claim that fails, is unpaired, or was neither measured nor marked skipped."""
        bad = []
        for c in self.applicable():
            st = self.status(c.id)
            if st == "FAIL" or st == "not run" or st.startswith("UNPAIRED"):
                entry = self.measured.get(c.id)
                got = f"measured {entry.value:.4g} from {entry.source.label()}" if entry else "never recorded"
                bad.append(f"{c.id}: {st} ({got}; need {c.op} {c.threshold_at(self.scale)}) — {c.statement}")
        return bad

    def check(self) -> None:
        """Raise AssertionError naming every failed, unpaired or unmeasured applicable claim."""
        bad = self.failures()
        if bad:
            raise AssertionError(f"{self.paper} at scale {self.scale}: {len(bad)} claim(s) do not hold or were "
                                 "never measured (mark deliberate gaps with ledger.not_measured):\n  "
                                 + "\n  ".join(bad))
        print(f"[claims] {self.paper} @ {self.scale}: {len(self.measured)} recorded, {len(self.skipped)} skipped, "
              "all checked claims hold.")

    def markdown(self) -> str:
        """The table (without statements) as markdown; ``|`` inside a cell (e.g. ``max |a − b|``) is escaped."""
        table = self.table().drop(columns=["statement"])
        table = table.apply(lambda col: col.map(lambda v: v.replace("|", "\\|") if isinstance(v, str) else v))
        return table.to_markdown(index=False)


# -------------------------------------------------------------------------------------------------------- runner
def paper_packages() -> list[str]:
    """course_lib subpackages that provide a ``claims`` module (the landed paper series)."""
    root = Path(__file__).parent
    return sorted(p.parent.name for p in root.glob("*/claims.py"))


def run_paper(pkg: str, scale: str | None = None, device: str | None = None) -> Ledger:
    """Run ``course_lib.<pkg>.claims.run(scale, device=...)`` and stamp the ledger with device and wall time."""
    from course_lib.device import get_device

    scale = get_scale(scale)
    dev = get_device(device)
    run = importlib.import_module(f"course_lib.{pkg}.claims").run
    t0 = time.perf_counter()
    if "device" in inspect.signature(run).parameters:
        ledger = run(scale, device=dev)
        ledger.device = str(dev)
    else:  # a series not migrated yet: it picks its own device
        ledger = run(scale)
        ledger.device = f"{dev} (not passed: {pkg}.claims.run takes no device)"
    ledger.wall_s = time.perf_counter() - t0
    return ledger


def commit_hash() -> str:
    """``git rev-parse HEAD`` of the working tree (``+ uncommitted changes`` when dirty), or ``unknown``."""
    try:
        root = Path(__file__).resolve().parent.parent
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=30).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.claims", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default=None, help="smoke | course | full (default: COURSE_SCALE or course)")
    parser.add_argument("--paper", action="append", help="restrict to these packages (repeatable)")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda | mps (default: COURSE_DEVICE or auto)")
    parser.add_argument("--out", default="build/claims.md")
    args = parser.parse_args(argv)
    scale = get_scale(args.scale)
    parts = [f"# Claims ledger at scale `{scale}`\n", f"commit: `{commit_hash()}`\n"]
    failed = []
    for pkg in args.paper or paper_packages():
        ledger = run_paper(pkg, scale, args.device)
        bad = ledger.failures()
        failed += bad
        parts.append(f"## {pkg}\n\ndevice: `{ledger.device}` · wall time: {ledger.wall_s:.0f} s\n\n"
                     f"{ledger.markdown()}\n")
        print(f"{pkg}: {len(ledger.measured)} measured, {len(ledger.skipped)} skipped, {len(bad)} failing "
              f"({ledger.wall_s:.0f} s on {ledger.device})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(parts))
    print(f"wrote {args.out}")
    for line in failed:
        print("FAIL", line)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
