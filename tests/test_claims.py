"""The claims ledger cannot say something untrue: one test per rule, each with the input that must be refused."""
from __future__ import annotations

import hashlib
import importlib
import inspect
import re
import sys
import types

import pytest

from course_lib import claims as L
from course_lib.claims import Claim, Ledger, ProvenanceError

GEN = L.generated("unit test")


def _claim(cid: str, **kw) -> Claim:
    base = dict(statement=f"{cid} statement", paper_value="1.0", source="paper Table 1", metric="m", op=">=",
                threshold=0.5)
    base.update(kw)
    return Claim(id=cid, **base)


CLAIMS = [
    _claim("a", threshold={"smoke": 0.5, "course": 0.8, "full": 0.9}),
    _claim("b", op="<=", threshold=1e-6),
    _claim("c", op="report", threshold=None),
    _claim("d", threshold=1, scales=("course",)),
    _claim("real", data="planetoid"),
    _claim("base_fits", threshold=0.9),
    _claim("base_fails", op="<=", threshold=0.4, baseline="absolute positions", partner="base_fits"),
]


def ledger(scale="smoke") -> Ledger:
    return Ledger("demo", CLAIMS, scale=scale)


# ------------------------------------------------------------------------------------------ the basic verdicts
def test_pass_fail_report_and_not_at_this_scale():
    led = ledger()
    assert led.record("a", 0.6, source=GEN) is True
    assert led.record("b", 1e-3, source=GEN) is False
    assert led.record("c", 42, source=GEN) is None
    table = led.table().set_index("id")
    assert table.loc["a", "status"] == "PASS" and table.loc["b", "status"] == "FAIL"
    assert table.loc["c", "status"] == "reported" and table.loc["d", "status"] == "not at this scale"
    assert table.loc["a", "provenance"] == "generated unit test"
    with pytest.raises(KeyError, match="declared"):
        led.record("zzz", 1, source=GEN)


def test_nan_fails():
    led = ledger("course")
    led.record("a", float("nan"), source=GEN)
    assert led.status("a") == "FAIL"


# ------------------------------------------------------------------------------------------------ provenance
def test_record_requires_a_source():
    with pytest.raises(TypeError):
        ledger().record("a", 0.6)  # no source= keyword
    with pytest.raises(ProvenanceError, match="must be a course_lib.claims.Source"):
        ledger().record("a", 0.6, source="synthetic")


def test_bundled_data_is_labelled_with_its_package():
    source = L.bundled("scikit-learn digits", "scikit-learn")
    assert source.kind == "bundled" and source.label().startswith("bundled scikit-learn digits (package scikit-learn ")
    assert "(package python 3." in L.bundled("pydoc topics", "python").label()
    with pytest.raises(ValueError, match="not installed"):
        L.bundled("digits", "no-such-package-xyz")


def test_standin_is_refused_against_a_real_data_claim_naming_claim_and_dataset():
    with pytest.raises(ProvenanceError, match=r"claim real is about dataset planetoid.*stand-in for planetoid"):
        ledger().record("real", 0.7, source=L.standin("planetoid", "CSBM graph"))


def test_standin_is_refused_everywhere():
    with pytest.raises(ProvenanceError, match="stand-in"):
        ledger().record("a", 0.7, source=L.standin("planetoid"))


def test_wrong_dataset_and_undeclared_dataset_are_refused():
    with pytest.raises(ProvenanceError, match="about dataset planetoid"):
        ledger().record("real", 0.7, source=L.dataset("geom-gcn"))
    with pytest.raises(ProvenanceError, match="declares no dataset"):
        ledger().record("a", 0.7, source=L.dataset("planetoid"))
    with pytest.raises(KeyError, match="unknown dataset"):
        L.dataset("no-such-dataset")


def test_real_dataset_is_accepted():
    led = ledger()
    assert led.record("real", 0.7, source=L.dataset("planetoid")) is True
    assert led.table().set_index("id").loc["real", "provenance"] == "dataset planetoid"


def test_paper_number_is_never_a_measured_value():
    with pytest.raises(ProvenanceError, match="paper_value"):
        ledger().record("c", 0.848, source=L.paper("Table 1"))


