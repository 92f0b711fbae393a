"""GNN-LF / GNN-HF — "Interpreting and Unifying Graph Neural Networks with An Optimization Framework"
(Zhu, Wang, Shi, Ji, Cui; WWW 2021, arXiv:2101.11859).

Where things live:

* :mod:`.graph` — sparse Â = D̃^{-1/2}(A+I)D̃^{-1/2}, L̃ = I − Â, fast CSR products, karate club, homophily;
* :mod:`.datasets` — Planetoid (Cora, CiteSeer) and Geom-GCN loaders (offline), PyG loader, contextual SBM;
* :mod:`.objective` — the unified objective Eq. 3, its gradient and stationary point;
* :mod:`.propagation` — closed (solve) and iterative forms of SGC, GCN, PPNP/APPNP, JKNet, DAGNN, GNN-LF, GNN-HF;
* :mod:`.spectral` — filter responses g(λ) and θ_k coefficients;
* :mod:`.models`, :mod:`.training` — decoupled MLP + propagation, the paper's training loop, bootstrap CIs,
  linear probe;
* :mod:`.experiments` — every measurement of the notebooks/claims; :mod:`.claims`, :mod:`.presets`,
  :mod:`.views`, :mod:`.exercises`, :mod:`.paper` (Table 3), :mod:`.peers` (PyTorch Geometric).
"""
from course_lib.gnn_lf_hf.propagation import KINDS, closed_form, iterative_form, propagate

__all__ = ["KINDS", "closed_form", "iterative_form", "propagate"]
