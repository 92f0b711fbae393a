"""OTE (orthogonal transform embedding) and GC-OTE (OTE with directed graph context), paper §3–§4.

Both plug into the shared knowledge-graph interface (:class:`course_lib.kg.KGEModel`): training with
:func:`course_lib.kg.train_kge`, ranking with :func:`course_lib.kg.evaluate`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from course_lib.checks import is_int
from course_lib.kg.models import KGEModel
from course_lib.kg.sampling import triple_keys
from course_lib.kg.triples import check_triples
from course_lib.ote.orthogonal import (
    ORTHOGONALIZERS,
    SCALINGS,
    inverse_orthogonal_transform,
    orthogonal_transform,
    orthogonalize,
    scale_values,
)

GNN_TYPES = ("gat", "gcn")


def group_distance(query: torch.Tensor, candidate: torch.Tensor, group_size: int) -> torch.Tensor:
    """d = Σ_i ‖q(i) − c(i)‖₂: the sum over the K groups of per-group Euclidean norms (paper §3,
    like RotatE's sum of moduli). Inputs (..., K·k), broadcast."""
    diff = query - candidate
    return torch.linalg.vector_norm(diff.unflatten(-1, (-1, group_size)), dim=-1).sum(-1)


class OTE(KGEModel):
    """OTE: entity vectors split into K groups of size k; relation r maps group i by
    f_r(e)(i) = diag(σ(s_r(i))) · φ(M_r(i)) (paper §3).

    Tail prediction scores γ − Σ_i ‖f_r(h)(i) − t(i)‖, head prediction γ − Σ_i ‖f_r⁻¹(t)(i) − h(i)‖ with the exact
    inverse. Raw matrices start U(0, 1) and are orthonormalised once; scales start at 1. ``orthogonalizer``:
    ``"qr"`` (sign-corrected QR = Gram–Schmidt, default), ``"gram_schmidt"`` or ``"matrix_exp"``.
    """

    def __init__(self, num_entities: int, num_relations: int, dim: int, group_size: int = 4, gamma: float = 6.0,
                 scaling: str = "exp", orthogonalizer: str = "qr"):
        if not is_int(group_size) or group_size < 1 or not is_int(dim) or dim < 1 or dim % group_size:
            raise ValueError(f"dim ({dim!r}) must be a positive multiple of group_size ({group_size!r})")
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
        if orthogonalizer not in ORTHOGONALIZERS:
            raise ValueError(f"orthogonalizer must be one of {ORTHOGONALIZERS}, got {orthogonalizer!r}")
        super().__init__(num_entities, num_relations, dim, gamma, dim)
        self.group_size, self.num_groups = group_size, dim // group_size
        self.scaling, self.orthogonalizer = scaling, orthogonalizer
        raw = torch.rand(num_relations, self.num_groups, group_size, group_size)
        if orthogonalizer != "matrix_exp":
            raw = orthogonalize(raw, orthogonalizer)
        self.relation = nn.Parameter(raw)
        init = 0.0 if scaling == "exp" else 1.0
        self.log_scale = nn.Parameter(torch.full((num_relations, self.num_groups, group_size), init))

    # ---- the transform ---------------------------------------------------------------------------------------
    def relation_matrices(self, relation: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(U, scale) of the given relations (all when None): U (..., K, k, k) = φ(M), scale (..., K, k)."""
        raw = self.relation if relation is None else self.relation[relation]
        scale = self.log_scale if relation is None else self.log_scale[relation]
        return orthogonalize(raw, self.orthogonalizer), scale_values(scale, self.scaling)

    def transform(self, x: torch.Tensor, relation: torch.Tensor, inverse: bool = False) -> torch.Tensor:
        """f_r(x) (or f_r⁻¹(x)) of flat vectors ``x`` (..., d) for relation ids broadcast against ``x[..., 0]``."""
        u_all, s_all = self.relation_matrices()
        u, s = u_all[relation], s_all[relation]
        groups = x.unflatten(-1, (self.num_groups, self.group_size))
        fn = inverse_orthogonal_transform if inverse else orthogonal_transform
        return fn(groups, u, s).flatten(-2)

    def query(self, anchor, relation, side):
        return self.transform(self.entity[anchor], relation, inverse=side == "head")

    def distance(self, query, candidate):
        return group_distance(query, candidate, self.group_size)


class GCOTE(OTE):
    """GC-OTE: OTE plus directed graph context (paper §4).

    For every entity e: the head-relation context c_in(e) aggregates f_r(h) over incoming edges (h, r, e) and the
    tail-relation context c_out(e) aggregates f_r⁻¹(t) over outgoing edges (e, r, t) — attention-weighted
    (``gnn_type="gat"``: softmax over the incident edges of (e · m)/√d) or a plain mean (``"gcn"``). A learnable
    dummy entity, linked to every entity in both directions by a dummy relation, gives every entity a context.
    The distance averages four terms (used for head and tail prediction alike)::

        D = ¼ [ d(f_r(h), t) + d(f_r(h), c_in(t)) + d(f_r⁻¹(t), h) + d(f_r⁻¹(t), c_out(h)) ],  score = γ − D.

    In training the batch's own positive triples are removed from the context graph; in eval mode the full
    training graph is used and the contexts are computed once (cached until the next ``train()`` call).
    """

    def __init__(self, num_entities: int, num_relations: int, dim: int, graph: torch.Tensor, group_size: int = 4,
                 gamma: float = 6.0, scaling: str = "exp", orthogonalizer: str = "qr", gnn_type: str = "gat",
                 add_dummy: bool = True):
        if gnn_type not in GNN_TYPES:
            raise ValueError(f"gnn_type must be one of {GNN_TYPES}, got {gnn_type!r}")
        # one extra relation id (the last) is the dummy relation
        super().__init__(num_entities, num_relations + 1, dim, group_size, gamma, scaling, orthogonalizer)
        self.num_relations = num_relations
        check_triples(graph, num_entities, num_relations, what="GC-OTE context graph")
        self.gnn_type, self.add_dummy = gnn_type, add_dummy
        self.register_buffer("graph", graph.clone().long(), persistent=False)
        self.register_buffer("graph_keys", triple_keys(self.graph, num_entities, num_relations), persistent=False)
        self.dummy = nn.Parameter(torch.empty(dim).uniform_(-self.embedding_range, self.embedding_range))
        self.table_elements = 2**25
        self._cache = None
        self._batch_state = None

    @classmethod
    def from_ote(cls, ote: OTE, graph: torch.Tensor, gnn_type: str = "gat", add_dummy: bool = True) -> GCOTE:
        """GC-OTE initialised from a trained OTE (the paper's ``--init_embedding``)."""
        model = cls(ote.num_entities, ote.num_relations, ote.entity_dim, graph, ote.group_size, ote.gamma,
                    ote.scaling, ote.orthogonalizer, gnn_type, add_dummy)
        with torch.no_grad():
            model.entity.copy_(ote.entity)
            model.relation[:-1].copy_(ote.relation)
            model.log_scale[:-1].copy_(ote.log_scale)
        return model.to(ote.entity.device)

    @property
    def score_width(self) -> int:
        return 4 * self.entity_dim

    def train(self, mode: bool = True):
        self._cache = None
        return super().train(mode)

    # ---- graph context ---------------------------------------------------------------------------------------
    def _aggregate(self, target: torch.Tensor, messages: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        """Attention (GAT) or mean (GCN) aggregation of edge ``messages`` (n, d) into their ``target`` nodes."""
        n_nodes = centre.shape[0]
        #: GAT: attention logit of each edge, $a = (e \cdot m)/\sqrt d$, softmax over the edges of the same
        #: target node (the max per node via `scatter_reduce`, the sum via `index_add_`).
        if self.gnn_type == "gat":
            logits = (centre[target] * messages).sum(-1) / math.sqrt(self.entity_dim)
            top = torch.full((n_nodes,), -torch.inf, device=logits.device, dtype=logits.dtype)
            top = top.scatter_reduce(0, target, logits, reduce="amax", include_self=True)
            w = torch.exp(logits - top[target])
            norm = torch.zeros(n_nodes, device=w.device, dtype=w.dtype).index_add_(0, target, w)
            w = w / norm[target]
        else:
            counts = torch.zeros(n_nodes, device=messages.device, dtype=messages.dtype)
            counts.index_add_(0, target, torch.ones_like(target, dtype=messages.dtype))
            w = 1.0 / counts[target].clamp(min=1.0)
        #: Weighted sum of the messages into their target node: $c(e) = \sum_{\text{edges} \to e} w\, m$.
        out = torch.zeros(n_nodes, self.entity_dim, device=messages.device, dtype=messages.dtype)
        return out.index_add_(0, target, w[:, None] * messages)

    def transform_tables(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """f_r(e) and f_r⁻¹(e) for every relation (dummy included) and every entity (dummy last), each
        (R + 1, E + 1, d) — one einsum instead of one tiny matmul per edge; None when that would exceed
        ``table_elements`` (large graphs then transform per edge)."""
        R, E, d = self.num_relations + 1, self.num_entities + 1, self.entity_dim
        if R * E * d > self.table_elements:
            return None
        ent = torch.cat([self.entity, self.dummy[None]]).unflatten(-1, (self.num_groups, self.group_size))
        u, s = self.relation_matrices()
        fwd = torch.einsum("rki,eki,rkij->rekj", s, ent, u).flatten(-2)
        inv = (torch.einsum("ekj,rkij->reki", ent, u) / s[:, None]).flatten(-2)
        return fwd, inv

    def _transformed(self, tables, ids, relation, inverse: bool) -> torch.Tensor:
        if tables is not None:
            return tables[1 if inverse else 0][relation, ids]
        ent = torch.cat([self.entity, self.dummy[None]])
        return self.transform(ent[ids], relation, inverse=inverse)

    def contexts(self, exclude: torch.Tensor | None = None, tables=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(c_in, c_out), each (E, d), from the context graph minus the triples ``exclude`` (n, 3)."""
        #: Leave out the batch's own triples (training), so a target edge never feeds its own context.
        edges = self.graph
        if exclude is not None and len(exclude):
            keep = ~torch.isin(self.graph_keys, triple_keys(exclude, self.num_entities, self.num_relations))
            edges = edges[keep]
        h, r, t = edges[:, 0], edges[:, 1], edges[:, 2]
        ent = torch.cat([self.entity, self.dummy[None]])
        if self.add_dummy:
            E = self.num_entities
            everyone = torch.arange(E, device=ent.device)
            dummy_rel = torch.full((E,), self.num_relations, device=ent.device, dtype=torch.long)
            # dummy → e (incoming to every e) and e → dummy (outgoing from every e)
            h_in, r_in, t_in = torch.cat([h, torch.full_like(everyone, E)]), torch.cat([r, dummy_rel]), \
                torch.cat([t, everyone])
            h_out, r_out, t_out = torch.cat([h, everyone]), torch.cat([r, dummy_rel]), \
                torch.cat([t, torch.full_like(everyone, E)])
        else:
            h_in, r_in, t_in = h_out, r_out, t_out = h, r, t
        #: $c_{in}(e)$ aggregates $f_r(h)$ over incoming edges $(h, r, e)$; $c_{out}(e)$ aggregates $f_r^{-1}(t)$
        #: over outgoing edges $(e, r, t)$.
        c_in = self._aggregate(t_in, self._transformed(tables, h_in, r_in, inverse=False), ent)
        c_out = self._aggregate(h_out, self._transformed(tables, t_out, r_out, inverse=True), ent)
        return c_in[: self.num_entities], c_out[: self.num_entities]

    def _state(self):
        """(tables, c_in, c_out) for scoring: the training batch's, or the cached full-graph ones in eval mode."""
        if self._batch_state is not None:
            return self._batch_state
        if self.training:
            tables = self.transform_tables()
            return (tables, *self.contexts(tables=tables))
        if self._cache is None:
            with torch.no_grad():
                tables = self.transform_tables()
                self._cache = (tables, *self.contexts(tables=tables))
        return self._cache

    # ---- scores ----------------------------------------------------------------------------------------------
    def score(self, head, relation, tail, side: str = "tail"):
        """γ − D with the four-term distance D (the same for head and tail prediction)."""
        self.check_query(head, relation, tail, side)
        tables, c_in, c_out = self._state()
        #: Four distances, averaged: the OTE terms in both directions and the distances to the contexts.
        fh = self._transformed(tables, head, relation, inverse=False)
        ft = self._transformed(tables, tail, relation, inverse=True)
        k = self.group_size
        d = (group_distance(fh, self.entity[tail], k) + group_distance(fh, c_in[tail], k)
             + group_distance(ft, self.entity[head], k) + group_distance(ft, c_out[head], k))
        return self.gamma - d / 4

    def score_all(self, anchor, relation, side):
        rows = anchor[:, None]
        everyone = torch.arange(self.num_entities, device=anchor.device)[None]
        rel = relation[:, None]
        return self.score(rows, rel, everyone, side) if side == "tail" else self.score(everyone, rel, rows, side)

    def training_scores(self, positives, negatives, corrupt_head):
        """Scores of a batch whose own positive triples are removed from the context graph first."""
        tables = self.transform_tables()
        self._batch_state = (tables, *self.contexts(exclude=positives, tables=tables))
        try:
            return super().training_scores(positives, negatives, corrupt_head)
        finally:
            self._batch_state = None