def test_artifact_carries_file_and_sha256(tmp_path):
    f = tmp_path / "results.json"
    f.write_text('{"acc": 0.7}')
    digest = hashlib.sha256(f.read_bytes()).hexdigest()
    src = L.artifact(f, dataset="planetoid")
    assert src.sha256 == digest and digest[:12] in src.label() and str(f) in src.label()
    led = ledger()
    led.record("real", 0.7, source=src)
    with pytest.raises(ProvenanceError, match="declares no dataset"):
        led.record("a", 0.7, source=src)  # computed from planetoid, but claim a is not about it
    led.record("a", 0.7, source=L.artifact(f))
    with pytest.raises(ProvenanceError, match="sha256"):
        L.artifact(f, sha256="0" * 64)
    with pytest.raises(FileNotFoundError):
        L.artifact(tmp_path / "missing.json")


# ------------------------------------------------------------------------------- skips: data, not measured here
def test_unavailable_marks_real_data_claims_skipped_with_a_banner(capsys):
    led = ledger()
    assert led.unavailable("planetoid") == ["real"]
    assert "DATA UNAVAILABLE: planetoid" in capsys.readouterr().out
    assert led.status("real") == "skipped: dataset planetoid not available"
    assert led.table().set_index("id").loc["real", "status"].startswith("skipped")
    assert not any(line.startswith("real") for line in led.failures())
    assert led.unavailable("planetoid") == [] and "DATA UNAVAILABLE" not in capsys.readouterr().out  # said once


def test_unmeasured_applicable_claim_fails_check_at_every_scale():
    for scale in ("smoke", "course", "full"):
        led = ledger(scale)
        with pytest.raises(AssertionError, match="b: not run"):
            led.check()


def test_not_measured_needs_a_reason_and_prints_it():
    led = ledger()
    with pytest.raises(ValueError, match="reason"):
        led.not_measured("b", reason=" ")
    led.not_measured("b", "c", reason="measured in notebook 1")
    assert led.status("b") == "not measured here: measured in notebook 1"
    assert "not measured here: measured in notebook 1" in led.markdown()


def test_markdown_rows_keep_their_columns_when_a_metric_contains_a_pipe():
    led = Ledger("demo", [_claim("p", metric="max |a − b|")], "smoke")
    led.record("p", 0.9, source=GEN)
    header, _, row = led.markdown().splitlines()
    assert row.count(" | ") == header.count(" | ") and "max \\|a − b\\|" in row


def test_only_scopes_a_notebook_ledger_but_still_fails_on_its_own_unmeasured_claims():
    led = ledger().only("a", "b", elsewhere="notebook 2")
    assert led.status("c") == "not measured here: notebook 2"
    with pytest.raises(AssertionError, match="b: not run"):
        led.check()
    led.record("a", 0.9, source=GEN)
    led.record("b", 0.0, source=GEN)
    led.check()
    with pytest.raises(KeyError):
        ledger().only("nope", elsewhere="x")


def test_check_passes_only_when_everything_is_measured_or_explicitly_skipped(capsys):
    led = ledger()
    for cid in ("a", "c", "base_fits"):
        led.record(cid, 0.95, source=GEN)
    led.record("b", 0.0, source=GEN)
    led.record("base_fails", 0.1, source=GEN)
    with pytest.raises(AssertionError, match="real: not run"):
        led.check()
    led.unavailable("planetoid")
    led.check()
    assert "all checked claims hold" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ declaration errors
def test_claim_validation():
    with pytest.raises(ValueError, match="op must be"):
        _claim("x", op="==")
    with pytest.raises(ValueError, match="needs a threshold"):
        _claim("x", threshold=None)
    with pytest.raises(ValueError, match="report-only claim takes no threshold"):
        _claim("x", op="report", threshold=0.3)
    with pytest.raises(ValueError, match="unknown scales"):
        _claim("x", scales=("tiny",))


def test_threshold_mapping_lacking_an_applicable_scale_is_a_declaration_error():
    with pytest.raises(ValueError, match=r"lacks applicable scales \['smoke'\]"):
        _claim("x", threshold={"course": 0.8, "full": 0.8})
    _claim("x", threshold={"course": 0.8, "full": 0.8}, scales=("course", "full"))  # fine: not at smoke


def test_baseline_bound_needs_a_partner():
    with pytest.raises(ValueError, match="declare partner="):
        _claim("x", op="<=", baseline="k = 0")
    with pytest.raises(ValueError, match="name baseline="):
        _claim("x", partner="y")
    with pytest.raises(ValueError, match="must assert"):
        _claim("x", op="report", threshold=None, baseline="k = 0", partner="y")


