"""Exercises of the low-power series: each checker accepts the reference answer and refuses a wrong one; the
build-it checker refuses course_lib."""
import numpy as np
import pandas as pd
import pytest
import torch

from course_lib.exercises import get
from course_lib.low_power import exercises as ex  # noqa: F401  (registers the series' exercises)


def _ok(eid, answer):
    return get(eid).checker(answer) is True


def test_formula_exercises():
    assert _ok("low_power.11", 10_004) and not _ok("low_power.11", 40_000)
    assert _ok("low_power.31", 1 / (1 / 64 + 1 / 9)) and not _ok("low_power.31", 9.0)


def _pareto_mask(costs, accuracy):
    c, a = np.asarray(costs), np.asarray(accuracy)
    no_worse = (c[None] <= c[:, None]) & (a[None] >= a[:, None])
    better = (c[None] < c[:, None]) | (a[None] > a[:, None])
    return ~(no_worse & better).any(1)


def test_build_it_pareto_mask_accepts_a_plain_numpy_answer_and_refuses_wrong_or_borrowed_ones():
    check = get("low_power.61").checker
    assert check(_pareto_mask) is True
    # wrong: forgets that a point with equal cost and better accuracy dominates
    assert check(lambda c, a: ~((np.asarray(c)[None] < np.asarray(c)[:, None])
                               & (np.asarray(a)[None] > np.asarray(a)[:, None])).any(1)) is not True

    from course_lib import cost  # noqa: F401  (a module-level name the learner's function reads)

    def uses_cost(costs, accuracy):
        return cost.pareto_front(pd.DataFrame({"c": costs, "accuracy": accuracy}), "c").to_numpy()

    assert "without course_lib" in str(check(uses_cost))
    assert "pass pareto_mask itself" in check(np.array([True]))


@pytest.fixture
def fake_course_table(monkeypatch):
    from course_lib.low_power import pareto

    t = pd.DataFrame({"serialized_bytes": [24000, 16000], "analytic_bytes": [20000, 6000], "MACs": [39360, 39360]},
                     index=["fp32 base", "PTQ int8 (real int8)"])
    monkeypatch.setattr(pareto, "load_cache", lambda scale="course", path=None: (t, {}))
    return t


def test_cached_table_exercises(fake_course_table):
    from course_lib.cost import ENERGY_PJ

    assert _ok("low_power.62", 1.5) and not _ok("low_power.62", 20000 / 6000)
    uj = (39360 * ENERGY_PJ["mac"]["fp32"] + 20000 * ENERGY_PJ["byte"]["dram"]) / 1e6
    assert _ok("low_power.63", uj) and not _ok("low_power.63", 39360 * ENERGY_PJ["mac"]["fp32"] / 1e6)


def test_interactive_exercises_on_a_quickly_trained_base(monkeypatch):
    from course_lib.low_power import models, views
    from course_lib.low_power.data import load
    from course_lib.low_power.factorization import energy_rank

    split = load("mnist1d")
    base = models.build("mnist1d_cnn", seed=0)
    models.train(base, split, epochs=2, batch_size=100, seed=0, device="cpu")
    base.eval()
    monkeypatch.setattr(models, "baseline", lambda *a, **k: base)
    ref = models.accuracy(base, split.x_test, split.y_test)
    accs = {b: views.knob_row(base, split, "bits", b)["accuracy"] for b in range(2, 9)}
    want = min(b for b, a in accs.items() if a >= ref - 1.0)
    assert _ok("low_power.71", want) and not _ok("low_power.71", want + 1 if want < 8 else 2)
    rank = energy_rank(torch.linalg.svdvals(base[10].weight.detach()), 0.9)
    assert _ok("low_power.72", rank) and not _ok("low_power.72", rank + 1)
