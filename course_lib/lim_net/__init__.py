"""LIM-Net: lightweight interactive 3D medical segmentation with multi-round result fusion.

Paper: B. Shen, L. Chang, S. Chen, S. Guo, H. Liu, "Lightweight Method for Interactive 3D Medical Image
Segmentation with Multi-Round Result Fusion", arXiv:2412.08315 (2024). The official code is not public; this is
a teaching reconstruction (2D click network -> XMem/STCN-style memory propagation -> per-slice quality fusion),
and every unspecified choice is a workbook design choice (see the notebooks' "Deviations from the paper").

Where things live:
  clicks.py      click encoding (disk / Gaussian maps, 3D guidance for the peer)
  models.py      2D click U-Net (~0.49 M params), memory net, MRF quality regressor, 3D U-Net peer
  memory.py      negative-L2 affinity, top-k readout, MemoryBank (permanent + FIFO), bidirectional propagation
  mrf.py         multi-round result fusion (learned and oracle)
  user.py        the simulated user (first click, corrective clicks)
  pipeline.py    the multi-round session (LIMNetSession) and run_session
  peers.py       random-walker and DeepEdit-style 3D U-Net sessions
  synthetic.py   synthetic organ-like volumes;  data.py  totalseg_examples + the zero-shot split
  train.py       losses, samplers, training loops;  checkpoint.py  training recipe + cached course weights
  experiments.py the protocol (methods x targets x rounds), summaries, claim values
  metrics.py     Dice, NoC@80, timing, peak memory;  presets.py, claims.py, views.py, exercises.py
"""
from course_lib.lim_net.clicks import Click
from course_lib.lim_net.pipeline import InferenceConfig, LIMNet, LIMNetSession, run_session

__all__ = ["Click", "InferenceConfig", "LIMNet", "LIMNetSession", "run_session"]