def test_partner_must_exist_assert_and_cover_the_same_scales():
    bound = _claim("fails", op="<=", threshold=0.4, baseline="KCF", partner="works")
    with pytest.raises(ValueError, match="not declared"):
        Ledger("demo", [bound], "smoke")
    with pytest.raises(ValueError, match="report-only"):
        Ledger("demo", [bound, _claim("works", op="report", threshold=None)], "smoke")
    with pytest.raises(ValueError, match=r"at \['smoke'\] where its partner works is not declared"):
        Ledger("demo", [bound, _claim("works", scales=("course", "full"))], "smoke")
    other = _claim("works", op="<=", threshold=0.1, baseline="KCF", partner="fails")
    with pytest.raises(ValueError, match="not be another baseline bound"):
        Ledger("demo", [bound, other], "smoke")


def test_baseline_bound_passes_only_with_its_partner():
    led = ledger()
    led.record("base_fails", 0.1, source=GEN)  # an untrained baseline also "fails" ...
    assert led.status("base_fails").startswith("UNPAIRED: partner base_fits is not run")
    led.record("base_fits", 0.2, source=GEN)  # ... and does not fit the training lengths either
    assert led.status("base_fits") == "FAIL"
    assert led.status("base_fails") == "UNPAIRED: partner base_fits is FAIL"
    assert any(line.startswith("base_fails: UNPAIRED") for line in led.failures())
    led.record("base_fits", 0.95, source=GEN)
    assert led.status("base_fails") == "PASS"


# ---------------------------------------------------------------------------------------------------- runner
def test_runner_records_device_wall_time_and_commit(tmp_path, monkeypatch):
    mod = types.ModuleType("course_lib.fakepaper.claims")
    seen = {}

    def run(scale, device=None):
        seen["device"] = device
        led = Ledger("fakepaper", [_claim("a")], scale)
        led.record("a", 0.9, source=GEN)
        return led

    mod.run = run
    monkeypatch.setitem(sys.modules, "course_lib.fakepaper.claims", mod)
    out = tmp_path / "claims.md"
    assert L.main(["--scale", "smoke", "--paper", "fakepaper", "--device", "cpu", "--out", str(out)]) == 0
    text = out.read_text()
    assert str(seen["device"]) == "cpu"
    assert "device: `cpu`" in text and "wall time:" in text and "commit: `" in text and "| PASS" in text


def test_runner_fails_on_unmeasured_claim(tmp_path, monkeypatch):
    mod = types.ModuleType("course_lib.fakepaper2.claims")
    mod.run = lambda scale, device=None: Ledger("fakepaper2", [_claim("a")], scale)
    monkeypatch.setitem(sys.modules, "course_lib.fakepaper2.claims", mod)
    assert L.main(["--scale", "smoke", "--paper", "fakepaper2", "--device", "cpu",
                   "--out", str(tmp_path / "c.md")]) == 1


# --------------------------------------------------------------------------------------------- every series
@pytest.mark.parametrize("pkg", L.paper_packages())
def test_every_series_declares_valid_claims_that_cite_what_a_learner_can_open(pkg):
    mod = importlib.import_module(f"course_lib.{pkg}.claims")
    Ledger(pkg, mod.CLAIMS, "smoke")  # partner / threshold declaration checks
    unreadable = re.compile(r"\bbrief\b|\bissue\b(?!\s*#)", re.I)
    bad = [c.id for c in mod.CLAIMS if unreadable.search(" ".join((c.statement, c.paper_value, c.source, c.metric)))]
    assert not bad, f"claims citing the brief / the issue instead of the paper: {bad}"
    assert "device" in inspect.signature(mod.run).parameters, "run(scale, device=None)"


def test_a_notebook_ledger_scopes_its_claims_and_records_only_applicable_ones():
    nb = Ledger.scoped("demo", CLAIMS, "smoke", 1, {1: ("a", "b"), 2: ("c",)})
    assert nb.status("c").startswith("not measured here: measured in notebook 2 and by make claims")
    assert nb.record_applicable("d", 2.0, source=GEN) is None and "d" not in nb.measured  # course-only claim
    assert nb.record_applicable("a", 0.6, source=GEN) is True and nb.measured["a"].value == 0.6
    with pytest.raises(KeyError):
        nb.record_applicable("nope", 1.0, source=GEN)
    with pytest.raises(ValueError, match="notebook must be one of"):
        Ledger.scoped("demo", CLAIMS, "smoke", 3, {1: ("a",)})
    assert set(Ledger.scoped("demo", CLAIMS, "smoke", None, {1: ("a",)}).skipped) == set()
