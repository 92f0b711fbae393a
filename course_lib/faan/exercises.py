"""Self-check exercises of the FAAN series (notebook 1: faan.1–4, notebook 2: faan.5–6)."""
from __future__ import annotations

import torch

from course_lib.exercises import Exercise, build_checker, close_to, register


def _attention_inputs(rng):
    p, m, d = int(rng.integers(2, 6)), int(rng.integers(2, 8)), int(rng.integers(2, 6))
    mask = rng.random((p, m)) < 0.6
    mask[:, 0] = True
    return rng.normal(size=(p, d)), rng.normal(size=(p, m, d)), mask, rng.normal(size=(d, d))

def _attention_reference(rhat, rel, mask, w):
    from course_lib.faan.model import neighbor_attention

    return neighbor_attention(torch.as_tensor(rhat), torch.as_tensor(rel), torch.as_tensor(mask), torch.as_tensor(w))

def _aggregate_inputs(rng):
    q, k, d = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(2, 8))
    return rng.normal(size=(q, d)), rng.normal(size=(k, d))

def _aggregate_reference(query, refs):
    from course_lib.faan.model import aggregate_references

    return aggregate_references(torch.as_tensor(query), torch.as_tensor(refs))[0]

register(
    Exercise("faan.1", "A query has n = 4 candidates left after filtering and the scores are random. What is the "
             "expected reciprocal rank?", close_to(sum(1 / k for k in range(1, 5)) / 4),
             hint="each rank 1..n is equally likely", hint2="average 1/rank over the n equally likely ranks"),
    Exercise("faan.2", "Build it without course_lib: masked neighbour attention "
             "alpha = softmax_i(rhat^T W r_i) over the real neighbours (mask True), padding weight exactly 0. "
             "Signature: my_attention(rhat (P,d), rel (P,M,d), mask (P,M) bool, W (d,d)) -> (P,M).",
             build_checker(_attention_reference, _attention_inputs, atol=1e-6, name="my_attention"),
             hint="a bilinear score per neighbour: einsum('pd,de,pme->pm', ...)",
             hint2="set the masked scores to -inf before a softmax over the last axis"),
    Exercise("faan.3", "Build it without course_lib: query-aware reference aggregation "
             "s_r(q) = sum_k softmax_k(q^T s_k / sqrt(D)) s_k. Signature: my_aggregate(query (Q,D), refs (K,D)) -> "
             "(Q,D).", build_checker(_aggregate_reference, _aggregate_inputs, atol=1e-6, name="my_aggregate"),
             hint="one matrix product gives all the similarities q^T s_k",
             hint2="softmax over the reference axis, then multiply the weights by refs"),
    Exercise("faan.4", "The K = 4 references of a task are identical. What weight beta_k does the query-aware "
             "aggregator give to each of them, for any query?", close_to(0.25, 1e-6),
             hint="all similarities are equal", hint2="a softmax of K equal numbers"),
    Exercise("faan.5", "Under the 'realistic' tie rule, what rank does a true tail get when all 5 candidates "
             "(itself included) have the same score?", close_to(3.0, 1e-9),
             hint="the mean of the optimistic and the pessimistic rank",
             hint2="optimistic = 1 + #better, pessimistic = 1 + #better + #equal others"),
    Exercise("faan.6", "FB15k-237-One candidate sets are the tails seen with the task relation. A task has 106 "
             "candidates and a query head with 5 known true tails. How many candidates are ranked for one of "
             "these 5 queries under the filtered protocol?", close_to(102, 1e-9),
             hint="the target stays; the other known tails go",
             hint2="remove the known tails other than the query's own"),
)
