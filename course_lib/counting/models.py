"""Models for the counting tasks: every model maps (boxes (B, n, 4), attention (B, n)) → logits (B, n + 1).

- :class:`CountingModel` — the paper's toy model: Counter + Linear(n + 1, n + 1) initialised to the identity.
- :class:`AttentionSumBaseline` — the paper's toy baseline: Σ_i a_i → interpolated one-hot → Linear
  (identity).
- :class:`SoftAttentionMLP` — normalised attention (weights a_i / Σa) averages proposal features, then an MLP:
  it cannot tell one object from two identical ones (the paper's motivation).
- :class:`NMSCounter` — greedy NMS on the attention-scored boxes, then count scores above a threshold (no
  parameters; the two thresholds are fitted by grid search on training batches).
- :class:`DeepSetsCounter` and :class:`SetTransformerCounter` — modern set models over (box, score) tokens.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from course_lib.counting.boxes import nms_keep
from course_lib.counting.component import Counter, interpolated_one_hot

#: Adam learning rate of the neural baselines (soft attention, DeepSets, set transformer): the best single
#: value of {1e-2, 3e-3, 1e-3} for them on the toy task (l = 0.3 and 0.5, 400 × 128); the paper's models
#: use 0.01.
BASELINE_LR = 3e-3

MODEL_NAMES = ("counter", "attention_sum", "soft_attention_mlp", "nms", "deep_sets", "set_transformer")


def _identity_classifier(n: int) -> nn.Linear:
    layer = nn.Linear(n + 1, n + 1)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(n + 1))
    return layer


def _tokens(boxes: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    if boxes.dim() != 3 or boxes.shape[-1] != 4 or attention.shape != boxes.shape[:2]:
        raise ValueError(
            f"expected boxes (B, n, 4) and attention (B, n), got {tuple(boxes.shape)} and "
            f"{tuple(attention.shape)}"
        )
    return torch.cat([boxes, attention[..., None]], dim=-1)


class CountingModel(nn.Module):
    """Toy model of the paper (official ``toy/model.py: Net``): Counter → Linear(n + 1, n + 1), identity init.
    """

    def __init__(self, n: int = 10, d: int = 16):
        super().__init__()
        self.n = n
        self.counter = Counter(n, d)
        self.classifier = _identity_classifier(n)

    def forward(self, boxes: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Logits over the counts 0…n."""
        return self.classifier(self.counter(boxes, attention))


