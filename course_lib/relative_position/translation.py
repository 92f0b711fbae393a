"""Multi30k En→De with a tiny encoder–decoder: data, sentencepiece tokenisation, training, BLEU by length.

The data comes from the course registry (``multi30k-task1-en-de``, sha256-verified; nothing downloads at run
time in the course set-up). Subword models (sentencepiece BPE) are trained in memory on the training split and
memoised per process. BLEU is sacrebleu's corpus BLEU on detokenised output against the raw references.
"""
from __future__ import annotations

import dataclasses
import gzip
import random
from functools import lru_cache

import pandas as pd
import torch
import torch.nn.functional as F

from course_lib.relative_position.decoding import beam_search, greedy_decode
from course_lib.relative_position.transformer import Seq2SeqTransformer, TransformerConfig

DATASET = "multi30k-task1-en-de"
SPLITS = ("train", "val", "test_2016_flickr", "test_2017_flickr")
PAD, UNK, BOS, EOS = 0, 1, 2, 3
#: source-length buckets (whitespace words) for BLEU and loss by length
LENGTH_BUCKETS = ((1, 8), (9, 12), (13, 16), (17, 19), (20, 99))


def load_multi30k(split: str) -> tuple[list[str], list[str]]:
    """(English, German) sentences of one split, aligned line by line (registry dataset, sha256-verified)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    from course_lib.data import fetch

    root = fetch(DATASET)
    out = []
    for lang in ("en", "de"):
        with gzip.open(root / f"{split}.{lang}.gz", "rt", encoding="utf-8") as fh:
            out.append([line.strip() for line in fh.read().splitlines()])
    if len(out[0]) != len(out[1]):
        raise ValueError(f"{split}: {len(out[0])} English vs {len(out[1])} German lines")
    return out[0], out[1]


_EN = ("a man woman dog child girl boy people group player cat bird worker street water ball bike car field park "
       "beach snow grass building table shirt hat jacket red blue green white black young old small big").split()
_VERBS = "runs walks plays sits stands jumps rides holds looks smiles works climbs".split()


STAND_IN_VOCAB = 256  # BPE pieces the stand-in corpus supports on both sides (sentencepiece caps it near 500)


def synthetic_corpus(split: str, seed: int = 0) -> tuple[list[str], list[str]]:
    """Offline stand-in for Multi30k: English-like word strings and a 'German' made of mapped words with the
    verb moved to the end (so translation needs reordering). Deterministic; only for when the data is missing."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    rng = random.Random(f"{seed}-{split}")
    size = 6000 if split == "train" else 400
    en, de = [], []
    for _ in range(size):
        n = min(int(rng.expovariate(1 / 9)) + 3, 30)
        words = [rng.choice(_EN) for _ in range(n)]
        verb = rng.choice(_VERBS)
        pos = rng.randrange(1, n)
        en.append(" ".join(words[:pos] + [verb] + words[pos:]).capitalize() + ".")
        de.append(" ".join(w[::-1] + "e" for w in words).capitalize() + " " + verb[::-1] + "en.")
    return en, de


def load_corpus(*, allow_synthetic: bool = True) -> tuple[dict[str, tuple[list[str], list[str]]], bool]:
    """Every Multi30k split, or (with a loud banner) :func:`synthetic_corpus` when the data is unavailable.

    Returns ({split: (en, de)}, is_synthetic).
    """
    from course_lib.data import load_or_synthetic

    def real():
        return {s: load_multi30k(s) for s in SPLITS}

    if not allow_synthetic:
        return real(), False
    return load_or_synthetic(real, lambda: {s: synthetic_corpus(s) for s in SPLITS}, "Multi30k En-De")


def word_length(sentence: str) -> int:
    """Whitespace token count (the length statistic of the length split)."""
    return len(sentence.split())


@lru_cache(maxsize=8)
def _train_spm(sentences: tuple[str, ...], vocab_size: int):
    import io

    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(sentences), model_writer=buf, vocab_size=vocab_size,
                                   model_type="bpe", character_coverage=1.0, pad_id=PAD, unk_id=UNK, bos_id=BOS,
                                   eos_id=EOS, minloglevel=2, num_threads=1, seed_sentencepiece_size=100000,
                                   shuffle_input_sentence=False)
    return buf.getvalue()


