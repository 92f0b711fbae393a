import pytest
import torch

from course_lib import data as course_data
from course_lib.faan.benchmark import carve_few_shot, fb15k237_one, neighbor_table, umls_one
from course_lib.kg import from_labels, load_kg

UMLS_COUNTS = {"entities": 135, "background relations (with inverses)": 46, "background triples (with inverses)": 3150,
               "task relations": 23, "meta-train tasks": 16, "dev tasks": 2, "test tasks": 5, "task triples": 4526,
               "median candidates": 135, "min candidates": 135, "max candidates": 135}
FB_COUNTS = {"entities": 14541, "background relations (with inverses)": 300,
             "background triples (with inverses)": 505468, "task relations": 87, "meta-train tasks": 61,
             "dev tasks": 9, "test tasks": 17, "task triples": 21926, "median candidates": 106, "min candidates": 21,
             "max candidates": 412}


def test_umls_one_has_the_documented_counts(umls_bench):
    assert umls_bench.counts() == UMLS_COUNTS


def test_carve_is_deterministic_and_seed_dependent(umls_bench):
    again = umls_one(0)
    assert again.splits == umls_bench.splits
    assert all(torch.equal(again.tasks[t], umls_bench.tasks[t]) for t in umls_bench.tasks)
    other = umls_one(1)
    assert other.splits != umls_bench.splits
    assert other.counts() == umls_bench.counts()  # the counts do not depend on the seed


def test_task_relations_are_absent_from_the_background(umls_bench):
    bg_names = set(umls_bench.relations)
    for t in umls_bench.tasks:
        assert t not in bg_names and f"{t}_inv" not in bg_names
    # inverses: the second half of the relations reverses the first
    b, half = umls_bench.background, umls_bench.num_relations // 2
    fwd, inv = b[b[:, 1] < half], b[b[:, 1] >= half]
    assert torch.equal(fwd[:, [2, 1, 0]] + torch.tensor([0, half, 0]), inv)
    splits = umls_bench.splits
    assert not set(splits["train"]) & set(splits["test"]) and not set(splits["dev"]) & set(splits["test"])
    assert sorted(splits["train"] + splits["dev"] + splits["test"]) == sorted(umls_bench.tasks)


def test_task_sizes_and_candidates_follow_the_recipe():
    kg = from_labels("toy", [("a", "big", f"x{i}") for i in range(30)] + [("a", "small", "x1"), ("b", "small", "x2"),
                                                                          ("c", "other", "x3")]
                     + [(f"h{i}", "mid", f"x{i % 25}") for i in range(40)] + [("q", "r3", f"x{i}") for i in range(22)])
    bench = carve_few_shot(kg, min_triples=20, max_triples=45, min_candidates=21)
    assert sorted(bench.tasks) == ["big", "mid", "r3"]  # 30, 40, 22 triples; "small"/"other" are too small
    assert [len(bench.candidates[t]) for t in ("big", "mid", "r3")] == [30, 25, 22]  # distinct tails
    assert set(bench.relations) == {"small", "other", "small_inv", "other_inv"}
    with pytest.raises(ValueError, match="qualify"):
        carve_few_shot(kg, min_triples=20, max_triples=45, min_candidates=26)  # only "big" is left


def test_fb15k237_one_counts():
    try:
        kg = load_kg("fb15k-237")
    except course_data.DataUnavailable:
        pytest.skip("FB15k-237 is not available offline")
    bench = fb15k237_one(0, kg)
    assert bench.counts() == FB_COUNTS
    for t in bench.splits["test"]:
        assert torch.isin(bench.tasks[t][:, 1], bench.candidates[t]).all()
        assert bench.num_entities not in bench.tasks[t]


def test_neighbor_table_pads_and_samples(umls_bench):
    nt = neighbor_table(umls_bench, 8, seed=0)
    E, R = umls_bench.num_entities, umls_bench.num_relations
    assert nt.relation.shape == (E, 8)
    assert torch.equal(nt.mask, nt.relation < R) and torch.equal(nt.mask, nt.entity < E)
    degree = torch.bincount(umls_bench.background[:, 0], minlength=E)
    assert torch.equal(nt.mask.sum(1), degree.clamp(max=8))
    # every kept neighbour is a real background edge
    e, slot = nt.mask.nonzero(as_tuple=True)
    keys = (e * R + nt.relation[e, slot]) * E + nt.entity[e, slot]
    bg = umls_bench.background
    assert torch.isin(keys, (bg[:, 0] * R + bg[:, 1]) * E + bg[:, 2]).all()
    assert torch.equal(neighbor_table(umls_bench, 8, seed=0).entity, nt.entity)
    with pytest.raises(ValueError, match="max_neighbors"):
        neighbor_table(umls_bench, 0)
