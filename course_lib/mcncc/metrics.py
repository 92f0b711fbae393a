"""Cumulative match characteristic (CMC) of a retrieval: for each query the rank of its true reference among the
gallery's scores; CMC(k) = fraction of queries whose true match is within the top k (§2.4, §6 of the paper, which
reports k as a percentage of the gallery)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def ranks(scores, labels) -> np.ndarray:
    """1-based rank of the true reference of every query: scores (Q, N) (higher = better), labels (Q,) gallery
    indices. Ties count half: rank = 1 + #(better) + #(equal, others) / 2 (a constant score gets the mean rank)."""
    s = np.asarray(scores, float)
    lab = np.asarray(labels)
    if s.ndim != 2:
        raise ValueError(f"scores must be (queries, gallery), got shape {s.shape}")
    if lab.shape != (s.shape[0],):
        raise ValueError(f"labels must be ({s.shape[0]},), one gallery index per query; got {lab.shape}")
    if lab.min() < 0 or lab.max() >= s.shape[1]:
        raise ValueError(f"labels must index the gallery (0..{s.shape[1] - 1})")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    true = s[np.arange(len(s)), lab][:, None]
    better = (s > true).sum(1)
    equal = (s == true).sum(1) - 1
    return 1.0 + better + equal / 2.0


def topk(gallery_size: int, percent: float) -> int:
    """k of 'top p %' of a gallery: round(p/100 · N), at least 1 (38 references: 1 % → 1, 5 % → 2, 10 % → 4)."""
    return max(1, int(round(percent / 100.0 * gallery_size)))


def cmc_curve(rank: np.ndarray, gallery_size: int) -> np.ndarray:
    """CMC(k) for k = 1..N: fraction of queries with rank ≤ k."""
    r = np.asarray(rank, float)
    return np.array([(r <= k).mean() for k in range(1, gallery_size + 1)])


def cmc_summary(scores, labels) -> dict[str, float]:
    """top-1, top-1 %, top-5 %, top-10 % (with k from :func:`topk`) and mean rank of one score matrix."""
    s = np.asarray(scores, float)
    r = ranks(s, labels)
    n = s.shape[1]
    out = {"top-1": float((r <= 1).mean())}
    for p in (1, 5, 10):
        k = topk(n, p)
        out[f"top-{p}% (k={k})"] = float((r <= k).mean())
    out["mean rank"] = float(r.mean())
    return out


def cmc_table(score_sets: dict[str, np.ndarray], labels) -> pd.DataFrame:
    """One row per score (name -> (Q, N) scores): :func:`cmc_summary`."""
    return pd.DataFrame({name: cmc_summary(s, labels) for name, s in score_sets.items()}).T
