"""The quantize_dynamic peer: what it converts, what it measures, and its input checks."""
import numpy as np
import pytest
import torch
from torch import nn

from course_lib import cost
from course_lib.lm_compression import peers


@pytest.fixture(scope="module")
def tiny_bert():
    """A 2-layer, 32-wide BERT with MiniLM's tokenizer (random weights: fast, same code path as MiniLM)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from course_lib.lm_compression.teachers import minilm_path

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    return AutoTokenizer.from_pretrained(minilm_path(), local_files_only=True), BertModel(cfg).eval()


def test_quantize_dynamic_converts_every_linear_and_leaves_the_embeddings_fp32(tiny_bert):
    _, model = tiny_bert
    q = peers.quantize_minilm(model)
    n_linear = sum(isinstance(m, nn.Linear) for m in model.modules())
    dyn = [m for m in q.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert n_linear > 0 and len(dyn) == n_linear
    assert q.embeddings.word_embeddings.weight.dtype == torch.float32
    assert any(isinstance(m, nn.Linear) for m in model.modules()), "the original model must stay untouched"
    assert cost.serialized_bytes(q) < cost.serialized_bytes(model)


def test_per_channel_scales_keep_the_embeddings_closer(tiny_bert):
    tok, model = tiny_bert
    per_tensor, per_channel = peers.quantize_minilm(model), peers.quantize_minilm(model, per_channel=True)
    w = [m for m in per_channel.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)][0].weight()
    assert w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric)
    cos_t = peers.quantized_cosine(tok, model, per_tensor, peers.DEMO_SENTENCES[:4])
    cos_c = peers.quantized_cosine(tok, model, per_channel, peers.DEMO_SENTENCES[:4])
    assert cos_c.mean() >= cos_t.mean() - 1e-3


def test_linear_share_counts_the_linear_parameters(tiny_bert):
    _, model = tiny_bert
    linear = sum(p.numel() for m in model.modules() if isinstance(m, nn.Linear) for p in m.parameters())
    assert peers.linear_share(model) == pytest.approx(linear / cost.count_params(model))
    assert peers.linear_share(nn.Sequential(nn.Linear(3, 3))) == 1.0


def test_compare_quantized_measures_both_models_in_one_run(tiny_bert):
    tok, model = tiny_bert
    res = peers.compare_quantized(peers.DEMO_SENTENCES[:4], tokenizer=tok, model=model, repeats=3, warmup=1)
    table = res.table()
    assert list(table.index) == ["MiniLM fp32", "MiniLM dynamic int8"]
    assert table.loc["MiniLM fp32", "bytes"] == cost.serialized_bytes(model)
    assert table.loc["MiniLM dynamic int8", "× smaller"] > 1.0
    assert (table["p50 ms"] > 0).all() and res.threads == 1 and res.sentences == 4
    assert res.cosine.shape == (4,) and np.all(res.cosine <= 1 + 1e-9)
    # int8 rounding moves the embeddings, but not to another direction altogether
    assert 0.5 < res.cosine.mean() < 1.0
    assert res.tokens == len(tok(peers.typical_sentence(peers.DEMO_SENTENCES[:4]))["input_ids"])


def test_embedding_cosine_is_one_for_identical_and_minus_one_for_opposite():
    x = torch.randn(5, 8)
    assert np.allclose(peers.embedding_cosine(x, x), 1.0)
    assert np.allclose(peers.embedding_cosine(x, -x), -1.0)


def test_bad_input_gets_a_clear_error(tiny_bert):
    with pytest.raises(TypeError, match="list of strings"):
        peers.typical_sentence("one sentence")
    with pytest.raises(ValueError, match="non-empty"):
        peers.typical_sentence([])
    with pytest.raises(ValueError, match="non-empty"):
        peers.typical_sentence(["ok", "  "])
    with pytest.raises(ValueError, match="equal shape"):
        peers.embedding_cosine(torch.zeros(2, 3), torch.zeros(3, 3))
    with pytest.raises(TypeError, match="nn.Module"):
        peers.quantize_minilm("minilm")


def test_size_speed_table_measures_each_model_and_its_ratios(tiny_bert):
    _, model = tiny_bert
    q = peers.quantize_minilm(model)
    ids = torch.randint(0, 100, (1, 7))
    mask = torch.ones_like(ids)
    small = nn.Sequential(nn.Embedding(100, 4), nn.Flatten(), nn.Linear(28, 2))
    table = peers.size_speed_table({"bert": (model, (ids, mask)), "int8": (q, (ids, mask)), "tiny": (small, ids)},
                                   repeats=3, warmup=1)
    assert table.loc["bert", "params"] == cost.count_params(model)
    assert table.loc["int8", "params"] == cost.count_params(model)  # packed int8 weights are counted
    assert table.loc["tiny", "params"] == cost.count_params(small) and table.loc["tiny", "tokens"] == 7
    assert table.loc["bert", "MB"] == pytest.approx(cost.serialized_bytes(model) / 1e6)
    assert table.loc["tiny", "× fewer params"] == pytest.approx(cost.count_params(model) / cost.count_params(small))
    assert table.loc["bert", "× faster (p50)"] == 1.0 and (table["CPU p50 ms"] > 0).all()
    assert table.loc["bert", "× faster (CPU p50)"] == 1.0
    with pytest.raises(TypeError, match="pair"):
        peers.size_speed_table({"bert": model})
    with pytest.raises(ValueError, match="at least one"):
        peers.size_speed_table({})
