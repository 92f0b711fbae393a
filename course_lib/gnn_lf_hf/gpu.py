"""GPU-check hook (``make gpu-check``, :mod:`course_lib.gpu_check`): a smoke-scale pass of GNN-LF/HF training and
inference on a contextual SBM graph (no dataset needed), and a fixed forward pass to compare with the CPU."""
from __future__ import annotations

import torch

from course_lib.gnn_lf_hf.datasets import csbm
from course_lib.gnn_lf_hf.models import build_model
from course_lib.gnn_lf_hf.training import TrainConfig, train_node_classifier
from course_lib.gpu_check import amp_call

#: The models exercised: both propagations in both forms (closed = conjugate gradients on the sparse system).
MODELS = (("lf", "iterative"), ("hf", "iterative"), ("lf", "closed"), ("hf", "closed"))


def smoke(device: torch.device, *, amp: bool) -> dict[str, float]:
    """Train each model of :data:`MODELS` for 30 epochs (§2.7 loss, early stopping) and predict every node."""
    data = csbm(400, num_classes=3, homophily=0.8, seed=0)
    config = TrainConfig(max_epochs=30, patience=30)
    out = {}
    for kind, form in MODELS:
        torch.manual_seed(0)
        model = build_model(data, kind, form=form, K=10, device=device)
        res = amp_call(train_node_classifier, model, data, config=config, seed=0, device=device,
                       amp=amp)
        out[f"{kind}-{form} test_acc"] = res["test_acc"]
    return out


def fixed_forward(device: torch.device) -> torch.Tensor:
    """Seeded GNN-HF (iterative, K = 10) and GNN-LF (closed form) log-probabilities on a fixed cSBM graph."""
    data = csbm(300, num_classes=3, homophily=0.3, seed=1).to(device)
    outs = []
    for kind, form in (("hf", "iterative"), ("lf", "closed")):
        torch.manual_seed(0)
        model = build_model(data, kind, form=form, K=10, device=device).eval()
        outs.append(model(data.x))
    return torch.cat(outs, dim=1)
