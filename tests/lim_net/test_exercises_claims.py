import numpy as np
import pytest

from course_lib.claims import ProvenanceError, dataset, generated, standin
from course_lib.exercises import check, get
from course_lib.lim_net.claims import CLAIMS, make_ledger, record_values
from course_lib.lim_net.exercises import EX3_ERRORS, EX4_CURVE


@pytest.mark.parametrize("ex_id, right, wrong", [
    ("lim_net.2", 6, 5),
    ("lim_net.3", int(np.minimum(*map(np.array, EX3_ERRORS)).sum()), 11),
    ("lim_net.4", 4, 3),
    ("lim_net.5", 0.8, 0.6),
    ("lim_net.6", 180 / 220, 0.75),
    ("lim_net.7", False, True),
    ("lim_net.8", [14, 10, 11, 12, 13], [10, 11, 12, 13]),
])
def test_exercise_checkers(ex_id, right, wrong, capsys):
    assert check(ex_id, right) is True
    assert check(ex_id, wrong) is False
    assert check(ex_id, None) is False
    assert "lim_net" in capsys.readouterr().out


def test_exercise_1_checks_the_readout_weights():
    ex = get("lim_net.1")
    assert ex.checker([0.1, 0.2, 0.7]) is not True
    assert isinstance(ex.checker([0.5, 0.5]), str)
    assert EX4_CURVE[0] == 0.55


def test_claims_are_well_formed():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids)) and all(i.startswith("lim_net.") for i in ids)
    ledger = make_ledger("smoke")
    assert {c.id for c in ledger.applicable()} >= {"lim_net.oracle_mrf_property", "lim_net.smoke_dice"}
    assert ledger.record("lim_net.oracle_mrf_property", 0, source=generated("test")) is True
    assert ledger.record("lim_net.oracle_mrf_property", 1, source=generated("test")) is False


def test_real_data_claims_refuse_stand_ins_and_are_skipped_when_data_is_missing():
    ledger = make_ledger("course")
    with pytest.raises(ProvenanceError):
        ledger.record("lim_net.test_a_dice", 0.9, source=standin("totalseg_examples"))
    with pytest.raises(ProvenanceError):
        ledger.record("lim_net.test_a_dice", 0.9, source=generated("synthetic"))
    values = {"lim_net.test_a_dice": (0.9, ""), "lim_net.oracle_mrf_property": (0.0, ""),
              "lim_net.smoke_dice": (0.9, "")}
    done = record_values(ledger, values, real_available=False)
    assert done == ["lim_net.oracle_mrf_property"]  # smoke_dice is not a course claim; test A is skipped
    assert ledger.status("lim_net.test_a_dice").startswith("skipped")
    ledger2 = make_ledger("course")
    assert "lim_net.test_a_dice" in record_values(ledger2, values, real_available=True)
    assert ledger2.measured["lim_net.test_a_dice"].source.kind == "dataset"


@pytest.mark.parametrize("cid, failing, passing", [
    ("lim_net.test_a_dice", 0.487, 0.72), ("lim_net.test_a_gain", 0.033, 0.06),
    ("lim_net.mrf_beats_latest", 0.0, 0.1), ("lim_net.vs_random_walker_a", -0.2, 0.01),
    ("lim_net.copy_works_adjacent", 0.5, 0.95),
])
def test_claims_fail_on_failing_values(cid, failing, passing):
    ledger = make_ledger("course")
    assert ledger.record(cid, failing, source=dataset("totalseg_examples")) is False
    assert ledger.record(cid, passing, source=dataset("totalseg_examples")) is True


def test_baseline_bound_is_paired():
    ledger = make_ledger("course")
    bound = ledger.claims["lim_net.propagation_vs_copy"]
    assert bound.baseline and bound.partner == "lim_net.copy_works_adjacent"
    ledger.record("lim_net.propagation_vs_copy", 0.2, source=dataset("totalseg_examples"))
    ledger.record("lim_net.copy_works_adjacent", 0.5, source=dataset("totalseg_examples"))  # partner fails
    assert "UNPAIRED" in ledger.status("lim_net.propagation_vs_copy")


def test_notebook_ledgers_scope_the_claims():
    nb1 = make_ledger("smoke", notebook=1)
    assert nb1.status("lim_net.smoke_dice").startswith("not measured here")
    with pytest.raises(ValueError):
        make_ledger("smoke", notebook=4)
