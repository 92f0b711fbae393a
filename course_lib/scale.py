"""``COURSE_SCALE`` (smoke | course | full) and the frozen, typed presets each paper defines next to its code.

smoke: CI, every notebook under 60 s on 2 CPU cores. course (default): the paper's headline effect, under
10 min per notebook on a laptop CPU. full: paper scale, meant for a GPU.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TypeVar

SCALES = ("smoke", "course", "full")
DEFAULT_SCALE = "course"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Preset:
    """Base class of every paper's presets; subclasses add their own frozen fields.

    ``expected_seconds`` is the measured runtime of the paper's heaviest notebook at this scale on 2 CPU cores
    (for ``full``: the expected GPU runtime), so a learner knows what to expect before pressing run.
    """

    expected_seconds: float


P = TypeVar("P", bound=Preset)


def get_scale(value: str | None = None) -> str:
    """Return the scale name from ``value`` or ``COURSE_SCALE`` (default ``course``); unknown values raise."""
    raw = (value or os.environ.get("COURSE_SCALE") or DEFAULT_SCALE).strip().lower()
    if raw not in SCALES:
        raise ValueError(f"COURSE_SCALE={raw!r} is not a valid scale; expected one of: {', '.join(SCALES)}")
    return raw


def pick_preset(presets: Mapping[str, P], scale: str | None = None) -> P:
    """Return ``presets[scale]`` after checking that the mapping defines exactly smoke, course and full."""
    missing = [s for s in SCALES if s not in presets]
    extra = [s for s in presets if s not in SCALES]
    if missing or extra:
        raise ValueError(f"presets must have exactly the keys {SCALES}; missing {missing}, unexpected {extra}")
    for name, preset in presets.items():
        if not isinstance(preset, Preset):
            raise TypeError(f"preset {name!r} is a {type(preset).__name__}; expected a course_lib.Preset subclass")
    return presets[get_scale(scale)]
