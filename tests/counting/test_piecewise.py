import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.counting.piecewise import PiecewiseLinear
from course_lib.counting.reference import official_piecewise

weights = st.lists(st.floats(-3, 3, allow_nan=False), min_size=16, max_size=16).filter(
    lambda w: sum(abs(x) for x in w) > 1e-3
)


def test_identity_at_initialisation():
    f = PiecewiseLinear(16)
    x = torch.rand(1000)
    assert torch.allclose(f(x), x, atol=1e-6)
    assert f.weight.numel() == 16


@settings(max_examples=40, deadline=None)
@given(weights)
def test_monotone_and_endpoints(w):
    f = PiecewiseLinear(16)
    with torch.no_grad():
        f.weight.copy_(torch.tensor(w))
    x = torch.linspace(0, 1, 513)
    y = f(x)
    assert y[0].item() == pytest.approx(0.0, abs=1e-7)
    assert y[-1].item() == pytest.approx(1.0, abs=1e-6)
    assert (y[1:] - y[:-1] >= -1e-6).all()


@settings(max_examples=40, deadline=None)
@given(weights)
def test_matches_official_formulation(w):
    f = PiecewiseLinear(16)
    with torch.no_grad():
        f.weight.copy_(torch.tensor(w))
    x = torch.rand(7, 5)
    assert torch.allclose(f(x), official_piecewise(f.weight, x), atol=1e-6)


def test_step_function():
    f = PiecewiseLinear.step(0.5)
    assert f(torch.tensor([0.0, 0.3, 0.5])).abs().max() < 1e-7
    assert torch.allclose(f(torch.tensor([0.5625, 0.8, 1.0])), torch.ones(3))


def test_clamps_and_gradients():
    f = PiecewiseLinear(4)
    x = torch.tensor([-0.5, 0.3, 1.7], requires_grad=True)
    y = f(x)
    assert torch.allclose(y.detach(), torch.tensor([0.0, 0.3, 1.0]), atol=1e-6)
    y.sum().backward()
    assert f.weight.grad is not None and x.grad[1] > 0


def test_bad_input():
    with pytest.raises(ValueError):
        PiecewiseLinear(0)
    with pytest.raises(TypeError):
        PiecewiseLinear(4)([0.5])
    with pytest.raises(ValueError):
        PiecewiseLinear.step(1.0)


def test_hand_written_backward_passes_gradcheck():
    torch.manual_seed(0)
    f = PiecewiseLinear(8).double()
    w = (torch.rand(8, dtype=torch.float64) + 0.1).requires_grad_()
    pieces = torch.randint(0, 8, (30,)).double()
    x = (pieces + 0.1 + 0.8 * torch.rand(30, dtype=torch.float64)) / 8  # away from the knots
    x = torch.cat([x, torch.tensor([-0.2, 1.3], dtype=torch.float64)]).requires_grad_()  # and outside [0, 1]

    def fn(x, w):
        return torch.func.functional_call(f, {"weight": w}, (x,))

    assert torch.autograd.gradcheck(fn, (x, w))
