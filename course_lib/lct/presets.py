"""Scale presets of the LCT series (``COURSE_SCALE`` = smoke | course | full).

``expected_seconds`` is the runtime of the heaviest notebook (2_experiments) at that scale on one
uncontended CPU core: measured as CPU seconds for smoke (27 s) and course (195 s), estimated for full.
There is nothing to put on a GPU: the tracker is FFT- and numpy-bound, and ``full`` only adds variants and
a threshold sweep.
"""
from __future__ import annotations

import dataclasses

from course_lib import Preset

LADDER_NAMES = ("KCF", "KCF+scale", "KCF+scale+LT", "LCT")
ALL_PEERS = ("CV-KCF", "CV-CSRT", "CV-MIL", "CV-TLD", "CV-MOSSE", "CV-MedianFlow")


@dataclasses.dataclass(frozen=True, kw_only=True)
class LCTPreset(Preset):
    """What the notebooks run at one scale."""

    sequences: tuple[str, ...] = ("Jogging.1", "Jogging.2", "Car4")  # OTB sequences of the ladder / peers
    max_frames: int | None = None        # cut every OTB sequence to its first frames (None = all)
    ladder: tuple[str, ...] = LADDER_NAMES
    variants: tuple[str, ...] = ("LCT (code window)", "LCT (code update)")
    peers: tuple[str, ...] = ALL_PEERS
    clip_frames: int = 150               # first Jogging.1 frames replayed by the interactive notebook
    sweep_t_r: tuple[float, ...] = ()    # threshold sensitivity sweep on Jogging.1 (empty = skip)
    sweep_t_a: tuple[float, ...] = ()


PRESETS = {
    "smoke": LCTPreset(expected_seconds=30.0, sequences=("Jogging.1",), max_frames=120, variants=(),
                       peers=("CV-KCF", "CV-CSRT", "CV-TLD", "CV-MOSSE", "CV-MedianFlow"), clip_frames=100),
    "course": LCTPreset(expected_seconds=200.0),
    "full": LCTPreset(expected_seconds=450.0,
                      variants=("LCT (code window)", "LCT (code update)", "LCT (linear kernel)",
                                "LCT (HOG only)", "LCT (gray+hist)"),
                      sweep_t_r=(0.1, 0.15, 0.2, 0.25), sweep_t_a=(0.3, 0.38, 0.45)),
}
