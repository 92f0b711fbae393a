"""Without the data nothing breaks and nothing lies: every paper's ``claims.run("smoke")`` with an empty mirror, an
empty cache and ``COURSE_OFFLINE=1`` finishes, announces the missing data, and lists its real-data claims as
skipped — never as passed."""
from __future__ import annotations

import pytest

from course_lib.claims import paper_packages, run_paper


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "cache").mkdir()
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    from course_lib.data import availability

    assert set(availability().values()) == {"missing"}


@pytest.mark.parametrize("pkg", paper_packages())
def test_smoke_claims_run_without_data(pkg, no_data, capsys):
    ledger = run_paper(pkg, "smoke", "cpu")
    out = capsys.readouterr().out
    real = [c for c in ledger.applicable() if c.data]
    for c in real:
        status = ledger.status(c.id)
        assert status.startswith("skipped: dataset"), f"{c.id} ({', '.join(c.data)}) is {status!r} without data"
        assert c.id not in ledger.measured
    if real:
        assert "DATA UNAVAILABLE" in out, "the missing data must be announced with a banner"
    assert all(e.source.kind != "standin" for e in ledger.measured.values())
    assert ledger.failures() == [], "the data-free claims must still be measured and hold offline"
    assert ledger.device == "cpu" and ledger.wall_s is not None
