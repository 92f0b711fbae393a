"""LCT — Long-term Correlation Tracking (Ma, Yang, Zhang, Yang, CVPR 2015; LCT+, IJCV 2018, arXiv:1707.02309).

A KCF translation filter, a DSST scale filter, a conservatively updated long-term filter whose peak is the
tracking confidence, and an online re-detector, as an ablation ladder (numpy + FFT, no compiled extensions).

Where things live:

* ``features``    — gray, local intensity histograms, rank transform (IIF stand-in), own fHOG, cosine window,
  Gaussian labels
* ``kcf``         — kernel correlation (Gaussian / linear), training, detection, update; brute-force checks
* ``scale``       — the 1-D DSST scale filter
* ``detector``    — binary detector features and the passive-aggressive linear SVM re-detector
* ``patches``     — sub-windows with border replication, the search-window rule
* ``tracker``     — ``LCTConfig``, ``LCTTracker``, ``run_tracker``, the ``LADDER`` and ``VARIANTS``
* ``sequences``   — OTB loader (``otb_mini`` via the data registry) and the synthetic full-occlusion sequence
* ``metrics``     — OTB one-pass evaluation: precision curve / P@20, success curve / AUC, recovery time
* ``peers``       — OpenCV contrib trackers with the same failure protocol
* ``experiments`` — run-everything helpers, tables, threshold sweep, the peer cache in ``data/lct``
* ``presets``, ``claims``, ``views``, ``exercises`` — scale presets, claims ledger, plots, self-checked
  exercises
"""
