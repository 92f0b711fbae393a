"""Tiny NAS: the search space, the hard MAC budget, random search vs regularised evolution at equal evaluations."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from course_lib import cost
from course_lib.low_power import nas


@pytest.fixture(scope="module")
def space():
    return nas.SearchSpace()


def synthetic_score(arch) -> float:
    """A smooth, deterministic landscape: wider and larger kernels help, with diminishing returns."""
    return float(sum(np.log2(w) + 0.3 * k for k, w in arch) - 0.8 * len(arch) ** 2)


def test_space_enumerates_258_distinct_buildable_architectures_with_counted_macs(space):
    archs = space.all()
    assert len(archs) == len(set(archs)) == 6 + 6 ** 2 + 6 ** 3
    x = torch.zeros(1, 1, 40)
    for arch in archs[:: 37]:
        model = space.build(arch)
        assert model(torch.randn(2, 1, 40)).shape == (2, 10)
        assert space.macs(arch) == cost.count_macs(model, x) == cost.flop_counter_macs(model, x)
        assert nas.parse_key(nas.arch_key(arch)) == arch
    assert nas.arch_key(((5, 32), (3, 16))) == "k5w32-k3w16"


def test_mutation_changes_exactly_one_thing_and_stays_in_the_space(space):
    rng = np.random.default_rng(0)
    for _ in range(300):
        parent = space.sample(rng)
        child = space.mutate(parent, rng)
        space.validate(child)
        assert child != parent
        if len(child) == len(parent):                 # kernel or width of one block
            diffs = [(a, b) for a, b in zip(parent, child) if a != b]
            assert len(diffs) == 1 and sum(x != y for x, y in zip(*diffs[0])) == 1
        else:                                          # one block added or removed
            longer, shorter = (child, parent) if len(child) > len(parent) else (parent, child)
            assert len(longer) == len(shorter) + 1
            assert any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))


@pytest.mark.parametrize("budget", [3_000, 12_000, 40_000, 200_000])
def test_every_evaluated_architecture_is_within_the_budget_and_evaluations_are_equal(space, budget):
    for seed in range(4):
        rs = nas.random_search(space, synthetic_score, budget=budget, evaluations=30, seed=seed)
        ev = nas.regularized_evolution(space, synthetic_score, budget=budget, evaluations=30, population=8,
                                       sample=3, seed=seed)
        for res in (rs, ev):
            assert len(res.history) == 30
            assert all(m <= budget and m == space.macs(a) for a, m, _ in res.history)
            assert res.best[1] <= budget
            assert res.best_so_far()[-1] == res.best[2]


def test_a_budget_no_architecture_meets_is_a_clear_error(space):
    smallest = min(space.macs(a) for a in space.all())
    with pytest.raises(ValueError, match=f"no architecture of the space meets the budget of {smallest - 1:,} MACs"):
        nas.feasible(space, smallest - 1)
    for search in (nas.random_search, nas.regularized_evolution):
        with pytest.raises(ValueError, match="needs 2,560 MACs"):
            search(space, synthetic_score, budget=1000, evaluations=12)
    assert nas.feasible(space, smallest) == [min(space.all(), key=space.macs)]


def test_evolution_is_regularised_by_age_and_beats_random_on_a_smooth_landscape(space):
    """Deterministic seeds on a synthetic landscape (not the course claim, which is only reported)."""
    gaps = []
    for seed in range(10):
        rs = nas.random_search(space, synthetic_score, budget=60_000, evaluations=40, seed=seed)
        ev = nas.regularized_evolution(space, synthetic_score, budget=60_000, evaluations=40, population=10,
                                       sample=3, seed=seed)
        gaps.append(ev.best[2] - rs.best[2])
        # the first `population` evaluations are the random initial population, drawn by the same sampler
        first = nas.random_search(space, synthetic_score, budget=60_000, evaluations=10, seed=seed)
        assert [h[0] for h in ev.history[:10]] == [h[0] for h in first.history]
    assert np.mean(gaps) > 0


def test_bad_search_arguments(space):
    with pytest.raises(ValueError, match="population"):
        nas.regularized_evolution(space, synthetic_score, budget=50_000, evaluations=5, population=10)
    with pytest.raises(ValueError, match="evaluations must be an int >= 1"):
        nas.random_search(space, synthetic_score, budget=50_000, evaluations=0)
    with pytest.raises(ValueError, match="not in the space"):
        space.build(((7, 8),))
    with pytest.raises(ValueError, match="not in the space"):
        space.validate(((3, 8),) * 4)
    with pytest.raises(ValueError, match="not an architecture key"):
        nas.parse_key("conv3x3")
    with pytest.raises(KeyError, match="not in the table"):
        nas.TableEvaluator({"archs": {}})(((3, 8),))


def test_proxy_evaluator_trains_through_the_loop_and_memoises(space):
    from course_lib.low_power.data import Split

    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 1, 40, generator=g)
    y = (x[:, 0, :20].sum(1) > 0).long()
    split = Split("toy", x[:80], y[:80], x[80:], y[80:], description="toy")
    ev = nas.ProxyEvaluator(space, split, epochs=1, batch_size=40)
    a = ev(((3, 8),))
    assert 0.0 <= a <= 100.0 and ev(((3, 8),)) == a and ev.calls == 2 and len(ev.cache) == 1


def test_table_search_comparison_and_proxy_rank_correlation(space):
    archs = space.all()
    table = {"archs": {nas.arch_key(a): {"val_acc": synthetic_score(a), "test_acc": synthetic_score(a) - 1,
                                         "macs": space.macs(a)} for a in archs}}
    for i, a in enumerate(archs[:10]):
        table["archs"][nas.arch_key(a)]["long_val_acc"] = synthetic_score(a) + 0.01 * i
    rho, n = nas.proxy_rank_correlation(table)
    assert n == 10 and rho > 0.9
    df = nas.compare_searches(space, table, budget=30_000, evaluations=20, seeds=(0, 1, 2))
    assert list(df.index) == [0, 1, 2]
    assert (df[["random_max_macs", "evolution_max_macs"]] <= 30_000).all().all()
    assert (df[["random_val", "evolution_val"]].max(axis=1) <= df["optimum_val"]).all()
    assert (df["random_evaluations"] == 20).all() and (df["evolution_evaluations"] == 20).all()
    frame = nas.table_frame(table)
    assert frame.loc["k3w8", "depth"] == 1 and len(frame) == 258
    with pytest.raises(ValueError, match="at least 3"):
        nas.proxy_rank_correlation({"archs": {}})


def test_space_dataclass_is_hashable_config(space):
    assert dataclasses.asdict(space)["widths"] == (8, 16, 32)
    with pytest.raises(ValueError, match="cannot be pooled"):
        nas.SearchSpace(length=4, max_depth=3)


def test_study_and_record_on_the_committed_table():
    from course_lib.low_power import claims as C
    from course_lib.low_power.presets import PRESETS

    preset = dataclasses.replace(PRESETS["smoke"], nas_more_seeds=5)
    s = nas.study(preset)
    ledger = C.make_ledger("smoke", notebook=4)
    nas.record(ledger, s)
    assert ledger.status("lp.nas_within_budget") == "PASS" and ledger.status("lp.nas_budget_error") == "PASS"
    assert ledger.measured["lp.nas_within_budget"].value <= 1.0
    gap = s["searches"]["evolution_minus_random"].mean()
    assert ledger.measured["lp.nas_evolution_vs_random"].value == pytest.approx(gap)
    assert s["searches"].attrs["curves"]["evolution"].shape == (len(preset.nas_seeds), preset.nas_evaluations)
