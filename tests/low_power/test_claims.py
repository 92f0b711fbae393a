"""The series' claims: declarations valid, a notebook's ledger scoped, the recorders on small synthetic results."""
import pandas as pd
import pytest

from course_lib.claims import Ledger
from course_lib.low_power import claims, data


def test_claims_declare_and_scope():
    ledger = claims.make_ledger("smoke", notebook=1)
    table = ledger.table().set_index("id")
    assert "not measured here" in table.loc["lp.prune50_ft", "status"]
    assert set(claims.SCOPES[1]) | set(claims.SCOPES[2]) <= {c.id for c in claims.CLAIMS}
    assert claims.CLAIMS[[c.id for c in claims.CLAIMS].index("lp.ptq_int2_collapses")].partner == "lp.qat_int2"


def _q_result(qat_acc, int2_acc):
    split = data.load_digits()
    int8 = pd.DataFrame({"seed": [0], "drop": [0.2], "analytic_ratio": [3.91], "serialized_ratio": [3.2],
                         "ao_serialized_ratio": [3.2], "real_int8": [98.0], "torch_ao_static": [97.8]})
    sweep = pd.DataFrame({"bits": [4, 2, 2], "observer": ["minmax", "minmax", "mse"], "drop": [0.2, 60, 5],
                          "accuracy": [98.0, int2_acc, 90.0]})
    qat = pd.DataFrame({"bits": [2], "qat": [qat_acc]})
    peers = pd.DataFrame({"p50_ms": [0.1, 0.2]}, index=["fp32", "ours int8 (x86 kernels)"])
    return {"int8": int8, "sweep": sweep, "qat": qat, "peers": peers, "split": split}


def test_the_int2_bound_passes_only_with_its_partner():
    # the bound is a course claim (checked on the worst of three baselines); smoke does not assert it
    ledger = claims.make_ledger("course", notebook=1)
    claims.record_quantization(ledger, _q_result(qat_acc=97.0, int2_acc=30.0))
    assert ledger.status("lp.ptq_int2_collapses") == "PASS"
    ledger = claims.make_ledger("course", notebook=1)
    claims.record_quantization(ledger, _q_result(qat_acc=97.0, int2_acc=64.4))
    assert ledger.status("lp.ptq_int2_collapses").startswith("FAIL")
    ledger = claims.make_ledger("course", notebook=1)
    claims.record_quantization(ledger, _q_result(qat_acc=80.0, int2_acc=30.0))
    assert ledger.status("lp.qat_int2").startswith("FAIL")
    assert "UNPAIRED" in ledger.status("lp.ptq_int2_collapses")


def test_digits_values_are_recorded_as_bundled_not_as_a_registry_dataset():
    ledger = claims.make_ledger("smoke", notebook=1)
    claims.record_quantization(ledger, _q_result(97.0, 30.0))
    assert ledger.measured["lp.ptq_int8_drop"].source.kind == "bundled"


def test_mnist_claim_is_skipped_when_the_registry_data_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path / "none"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    ledger: Ledger = claims.make_ledger("smoke", notebook=1)  # no cache to clear: MNIST is asked for on every load
    claims.record_mnist(ledger)
    assert ledger.status("lp.ptq_int8_mnist_drop").startswith("skipped: dataset mnist-t10k")


@pytest.mark.parametrize("scale", ["smoke", "course", "full"])
def test_presets_cover_the_claims(scale):
    from course_lib.low_power.presets import PRESETS

    p = PRESETS[scale]
    assert 0.8 in p.sparsities and 2 in p.qat_bits and len(p.seeds) >= 3
