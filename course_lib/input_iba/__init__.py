"""Fine-Grained Neural Network Explanation by Identifying Input Features with Predictive Information (InputIBA;
Zhang, Khakzar, Li, Farshad, Kim, Navab, NeurIPS 2021, arXiv:2110.01471), built on Information Bottleneck
Attribution (IBA; Schulz, Sixt, Tombari, Landgraf, ICLR 2020).

What lives where:

- :mod:`~course_lib.input_iba.data` — cluttered digits: scikit-learn digits on noisy, cluttered 32×32 canvases with
  a ground-truth mask of the target digit (offline, seeded).
- :mod:`~course_lib.input_iba.model` — the 4-conv CNN, its training through :mod:`course_lib.train` and the cached
  weights ``data/input_iba/cnn.pt`` (``python -m course_lib.input_iba.model --retrain``).
- :mod:`~course_lib.input_iba.welford` — Welford mean / std / active-neuron mask of a layer; layer look-up.
- :mod:`~course_lib.input_iba.bottleneck` — IBA's bottleneck Z = λR + (1 − λ)ε, its closed-form KL, smoothing,
  the capacity map and the batched IBA optimisation.
- :mod:`~course_lib.input_iba.prior` — the generative input prior: mask generator, critics, WGAN with clipping.
- :mod:`~course_lib.input_iba.attributor` — the GAN-prior KL, the input bottleneck and the :class:`InputIBA`
  orchestrator (feature capacity, λ_G and Λ returned separately), presets ``CALIBRATION`` and ``FAST``.
- :mod:`~course_lib.input_iba.exact` — the exact properties as numbers (for the ledger and the tests).
"""

from course_lib.input_iba.attributor import (
    CALIBRATION,
    FAST,
    InputIBA,
    InputIBAConfig,
    InputIBAResult,
    explain,
    explain_batch,
    iba_attribution,
    input_iba_kl,
)
from course_lib.input_iba.bottleneck import bottleneck, iba, iba_kl
from course_lib.input_iba.data import ClutteredDigits, cluttered_digits
from course_lib.input_iba.model import DigitCNN, load_cnn
from course_lib.input_iba.prior import GANConfig
from course_lib.input_iba.welford import LayerStats, WelfordEstimator, estimate_layer_stats

__all__ = [
    "CALIBRATION",
    "FAST",
    "ClutteredDigits",
    "DigitCNN",
    "GANConfig",
    "InputIBA",
    "InputIBAConfig",
    "InputIBAResult",
    "LayerStats",
    "WelfordEstimator",
    "bottleneck",
    "cluttered_digits",
    "estimate_layer_stats",
    "explain",
    "explain_batch",
    "iba",
    "iba_attribution",
    "iba_kl",
    "input_iba_kl",
    "load_cnn",
]