def train_sentencepiece(sentences: list[str], vocab_size: int = 4000):
    """A BPE sentencepiece model trained in memory (ids: pad 0, unk 1, bos 2, eos 3); memoised per process."""
    import sentencepiece as spm

    if vocab_size < 8:
        raise ValueError(f"vocab_size must be >= 8, got {vocab_size}")
    return spm.SentencePieceProcessor(model_proto=_train_spm(tuple(sentences), vocab_size))


@dataclasses.dataclass
class TranslationData:
    """Tokenisers, the (length-filtered) training pairs as id lists, and raw evaluation splits."""

    src_sp: object
    tgt_sp: object
    train: list[tuple[list[int], list[int]]]
    evals: dict[str, tuple[list[str], list[str]]]
    max_src_words: int
    val: list[tuple[list[int], list[int]]] = dataclasses.field(default_factory=list)
    synthetic: bool = False

    @property
    def src_vocab(self) -> int:
        """Source sentencepiece vocabulary size."""
        return self.src_sp.get_piece_size()

    @property
    def tgt_vocab(self) -> int:
        """Target sentencepiece vocabulary size."""
        return self.tgt_sp.get_piece_size()

    def encode_pairs(self, src: list[str], tgt: list[str]) -> list[tuple[list[int], list[int]]]:
        """Sentencepiece ids (source + EOS, target without BOS/EOS)."""
        return [(s + [EOS], t) for s, t in zip(self.src_sp.encode(src), self.tgt_sp.encode(tgt))]


def prepare_translation(max_src_words: int = 12, vocab_size: int = 2000, train_limit: int | None = None,
                        eval_limit: int | None = None, seed: int = 0, val_size: int = 300,
                        allow_synthetic: bool = True) -> TranslationData:
    """Train sentencepiece on the full training split, keep training pairs with <= max_src_words source words.

    Evaluation sets: ``test_2016`` (in distribution, all lengths) and ``long`` = every val/test_2016/test_2017 pair
    with >= 20 source words (the length-generalisation pool, ~130 pairs); ``val`` = the first
    ``val_size`` val pairs (dev loss). ``train_limit``/``eval_limit`` subsample (seeded) for quick runs.
    """
    corpus, synthetic = load_corpus(allow_synthetic=allow_synthetic)
    en, de = corpus["train"]
    if synthetic and vocab_size > STAND_IN_VOCAB:
        print(f"[translation] stand-in corpus: sentencepiece vocabulary {STAND_IN_VOCAB} instead of {vocab_size} "
              "(its few dozen words cannot fill more)")
        vocab_size = STAND_IN_VOCAB
    src_sp, tgt_sp = train_sentencepiece(en, vocab_size), train_sentencepiece(de, vocab_size)
    keep = [i for i, s in enumerate(en) if word_length(s) <= max_src_words]
    rng = random.Random(seed)
    if train_limit is not None and train_limit < len(keep):
        keep = sorted(rng.sample(keep, train_limit))
    data = TranslationData(src_sp, tgt_sp, [], {}, max_src_words, synthetic=synthetic)
    data.train = data.encode_pairs([en[i] for i in keep], [de[i] for i in keep])
    v_en, v_de = corpus["val"]
    n_val = min(val_size, len(v_en)) if eval_limit is None else min(val_size, eval_limit, len(v_en))
    data.val = data.encode_pairs(v_en[:n_val], v_de[:n_val])
    t_en, t_de = corpus["test_2016_flickr"]
    long_en, long_de = [], []
    for split in ("val", "test_2016_flickr", "test_2017_flickr"):
        s_en, s_de = corpus[split]
        for a, b in zip(s_en, s_de):
            if word_length(a) >= 20:
                long_en.append(a)
                long_de.append(b)
    if eval_limit is not None:
        idx = sorted(rng.sample(range(len(t_en)), min(eval_limit, len(t_en))))
        t_en, t_de = [t_en[i] for i in idx], [t_de[i] for i in idx]
        long_en, long_de = long_en[:eval_limit], long_de[:eval_limit]
    data.evals = {"test_2016": (t_en, t_de), "long (>= 20 words)": (long_en, long_de)}
    return data


