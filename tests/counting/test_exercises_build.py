"""Build-it exercise counting.9 (the Sim matrix of step 4 without course_lib) and the two-level hints."""
import numpy as np

from course_lib.exercises import check, get


def similarity(a, X):
    """Reference solution (as in notebooks/solutions/11_counting_solutions.ipynb): numpy only."""
    sim_a = 1 - np.abs(a[:, None] - a[None, :])
    sim_x = (1 - np.abs(X[:, None, :] - X[None, :, :])).prod(axis=-1)
    return sim_a * sim_x


def test_build_sim_accepts_the_solution_and_rejects_wrong_ones(capsys):
    assert check("counting.9", similarity) is True

    def columns_not_rows(a, X):
        return similarity(a, X.T)

    def attention_only(a, X):
        return 1 - np.abs(a[:, None] - a[None, :])

    assert check("counting.9", columns_not_rows) is False
    assert check("counting.9", attention_only) is False
    assert check("counting.9", lambda a, X: similarity(a, X)[:-1]) is False
    assert "expected an array of shape" in capsys.readouterr().out


def test_build_sim_refuses_course_lib(capsys):
    import torch
    from torch import nn

    from course_lib.counting.component import inter_object_similarity

    def borrowed(a, X):
        return inter_object_similarity(torch.as_tensor(a)[None], torch.as_tensor(X)[None], nn.Identity())[0]

    assert check("counting.9", borrowed) is False
    assert "inter_object_similarity" in capsys.readouterr().out


def test_every_exercise_has_two_hint_levels():
    for i in range(1, 10):
        ex = get(f"counting.{i}")
        assert ex.hint and ex.hint2 and ex.hint != ex.hint2, ex.id
    assert "eight piecewise-linear functions with d weights" not in get("counting.5").hint + get("counting.5").hint2
