"""Build-it exercise relative_position.8 (the split relation-aware attention without course_lib), and hints."""
import numpy as np
import torch

from course_lib.exercises import check, get


def split_attention(q, k, v, a_k, a_v):
    """Reference solution (as in notebooks/solutions/10_relative_position_solutions.ipynb): plain torch."""
    q, k, v, a_k, a_v = (torch.as_tensor(t) for t in (q, k, v, a_k, a_v))
    logits = (q @ k.transpose(-1, -2) + torch.einsum("bhid,ijd->bhij", q, a_k)) / q.shape[-1] ** 0.5
    p = torch.softmax(logits, dim=-1)
    return p @ v + torch.einsum("bhij,ijd->bhid", p, a_v)


def test_build_split_accepts_the_solution_and_rejects_wrong_ones(capsys):
    assert check("relative_position.8", split_attention) is True

    def transposed_relations(q, k, v, a_k, a_v):  # a_ij vs a_ji: the classic index slip
        return split_attention(q, k, v, np.swapaxes(a_k, 0, 1), a_v)

    def keys_only(q, k, v, a_k, a_v):
        return split_attention(q, k, v, a_k, np.zeros_like(a_v))

    assert check("relative_position.8", transposed_relations) is False
    assert check("relative_position.8", keys_only) is False
    assert "differs from the library" in capsys.readouterr().out


def test_build_split_refuses_course_lib():
    from course_lib.relative_position import attention

    def borrowed(q, k, v, a_k, a_v):
        n = q.shape[2]
        labels = torch.arange(n * n).reshape(n, n)
        t = torch.as_tensor
        return attention.relation_aware_attention(t(q), t(k), t(v), labels, t(a_k).reshape(n * n, -1),
                                                  t(a_v).reshape(n * n, -1))[0]

    assert check("relative_position.8", borrowed) is False


def test_every_exercise_has_two_hint_levels():
    for i in range(1, 9):
        ex = get(f"relative_position.{i}")
        assert ex.hint and ex.hint2 and ex.hint != ex.hint2, ex.id
    assert "q_offset=6)" not in get("relative_position.7").hint + get("relative_position.7").hint2
