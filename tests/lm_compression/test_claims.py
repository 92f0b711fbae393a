import pandas as pd

from course_lib.lm_compression import claims as C


def test_claims_declare_and_notebook_ledgers_cover_everything():
    covered = {cid for ids in C._NOTEBOOK.values() for cid in ids}
    assert covered == {c.id for c in C.CLAIMS if c.scales}
    ledger = C.make_ledger("smoke", notebook=1)
    assert "lm.size.vs_minilm" in ledger.claims


def test_size_claims_hold_and_mixing_claims_measure_exactness():
    ledger = C.make_ledger("smoke", notebook=1)
    s = C.record_sizes(ledger, C.PRESETS["course"])
    assert s["minilm"] / s["student"] >= 10 and s["bert_base"] / s["student"] >= 50
    m = C.measure_mixing(C.unit_sentences(100))
    assert m["p0_mismatch"] == 0 and m["p1_mismatch"] == 0 and m["rejoin_bad"] == 0 and m["fraction_gap"] < 0.02


def test_course_summary_pairs_by_seed():
    rows = [{"arm": a, "seed": s, "dev_acc": v} for s in range(3)
            for a, v in (("scratch", 60 + s), ("kd", 65 + s), ("kd+dual", 64 + 2 * s))]
    out = C.course_summary(pd.DataFrame(rows))
    assert out["pairs"]["kd_gain"]["mean"] == 5 and out["pairs"]["kd_gain"]["std"] == 0
    assert out["pairs"]["dual_vs_kd"]["min"] == -1 and out["pairs"]["dual_vs_kd"]["max"] == 1
    assert out["pairs"]["fvt_vs_kd"] is None
