"""Greedy and beam-search decoding over :class:`~course_lib.relative_position.transformer.Seq2SeqTransformer`.

Both use the incremental path by default (one new query row per step, keys/values cached, relative index
clip(j - t) of the new row); ``incremental=False`` recomputes the whole prefix every step — the reference the
tests compare against.
"""
from __future__ import annotations

import torch


def _check(src: torch.Tensor, max_len: int):
    if src.dim() != 2 or src.dtype != torch.long:
        raise ValueError(f"src must be a (batch, length) int64 tensor, got {tuple(src.shape)} {src.dtype}")
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")


@torch.no_grad()
def greedy_decode(model, src: torch.Tensor, bos_id: int, eos_id: int, max_len: int = 50, *,
                  incremental: bool = True) -> list[list[int]]:
    """Arg-max decoding; returns one token list per source row (without BOS, up to and excluding EOS)."""
    _check(src, max_len)
    was_training = model.training
    model.eval()
    memory, pad, _ = model.encode(src)
    b = src.shape[0]
    tokens = torch.full((b, 1), bos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(b, dtype=torch.bool, device=src.device)
    state = model.start(memory, pad) if incremental else None
    for _ in range(max_len):
        if incremental:
            logits = model.decode_step(state, tokens[:, -1:])
        else:
            logits = model.decode(tokens, memory, pad)[:, -1]
        nxt = logits.argmax(-1).masked_fill(done, eos_id)
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        done |= nxt == eos_id
        if bool(done.all()):
            break
    model.train(was_training)
    return [_strip(row, eos_id) for row in tokens[:, 1:].tolist()]


def _strip(row: list[int], eos_id: int) -> list[int]:
    return row[:row.index(eos_id)] if eos_id in row else row


def length_penalty(length: int, alpha: float) -> float:
    """GNMT length normalisation ((5 + |y|) / 6)^alpha (the paper decodes with alpha = 0.6, beam 4)."""
    return ((5.0 + length) / 6.0) ** alpha


@torch.no_grad()
def beam_search(model, src: torch.Tensor, bos_id: int, eos_id: int, beam_size: int = 4, max_len: int = 50, *,
                alpha: float = 0.6, incremental: bool = True) -> list[list[int]]:
    """Beam search with GNMT length penalty; returns the best hypothesis per source row (without BOS/EOS)."""
    _check(src, max_len)
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    was_training = model.training
    model.eval()
    b, device = src.shape[0], src.device
    memory, pad, _ = model.encode(src)
    memory, pad = memory.repeat_interleave(beam_size, 0), pad.repeat_interleave(beam_size, 0)
    state = model.start(memory, pad) if incremental else None
    tokens = torch.full((b * beam_size, 1), bos_id, dtype=torch.long, device=device)
    scores = torch.zeros(b, beam_size, device=device)
    scores[:, 1:] = float("-inf")  # all beams start identical: keep one
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(b)]
    rank = torch.arange(2 * beam_size, device=device)
    for step in range(1, max_len + 1):
        if incremental:
            logits = model.decode_step(state, tokens[:, -1:])
        else:
            logits = model.decode(tokens, memory, pad)[:, -1]
        logp = torch.log_softmax(logits.float(), -1)
        vocab = logp.shape[-1]
        cand = (scores.unsqueeze(-1) + logp.view(b, beam_size, vocab)).view(b, -1)
        top, idx = cand.topk(min(2 * beam_size, cand.shape[-1]), dim=-1)
        src_beam, tok = idx // vocab, idx % vocab
        is_eos = (tok == eos_id) | (step == max_len)
        for bi, ci in (is_eos[:, :beam_size] & torch.isfinite(top[:, :beam_size])).nonzero().tolist():
            if len(finished[bi]) < beam_size:
                hyp = tokens[bi * beam_size + src_beam[bi, ci]].tolist()[1:]
                if tok[bi, ci] != eos_id:
                    hyp.append(int(tok[bi, ci]))
                finished[bi].append((float(top[bi, ci]) / length_penalty(step, alpha), hyp))
        if all(len(f) >= beam_size for f in finished) or step == max_len:
            break
        order = torch.argsort(is_eos.float() * (2 * beam_size) + rank[:top.shape[-1]], dim=-1)[:, :beam_size]
        scores = top.gather(1, order)
        chosen_beam, chosen_tok = src_beam.gather(1, order), tok.gather(1, order)
        flat = (torch.arange(b, device=device)[:, None] * beam_size + chosen_beam).view(-1)
        tokens = torch.cat([tokens.index_select(0, flat), chosen_tok.view(-1, 1)], dim=1)
        if incremental:
            state.reorder(flat)
    model.train(was_training)
    return [max(f, key=lambda t: t[0])[1] if f else [] for f in finished]
