import dataclasses

import pytest

from course_lib.faan.claims import course_numbers
from course_lib.faan.experiments import model_config, run_grid, summary
from course_lib.faan.gpu import _bench
from course_lib.faan.presets import PRESETS


def test_grid_runs_every_variant_on_a_synthetic_benchmark(tmp_path):
    preset = dataclasses.replace(PRESETS["smoke"], dim=8, transe_steps=5, transe_batch=32, steps=6, queries=4,
                                 warmup=2, shots=(1, 3), seeds=(0, 1), max_neighbors=4, max_queries=5,
                                 variants=("FAAN", "static neighbours", "mean references"))
    grid = run_grid(preset, device="cpu", progress=False, bench=_bench(), cache=tmp_path / "g.json")
    assert grid["complete"] and (tmp_path / "g.json").exists()
    models = [r["model"] for r in grid["rows"]]
    assert models.count("FAAN") == 4 and models.count("TransE prototype") == 2 and models.count("random") == 2
    assert all(r["queries"] == grid["rows"][0]["queries"] for r in grid["rows"])  # identical queries for everyone
    numbers = course_numbers(grid)
    assert set(numbers) == {"faan.course_beat_random", "faan.course_no_regression", "faan.course_gain_static",
                            "faan.course_gain_mean_refs", "faan.course_vs_prototype"}
    assert summary(grid).shape[0] == 5 * 2
    with pytest.raises(ValueError, match="unknown variant"):
        model_config(preset, "bigger")


def test_course_numbers_are_min_and_mean_over_seeds():
    rows = [{"model": m, "seed": s, "K": k, "MRR": mrr + 0.01 * s, "random MRR": 0.05}
            for s in range(3) for k in (1, 5) for m, mrr in (("FAAN", 0.3), ("static neighbours", 0.25))]
    rows += [{"model": "TransE prototype", "seed": -1, "K": k, "MRR": 0.2, "random MRR": 0.05} for k in (1, 5)]
    out = course_numbers({"rows": rows})
    assert out["faan.course_beat_random"][0] == pytest.approx(0.2)
    assert out["faan.course_no_regression"][0] == pytest.approx(0.05)
    assert out["faan.course_vs_prototype"][0] == pytest.approx(0.11)
    assert "faan.course_gain_mean_refs" not in out
