"""Scale presets of the MCNCC series (``COURSE_SCALE`` = smoke | course | full).

``expected_seconds``: runtime of the heaviest notebook (2_experiments) at that scale: smoke measured (28–48 s on 2
CPU cores shared with other jobs, load ≈ 12–16), course and full estimated (not measured). At smoke and course the
notebooks read the course-scale results cached in ``data/mcncc`` (made by ``python -m course_lib.mcncc.experiments``:
the synthetic part took 25 min and mini-FID-300 9 min on 2 shared CPU cores; the benchmark's full mini-FID-300
search takes 6 s on 2 idle cores) and re-measure a small live part (at course: one 60-pattern synthetic gallery).
"""
from __future__ import annotations

import dataclasses

from course_lib import Preset


@dataclasses.dataclass(frozen=True, kw_only=True)
class MCNCCPreset(Preset):
    """What the experiments run at one scale."""

    # synthetic cross-domain retrieval (§6.2)
    syn_patterns: int = 60                # references per gallery (one query each)
    syn_shape: tuple[int, int] = (128, 64)
    syn_seeds: tuple[int, ...] = (0, 1, 2)
    syn_train_patterns: int = 30          # disjoint gallery on which the per-channel weights are fitted
    rotations: int = 5                    # angles evenly spaced in ±max_angle
    max_angle: float = 10.0
    pad: int = 4                          # paper margin around each reference (pixels)
    # real mini-FID-300 (§6.3)
    fid_scale: float = 0.25
    fid_rotations: int = 5
    fid_max_angle: float = 10.0
    # features
    gabor_orientations: int = 8
    gabor_wavelengths: tuple[float, ...] = (4.0, 8.0)
    cnn_epochs: int = 25
    finetune_epochs: int = 8
    # on mini-FID-300; skimage's match_template (= 3D-NCC, no mask) costs ≈ 10 s per query on one core: full only
    peers: tuple[str, ...] = ("opencv", "orb")
    syn_peers: tuple[str, ...] = ("opencv", "orb")          # on the synthetic galleries (skimage = 3D-NCC there)
    # live part of the notebooks when results come from the cache
    live_queries: int = 6


PRESETS = {
    "smoke": MCNCCPreset(expected_seconds=45.0, syn_patterns=10, syn_shape=(64, 32), syn_seeds=(0,),
                         syn_train_patterns=10, rotations=2, fid_rotations=1, cnn_epochs=2, finetune_epochs=1,
                         live_queries=4),
    "course": MCNCCPreset(expected_seconds=300.0),
    "full": MCNCCPreset(expected_seconds=900.0, syn_patterns=100, peers=("skimage", "opencv", "orb"), rotations=11,
                        max_angle=20.0, fid_scale=0.5,
                        fid_rotations=11, fid_max_angle=20.0, cnn_epochs=60, finetune_epochs=20, live_queries=50),
}
