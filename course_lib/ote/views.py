"""Plots of the OTE series. Every function returns a matplotlib Figure; notebook 3 wraps two of them with
``course_lib.viz.interactive``."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from course_lib.kg import FilterIndex, KnowledgeGraph
from course_lib.kg.categories import CATEGORIES
from course_lib.ote.models import OTE


def plot_relation_transform(model: OTE, kg: KnowledgeGraph, relation: str, group: int = 0,
                            dims: tuple[int, ...] = (0, 1), max_triples: int = 25) -> Figure:
    """How relation ``relation`` acts on group ``group``: for its training triples (h, r, t), the group's
    coordinates ``dims`` (2 or 3 of the k) of h (blue), of f_r(h) (orange, arrow h → f_r(h)) and of t (green,
    dashed f_r(h) → t: what the distance measures). Right: the group's φ(M) with its scales."""
    if not isinstance(model, OTE):
        raise TypeError(f"plot_relation_transform needs an OTE model, got {type(model).__name__}")
    if not 0 <= group < model.num_groups:
        raise ValueError(f"group must lie in [0, {model.num_groups}), got {group}")
    if len(dims) not in (2, 3) or any(not 0 <= d < model.group_size for d in dims) or len(set(dims)) != len(dims):
        raise ValueError(f"dims must be 2 or 3 distinct coordinates in [0, {model.group_size}), got {dims}")
    r = kg.relation_id(relation)
    triples = kg.train[kg.train[:, 1] == r][:max_triples]
    k = model.group_size
    with torch.no_grad():
        h = model.entity[triples[:, 0]].view(-1, model.num_groups, k)[:, group]
        t = model.entity[triples[:, 2]].view(-1, model.num_groups, k)[:, group]
        fh = model.transform(model.entity[triples[:, 0]], triples[:, 1]).view(-1, model.num_groups, k)[:, group]
        u, s = model.relation_matrices(torch.tensor(r))
        u, s = u[group].numpy(), s[group].numpy()
    h, t, fh = (x[:, list(dims)].numpy() for x in (h, t, fh))
    fig = plt.figure(figsize=(10.5, 4.4))
    three = len(dims) == 3
    ax = fig.add_subplot(1, 2, 1, projection="3d" if three else None)
    for a, b, c in zip(h, fh, t):
        ax.plot(*zip(a, b), color="tab:orange", lw=0.8, alpha=0.7)
        ax.plot(*zip(b, c), color="tab:green", lw=0.8, ls="--", alpha=0.6)
    ax.scatter(*h.T, color="tab:blue", s=14, label="head h")
    ax.scatter(*fh.T, color="tab:orange", s=14, label="f_r(h)")
    ax.scatter(*t.T, color="tab:green", s=14, marker="x", label="tail t")
    ax.set_title(f"{relation}: group {group}, coordinates {tuple(dims)}", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    if not three:
        ax.set_aspect("equal", adjustable="datalim")
    ax2 = fig.add_subplot(1, 2, 2)
    im = ax2.imshow(u, cmap="RdBu", vmin=-1, vmax=1)
    for (i, j), v in np.ndenumerate(u):
        ax2.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8)
    ax2.set_title(f"φ(M) of group {group}: det = {np.linalg.det(u):+.2f}\nscales exp(s) = "
                  + ", ".join(f"{v:.2f}" for v in s), fontsize=9)
    ax2.set_xticks(range(k))
    ax2.set_yticks(range(k))
    ax2.grid(False)
    fig.colorbar(im, ax=ax2, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def query_ranking(model, kg: KnowledgeGraph, triple: torch.Tensor, side: str = "tail") -> pd.DataFrame:
    """All candidates of one query, best first: entity, score, whether it is the answer or a filtered known
    answer, and the filtered realistic rank of the answer (in ``.attrs["rank"]``)."""
    from course_lib.kg.evaluate import ranks_from_scores

    h, r, t = (int(x) for x in triple)
    anchor, target = (h, t) if side == "tail" else (t, h)
    with torch.no_grad():
        model.eval()
        scores = model.score_all(torch.tensor([anchor]), torch.tensor([r]), side)[0].cpu()
    rows, known = FilterIndex(kg.all_triples(), kg.num_entities, kg.num_relations).lookup(
        torch.tensor([anchor]), torch.tensor([r]), side)
    filtered = torch.zeros(kg.num_entities, dtype=torch.bool)
    filtered[known] = True
    filtered[target] = False
    rank = ranks_from_scores(scores[None], torch.tensor([target]), exclude=filtered[None])[0].item()
    frame = pd.DataFrame({"entity": kg.entities, "score": scores.numpy(),
                          "answer": np.arange(kg.num_entities) == target, "filtered": filtered.numpy()})
    frame = frame.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    frame.attrs["rank"] = rank
    return frame


def plot_query_ranking(model, kg: KnowledgeGraph, index: int = 0, side: str = "tail", top: int = 15,
                       triples: torch.Tensor | None = None, show_filtered: bool = False) -> Figure:
    """The ``top`` best candidates of test query ``index``, the true answer in green. Other known true answers
    are removed by the filtered protocol: hidden by default (their number above the answer is in the title),
    drawn in grey with ``show_filtered=True``."""
    triples = kg.test if triples is None else triples
    if not 0 <= index < len(triples):
        raise ValueError(f"index must lie in [0, {len(triples)}), got {index}")
    frame = query_ranking(model, kg, triples[index], side)
    h, r, t = kg.label(triples[index])
    answer_score = frame.loc[frame["answer"], "score"].iloc[0]
    hidden = int((frame["filtered"] & (frame["score"] > answer_score)).sum())
    pool = frame if show_filtered else frame[~frame["filtered"]]
    show = pool.head(top)
    if not show["answer"].any():
        show = pd.concat([show.iloc[:-1], pool[pool["answer"]]])
    colors = ["tab:green" if a else ("0.75" if f else "tab:blue") for a, f in zip(show["answer"], show["filtered"])]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    ax.barh(range(len(show))[::-1], show["score"], color=colors)
    ax.set_yticks(range(len(show))[::-1], [e[:18] for e in show["entity"]], fontsize=8)
    query = f"({h}, {r}, ?)" if side == "tail" else f"(?, {r}, {t})"
    ax.set_title(f"query {index}: {query} — answer {t if side == 'tail' else h}, filtered rank "
                 f"{frame.attrs['rank']:g}\n({hidden} other known answers score higher and are filtered out"
                 f"{'' if show_filtered else ', not shown'})", fontsize=10)
    ax.set_xlabel("score γ − d (green: the answer" + (", grey: filtered known answers)" if show_filtered else ")"))
    fig.tight_layout()
    return fig


def plot_seed_results(rows: pd.DataFrame, metric: str = "MRR", title: str = "") -> Figure:
    """One point per (model, seed) and the mean per model (bar)."""
    models = list(dict.fromkeys(rows["model"]))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    means = [rows.loc[rows["model"] == m, metric].mean() for m in models]
    ax.bar(range(len(models)), means, color="0.85", edgecolor="0.4")
    for i, m in enumerate(models):
        vals = rows.loc[rows["model"] == m, metric].to_numpy()
        ax.scatter(np.full(len(vals), i) + np.linspace(-0.15, 0.15, len(vals)), vals, color="tab:blue", zorder=3)
        ax.text(i, means[i], f"{means[i]:.3f}", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(range(len(models)), models)
    ax.set_ylabel(metric)
    ax.set_title(title or f"{metric} per seed (dots) and mean (bars)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_categories(frame: pd.DataFrame, value: str = "MRR both") -> Figure:
    """Mean ``value`` per relation category (1-1/1-N/N-1/N-N) and model, with the per-seed range as error
    bars; ``frame`` from :func:`course_lib.ote.experiments.category_frame`. Query counts are in the labels."""
    cats = [c for c in CATEGORIES if c in set(frame["group"])]
    models = list(dict.fromkeys(frame["model"]))
    fig, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.8 / max(1, len(models))
    for j, m in enumerate(models):
        sub = frame[frame["model"] == m].groupby("group")[value]
        mean, lo, hi = sub.mean(), sub.min(), sub.max()
        x = np.arange(len(cats)) + (j - (len(models) - 1) / 2) * width
        y = [mean.get(c, np.nan) for c in cats]
        err = np.array([[y[i] - lo.get(c, np.nan), hi.get(c, np.nan) - y[i]] for i, c in enumerate(cats)]).T
        ax.bar(x, y, width, yerr=np.clip(err, 0.0, None), capsize=3, label=m)
    counts = frame.groupby("group")["queries"].first()
    ax.set_xticks(range(len(cats)), [f"{c}\n({counts.get(c, 0)} test triples)" for c in cats])
    ax.set_ylabel(value)
    ax.set_title("filtered MRR by relation category (bars: mean over seeds; whiskers: min–max)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_orthogonality_errors(errors: dict[str, np.ndarray]) -> Figure:
    """Histogram (log scale) of the per-block orthonormality error of several orthogonalisations."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    bins = np.logspace(-9, -1, 40)
    for name, err in errors.items():
        ax.hist(np.clip(np.asarray(err), 1e-9, None), bins=bins, histtype="step", lw=1.5, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("max |φ(M)φ(M)ᵀ − I| per block")
    ax.set_ylabel("blocks")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
