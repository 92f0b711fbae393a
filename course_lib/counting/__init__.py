"""Learning to Count Objects in Natural Images for VQA (Zhang, Hare, Prügel-Bennett, ICLR 2018,
arXiv:1802.05766).

A differentiable counting component that reads a count from object proposals (boxes) and their unnormalised
(sigmoid) attention scores. What lives where:

- :mod:`~course_lib.counting.piecewise` — the monotone piecewise-linear activations f₁…f₈.
- :mod:`~course_lib.counting.boxes` — box area, pairwise IoU with the tiny-box fix, vectorised greedy NMS.
- :mod:`~course_lib.counting.component` — every step of the counter as a named function, and :class:`Counter`.
- :mod:`~course_lib.counting.reference` — a per-example loop reference (correctness check and benchmark peer).
- :mod:`~course_lib.counting.toy` — the paper's toy task as a vectorised batch generator, plus small scenes.
- :mod:`~course_lib.counting.coins` — the real-image bridge on scikit-image's bundled ``coins``.
- :mod:`~course_lib.counting.models` — counter + classifier and the baselines (attention sum, soft attention +
  MLP, NMS, DeepSets, a tiny set transformer).
- :mod:`~course_lib.counting.training` — training on shared batches, evaluation metrics, sweeps over l and q.
- :mod:`~course_lib.counting.pretrained` — the small cached counters of the interactive notebook
  (``data/counting/*.json``).
- ``presets``, ``claims``, ``views``, ``exercises`` — scale presets, the claims ledger, plots, self-checks.
"""

from course_lib.counting.boxes import box_area, nms_keep, pairwise_iou
from course_lib.counting.component import Counter, CounterTrace, interpolated_one_hot
from course_lib.counting.piecewise import PiecewiseLinear
from course_lib.counting.toy import CountingBatch, ToyCountingDataset

__all__ = [
    "Counter",
    "CounterTrace",
    "CountingBatch",
    "PiecewiseLinear",
    "ToyCountingDataset",
    "box_area",
    "interpolated_one_hot",
    "nms_keep",
    "pairwise_iou",
]
