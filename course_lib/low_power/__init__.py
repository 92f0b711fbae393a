"""Low-power deep learning (Goel et al., 2020, a survey): the survey's four categories built from scratch and
measured with one cost suite (:mod:`course_lib.cost`) beside the built-in peers.

Modules: ``data`` (scikit-learn digits, MNIST-1D, MNIST t10k), ``models`` (the small CNN/MLPs, training and the
cached baselines), ``quantization`` (uniform quantisers, observers, PTQ, QAT, real int8), ``pruning`` (magnitude,
gradual, structured, CSR), ``presets``, ``claims``; factorisation, NAS, distillation, Pareto and views are their
own modules.
"""
