"""Decoupled models (§2.7): an MLP f_θ produces H = f_θ(X), a fixed propagation turns it into Z, then
log-softmax. This is how APPNP, GNN-LF and GNN-HF are trained in the paper (official ``model.py``).

* :class:`MLP` — one hidden layer (64), ReLU, dropout 0.5 on the input and the hidden layer, no bias; sparse
  input features are supported (the first layer is a sparse × dense product).
* :class:`Propagation` — any kind/form of :mod:`propagation` as a module; the closed form is sparse CG with an
  implicit (adjoint-solve) backward (``solver="cg"``, default: ~3× faster than a dense factor on Cora) or a
  Cholesky solve against a factor computed once (``solver="cholesky"``, small graphs); never an explicit inverse.
* :class:`DecoupledGNN` — MLP → Propagation → log-softmax.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.device import resolve_device
from course_lib.gnn_lf_hf.graph import CSRPair, as_csr, coo, spmm
from course_lib.gnn_lf_hf.propagation import (
    FORMS,
    check_params,
    closed_form,
    iterate,
    null_space_projection,
    system_coefficients,
)


def fast_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout with a uniform mask (≈3× faster than ``F.dropout``'s Bernoulli sampler on CPU)."""
    if not training or p == 0.0:
        return x
    return x * ((torch.rand_like(x) >= p).to(x.dtype) / (1.0 - p))


