"""Scale presets of the InputIBA series (``COURSE_SCALE`` = smoke | course | full).

* ``smoke`` — structural and exact checks only, ≤ 3 images explained live; the notebooks read the committed
  course-scale results (``data/input_iba/course_results.json``) for the method × metric table.
* ``course`` — the main run: ≥ 30 correctly classified test canvases, every method, three optimisation seeds for
  IBA and InputIBA (the comparative claims must hold on every seed), the zero-initialised-prior ablation and the
  cascading-randomisation sanity check. Recompute with ``python -m course_lib.input_iba.experiments course-cache``.
* ``full`` — more images and seeds (a GPU shortens the per-image WGAN).

``expected_seconds``: smoke measured (heaviest notebook ≈ 19 s of cell time on the shared 2-core machine at load
≈ 5; ≈ 50 s at load ≈ 25); course and full are estimates. Recomputing the course cache took ≈ 35 min of wall
time in four processes on that machine at load ≈ 16 (about 3.5 CPU-minutes each).

IBA uses Schulz et al.'s defaults (β = 10, 10 steps, batches of 10 noise samples). InputIBA runs the course's
batched schedule (``schedule="fast"`` = :data:`course_lib.input_iba.attributor.FAST`: shortened WGAN and input
stage, see its comment); ``schedule="calibration"`` is the official one (WGAN 20 epochs of 7 batches of 32 with 5
critic steps per generator step, input bottleneck 60 steps × 10 noise samples). ``gan_epochs`` / ``input_steps``
override the schedule (smoke cuts both).
"""
from __future__ import annotations

import dataclasses

from course_lib import Preset
from course_lib.input_iba.peers import PEERS

#: ours, in display order (the "GAN prior" row is the intermediate λ_G, not a final method)
OURS = ("IBA", "GAN prior λ_G", "InputIBA")
#: every final method of the table (random is the chance row)
FINAL_METHODS = ("random", *PEERS, "IBA", "InputIBA")


@dataclasses.dataclass(frozen=True, kw_only=True)
class InputIBAPreset(Preset):
    """What the notebooks and ``claims.run`` compute at one scale."""

    n_images: int                          # correctly classified test canvases explained
    image_seed: int = 2021                 # seed of the test canvases they are drawn from
    seeds: tuple[int, ...] = (0,)          # optimisation seeds of IBA / InputIBA (noise, critic init)
    peers: tuple[str, ...] = PEERS
    # IBA at the latent layer (Schulz et al. defaults; the course's bottleneck is after the first pooled block)
    layer: str = "pool1"
    iba_beta: float = 10.0
    iba_steps: int = 10
    # InputIBA: H1's schedule ("fast" = attributor.FAST, "calibration" = the official schedule) and overrides
    schedule: str = "fast"
    gan_epochs: int | None = None          # None = the schedule's
    input_steps: int | None = None
    real_samples: str = "paper"
    # metrics
    deletion_steps: int = 32               # 33 points of the deletion / insertion curves
    sanity_images: int = 0                 # images of the cascading-randomisation check (0 = skip)
    ablation_images: int = 0               # images of the zero-initialised-prior ablation (0 = skip)
    live_images: int = 0                   # images notebook 2 explains live when it reads the cache
    cached: str | None = "course_results.json"


PRESETS = {
    # smoke: structural checks on ≤ 3 images with shortened budgets; the table comes from the committed cache.
    "smoke": InputIBAPreset(expected_seconds=20.0, n_images=2, gan_epochs=2, input_steps=10, live_images=2,
                            peers=("Saliency", "IntegratedGradients", "GradCAM")),
    # course: the main run (the cache): 30 images, 3 seeds of IBA/InputIBA, ablation and sanity check.
    # (expected_seconds: an estimate; the notebooks read the cache and explain two canvases live)
    "course": InputIBAPreset(expected_seconds=60.0, n_images=30, seeds=(0, 1, 2), sanity_images=4,
                             ablation_images=15, live_images=2),
    # full: more images and seeds, for a GPU or a long CPU run.
    "full": InputIBAPreset(expected_seconds=1800.0, n_images=100, seeds=(0, 1, 2, 3, 4), sanity_images=30,
                           ablation_images=100, live_images=4),
}

#: the paper's configuration (VGG16 / ImageNet), for the deviations table
PAPER_CONFIG = {"n_images": "ImageNet validation subset (bounding boxes)", "layer": "features.17 (conv4_1, VGG16)",
                "iba_beta": 10.0, "iba_steps": 10, "schedule": "feature β 20, WGAN 20 epochs, input β 20 / 60 steps",
                "gan_epochs": 20, "input_steps": 60,
                "real_samples": "official: capacity-weighted synthetic samples",
                "deletion_steps": "224·224 / 10 pixels per step", "seeds": "not stated"}


def inputiba_config(preset: InputIBAPreset, **overrides):
    """The :class:`~course_lib.input_iba.attributor.InputIBAConfig` of a preset: its schedule (``FAST`` or
    ``CALIBRATION``) with the preset's layer, WGAN epochs, input steps and real-sample kind, then ``overrides``."""
    from course_lib.input_iba import attributor

    if preset.schedule not in ("fast", "calibration"):
        raise ValueError(f"schedule must be 'fast' or 'calibration', got {preset.schedule!r}")
    cfg = attributor.FAST if preset.schedule == "fast" else attributor.CALIBRATION
    changes = {"layer": preset.layer, "real_samples": preset.real_samples}
    if preset.gan_epochs is not None:
        changes["gan"] = dataclasses.replace(cfg.gan, epochs=preset.gan_epochs)
    if preset.input_steps is not None:
        changes["input_steps"] = preset.input_steps
    changes.update(overrides)
    return dataclasses.replace(cfg, **changes)
