"""Self-check exercises of the relative-position series (ids ``relative_position.N``)."""
from __future__ import annotations

import torch

from course_lib.exercises import Exercise, build_checker, register
from course_lib.relative_position.positions import relative_position_index


def _as_long(ans) -> torch.Tensor:
    return torch.as_tensor(ans).long()


def _index_4_1(ans) -> bool | str:
    t = _as_long(ans)
    want = relative_position_index(4, 4, 1)
    if t.shape != want.shape:
        return f"expected a 4 × 4 matrix, got shape {tuple(t.shape)}"
    if torch.equal(t, want):
        return True
    if torch.equal(t, want.T):
        return "that is the transpose: the convention is rel[i, j] = clip(j − i, k) + k (row = query i)"
    if torch.equal(t + 1, want):
        return "close — remember the + k shift that turns distances into table rows 0..2k"
    return "not quite; compute clip(j − i, −1, 1) + 1 for every query row i and key column j"


def _rows(ans) -> bool | str:
    return int(ans) == 33 or "each table holds one vector per clipped distance −k..k"


def _naive_floats(ans) -> bool | str:
    want = 2 * 8 * 4 * 256 * 256 * 32
    try:
        val = int(ans)
    except (TypeError, ValueError):
        return "give an integer number of floats"
    if val == want // 2:
        return "that is one relation tensor; the naive version builds one for keys and one for values"
    if val == 2 * 256 * 256 * 32:
        return "that is the paper's shared (n, n, d) version; the naive one repeats it per batch and head"
    return val == want or "count b·h·n²·d floats per relation tensor, for keys and values"


def _clipped_fraction(ans) -> bool | str:
    n, k = 64, 16
    rel = relative_position_index(n, n, k)
    want = float(((rel == 0) | (rel == 2 * k)).double().mean())
    try:
        val = float(ans)
    except (TypeError, ValueError):
        return "give a fraction between 0 and 1 (a float)"
    if val > 1:
        return "give the fraction of the n² pairs, not their number"
    if abs(val - want) < 1e-4:
        return True
    if abs(val - (1 - want)) < 1e-4:
        return "that is the fraction that keeps its own distinct vector; the question asks for the clipped pairs"
    return "count the pairs (i, j) with |j − i| ≥ k, over all n² pairs"


def _split_inputs(rng):
    b, h, n, d = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(2, 9)),
                  int(rng.integers(2, 7)))
    q, kk, v = (rng.standard_normal((b, h, n, d)) for _ in range(3))
    a_k, a_v = rng.standard_normal((n, n, d)), rng.standard_normal((n, n, d))
    return q, kk, v, a_k, a_v


def _split_reference(q, k, v, a_k, a_v):
    from course_lib.relative_position.attention import relation_aware_attention

    n = q.shape[2]
    labels = torch.arange(n * n).reshape(n, n)  # every pair its own label: the table is a^K itself
    t = torch.as_tensor
    out = relation_aware_attention(t(q), t(k), t(v), labels, t(a_k).reshape(n * n, -1), t(a_v).reshape(n * n, -1))
    return out[0] if isinstance(out, tuple) else out


def _chance(ans) -> bool | str:
    return abs(float(ans) - 1 / 10) < 0.011 or ("the unseen positions hold digits 0..9 uniformly; a model that "
                                                "guesses a digit is right with probability …")


def _bucket_keys(ans) -> bool | str:
    got = sorted(int(a) for a in ans)
    return got == [8, 9] or "rel[5, j] = clip(j − 5, 3) + 3 equals 2k = 6 exactly when j − 5 >= 3"


def _incremental_row(ans) -> bool | str:
    got = [int(a) for a in ans]
    want = relative_position_index(1, 7, 2, q_offset=6)[0].tolist()
    if got == want:
        return True
    if len(got) != 7:
        return "the new token (t = 6) attends to the 7 keys 0..6"
    return "use q_offset = 6: rel = clip(j − 6, 2) + 2 for j = 0..6"


register(
    Exercise("relative_position.1", "Give rel = relative_position_index for n = 4, k = 1 as a 4 × 4 nested list "
             "(rows = queries i, columns = keys j).", _index_4_1,
             hint="rows are queries i, columns keys j; the entry depends only on j − i",
             hint2="rel[i, j] = clip(j − i, −k, k) + k"),
    Exercise("relative_position.2", "How many vectors does one w^K table hold when the clipping distance is "
             "k = 16 (the paper's base setting)?", _rows,
             hint="one vector per clipped distance", hint2="list the distances −k, …, 0, …, k and count them"),
    Exercise("relative_position.3", "How many floats do the naive relation tensors a^K and a^V take for b = 8, "
             "h = 4, n = 256, d_z = 32?", _naive_floats,
             hint="the naive form materialises one relation vector per (batch, head, query, key)",
             hint2="two tensors (keys and values) of shape (b, h, n, n, d_z)"),
    Exercise("relative_position.4", "With the paper's base clipping distance k = 16 and a sequence of n = 64 "
             "tokens, what fraction of the n² query–key pairs falls into one of the two clipped buckets "
             "(w_{−k} or w_{+k}), i.e. shares its relation vector with farther pairs?", _clipped_fraction,
             hint="a pair (i, j) lands in a clipped bucket when its distance reaches the clipping distance",
             hint2="count the pairs with |j − i| ≥ k: with rel = relative_position_index(n, n, k) they are "
             "the entries equal to 0 or 2k; divide by n²"),
    Exercise("relative_position.5", "What token accuracy does a model reach on unseen positions of the offset "
             "task if it just guesses a uniformly random digit? (a float)", _chance,
             hint="how are the labels at unseen positions distributed?",
             hint2="labels at positions ≥ 2 are uniform digits; a random guess is right with probability …"),
    Exercise("relative_position.6", "Query i = 5, n = 10, k = 3: which key positions j use the table row "
             "w^K_{+3} (the right clipped bucket)? Give a list.", _bucket_keys,
             hint="the right clipped bucket collects every key at distance ≥ k",
             hint2="list the j in 0..n−1 with clip(j − i, k) = k"),
    Exercise("relative_position.7", "During cached decoding the token at position t = 6 attends to keys "
             "0..6. Give its row of relative indices for k = 2 (a list of 7 ints).", _incremental_row,
             hint="the single query sits at absolute position 6, not 0",
             hint2="rel = clip(j − 6, −k, k) + k for every key j = 0..6 (q_offset in relative_position_index)"),
    Exercise("relative_position.8", "Build it: write split_attention(q, k, v, a_k, a_v) with numpy or plain torch "
             "(no course_lib) for q, k, v of shape (b, h, n, d) and relation tensors a_k, a_v (n, n, d) shared "
             "by batch and heads: return z (b, h, n, d) of Eq. 3–4 computed the efficient way (§3.3), "
             "q kᵀ plus one einsum with a_k for the logits, p v plus one einsum with a_v for the output. "
             "Checked against the library's relation-aware attention on random inputs.",
             build_checker(_split_reference, _split_inputs, atol=1e-8, name="split_attention"),
             hint="e_ij = q_i·(k_j + a^K_ij)/√d splits into q_i·k_j and q_i·a^K_ij; the second term pairs "
             "query i with row i of a_k",
             hint2="logits: q @ kᵀ plus one einsum that pairs (b, h, i, d) with (i, j, d) into (b, h, i, j); "
             "divide by √d; softmax over j; output: p @ v plus the analogous einsum with a_v"),
)
