"""Transformer with pluggable positions, incremental decoding == full recomputation, greedy and beam search."""
import pytest
import torch

from course_lib.relative_position.decoding import beam_search, greedy_decode, length_penalty
from course_lib.relative_position.transformer import (
    POSITION_SCHEMES,
    Seq2SeqTransformer,
    SequenceTagger,
    TransformerConfig,
    count_parameters,
)


def _seq2seq(position="relative", k=3, seed=0):
    torch.manual_seed(seed)
    cfg = TransformerConfig(d_model=32, num_heads=4, num_layers=2, num_decoder_layers=2, d_ff=64,
                            position=position, max_relative_position=k)
    return Seq2SeqTransformer(cfg, 25, 30).eval()


@pytest.mark.parametrize("position", POSITION_SCHEMES)
def test_every_scheme_builds_and_runs(position):
    cfg = TransformerConfig(d_model=16, num_heads=2, position=position, max_relative_position=2, max_len=64)
    tagger = SequenceTagger(cfg, 10, 11)
    logits, weights = tagger(torch.randint(0, 10, (3, 9)), need_weights=True)
    assert logits.shape == (3, 9, 11) and weights[0].shape == (3, 2, 9, 9)
    has_rel = any("rel_" in n for n, _ in tagger.named_parameters())
    assert has_rel == position.startswith("relative")
    model = _seq2seq(position)
    assert model(torch.randint(1, 25, (2, 5)), torch.randint(1, 30, (2, 4))).shape == (2, 4, 30)


def test_config_validation_and_parameter_counts():
    with pytest.raises(ValueError, match="position must be one of"):
        TransformerConfig(position="rotary")
    with pytest.raises(ValueError, match="divisible"):
        TransformerConfig(d_model=30, num_heads=4)
    with pytest.raises(ValueError, match="tokens must be"):
        SequenceTagger(TransformerConfig(d_model=16, num_heads=2), 10, 11)(torch.zeros(3, 4))
    base = count_parameters(SequenceTagger(TransformerConfig(d_model=16, num_heads=2, position="none"), 10, 11))
    rel = count_parameters(SequenceTagger(TransformerConfig(d_model=16, num_heads=2, max_relative_position=4),
                                          10, 11))
    assert rel - base == 2 * 9 * 8  # two shared (2k+1) x d_head tables in the single layer


@pytest.mark.parametrize("position", ["relative", "sinusoidal", "learned", "relative_keys"])
def test_incremental_decoding_equals_full_recomputation(position):
    model = _seq2seq(position)
    src = torch.randint(1, 25, (3, 8))
    src[0, -2:] = 0  # padding in the source
    tgt = torch.randint(1, 30, (3, 10))
    with torch.no_grad():
        memory, pad, _ = model.encode(src)
        full = model.decode(tgt, memory, pad)
        state = model.start(memory, pad)
        steps = torch.stack([model.decode_step(state, tgt[:, t:t + 1]) for t in range(10)], dim=1)
    assert float((full - steps).abs().max()) < 1e-4


@pytest.mark.parametrize("position,invariant", [("relative", True), ("sinusoidal", False)])
def test_same_content_at_a_different_offset_gives_the_same_outputs(position, invariant):
    # x alone vs x preceded by 5 masked padding slots (i.e. placed at absolute offset 5)
    torch.manual_seed(0)
    cfg = TransformerConfig(d_model=16, num_heads=2, num_layers=2, position=position, max_relative_position=2)
    tagger = SequenceTagger(cfg, 10, 11).eval()
    x = torch.randint(0, 10, (1, 7))
    shifted = torch.cat([torch.zeros(1, 5, dtype=torch.long), x], dim=1)
    pad = torch.zeros(1, 12, dtype=torch.bool)
    pad[0, :5] = True
    with torch.no_grad():
        alone = tagger.encoder(x)[0]
        moved = tagger.encoder(shifted, pad)[0][:, 5:]
    assert torch.allclose(alone, moved, atol=1e-5) == invariant


def test_greedy_incremental_equals_recomputed_and_beam1_equals_greedy():
    model = _seq2seq()
    src = torch.randint(4, 25, (4, 6))
    a = greedy_decode(model, src, bos_id=2, eos_id=3, max_len=9)
    b = greedy_decode(model, src, bos_id=2, eos_id=3, max_len=9, incremental=False)
    assert a == b and all(len(r) <= 9 for r in a)
    assert beam_search(model, src, 2, 3, beam_size=1, max_len=9, alpha=0.0) == a
    c = beam_search(model, src, 2, 3, beam_size=3, max_len=9)
    d = beam_search(model, src, 2, 3, beam_size=3, max_len=9, incremental=False)
    assert c == d and len(c) == 4


def test_beam_search_scores_at_least_greedy():
    model = _seq2seq(seed=1)
    src = torch.randint(4, 25, (3, 5))

    def logprob(hyp, i):
        tgt = torch.tensor([[2] + hyp])
        with torch.no_grad():
            memory, pad, _ = model.encode(src[i:i + 1])
            lp = torch.log_softmax(model.decode(tgt, memory, pad), -1)[0]
        full = hyp + ([3] if len(hyp) < 6 else [])
        return float(sum(lp[t, tok] for t, tok in enumerate(full))) / length_penalty(len(full), 0.0)

    greedy = greedy_decode(model, src, 2, 3, 6)
    beam = beam_search(model, src, 2, 3, beam_size=4, max_len=6, alpha=0.0)
    for i in range(3):
        assert logprob(beam[i], i) >= logprob(greedy[i], i) - 1e-5


def test_decoding_input_validation():
    model = _seq2seq()
    with pytest.raises(ValueError, match="int64"):
        greedy_decode(model, torch.zeros(2, 3), 2, 3)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, torch.ones(2, 3, dtype=torch.long), 2, 3, beam_size=0)
