"""GPU-check hook (``make gpu-check``, :mod:`course_lib.gpu_check`): a smoke-scale pass of the relative-position
Transformers — tagger training on the offset task (fused and einsum attention, sinusoidal baseline), inference at
twice the training length, one translation-model training step and greedy cached decoding — and a fixed forward
pass to compare with the CPU."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from course_lib.gpu_check import amp_call, autocast
from course_lib.relative_position.decoding import greedy_decode
from course_lib.relative_position.synthetic import build_tagger, position_accuracy, train_tagger
from course_lib.relative_position.transformer import Seq2SeqTransformer, TransformerConfig

VARIANTS = (("relative", "fused"), ("relative", "einsum"), ("sinusoidal", "fused"))


def _translator(device: torch.device) -> Seq2SeqTransformer:
    torch.manual_seed(0)
    cfg = TransformerConfig(d_model=64, num_heads=4, num_layers=2, num_decoder_layers=2, d_ff=128,
                            position="relative", max_relative_position=8, max_len=64)
    return Seq2SeqTransformer(cfg, 50, 60).to(device)


def smoke(device: torch.device, *, amp: bool) -> dict[str, float]:
    """Each tagger of :data:`VARIANTS` 40 steps, accuracy at length 40; translator: 5 steps, then greedy decoding."""
    out = {}
    for position, impl in VARIANTS:
        model = build_tagger(position, 8, seed=0, device=device, impl=impl)
        losses = amp_call(train_tagger, model, "offset", steps=40, batch_size=32, seed=0, device=device, amp=amp)
        out[f"{position}/{impl} loss"] = float(losses[-1] if not hasattr(losses, "iloc") else losses.iloc[-1, 0])
        out[f"{position}/{impl} acc@40"] = float(position_accuracy(model, "offset", 40, num_sequences=64).mean())
    model = _translator(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
    for _ in range(5):
        src = torch.randint(3, 50, (16, 12), generator=gen).to(device)
        tgt = torch.randint(3, 60, (16, 11), generator=gen).to(device)
        with autocast(device, amp):
            logits = model(src, tgt[:, :-1])
            loss = F.cross_entropy(logits.flatten(0, 1).float(), tgt[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    out["translator loss"] = float(loss.detach())
    with torch.no_grad(), autocast(device, amp):
        hyps = greedy_decode(model, src[:4], bos_id=1, eos_id=2, max_len=15)
    out["decoded tokens"] = float(sum(len(h) for h in hyps))
    return out


def fixed_forward(device: torch.device) -> list[torch.Tensor]:
    """Seeded relative-position tagger logits (fused and einsum attention) and translator logits, fixed inputs."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randint(0, 10, (8, 30), generator=gen).to(device)
    outs = [build_tagger("relative", 8, seed=0, device=device, impl=impl).eval()(x)
            for impl in ("fused", "einsum")]
    src = torch.randint(3, 50, (4, 12), generator=gen).to(device)
    tgt = torch.randint(3, 60, (4, 9), generator=gen).to(device)
    outs.append(_translator(device).eval()(src, tgt))
    return outs
