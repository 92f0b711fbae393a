"""PyTorch Geometric peers (optional dependency ``torch_geometric``): the same propagations through
PyG's layers, for agreement checks and the runtime benchmark. PyG adds self-loops and normalises
symmetrically, like the paper's Â; the edge list is made undirected first, as our operators do."""
from __future__ import annotations

import torch
from torch import nn


def _undirected(data) -> torch.Tensor:
    from torch_geometric.utils import to_undirected

    return to_undirected(data.edge_index, num_nodes=data.num_nodes)


def pyg_appnp(data, H: torch.Tensor, *, K: int = 10, alpha: float = 0.1) -> torch.Tensor:
    """torch_geometric.nn.APPNP(K, alpha) applied to H on the graph of ``data`` (no dropout)."""
    from torch_geometric.nn import APPNP

    with torch.no_grad():
        return APPNP(K=K, alpha=alpha)(H, _undirected(data).to(H.device))


def pyg_sgconv_propagate(data, X: torch.Tensor, *, K: int = 2) -> torch.Tensor:
    """Â^K X through torch_geometric.nn.SGConv: an SGConv whose linear map is the identity."""
    from torch_geometric.nn import SGConv

    conv = SGConv(X.size(1), X.size(1), K=K, bias=False).to(X.device, X.dtype)
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(X.size(1), dtype=X.dtype))
        return conv(X, _undirected(data).to(X.device))


def pyg_gcnconv_propagate(data, X: torch.Tensor) -> torch.Tensor:
    """ÂX through torch_geometric.nn.GCNConv with an identity weight and no bias."""
    from torch_geometric.nn import GCNConv

    conv = GCNConv(X.size(1), X.size(1), bias=False).to(X.device, X.dtype)
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(X.size(1), dtype=X.dtype))
        return conv(X, _undirected(data).to(X.device))


class PygDecoupled(nn.Module):
    """The same MLP head followed by PyG's ``APPNP(K, alpha, cached=True)`` — the fair peer of our
    :class:`~course_lib.gnn_lf_hf.models.DecoupledGNN` for a fixed graph."""

    def __init__(self, mlp: nn.Module, edge_index: torch.Tensor, *, K: int = 10, alpha: float = 0.1):
        super().__init__()
        from torch_geometric.nn import APPNP

        self.mlp = mlp
        self.prop = APPNP(K=K, alpha=alpha, cached=True)
        self.register_buffer("edge_index", edge_index)

    @property
    def regularized_weight(self) -> torch.Tensor:
        return self.mlp.lin1.weight

    def forward(self, x) -> torch.Tensor:
        return torch.log_softmax(self.prop(self.mlp(x), self.edge_index), dim=-1)
