"""Exercises with self-check functions.

Each paper registers its exercises in ``course_lib/<pkg>/exercises.py``; a notebook cell reads
``answer = None`` and ``check("pkg.N", answer)``. Reference solutions live apart, in ``notebooks/solutions/``,
and CI executes them, so a broken exercise fails the build.
"""
from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable

_REGISTRY: dict[str, Exercise] = {}
_WRONG: dict[str, int] = {}  # wrong answers so far per exercise (this kernel): picks the hint level


@dataclasses.dataclass(frozen=True)
class Exercise:
    """``checker(answer)`` returns True, or False / a string saying what is wrong."""

    id: str
    prompt: str
    checker: Callable[[object], bool | str]
    hint: str = ""   # level 1: a nudge
    hint2: str = ""  # level 2: the approach (shown from the second wrong answer on); never the answer itself


def register(*exercises: Exercise) -> None:
    for ex in exercises:
        if "." not in ex.id:
            raise ValueError(f"exercise id {ex.id!r} must look like '<package>.<n>'")
        _REGISTRY[ex.id] = ex


def get(exercise_id: str) -> Exercise:
    if exercise_id not in _REGISTRY:
        pkg = exercise_id.split(".", 1)[0]
        try:
            importlib.import_module(f"course_lib.{pkg}.exercises")
        except ModuleNotFoundError:
            pass
    if exercise_id not in _REGISTRY:
        raise KeyError(f"no exercise {exercise_id!r}; known: {', '.join(sorted(_REGISTRY)) or 'none loaded'}")
    return _REGISTRY[exercise_id]


def check(exercise_id: str, answer) -> bool:
    """Print whether ``answer`` is right (with a hint if not) and return True/False; never raises on a wrong one."""
    ex = get(exercise_id)
    if answer is None:
        print(f"[{exercise_id}] not answered yet: replace `answer = None` with your answer. {ex.prompt}")
        _grade_log(exercise_id, "not answered")
        return False
    try:
        verdict = ex.checker(answer)
    except Exception as exc:  # a malformed answer is feedback, not a crash
        verdict = f"could not check this answer ({type(exc).__name__}: {exc})"
    if verdict is True:
        print(f"[{exercise_id}] correct ✔")
        _grade_log(exercise_id, "correct")
        return True
    _grade_log(exercise_id, "wrong")
    reason = verdict if isinstance(verdict, str) else "not quite"
    _WRONG[exercise_id] = _WRONG.get(exercise_id, 0) + 1
    print(f"[{exercise_id}] ✘ {reason}" + (f" — hint: {ex.hint}" if ex.hint else ""))
    if ex.hint2 and _WRONG[exercise_id] >= 2:
        print(f"[{exercise_id}] approach: {ex.hint2}")
    elif ex.hint2:
        print(f"[{exercise_id}] (a second wrong answer shows the approach; or call hint({exercise_id!r}, 2))")
    return False


def _grade_log(exercise_id: str, verdict: str) -> None:
    """Under the instructor's grader (``COURSE_GRADE_LOG`` set) append the verdict as one JSON line."""
    import json
    import os

    path = os.environ.get("COURSE_GRADE_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": exercise_id, "verdict": verdict}) + "\n")


def hint(exercise_id: str, level: int = 1) -> str:
    """Print and return the hint of an exercise: level 1 the nudge, level 2 the approach."""
    ex = get(exercise_id)
    if level not in (1, 2):
        raise ValueError(f"hint level must be 1 (nudge) or 2 (approach), got {level!r}")
    text = (ex.hint if level == 1 else ex.hint2 or ex.hint) or "no hint for this exercise"
    print(f"[{exercise_id}] hint {level}: {text}")
    return text


def _scale_answer(ans) -> bool | str:
    return str(ans).strip().lower() == "smoke" or "the CI scale keeps every notebook under 60 s"


def _seed_answer(ans) -> bool | str:
    try:
        import torch

        return bool(torch.equal(torch.as_tensor(ans), _seeded_draw())) or "that is not what seed 123 gives"
    except (TypeError, ValueError, RuntimeError) as exc:
        return f"expected a tensor of shape (3,), got {type(ans).__name__} ({exc})"