def pad_batch(seqs: list[list[int]], pad: int = PAD) -> torch.Tensor:
    """Right-pad id lists into a (b, max_len) int64 tensor."""
    n = max(len(s) for s in seqs)
    out = torch.full((len(seqs), n), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def make_batches(pairs, batch_size: int = 64, *, seed: int = 0, shuffle: bool = True):
    """Length-sorted buckets of ``batch_size`` pairs (little padding), in shuffled order.

    Each batch is (src (b, m), tgt_in (b, n) = BOS + y, tgt_out (b, n) = y + EOS).
    """
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]), len(pairs[i][1])))
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        random.Random(seed).shuffle(chunks)
    for chunk in chunks:
        src = pad_batch([pairs[i][0] for i in chunk])
        tgt_in = pad_batch([[BOS] + pairs[i][1] for i in chunk])
        tgt_out = pad_batch([pairs[i][1] + [EOS] for i in chunk])
        yield src, tgt_in, tgt_out


def translation_loss(model, batch, label_smoothing: float = 0.1) -> torch.Tensor:
    """Token-level cross-entropy of teacher-forced next-token prediction (padding ignored)."""
    src, tgt_in, tgt_out = batch
    logits = model(src, tgt_in)
    return F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD,
                           label_smoothing=label_smoothing)


def build_translator(data: TranslationData, position: str = "relative", *, k: int = 16, d_model: int = 128,
                     num_heads: int = 4, layers: int = 2, d_ff: int = 512, dropout: float = 0.1, seed: int = 0,
                     device=None) -> Seq2SeqTransformer:
    """A seeded tiny encoder–decoder (t2t ``transformer_relative_tiny``-like: 2+2 layers, d 128, 4 heads)."""
    torch.manual_seed(seed)
    cfg = TransformerConfig(d_model=d_model, num_heads=num_heads, num_layers=layers, num_decoder_layers=layers,
                            d_ff=d_ff, dropout=dropout, position=position, max_relative_position=k, max_len=256,
                            scale_embeddings=True)
    return Seq2SeqTransformer(cfg, data.src_vocab, data.tgt_vocab, pad_id=PAD).to(device or "cpu")


@torch.no_grad()
def mean_token_loss(model, pairs, batch_size: int = 128) -> float:
    """Average (unsmoothed) per-token cross-entropy over ``pairs`` — its exp is the perplexity."""
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for src, tgt_in, tgt_out in make_batches(pairs, batch_size, shuffle=False):
        logits = model(src.to(device), tgt_in.to(device))
        tgt_out = tgt_out.to(device)
        total += float(F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD,
                                       reduction="sum"))
        count += int((tgt_out != PAD).sum())
    return total / max(count, 1)


def train_translator(model, data: TranslationData, *, steps: int = 2000, batch_size: int = 64, lr: float = 1e-3,
                     steps_per_epoch: int = 200, val_pairs=None, seed: int = 0, progress: bool = False,
                     desc: str = "translate") -> pd.DataFrame:
    """Adam (β2 = 0.98, clip 1.0, label smoothing 0.1) on :class:`course_lib.train.Loop` in steps mode: ``steps``
    length-bucketed batches (a fresh shuffled pass of the training pairs whenever one is used up), a history row
    every ``steps_per_epoch`` steps, with ``val_loss`` on ``val_pairs`` if given; ``steps`` = steps done. Under
    torchrun the batch stream is split between the ranks (:func:`course_lib.train.shard`)."""
    from course_lib.train import Loop, shard

    if steps < 1 or steps_per_epoch < 1:
        raise ValueError(f"steps and steps_per_epoch must be >= 1, got {steps}, {steps_per_epoch}")
    device = next(model.parameters()).device
    state = {"pool": [], "round": 0}

    def sample(step: int):
        if not state["pool"]:
            state["pool"] = list(make_batches(data.train, batch_size, seed=seed + state["round"]))[::-1]
            state["round"] += 1
        return state["pool"].pop()

    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98))
    val_fn = (lambda m: {"val_loss": mean_token_loss(m, val_pairs)}) if val_pairs else None
    hist = Loop(model, opt, translation_loss, device=device, grad_clip=1.0).run(
        shard(sample), steps=steps, eval_every=steps_per_epoch, evaluate=val_fn, progress=progress, desc=desc)
    return hist.rename(columns={"step": "steps"})


