import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from course_lib.ote import (
    gram_schmidt,
    inverse_orthogonal_transform,
    orthogonal_transform,
    orthogonalize,
    orthogonalize_matrix_exp,
    orthogonalize_qr,
    released_inverse,
    scale_values,
)


@given(k=st.integers(1, 8), batch=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_gram_schmidt_rows_are_orthonormal_and_equal_sign_corrected_qr(k, batch, seed):
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(batch, 3, k, k, generator=g, dtype=torch.float64) + 0.1 * torch.eye(k, dtype=torch.float64)
    u = gram_schmidt(m)
    assert (u @ u.transpose(-1, -2) - torch.eye(k, dtype=torch.float64)).abs().max() < 1e-8
    torch.testing.assert_close(u, orthogonalize_qr(m), atol=1e-8, rtol=0)
    # Gram–Schmidt keeps the span of the leading rows: row i is a combination of rows 1..i (lower-triangular)
    coeff = u @ torch.linalg.inv(m)
    assert torch.triu(coeff, diagonal=1).abs().max() < 1e-6


def test_float32_rows_orthonormal_below_1e_5():
    m = torch.rand(50, 4, 4)
    for method in ("gram_schmidt", "qr", "matrix_exp"):
        u = orthogonalize(m, method)
        assert (u @ u.transpose(-1, -2) - torch.eye(4)).abs().max() < 1e-5, method


def test_classical_one_pass_loses_orthogonality_in_float32_and_the_second_pass_restores_it():
    m = torch.rand(2000, 4, 4, generator=torch.Generator().manual_seed(0))
    err = lambda u: (u @ u.transpose(-1, -2) - torch.eye(4)).abs().max().item()  # noqa: E731
    assert err(gram_schmidt(m, passes=1)) > 1e-4
    assert err(gram_schmidt(m, passes=2)) < 1e-5
    m64 = m.double()
    torch.testing.assert_close(gram_schmidt(m64, passes=1), gram_schmidt(m64, passes=2), atol=1e-9, rtol=0)
    with pytest.raises(ValueError, match="passes"):
        gram_schmidt(m, passes=3)


def test_gram_schmidt_backward_matches_finite_differences():
    m = (torch.randn(2, 3, 3, dtype=torch.float64) + 2 * torch.eye(3, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(gram_schmidt, (m,))
    assert torch.autograd.gradcheck(orthogonalize_qr, (m,))


def test_matrix_exp_is_a_rotation_and_parametrizations_orthogonal_agrees_on_orthogonality():
    u = orthogonalize_matrix_exp(torch.randn(20, 4, 4, dtype=torch.float64))
    assert torch.allclose(torch.linalg.det(u), torch.ones(20, dtype=torch.float64))
    layer = torch.nn.utils.parametrizations.orthogonal(torch.nn.Linear(4, 4, bias=False))
    w = layer.weight
    torch.testing.assert_close(w @ w.T, torch.eye(4), atol=1e-5, rtol=0)
    # the sign-corrected QR can also return reflections (det −1), which RotatE / matrix_exp cannot
    dets = torch.linalg.det(orthogonalize_qr(torch.randn(200, 2, 2, dtype=torch.float64)))
    assert (dets < 0).any() and (dets > 0).any()


def test_unscaled_transform_preserves_norms():
    x = torch.randn(7, 5, 4)
    u = orthogonalize_qr(torch.randn(7, 5, 4, 4))
    y = orthogonal_transform(x, u, scale_values(torch.zeros(7, 5, 4), "exp"))
    torch.testing.assert_close(torch.linalg.vector_norm(y, dim=-1), torch.linalg.vector_norm(x, dim=-1))


def test_exact_inverse_with_unequal_scales_and_where_the_released_inverse_fails():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10, 6, 4, generator=g, dtype=torch.float64)
    u = orthogonalize_qr(torch.randn(10, 6, 4, 4, generator=g, dtype=torch.float64))
    unequal = scale_values(torch.randn(10, 6, 4, generator=g, dtype=torch.float64), "exp")
    y = orthogonal_transform(x, u, unequal)
    torch.testing.assert_close(inverse_orthogonal_transform(y, u, unequal), x)
    assert (released_inverse(y, u, unequal) - x).abs().max() > 1e-2
    equal = unequal[..., :1].expand_as(unequal)
    torch.testing.assert_close(released_inverse(orthogonal_transform(x, u, equal), u, equal), x)


def test_scalings_and_bad_input():
    s = torch.tensor([-1.0, 0.0, 2.0])
    torch.testing.assert_close(scale_values(s, "exp"), s.exp())
    torch.testing.assert_close(scale_values(s, "abs"), s.abs())
    torch.testing.assert_close(scale_values(s, "none"), torch.ones(3))
    with pytest.raises(ValueError, match="scaling"):
        scale_values(s, "log")
    with pytest.raises(ValueError, match=r"\(\.\.\., k, k\)"):
        gram_schmidt(torch.randn(3, 4))
    with pytest.raises(TypeError, match="floating-point"):
        orthogonalize_qr(torch.ones(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="method"):
        orthogonalize(torch.randn(2, 2), "svd")
    with pytest.raises(ValueError, match="group size mismatch"):
        orthogonal_transform(torch.randn(5, 3), torch.eye(4).expand(5, 4, 4), torch.ones(5, 4))
