import matplotlib
import numpy as np
import pytest
import torch

from course_lib.exercises import get
from course_lib.faan import exercises  # noqa: F401 - registers the exercises
from course_lib.faan.benchmark import neighbor_table
from course_lib.faan.model import FAAN, FAANConfig
from course_lib.faan.views import explain_query, pipeline_diagram, plot_carve, plot_results, query_view

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def model(umls_bench):
    torch.manual_seed(0)
    ent, rel = torch.randn(umls_bench.num_entities, 8), torch.randn(umls_bench.num_relations, 8)
    return FAAN(ent, rel, neighbor_table(umls_bench, 6), FAANConfig(dim=8))


def test_explorer_draws_attention_references_and_candidates(umls_bench, model):
    task = umls_bench.splits["test"][0]
    ex = explain_query(model, umls_bench, task, 2, 3)
    assert torch.allclose(ex.head_alpha.sum(), torch.tensor(1.0)) and len(ex.head_alpha) == len(ex.head_neighbours)
    assert ex.beta.shape == (3,) and torch.allclose(ex.beta.sum(), torch.tensor(1.0))
    assert ex.tail in ex.candidates and ex.candidates.index(ex.tail) + 1 == ex.rank
    assert (ex.scores[:-1] >= ex.scores[1:]).all()
    fig = query_view(model, umls_bench, task, 2, 3, top=7)
    axes = fig.axes
    assert len(axes[0].patches) == len(ex.head_neighbours) and len(axes[1].patches) == len(ex.tail_neighbours)
    assert len(axes[2].patches) == 3 and len(axes[3].patches) == 7
    assert str(ex.rank) in axes[3].get_title()
    with pytest.raises(ValueError, match="query must lie"):
        explain_query(model, umls_bench, task, 10_000, 3)
    with pytest.raises(KeyError, match="no task relation"):
        query_view(model, umls_bench, "nope")


def test_carve_results_and_diagram(umls_bench):
    fig = plot_carve(umls_bench)
    assert sum(len(c.patches) for c in fig.axes[0].containers) > 0
    rows = [{"model": "FAAN", "seed": s, "K": k, "MRR": 0.1 * k + 0.01 * s} for s in range(3) for k in (1, 3)]
    rows += [{"model": "random", "seed": -1, "K": k, "MRR": 0.05} for k in (1, 3)]
    fig = plot_results(rows)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["FAAN", "random"]
    d = pipeline_diagram()
    assert ("rhat", "nb", "condition", False) in d.edges and len(d.boxes) == 8


def test_exercise_checkers_accept_right_and_reject_wrong_answers():
    assert get("faan.1").checker(sum(1 / k for k in range(1, 5)) / 4) is True
    assert get("faan.1").checker(0.25) is not True

    def attention(rhat, rel, mask, w):
        s = np.einsum("pd,de,pme->pm", rhat, w, rel)
        s = np.where(mask, s, -np.inf)
        e = np.exp(s - s.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    assert get("faan.2").checker(attention) is True
    assert get("faan.2").checker(lambda rhat, rel, mask, w: np.ones(mask.shape) / mask.shape[1]) is not True

    def aggregate(q, refs):
        s = q @ refs.T / np.sqrt(q.shape[1])
        b = np.exp(s - s.max(1, keepdims=True))
        return (b / b.sum(1, keepdims=True)) @ refs

    assert get("faan.3").checker(aggregate) is True
    assert get("faan.3").checker(lambda q, refs: np.repeat(refs.mean(0, keepdims=True), len(q), 0)) is not True
    assert get("faan.4").checker(0.25) is True and get("faan.5").checker(3) is True
    assert get("faan.6").checker(102) is True and get("faan.6").checker(101) is not True
