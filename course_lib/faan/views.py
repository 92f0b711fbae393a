"""Views of the FAAN series: the pipeline diagram, the carve, the results over K and seeds, and the explorer of one
query (neighbour attention of head and tail, the weight of each reference, the ranked candidates). Each view is a
plain function returning a matplotlib Figure (tested on what it draws); notebook 3 wraps ``query_view`` with
:func:`course_lib.viz.interactive`."""
from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import pandas as pd
import torch
from matplotlib.figure import Figure

from course_lib.faan.benchmark import FewShotBenchmark
from course_lib.faan.episodes import check_shots, pair_keys
from course_lib.faan.model import FAAN, aggregate_references


def pipeline_diagram():
    """FAAN's data flow (paper §2.2) drawn with :func:`course_lib.diagrams.draw_diagram`."""
    from course_lib.diagrams import draw_diagram

    return draw_diagram(
        [("pair", "pair $(h, t)$", "data"), ("rhat", r"$\hat r = t - h$", "op"),
         ("nb", "adaptive neighbour\nencoder", "model"), ("tf", "Transformer\n$[h', r_{mask}, t']$", "model"),
         ("agg", "query-aware\naggregation", "op"), ("refs", "K references", "data"),
         ("phi", r"$\phi(q)=s_q^\top s_r(q)$", "op"), ("loss", "margin loss", "loss")],
        [("pair", "rhat"), ("pair", "nb"), ("rhat", "nb", "condition"), ("nb", "tf"), ("tf", "agg", "$s_q$"),
         ("refs", "agg", "$s_k$"), ("agg", "phi"), ("phi", "loss")],
        direction="LR", title="FAAN: scoring one query pair against K references")


def plot_carve(bench: FewShotBenchmark) -> Figure:
    """Triples per task relation and candidate-set sizes, coloured by meta-split."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for split, colour in zip(("train", "dev", "test"), ("C0", "C1", "C2")):
        names = bench.splits[split]
        axes[0].hist([len(bench.tasks[t]) for t in names], bins=15, alpha=0.6, color=colour, label=split)
        axes[1].hist([len(bench.candidates[t]) for t in names], bins=15, alpha=0.6, color=colour, label=split)
    axes[0].set(xlabel="triples per task relation", ylabel="tasks", title=bench.name)
    axes[1].set(xlabel="candidates per task", title="candidate sets")
    axes[0].legend()
    fig.tight_layout()
    return fig


def plot_results(rows: list[dict] | pd.DataFrame, metric: str = "MRR") -> Figure:
    """``metric`` against K per model: mean over seeds with min–max bars (baselines: seed −1)."""
    df = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for model, sub in df.groupby("model", sort=False):
        g = sub.groupby("K")[metric]
        mean = g.mean()
        ax.errorbar(mean.index, mean.values, yerr=[mean - g.min(), g.max() - mean], marker="o", capsize=3,
                    label=model, linestyle="--" if (sub.seed < 0).all() else "-")
    ax.set(xlabel="K (references)", ylabel=metric, xticks=sorted(df.K.unique()))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@dataclasses.dataclass
class QueryExplanation:
    task: str
    head: str
    tail: str
    refs: list[tuple[str, str]]
    head_neighbours: list[str]
    head_alpha: torch.Tensor
    tail_neighbours: list[str]
    tail_alpha: torch.Tensor
    beta: torch.Tensor
    candidates: list[str]
    scores: torch.Tensor
    rank: int


def explain_query(model: FAAN, bench: FewShotBenchmark, task: str, query: int, shots: int) -> QueryExplanation:
    """Everything the explorer shows for query ``query`` (0-based, after the K references) of ``task``."""
    k = check_shots(bench, task, shots)
    pairs, cands = bench.task(task), bench.candidate_set(task)
    if not 0 <= query < len(pairs) - k:
        raise ValueError(f"query must lie in [0, {len(pairs) - k}) for task {task!r} with K = {k}, got {query}")
    refs, q = pairs[:k], pairs[k + query]
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        s_q, a_h, a_t = model.encode_pairs(q[None].to(device), details=True)
        s_refs = model.encode_pairs(refs.to(device))
        _, beta = aggregate_references(s_q, s_refs, model.config.adaptive_references)
        cand_pairs = torch.stack([torch.full_like(cands, int(q[0])), cands], 1)
        scores = model.score(refs.to(device), cand_pairs.to(device)).cpu()
    known = torch.isin(pair_keys(cand_pairs, bench.num_entities), pair_keys(pairs, bench.num_entities))
    known &= cands != q[1]
    scores = scores.masked_fill(known, float("-inf"))  # filtered: other known tails are not ranked
    order = torch.argsort(scores, descending=True)
    order = order[torch.isfinite(scores[order])]
    rank = int((order == int(torch.searchsorted(cands, q[1:2]))).nonzero()[0]) + 1

    def neighbours(e):
        m = model.nb_mask[e].cpu()
        rel, ent = model.nb_rel[e].cpu()[m], model.nb_ent[e].cpu()[m]
        return [f"{bench.relations[r]} → {bench.entities[x]}" for r, x in zip(rel.tolist(), ent.tolist())], m

    hn, hm = neighbours(int(q[0]))
    tn, tm = neighbours(int(q[1]))
    name = bench.entities
    return QueryExplanation(task, name[int(q[0])], name[int(q[1])], [(name[h], name[t]) for h, t in refs.tolist()],
                            hn, a_h[0].cpu()[hm], tn, a_t[0].cpu()[tm], beta[0].cpu(),
                            [name[int(cands[i])] for i in order], scores[order], rank)


def _short(s: str, n: int = 38) -> str:
    return s if len(s) <= n else "…" + s[-(n - 1):]


def plot_query(ex: QueryExplanation, top: int = 10) -> Figure:
    """Four panels: α over the head's and the tail's neighbours, β over the references, the top candidates."""
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
    for ax, labels, w, who in ((axes[0], ex.head_neighbours, ex.head_alpha, f"head {ex.head}"),
                               (axes[1], ex.tail_neighbours, ex.tail_alpha, f"tail {ex.tail}")):
        ax.barh(range(len(w)), w.numpy(), color="C0")
        ax.set_yticks(range(len(w)), [_short(s) for s in labels], fontsize=6)
        ax.invert_yaxis()
        ax.set(xlabel="α (neighbour attention)", title=_short(who, 30))
    axes[2].bar(range(len(ex.beta)), ex.beta.numpy(), color="C1")
    axes[2].set_xticks(range(len(ex.beta)), [f"ref {i + 1}" for i in range(len(ex.beta))])
    axes[2].set(ylabel="β (reference weight)", title="query-aware weights")
    n = min(top, len(ex.candidates))
    colours = ["C2" if c == ex.tail else "C7" for c in ex.candidates[:n]]
    axes[3].barh(range(n), ex.scores[:n].numpy(), color=colours)
    axes[3].set_yticks(range(n), [_short(c, 24) for c in ex.candidates[:n]], fontsize=7)
    axes[3].invert_yaxis()
    axes[3].set(xlabel="φ", title=f"top candidates (true tail rank {ex.rank})")
    fig.suptitle(_short(f"task {ex.task}", 90), fontsize=9)
    fig.tight_layout()
    return fig


def query_view(model: FAAN, bench: FewShotBenchmark, task: str, query: int = 0, shots: int = 3,
               top: int = 10) -> Figure:
    """The explorer's figure for one task relation and query (the plain function behind the interactive view)."""
    return plot_query(explain_query(model, bench, task, query, shots), top)