def sparse_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout on the stored values of a sparse COO tensor (dense tensors: ``F.dropout``)."""
    if not training or p == 0.0:
        return x
    if not x.is_sparse:
        return F.dropout(x, p, training=True)
    x = x.coalesce()
    keep = (torch.rand_like(x.values()) >= p).to(x.dtype) / (1.0 - p)
    return coo(x.indices(), x.values() * keep, x.shape, coalesced=True)


class MLP(nn.Module):
    """f_θ(X) = W₂ · dropout(ReLU(W₁ · dropout(X))) without biases (official ``model.py``); W₁ is L2-regularised."""

    def __init__(self, in_features: int, num_classes: int, hidden: int = 64, dropout: float = 0.5):
        super().__init__()
        if min(in_features, num_classes, hidden) < 1:
            raise ValueError(f"MLP: sizes must be positive, got {in_features}, {num_classes}, {hidden}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        self.lin1 = nn.Linear(in_features, hidden, bias=False)
        self.lin2 = nn.Linear(hidden, num_classes, bias=False)
        self.dropout = dropout

    def forward(self, x: torch.Tensor | CSRPair) -> torch.Tensor:
        """``x``: dense features, sparse COO features, or a :class:`CSRPair` (fastest for sparse inputs)."""
        if isinstance(x, CSRPair):
            h = x.matmul(self.lin1.weight.t(), dropout=self.dropout, training=self.training)
        elif x.is_sparse:
            h = torch.sparse.mm(sparse_dropout(x, self.dropout, self.training), self.lin1.weight.t())
        else:
            h = self.lin1(fast_dropout(x, self.dropout, self.training))
        h = fast_dropout(F.relu(h), self.dropout, self.training)
        return self.lin2(h)


class Propagation(nn.Module):
    """Z = propagation(H) of ``kind`` in ``form`` (closed / iterative), on a fixed graph Â (buffer).

    ``kind=None`` is the identity (the plain MLP baseline). Parameters are checked against the paper's ranges.
    """

    def __init__(self, A_hat: torch.Tensor | None, kind: str | None, *, form: str = "iterative", K: int = 10,
                 alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9, solver: str = "cg"):
        super().__init__()
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {form!r}")
        if solver not in ("cholesky", "cg"):
            raise ValueError(f"solver must be 'cg' or 'cholesky', got {solver!r}")
        self.kind = None if kind is None else check_params(kind, alpha=alpha, mu=mu, beta=beta, K=K)
        self.form, self.K, self.alpha, self.mu, self.beta = form, K, alpha, mu, beta
        if self.kind is None:
            return
        if A_hat is None or A_hat.layout == torch.strided:
            raise ValueError("Propagation needs the normalised adjacency Â as a sparse tensor (COO or CSR)")
        self.register_buffer("A_hat", as_csr(A_hat))
        n = A_hat.size(0)
        self.solver = solver if form == "closed" and self.kind != "sgc" else "cg"
        if self.solver == "cholesky":  # factor the SPD system matrix once (float64), solve every forward
            a, b = system_coefficients(self.kind, alpha=alpha, mu=mu, beta=beta)
            dense = self.A_hat.to_dense()
            dense = dense.cpu() if dense.device.type == "mps" else dense  # MPS has no float64: factor on the CPU
            S = b * dense.double() + a * torch.eye(n, dtype=torch.float64, device=dense.device)
            self.register_buffer("chol", torch.linalg.cholesky(S).to(A_hat.device, A_hat.dtype))

    def _rhs(self, H: torch.Tensor) -> torch.Tensor:
        k = self.kind
        if k in ("gcn", "appnp", "dagnn"):
            return H
        AH = spmm(self.A_hat, H)
        if k == "jknet":
            return AH
        if k == "lf":
            return self.mu * H + (1 - self.mu) * AH
        return H + self.beta * (H - AH)  # hf

    def forward(self, H: torch.Tensor) -> torch.Tensor:
        if self.kind is None:
            return H
        # Sparse products have no half-precision kernels: under AMP the propagation runs in A_hat's precision.
        with torch.autocast(H.device.type, enabled=False):
            return self._propagate(H.to(self.A_hat.dtype))

    def _propagate(self, H: torch.Tensor) -> torch.Tensor:
        if self.form == "iterative":
            return iterate(self.kind, H, lambda Z: spmm(self.A_hat, Z), self.K, alpha=self.alpha,
                           mu=self.mu, beta=self.beta)
        if self.kind == "sgc":
            return null_space_projection(self.A_hat, H)
        if self.solver == "cholesky":
            return torch.cholesky_solve(self._rhs(H), self.chol)
        return closed_form(self.kind, H, self.A_hat, alpha=self.alpha, mu=self.mu, beta=self.beta, method="cg")

    def extra_repr(self) -> str:
        if self.kind is None:
            return "identity"
        return (f"kind={self.kind}, form={self.form}, K={self.K}, alpha={self.alpha}, mu={self.mu}, "
                f"beta={self.beta}, solver={self.solver}")


class DecoupledGNN(nn.Module):
    """log-softmax(Propagation(MLP(X))): the paper's model for PPNP/APPNP, GNN-LF and GNN-HF (§2.7)."""

    def __init__(self, mlp: MLP, propagation: Propagation):
        super().__init__()
        self.mlp, self.propagation = mlp, propagation

    @property
    def regularized_weight(self) -> torch.Tensor:
        """W₁, the only weight under the L2 penalty λ/2‖W₁‖² (official ``training.py``)."""
        return self.mlp.lin1.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.propagation(self.mlp(x)), dim=-1)


def build_model(data, kind: str | None, *, form: str = "iterative", K: int = 10, alpha: float = 0.1,
                mu: float = 0.9, beta: float = 0.9, hidden: int = 64, dropout: float = 0.5, A_hat=None,
                device=None) -> DecoupledGNN:
    """MLP + propagation for a :class:`~course_lib.gnn_lf_hf.datasets.GraphData` (``kind=None``: plain MLP).

    ``device`` default: :func:`course_lib.device.resolve_device` (``COURSE_DEVICE``, auto → CUDA, MPS, CPU).
    """
    device = resolve_device(device)
    if A_hat is None and kind is not None:
        A_hat, _ = data.operators(device=device)
    mlp = MLP(data.num_features, data.num_classes, hidden=hidden, dropout=dropout)
    prop = Propagation(A_hat, kind, form=form, K=K, alpha=alpha, mu=mu, beta=beta)
    return DecoupledGNN(mlp, prop).to(device)
