import pytest
import torch

from course_lib import data as course_data
from course_lib.kg import KnowledgeGraph, check_triples, from_labels, leakage_stats, load_kg, toy_pattern_kg
from course_lib.kg.categories import category_table, relation_categories

EXPECTED = {  # entities, relations, train, valid, test (SOURCE.md of each dataset)
    "umls": (135, 46, 5216, 652, 661),
    "kinships": (104, 25, 8544, 1068, 1074),
    "nations": (14, 55, 1592, 199, 201),
    "wn18rr": (40943, 11, 86835, 3034, 3134),
    "fb15k-237": (14541, 237, 272115, 17535, 20466),
}


def _load(name):
    try:
        return load_kg(name)
    except course_data.DataUnavailable:
        pytest.skip(f"{name} is not available offline (set COURSE_DATA_MIRROR)")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_registered_graphs_load_with_their_sizes(name):
    kg = _load(name)
    s = kg.summary()
    assert (s["entities"], s["relations"], s["train"], s["valid"], s["test"]) == EXPECTED[name]
    assert not kg.synthetic


def test_fb15k237_uses_the_rotate_id_maps():
    kg = _load("fb15k-237")
    assert kg.entities[:2] == ("/m/0vm5t", "/m/07fb6")  # entities.dict order, not sorted labels
    assert kg.relations[1] == "/education/educational_institution/colors"


def test_leakage_matches_a_hand_count():
    kg = from_labels("leak", train=[("a", "r", "b"), ("c", "s", "d"), ("e", "r", "f"), ("b", "q", "a")],
                     test=[("b", "r", "a"), ("c", "r", "d"), ("f", "r", "e"), ("a", "s", "f")])
    stats = leakage_stats(kg)
    assert stats["reverse_pair"] == 0.5       # (b,r,a) via (a,r,b); (f,r,e) via (e,r,f)
    assert stats["symmetric"] == 0.5          # both with the same relation r
    assert stats["same_pair"] == 0.5          # (c,r,d) via (c,s,d); (b,r,a) via (b,q,a)
    assert stats["either"] == 0.75


def test_kinships_has_heavy_inverse_leakage_and_fb15k237_none():
    assert leakage_stats(_load("kinships"))["reverse_pair"] > 0.4
    assert leakage_stats(_load("fb15k-237"))["either"] == 0.0


def test_relation_categories_by_tph_hpt():
    train = [("a", "one", "b"), ("c", "one", "d"),                          # 1-1
             ("a", "fan", "x"), ("a", "fan", "y"), ("c", "fan", "z"), ("c", "fan", "w"),   # 1-N
             ("x", "in", "a"), ("y", "in", "a"), ("z", "in", "c"), ("w", "in", "c"),      # N-1
             ("a", "nn", "x"), ("a", "nn", "y"), ("b", "nn", "x"), ("b", "nn", "y")]      # N-N
    kg = from_labels("cats", train=train)
    cats = dict(zip(kg.relations, relation_categories(kg)))
    assert cats == {"one": "1-1", "fan": "1-N", "in": "N-1", "nn": "N-N"}
    assert list(category_table(kg)["category"]) == [cats[r] for r in kg.relations]


def test_toy_pattern_graph_test_triples_are_implied_by_patterns():
    kg = toy_pattern_kg(40)
    train = {kg.label(t) for t in kg.train}
    inverse = {"married_to": "married_to", "parent_of": "child_of", "child_of": "parent_of"}
    for t in kg.test:
        h, r, tail = kg.label(t)
        assert (tail, inverse[r], h) in train
        assert (h, r, tail) not in train


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(4, 2, dtype=torch.long), r"shape \(n, 3\)"),
    (torch.zeros(4, 3), "integer ids"),
    (torch.tensor([[0, 0, 9]]), r"tail entity ids must lie in \[0, 5\)"),
    (torch.tensor([[0, -1, 1]]), "relation ids"),
    ([[0, 0, 1]], "LongTensor"),
])
def test_check_triples_rejects_bad_input(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        check_triples(bad, 5, 2)


def test_empty_train_split_and_unknown_names_are_clear_errors():
    empty = torch.zeros(0, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="empty"):
        KnowledgeGraph("x", ("a", "b"), ("r",), empty, empty, empty)
    kg = toy_pattern_kg(8)
    with pytest.raises(KeyError, match="no relation 'sibling_of'"):
        kg.relation_id("sibling_of")
    with pytest.raises(KeyError, match="no entity"):
        kg.entity_id("zz")
    with pytest.raises(KeyError, match="unknown knowledge graph"):
        load_kg("freebase")
    with pytest.raises(ValueError, match="multiple of 4"):
        toy_pattern_kg(10)
