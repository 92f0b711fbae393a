"""Shaw, Uszkoreit & Vaswani (NAACL 2018), "Self-Attention with Relative Position Representations".

Where things live:

- :mod:`.positions`   — the clipped relative index matrix (§3.2), the key/value tables w^K, w^V, and the
  absolute baselines (sinusoidal, learned);
- :mod:`.attention`   — relation-aware multi-head self-attention (Eq. 3–4): a naive reference that materialises
  (b, h, n, n, d), the paper's split einsum form (§3.3), and a fused formulation with a hand-written backward;
  causal masking and an incremental-decoding cache;
- :mod:`.transformer` — a compact pre-LN Transformer (encoder-only tagger and encoder–decoder) with a pluggable
  position scheme;
- :mod:`.decoding`    — greedy and beam search over the cached decoder;
- :mod:`.tasks`, :mod:`.synthetic` — synthetic sequence tasks with a length split and their training loop;
- :mod:`.translation` — Multi30k En–De: loading, sentencepiece tokenisation, training, BLEU (sacrebleu);
- :mod:`.efficiency`, :mod:`.peers` — timings and memory vs torch SDPA/MHA and transformers' T5/DeBERTa;
- :mod:`.experiments` — the notebook-2 experiments as functions of a preset (also used by ``claims.run``);
- :mod:`.presets`, :mod:`.claims`, :mod:`.views`, :mod:`.exercises`, :mod:`.cache` — the workbook glue
  (``cache.build_cache`` writes the small demo models under ``data/relative_position/``).
"""
from course_lib.relative_position.attention import (
    KVCache,
    MultiheadCrossAttention,
    RelativeMultiheadAttention,
    relative_attention,
)
from course_lib.relative_position.positions import RelativePositionTable, clip_distance, relative_position_index

__all__ = [
    "KVCache", "MultiheadCrossAttention", "RelativeMultiheadAttention", "RelativePositionTable", "clip_distance",
    "relative_attention", "relative_position_index",
]
