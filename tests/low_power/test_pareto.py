"""The Pareto comparison: every technique on one base model, measured by one suite; fronts, seeds, cache."""
import dataclasses
import json

import pandas as pd
import pytest
import torch

from course_lib import cost
from course_lib.low_power import models, pareto
from course_lib.low_power.data import load_mnist1d

TINY = dataclasses.replace(pareto.SETTINGS["smoke"], finetune_epochs=1, qat_epochs=1, student_epochs=1,
                           nas_evaluations=2, nas_epochs=1, nas_final_epochs=1, latency_repeats=3, calibration=64)


@pytest.fixture(scope="module")
def table():
    torch.set_num_threads(1)
    split = load_mnist1d()
    base = models.build("mnist1d_cnn", seed=0)
    models.train(base, split, epochs=2, batch_size=100, seed=0, device="cpu")
    variants = pareto.build_variants(base.eval(), split, TINY, seed=0)
    return variants, pareto.measure_variants(variants, split, timing=True, repeats=3), base, split


def test_every_category_is_measured_on_the_same_base(table):
    variants, frame, base, split = table
    assert list(frame.index) == list(variants)
    assert set(frame["family"]) == {"baseline", "quantization", "pruning", "compact filters", "factorization",
                                    "NAS", "distillation"}
    assert frame.loc["fp32 base", "MACs"] == cost.count_macs(base, split.example())
    assert frame.loc["fp32 base", "accuracy"] == pytest.approx(models.accuracy(base, split.x_test, split.y_test))
    for col in ("accuracy", "analytic_bytes", "serialized_bytes", "MACs", "p50_ms", "energy_proxy_uJ"):
        assert frame[col].notna().all(), col
    assert (frame["analytic_bytes ratio"].loc["fp32 base"], frame["MACs ratio"].loc["fp32 base"]) == (1.0, 1.0)


def test_the_rows_measure_what_each_technique_changes(table):
    _, frame, base, _ = table
    r = frame.loc
    assert r["PTQ int8 (real int8)", "analytic_bytes"] < r["fp32 base", "analytic_bytes"] / 3
    assert r["PTQ int4", "analytic_bytes"] < r["PTQ int8 (real int8)", "analytic_bytes"]
    assert r["PTQ int4", "serialized_bytes"] < r["fp32 base", "serialized_bytes"] / 2   # really packed codes
    # masks: the dense file is exactly as large as before; the non-zeros and CSR shrink
    assert r["magnitude 50%", "serialized_bytes"] == r["fp32 base", "serialized_bytes"]
    prunable = sum(m.weight.numel() for m in base if isinstance(m, (torch.nn.Conv1d, torch.nn.Linear)))
    assert r["fp32 base", "nnz"] - r["magnitude 80%", "nnz"] == pytest.approx(0.8 * prunable, abs=2)
    assert r["magnitude 80%", "csr_bytes"] < r["fp32 base", "csr_bytes"] / 2
    assert r["structured 50%", "MACs"] <= 0.55 * r["fp32 base", "MACs"]
    assert r["structured 50%", "params"] <= 0.55 * r["fp32 base", "params"]
    assert r["depthwise-separable", "MACs"] < r["fp32 base", "MACs"]
    assert r["NAS pick", "MACs"] <= r["fp32 base", "MACs"] // 2                              # within budget
    assert r["PTQ int8 (real int8)", "energy_proxy_uJ"] < r["fp32 base", "energy_proxy_uJ"]


def test_fronts_summary_and_cache_round_trip(table, tmp_path):
    _, frame, _, split = table
    shifted = frame.copy()
    shifted["accuracy"] = shifted["accuracy"] + 2.0
    summary = pareto.fronts(pareto.summarize([frame, shifted]))
    assert summary.loc["fp32 base", "accuracy"] == pytest.approx(frame.loc["fp32 base", "accuracy"] + 1.0)
    assert summary.loc["fp32 base", "accuracy_std"] == pytest.approx(1.0)
    assert (summary["seeds"] == 2).all()
    for c in pareto.COSTS:
        assert summary[f"front {c}"].dtype == bool and summary[f"front {c}"].any()
        assert summary[f"front {c}"].equals(cost.pareto_front(summary, c, "accuracy").rename(f"front {c}"))
    meta = pareto.provenance("smoke", TINY, split)
    assert meta["command"] == "python -m course_lib.low_power.pareto --scale smoke" and meta["threads"] == 1
    assert "proxy" in meta["energy"]
    path = pareto.save(summary, meta, tmp_path / "pareto_smoke.json")
    loaded, meta2 = pareto.load_cache(path=path)
    assert list(loaded.index) == list(summary.index) and meta2 == json.loads(json.dumps(meta))
    pd.testing.assert_series_equal(loaded["MACs"], summary["MACs"], check_names=False, check_dtype=False)
    with pytest.raises(FileNotFoundError, match="python -m course_lib.low_power.pareto"):
        pareto.load_cache(path=tmp_path / "missing.json")
    with pytest.raises(ValueError, match="scale"):
        pareto.cache_path("huge")


def test_pareto_claims_recorded_from_the_table_with_its_file_as_provenance(table, tmp_path):
    from course_lib.low_power import claims

    _, frame, _, split = table
    meta = pareto.provenance("smoke", TINY, split)
    path = pareto.save(pareto.fronts(frame), meta, tmp_path / "pareto_smoke.json")
    ledger = claims.make_ledger("smoke", notebook=6)
    pareto.record(ledger, *pareto.load_cache(path=path), path)
    assert ledger.status("lp.pareto_complete") == "PASS" and ledger.status("lp.pareto_bytes_front") == "reported"
    assert ledger.measured["lp.pareto_complete"].source.kind == "artifact"
    ledger = claims.make_ledger("smoke", notebook=6)
    pareto.record(ledger, frame.drop(index="NAS pick"), meta, path)       # a technique missing: not complete
    assert ledger.status("lp.pareto_complete") == "FAIL"