def _seeded_draw():
    import torch

    from course_lib.repro import seed_everything

    state = torch.random.get_rng_state()
    seed_everything(123)
    draw = torch.rand(3)
    torch.random.set_rng_state(state)
    return draw


register(
    Exercise("start.1", "Which COURSE_SCALE value keeps every notebook under 60 s on 2 CPU cores?",
             _scale_answer, hint="it is the scale CI uses; see course_lib.scale.SCALES"),
    Exercise("start.2", "Call seed_everything(123) and then torch.rand(3); give that tensor as the answer.",
             _seed_answer, hint="from course_lib import seed_everything"),
)


# ------------------------------------------------------------------------------------------------------------
# build-it exercises: the learner passes a function written without course_lib; it is compared with the library
def close_to(expected: float, tol: float = 1e-3) -> Callable[[object], bool | str]:
    """A checker for a numeric answer within ``tol`` (absolute) of ``expected``."""
    def checker(ans) -> bool | str:
        value = float(ans)
        return math.isclose(value, expected, abs_tol=tol) or f"{value:g} is not it (tolerance {tol:g})"

    return checker


def close_to_computed(compute: Callable[[], float], tol: float) -> Callable[[object], bool | str]:
    """:func:`close_to` with the expected value computed when the answer is checked (from data or a cache)."""
    return lambda ans: close_to(compute(), tol)(ans)


def course_lib_uses(fn) -> list[str]:
    """Names that ``fn`` reads from its globals (or closure) that come from ``course_lib`` (empty when none)."""
    import inspect
    import types

    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    names, found = set(code.co_names) | set(code.co_freevars), []
    for const in code.co_consts:  # nested functions / lambdas inside the learner's function
        if isinstance(const, types.CodeType):
            names |= set(const.co_names)
    scope = dict(fn.__globals__)
    scope.update(inspect.getclosurevars(fn).nonlocals)
    for name in sorted(names):
        obj = scope.get(name)
        origin = getattr(obj, "__name__", "") if inspect.ismodule(obj) else getattr(obj, "__module__", "") or ""
        if isinstance(origin, str) and origin.split(".")[0] == "course_lib":
            found.append(name)
    return found


def build_checker(reference: Callable, make_inputs: Callable, *, trials: int = 3, atol: float = 1e-6,
                  rtol: float = 1e-5, name: str = "your function") -> Callable[[object], bool | str]:
    """A checker for build-it exercises: call the learner's function and ``reference`` on ``trials`` fresh random
    inputs (``make_inputs(rng) -> tuple``) and compare with ``allclose``. Rejects functions that use course_lib."""
    import numpy as np

    def checker(fn) -> bool | str:
        if not callable(fn):
            return f"pass {name} itself (answer = my_function), not its result"
        borrowed = course_lib_uses(fn)
        if borrowed:
            return f"build it without course_lib (it uses {', '.join(borrowed)})"
        rng = np.random.default_rng()
        for trial in range(trials):
            args = make_inputs(rng)
            got = fn(*args)
            if got is None:
                return f"{name} returned None: fill in its body and return the result"
            want, got = _as_numbers(reference(*args)), _as_numbers(got)
            if got.shape != want.shape:
                return f"expected an array of shape {want.shape}, got {got.shape} (trial {trial + 1})"
            if not np.allclose(got, want, atol=atol, rtol=rtol):
                err = float(np.max(np.abs(got - want)))
                return f"differs from the library on random input {trial + 1} (max abs difference {err:.3g})"
        return True

    return checker


def _as_numbers(x):
    """An array to compare and subtract: boolean masks become 0/1 (bool - bool is a TypeError in numpy)."""
    import numpy as np

    array = np.asarray(_numpy(x))
    return array.astype(float) if array.dtype == bool else array


def _numpy(x):
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return x.detach().cpu().double().numpy()
    except ImportError:  # pragma: no cover
        pass
    return x
