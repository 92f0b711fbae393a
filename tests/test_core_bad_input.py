"""The shared input checks (course_lib.checks) and the core entry points they guard (issue 13)."""
import numpy as np
import pytest
import torch

from course_lib import seed_everything
from course_lib.checks import as_int, finite, is_int, require_all, require_finite, require_finite_tensors


@pytest.mark.parametrize("bad", [True, False, np.bool_(True), 1.0, "1", None])
def test_seed_everything_rejects_non_integers(bad):
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(bad)


def test_seed_everything_accepts_numpy_integers_like_ints():
    seed_everything(np.int64(7))
    a = torch.rand(3)
    seed_everything(7)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        seed_everything(np.int32(-1))


def test_as_int():
    assert as_int("n", np.uint8(3)) == 3 and type(as_int("n", np.int64(3))) is int
    assert is_int(5) and is_int(np.int16(5)) and not is_int(True) and not is_int(np.bool_(False))
    assert not is_int(5.0) and not is_int(torch.tensor(5))
    with pytest.raises(TypeError, match=r"steps must be an int \(or a numpy integer\), got float 2.5"):
        as_int("steps", 2.5)
    with pytest.raises(ValueError, match="steps must be an int >= 1, got 0"):
        as_int("steps", 0, minimum=1)


def test_require_finite_tensors_arrays_and_sparse():
    x = torch.ones(2, 3)
    assert require_finite("x", x) is x
    assert require_finite("ids", torch.arange(3)) is not None  # integers are always finite
    x[1, 2] = float("nan")
    x[0, 0] = float("inf")
    with pytest.raises(ValueError, match=r"^x must be finite \(no NaN or ±inf\); found 1 NaN and 1 inf among 6 "
                                         r"values of a \(2, 3\) tensor$"):
        require_finite("x", x)
    with pytest.raises(ValueError, match="1 NaN and 0 inf among 2 values of a \\(2,\\) array"):
        require_finite("a", np.array([0.0, np.nan]))
    sparse = torch.sparse_coo_tensor(torch.tensor([[0, 1], [1, 0]]), torch.tensor([1.0, float("inf")]), (2, 2),
                                     check_invariants=True)
    assert not bool(finite(sparse)) and bool(finite(torch.zeros(2, 2).to_sparse_coo()))
    with pytest.raises(ValueError, match="S must be finite"):
        require_finite("S", sparse)


def test_require_all_reports_the_first_failure_and_builds_messages_lazily():
    calls = []

    def message():
        calls.append(1)
        return "second failed"

    require_all((torch.tensor(True), "never"), (torch.tensor(True), message))
    assert calls == []
    with pytest.raises(ValueError, match="^second failed$"):
        require_all((torch.tensor(True), "first"), (torch.tensor(False), message), (torch.tensor(False), "third"))
    with pytest.raises(ValueError, match="^b must be finite"):
        require_finite_tensors(a=torch.zeros(2), b=torch.tensor([float("nan")]), c=None)


def test_sum_screen_never_rejects_finite_values_whose_sum_overflows():
    big = torch.full((4,), 3e38)  # finite, but the float32 sum is inf: the exact check must clear it
    assert require_finite("big", big) is big
    require_finite_tensors(half=torch.full((8,), 6e4, dtype=torch.float16), cplx=torch.full((3,), 3e38 + 0j))
    assert require_finite("arr", np.full(4, 1e308)) is not None
    with pytest.raises(ValueError, match="found 0 NaN and 1 inf"):
        require_finite_tensors(("the half tensor", torch.tensor([1.0, float("inf")], dtype=torch.bfloat16)))
