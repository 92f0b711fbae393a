"""Build-it exercise lct.9 (Fourier kernel ridge regression without course_lib) and the two-level hints."""
import numpy as np

from course_lib.exercises import check, get


def fourier_krr(x, y, lam):
    """Reference solution (as in notebooks/solutions/09_lct_solutions.ipynb): numpy only."""
    x = x if x.ndim == 3 else x[:, :, None]
    m, n, d = x.shape
    xf = np.fft.fft2(x, axes=(0, 1))
    kf = np.fft.fft2(np.real(np.fft.ifft2((xf * np.conj(xf)).sum(axis=2))) / (m * n * d))
    return np.real(np.fft.ifft2(np.fft.fft2(y) / (kf + lam)))


def test_build_krr_accepts_the_solution_and_rejects_wrong_ones(capsys):
    assert check("lct.9", fourier_krr) is True
    assert check("lct.9", lambda x, y, lam: fourier_krr(x, y, 2 * lam)) is False  # wrong regularisation
    assert "differs from the library" in capsys.readouterr().out
    assert check("lct.9", lambda x, y, lam: np.fft.ifft2(np.fft.fft2(y)).real) is False  # no kernel at all
    assert check("lct.9", fourier_krr(np.ones((4, 3, 1)), np.ones((4, 3)), 0.1)) is False  # a result, not a function
    assert "pass fourier_krr itself" in capsys.readouterr().out


def test_build_krr_refuses_course_lib_and_empty_bodies(capsys):
    from course_lib.lct import kcf

    def borrowed(x, y, lam):
        xf = kcf.fft2(x)
        return kcf.ifft2(kcf.train_filter(xf, kcf.fft2(y), y.shape, lam, "linear"), y.shape)

    assert check("lct.9", borrowed) is False
    assert "without course_lib (it uses kcf)" in capsys.readouterr().out

    def todo(x, y, lam):
        return None

    assert check("lct.9", todo) is False
    assert "returned None" in capsys.readouterr().out


def test_every_exercise_has_two_hint_levels_without_the_answer():
    for i in range(1, 10):
        ex = get(f"lct.{i}")
        assert ex.hint and ex.hint2 and ex.hint != ex.hint2, ex.id
    assert "train_filter(kcf.fft2" not in get("lct.1").hint + get("lct.1").hint2  # no longer the whole answer
    assert "−2" not in get("lct.2").hint + get("lct.2").hint2
