"""Losses of the series: logit KD, two-softmax (dual) MLM, shared weight projections, and the representation-level
adaptation of dual training to a frozen teacher without an MLM head (ours).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IGNORE = -100


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
            temperature: float = 2.0, alpha: float = 0.5) -> torch.Tensor:
    """Logit distillation (Hinton et al. 2015, Eq. 2): ``α T² KL(p_t^T ‖ p_s^T) + (1 − α) CE(s, y)``.

    ``labels`` = -100 marks unlabelled transfer examples (KD term only); the CE term averages over labelled ones."""
    if temperature <= 0 or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"need temperature > 0 and alpha in [0, 1], got T={temperature}, alpha={alpha}")
    #: soft targets at temperature T; T² keeps the gradient scale independent of T (Hinton et al. 2015)
    log_ps = F.log_softmax(student_logits.float() / temperature, dim=-1)
    log_pt = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    kd = F.kl_div(log_ps, log_pt, log_target=True, reduction="batchmean") * temperature ** 2
    has = labels != IGNORE
    ce = F.cross_entropy(student_logits.float()[has], labels[has]) if bool(has.any()) else kd.new_zeros(())
    return alpha * kd + (1.0 - alpha) * ce


def mask_tokens(ids: torch.Tensor, mask: torch.Tensor, mask_id: int, vocab_size: int, rate: float = 0.15,
                generator: torch.Generator | None = None, special: torch.Tensor | None = None):
    """BERT masking (Devlin et al. 2019): choose ``rate`` of the real tokens; 80 % → ``[MASK]``, 10 % → a random
    teacher-vocabulary id, 10 % kept. Returns (inputs, targets) with targets = -100 where not chosen."""
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate must be in (0, 1), got {rate}")
    g = generator
    u = torch.rand(ids.shape, generator=g, device="cpu").to(ids.device)
    eligible = mask.bool() if special is None else mask.bool() & ~special
    chosen = (u < rate) & eligible
    targets = torch.where(chosen, ids, torch.full_like(ids, IGNORE))
    r = torch.rand(ids.shape, generator=g, device="cpu").to(ids.device)
    rand_ids = torch.randint(0, vocab_size, ids.shape, generator=g, device="cpu").to(ids.device)
    inputs = torch.where(chosen & (r < 0.8), torch.full_like(ids, mask_id), ids)
    inputs = torch.where(chosen & (r >= 0.8) & (r < 0.9), rand_ids, inputs)
    return inputs, targets


def dual_mlm_loss(logits_t: torch.Tensor, logits_s: torch.Tensor, targets: torch.Tensor,
                  teacher_size: int) -> dict[str, torch.Tensor]:
    """Two-softmax MLM (Zhao et al. 2019, v1 Sec. 3.1; patent claim 8): a masked position whose original token
    is a teacher piece is scored by the teacher-vocabulary softmax, a student piece by the student softmax.

    ``targets`` are joint-space ids (-100 = not masked). Returns ``loss`` (mean over all masked positions) and the
    two parts."""
    chosen = targets != IGNORE
    is_s = chosen & (targets >= teacher_size)
    is_t = chosen & (targets < teacher_size)
    n = chosen.sum().clamp_min(1)
    #: each masked token is scored by the softmax of the vocabulary that produced it
    lt = F.cross_entropy(logits_t[is_t].float(), targets[is_t], reduction="sum")
    ls = F.cross_entropy(logits_s[is_s].float(), targets[is_s] - teacher_size, reduction="sum")
    return {"loss": (lt + ls) / n, "mlm_teacher_vocab": lt / is_t.sum().clamp_min(1),
            "mlm_student_vocab": ls / is_s.sum().clamp_min(1)}


class SharedProjections(nn.Module):
    """Projection matrices shared by every layer whose variables have the same dimensions (Zhao et al. 2019, v1
    Sec. 3.2): ``P_h`` (teacher hidden × student hidden) and ``P_f`` (teacher FFN × student FFN)."""

    def __init__(self, teacher_hidden: int, student_hidden: int, teacher_ffn: int, student_ffn: int, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.P_h = nn.Parameter(torch.linalg.qr(torch.randn(teacher_hidden, student_hidden, generator=g))[0])
        self.P_f = nn.Parameter(torch.linalg.qr(torch.randn(teacher_ffn, student_ffn, generator=g))[0])


def _layer_variables(layer: nn.TransformerEncoderLayer) -> list[tuple[torch.Tensor, str, str | None]]:
    """(weight, row kind, column kind) of one encoder layer; kinds 'h' (hidden) or 'f' (FFN), None for vectors."""
    h = layer.self_attn.embed_dim
    w_in, b_in = layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias
    out = [(w_in[i * h:(i + 1) * h], "h", "h") for i in range(3)]
    out += [(b_in[i * h:(i + 1) * h], "h", None) for i in range(3)]
    out += [(layer.self_attn.out_proj.weight, "h", "h"), (layer.self_attn.out_proj.bias, "h", None),
            (layer.linear1.weight, "f", "h"), (layer.linear1.bias, "f", None),
            (layer.linear2.weight, "h", "f"), (layer.linear2.bias, "h", None),
            (layer.norm1.weight, "h", None), (layer.norm1.bias, "h", None),
            (layer.norm2.weight, "h", None), (layer.norm2.bias, "h", None)]
    return out


def projection_loss(teacher_layers, student_layers, proj: SharedProjections,
                    layer_map: list[int] | None = None) -> dict[str, torch.Tensor]:
    """Shared-projection weight loss (Zhao et al. 2019, v1 Eqs. 1–2, our parametrisation), summed over layers and
    variables:

    down ``‖P_aᵀ W_t P_b − W_s‖²_F / (a_s b_s)``, up ``‖W_t − P_a W_s P_bᵀ‖²_F / (a_t b_t)``; vectors use
    ``P_a`` alone. ``layer_map[i]`` = the teacher layer matched to student layer i (default: equal depth)."""
    teacher_layers, student_layers = list(teacher_layers), list(student_layers)
    layer_map = list(range(len(student_layers))) if layer_map is None else list(layer_map)
    if len(layer_map) != len(student_layers) or any(not 0 <= j < len(teacher_layers) for j in layer_map):
        raise ValueError(f"layer_map needs one teacher layer in [0, {len(teacher_layers)}) per student layer "
                         f"({len(student_layers)}), got {layer_map}")
    P = {"h": proj.P_h, "f": proj.P_f}
    down = up = proj.P_h.new_zeros(())
    for i, j in enumerate(layer_map):
        for (wt, ra, cb), (ws, _, _) in zip(_layer_variables(teacher_layers[j]), _layer_variables(student_layers[i])):
            wt = wt.detach()
            pa = P[ra]
            if cb is None:
                #: vectors (biases, LayerNorm): one projection, P_aᵀ b_t ≈ b_s and b_t ≈ P_a b_s
                down = down + ((pa.T @ wt - ws) ** 2).mean()
                up = up + ((wt - pa @ ws) ** 2).mean()
            else:
                pb = P[cb]
                #: down-projection of the teacher variable (Eq. 1) and up-projection of the student's (Eq. 2)
                down = down + ((pa.T @ wt @ pb - ws) ** 2).mean()
                up = up + ((wt - pa @ ws @ pb.T) ** 2).mean()
    return {"loss": down + up, "proj_down": down, "proj_up": up}


def activation_loss(h_teacher: torch.Tensor, h_student: torch.Tensor, proj: nn.Linear,
                    mask: torch.Tensor) -> torch.Tensor:
    """Activation-space alternative (TinyBERT/MobileBERT style): masked mean of ``‖h_t − P h_s‖²``."""
    m = mask.unsqueeze(-1).to(h_student.dtype)
    return (((h_teacher.detach() - proj(h_student)) ** 2) * m).sum() / (m.sum() * h_teacher.shape[-1])


def alignment_loss(pooled_mixed: torch.Tensor, pooled_pure: torch.Tensor) -> dict[str, torch.Tensor]:
    """Representation-level dual training with a frozen teacher without MLM head (**ours**): the teacher's pooled
    output on the mixed sequence should match its output on the pure teacher sequence — MSE + (1 − cosine)."""
    target = pooled_pure.detach()
    mse = ((pooled_mixed - target) ** 2).sum(-1).mean()
    cos = F.cosine_similarity(pooled_mixed, target, dim=-1).mean()
    return {"loss": mse + (1.0 - cos), "align_mse": mse, "align_cos": cos}