def translate(model, data: TranslationData, sentences: list[str], *, beam_size: int = 1, batch_size: int = 64,
              max_extra: int = 10) -> list[str]:
    """Detokenised German translations (greedy for beam_size 1, else beam search with α = 0.6)."""
    device = next(model.parameters()).device
    ids = data.src_sp.encode(sentences)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: list[str] = [""] * len(ids)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        src = pad_batch([ids[i] + [EOS] for i in chunk]).to(device)
        max_len = int(1.5 * src.shape[1]) + max_extra
        if beam_size == 1:
            hyps = greedy_decode(model, src, BOS, EOS, max_len)
        else:
            hyps = beam_search(model, src, BOS, EOS, beam_size, max_len)
        for i, h in zip(chunk, hyps):
            out[i] = data.tgt_sp.decode(h)
    return out


def bleu(hypotheses: list[str], references: list[str]) -> float:
    """sacrebleu corpus BLEU (13a tokenisation) of detokenised hypotheses against raw references."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses vs {len(references)} references")
    if not hypotheses:
        return float("nan")
    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)


def bucket_of(n_words: int, buckets=LENGTH_BUCKETS) -> str:
    """Label like '9-12' of the bucket holding a source length."""
    for lo, hi in buckets:
        if lo <= n_words <= hi:
            return f"{lo}-{hi}" if hi < 99 else f">={lo}"
    raise ValueError(f"length {n_words} is in no bucket {buckets}")


def bleu_by_length(sources: list[str], hypotheses: list[str], references: list[str],
                   buckets=LENGTH_BUCKETS) -> pd.DataFrame:
    """Corpus BLEU per source-length bucket (whitespace words) with the number of sentences in each."""
    rows = {}
    for s, h, r in zip(sources, hypotheses, references):
        rows.setdefault(bucket_of(word_length(s), buckets), ([], []))
        rows[bucket_of(word_length(s), buckets)][0].append(h)
        rows[bucket_of(word_length(s), buckets)][1].append(r)
    order = [bucket_of(lo, buckets) for lo, _ in buckets]
    return pd.DataFrame([{"bucket": b, "sentences": len(rows[b][0]), "BLEU": bleu(*rows[b])}
                         for b in order if b in rows]).set_index("bucket")


def loss_by_length(model, data: TranslationData, sources: list[str], references: list[str],
                   buckets=LENGTH_BUCKETS) -> pd.DataFrame:
    """Per-token teacher-forced cross-entropy per source-length bucket (the length-bucketed loss)."""
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for s, r in zip(sources, references):
        g = groups.setdefault(bucket_of(word_length(s), buckets), ([], []))
        g[0].append(s)
        g[1].append(r)
    order = [bucket_of(lo, buckets) for lo, _ in buckets]
    return pd.DataFrame([{"bucket": b, "sentences": len(groups[b][0]),
                          "loss": mean_token_loss(model, data.encode_pairs(*groups[b]))}
                         for b in order if b in groups]).set_index("bucket")


@torch.no_grad()
def translate_with_attention(model, data: TranslationData, sentence: str, *, max_extra: int = 10) -> dict:
    """Greedy translation of one sentence plus the attention maps that produced it (last decoder layer).

    Returns {"translation", "source_pieces", "target_pieces", "cross" (heads, T, S), "self" (heads, T, T)};
    the maps come from re-running the decoder on its own output (teacher forcing), which equals the cached
    incremental pass.
    """
    device = next(model.parameters()).device
    if not sentence.strip():
        raise ValueError("sentence is empty")
    ids = data.src_sp.encode(sentence) + [EOS]
    src = torch.tensor([ids], device=device)
    out = greedy_decode(model, src, BOS, EOS, int(1.5 * len(ids)) + max_extra)[0]
    memory, pad, _ = model.encode(src)
    tgt_in = torch.tensor([[BOS] + out], device=device)
    _, weights = model.decode(tgt_in, memory, pad, need_weights=True)
    self_w, cross_w = weights[-1]
    return {"translation": data.tgt_sp.decode(out),
            "source_pieces": [data.src_sp.id_to_piece(i) for i in ids[:-1]] + ["</s>"],
            "target_pieces": ["<s>"] + [data.tgt_sp.id_to_piece(i) for i in out],
            "cross": cross_w[0], "self": self_w[0]}
