import itertools

import pytest

from course_lib.lm_compression.sizes import BERT_BASE, MINILM, bert_params, encoder_params, measured_params, size_table
from course_lib.lm_compression.student import Encoder, EncoderConfig


def test_bert_counts_are_exact():
    assert bert_params(**BERT_BASE).total == 109_482_240
    assert bert_params(**MINILM).total == 22_713_216
    pytest.importorskip("transformers")
    from transformers import BertConfig, BertModel

    cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=48, max_position_embeddings=20, type_vocab_size=2)
    assert measured_params(BertModel(cfg)) == bert_params(100, 32, 2, 48, 20, 2).total


def test_minilm_count_matches_the_loaded_model():
    from course_lib.lm_compression.teachers import load_minilm

    _, model = load_minilm("cpu")
    assert measured_params(model) == bert_params(**MINILM).total


@pytest.mark.parametrize("vocab,hidden,layers,ffn,mlm", list(itertools.product((50, 300), (16, 32), (1, 3), (24,),
                                                                                (False, True))))
def test_encoder_count_matches_the_module(vocab, hidden, layers, ffn, mlm):
    cfg = EncoderConfig(vocab_size=vocab, hidden=hidden, layers=layers, heads=2, ffn=ffn, max_len=10, mlm_head=mlm)
    assert encoder_params(cfg).total == measured_params(Encoder(cfg))


def test_student_ratios_and_embedding_shares():
    from course_lib.lm_compression.experiments import student_cfg
    from course_lib.lm_compression.presets import PRESETS

    rows = {r["model"]: r for r in size_table(student_cfg(PRESETS["course"], 5000))}
    student = rows["student (5K vocab)"]["total"]
    assert rows["all-MiniLM-L6-v2"]["total"] / student >= 10
    assert rows["BERT-BASE"]["total"] / student >= 50
    assert rows["same student, teacher vocab"]["word_share"] > rows["student (5K vocab)"]["word_share"]
    with pytest.raises(ValueError):
        bert_params(0, 8, 1, 8)