class AttentionSumBaseline(nn.Module):
    """Toy baseline of the paper (official ``Baseline``): one-hot(Σ_i a_i) → Linear(n + 1, n + 1), identity
    init."""

    def __init__(self, n: int = 10):
        super().__init__()
        self.n = n
        self.classifier = _identity_classifier(n)

    def forward(self, boxes: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Logits over the counts 0…n from the interpolated one-hot of the attention sum."""
        return self.classifier(interpolated_one_hot(attention.sum(dim=1), self.n))


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class SoftAttentionMLP(nn.Module):
    """Normalised attention: v = Σ_i (a_i / Σ_j a_j) φ(b_i, a_i), logits = ρ(v) (the VQA soft-attention
    pathway).

    The weights sum to one, so k identical proposals give exactly the same v as one of them: the model can
    only count through side effects (box statistics), which is why the paper adds the counter.
    """

    preferred_lr = BASELINE_LR

    def __init__(self, n: int = 10, hidden: int = 64):
        super().__init__()
        self.n = n
        self.phi = _mlp([5, hidden, hidden])
        self.rho = _mlp([hidden, hidden, n + 1])

    def forward(self, boxes: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Logits from the attention-weighted average of per-proposal features."""
        weights = attention / (attention.sum(dim=1, keepdim=True) + 1e-6)
        v = (weights[..., None] * self.phi(_tokens(boxes, attention))).sum(dim=1)
        return self.rho(v)


class DeepSetsCounter(nn.Module):
    """DeepSets (Zaheer et al. 2017): logits = ρ(Σ_i φ(b_i, a_i)); sum pooling can count, but φ sees one
    proposal at a time, so overlaps are invisible to it.
    """

    preferred_lr = BASELINE_LR

    def __init__(self, n: int = 10, hidden: int = 64):
        super().__init__()
        self.n = n
        self.phi = _mlp([5, hidden, hidden])
        self.rho = _mlp([hidden, hidden, n + 1])

    def forward(self, boxes: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Logits from the sum of per-proposal embeddings."""
        return self.rho(self.phi(_tokens(boxes, attention)).sum(dim=1))


class SetTransformerCounter(nn.Module):
    """A tiny transformer encoder over (box, score) tokens (no positional encoding ⇒ permutation invariant),
    sum-pooled, then a linear head; self-attention lets it compare proposals, like the counter's graph.
    """

    preferred_lr = BASELINE_LR

    def __init__(self, n: int = 10, dim: int = 32, heads: int = 4, layers: int = 2):
        super().__init__()
        self.n = n
        self.embed = nn.Linear(5, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, n + 1)

    def forward(self, boxes: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Logits from the sum of contextualised token embeddings."""
        return self.head(self.encoder(self.embed(_tokens(boxes, attention))).sum(dim=1))


class NMSCounter(nn.Module):
    """NMS baseline: keep = greedy NMS(boxes, attention, iou_threshold); count = Σ keep · [a >
    score_threshold].

    Non-differentiable and parameter-free; :meth:`fit_thresholds` picks both thresholds on training batches.
    Its "logits" are a scaled one-hot of the count so that it plugs into the same evaluation.
    """

    def __init__(self, n: int = 10, iou_threshold: float = 0.5, score_threshold: float = 0.5):
        super().__init__()
        self.n, self.iou_threshold, self.score_threshold = n, iou_threshold, score_threshold

    def count(
        self,
        boxes: torch.Tensor,
        attention: torch.Tensor,
        iou_threshold: float | None = None,
        score_threshold: float | None = None,
    ) -> torch.Tensor:
        """Integer count per example (B,)."""
        iou_t = self.iou_threshold if iou_threshold is None else iou_threshold
        score_t = self.score_threshold if score_threshold is None else score_threshold
        keep = nms_keep(boxes, attention, iou_t)
        return (keep & (attention > score_t)).sum(dim=1).clamp(max=self.n)

    def forward(self, boxes: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """10 · one-hot(count) (B, n + 1)."""
        return 10.0 * nn.functional.one_hot(self.count(boxes, attention), self.n + 1).to(attention.dtype)

    @torch.no_grad()
    def fit_thresholds(
        self,
        boxes: torch.Tensor,
        attention: torch.Tensor,
        count: torch.Tensor,
        iou_grid=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
        score_grid=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    ) -> float:
        """Grid-search both thresholds for accuracy on the given examples; sets them and returns the accuracy.
        """
        best = (-1.0, self.iou_threshold, self.score_threshold)
        for iou_t in iou_grid:
            keep = nms_keep(boxes, attention, iou_t)
            for score_t in score_grid:
                pred = (keep & (attention > score_t)).sum(dim=1).clamp(max=self.n)
                acc = (pred == count).float().mean().item()
                if acc > best[0]:
                    best = (acc, iou_t, score_t)
        _, self.iou_threshold, self.score_threshold = best
        return best[0]

    def extra_repr(self) -> str:
        return f"n={self.n}, iou_threshold={self.iou_threshold}, score_threshold={self.score_threshold}"


_BUILDERS = {
    "counter": CountingModel,
    "attention_sum": AttentionSumBaseline,
    "soft_attention_mlp": SoftAttentionMLP,
    "nms": NMSCounter,
    "deep_sets": DeepSetsCounter,
    "set_transformer": SetTransformerCounter,
}


def make_model(name: str, n: int = 10, seed: int = 0) -> nn.Module:
    """Build a model by name (one of ``MODEL_NAMES``) with parameters initialised from ``seed``."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}")
    torch.manual_seed(seed)
    return _BUILDERS[name](n)
