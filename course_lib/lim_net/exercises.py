"""Self-check exercises of the LIM-Net notebooks (ids ``lim_net.1`` ... ``lim_net.8``)."""
from __future__ import annotations

import numpy as np
import torch

from course_lib.exercises import Exercise, register
from course_lib.lim_net.memory import affinity, topk_softmax

#: exercise 1's tensors: three memory keys (columns) and one query key, C_k = 2
EX1_MEM_KEYS = [[0.0, 1.0, 2.0], [0.0, 0.0, 0.0]]
EX1_QUERY = [0.8, 0.0]
#: exercise 3's per-slice errors of two rounds
EX3_ERRORS = ([5, 0, 7, 3], [2, 4, 7, 1])
#: exercises 4-5: a Dice-vs-round curve
EX4_CURVE = [0.55, 0.72, 0.79, 0.83, 0.81, 0.86]


def _ex1_expected() -> np.ndarray:
    mk = torch.tensor(EX1_MEM_KEYS)[None]
    q = torch.tensor(EX1_QUERY)[None, :, None]
    return topk_softmax(affinity(mk, q), 2)[0, :, 0].numpy()


def _close(expected, tol=1e-3):
    def check(ans):
        a = np.asarray(ans, dtype=float).reshape(-1)
        e = np.asarray(expected, dtype=float).reshape(-1)
        if a.shape != e.shape:
            return f"expected {e.size} number(s), got {a.size}"
        return bool(np.allclose(a, e, atol=tol)) or "not quite: recompute step by step"
    return check


def _exact(expected):
    return lambda ans: ans == expected or "not quite"


def _frames(ans):
    try:
        got = sorted(int(v) for v in ans)
    except TypeError:
        return "give a list of slice indices"
    return got == [10, 11, 12, 13, 14] or "not quite: permanent slices + the last fifo_size propagated ones"


register(
    Exercise("lim_net.1", "Memory keys (columns) k^M = EX1_MEM_KEYS, query k^Q = EX1_QUERY, C_k = 2, top_k = 2: "
             "give the three readout weights W[:, 0] (Eqs. 1-2) as a list.", _close(_ex1_expected()),
             hint="S_i = -|k_i - q|^2 / sqrt(2); keep the 2 largest, softmax over them, the third weight is 0."),
    Exercise("lim_net.2", "fifo_size=4, mem_every=2, two interacted slices: how many memory frames does the 11th "
             "propagated slice of one direction read?", _exact(6),
             hint="10 slices were predicted before it; every 2nd was written; the FIFO keeps 4; add the "
                  "permanent ones."),
    Exercise("lim_net.3", "Per-slice errors of round t = EX3_ERRORS[0] and of round t+1 = EX3_ERRORS[1]: the total "
             "error of the oracle-MRF result?", _exact(10), hint="oracle MRF keeps the smaller error per slice."),
    Exercise("lim_net.4", "NoC@80 of the curve EX4_CURVE (rounds 1..6)?", _exact(4),
             hint="the first round whose Dice is >= 0.80."),
    Exercise("lim_net.5", "Fraction of non-decreasing transitions of EX4_CURVE?", _close(0.8),
             hint="5 transitions; count those with d[t+1] >= d[t]."),
    Exercise("lim_net.6", "Dice of a prediction with |P| = 120, |G| = 100 voxels and |P n G| = 90?",
             _close(2 * 90 / 220), hint="2 |P n G| / (|P| + |G|)."),
    Exercise("lim_net.7", "On the worst slice the prediction misses a 30-pixel part of the organ and has a "
             "50-pixel false-positive blob. Is the simulated user's next click positive (True) or negative (False)?",
             _exact(False), hint="the click goes into the largest error region of the worst slice."),
    Exercise("lim_net.8", "One interacted slice z = 10, fifo_size = 4, mem_every = 1: which slices are in memory when "
             "slice 15 is predicted (a list of z)?", _frames,
             hint="permanent: the interacted slice; working: the last 4 predicted slices on the way up."),
)
