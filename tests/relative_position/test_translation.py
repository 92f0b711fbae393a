"""Multi30k pipeline pieces: data loading, batching, loss, BLEU and length buckets (no long training)."""
import pytest
import torch

from course_lib.data import DataUnavailable
from course_lib.relative_position import translation as tr


@pytest.fixture(scope="module")
def tiny_data():
    try:
        return tr.prepare_translation(vocab_size=300, train_limit=400, eval_limit=20, allow_synthetic=False)
    except DataUnavailable as exc:  # pragma: no cover - depends on the data mirror
        pytest.skip(f"Multi30k not available (set COURSE_DATA_MIRROR): {exc}")


def test_synthetic_fallback_corpus_is_deterministic_and_usable(monkeypatch):
    en, de = tr.synthetic_corpus("val")
    assert (en, de) == tr.synthetic_corpus("val") and len(en) == len(de) == 400
    assert any(tr.word_length(s) >= 20 for s in en)
    monkeypatch.setattr(tr, "load_multi30k", lambda split: (_ for _ in ()).throw(DataUnavailable("offline")))
    data = tr.prepare_translation(vocab_size=120, train_limit=50, eval_limit=10)
    assert data.synthetic and len(data.train) == 50 and data.evals["long (>= 20 words)"][0]


def test_multi30k_splits_are_aligned_and_complete(tiny_data):
    en, de = tr.load_multi30k("val")
    assert len(en) == len(de) == 1014
    with pytest.raises(ValueError, match="split must be one of"):
        tr.load_multi30k("dev")


def test_prepared_data_respects_the_length_split(tiny_data):
    assert len(tiny_data.train) == 400
    assert all(s[-1] == tr.EOS for s, _ in tiny_data.train)
    long_src = tiny_data.evals["long (>= 20 words)"][0]
    assert long_src and all(tr.word_length(s) >= 20 for s in long_src)
    assert tiny_data.src_vocab == tiny_data.tgt_vocab == 300


def test_batches_shift_targets_and_pad(tiny_data):
    src, tgt_in, tgt_out = next(tr.make_batches(tiny_data.train, 16, shuffle=False))
    assert src.shape[0] == tgt_in.shape[0] == 16 and tgt_in.shape == tgt_out.shape
    assert bool((tgt_in[:, 0] == tr.BOS).all())
    for i in range(16):
        n = int((tgt_out[i] != tr.PAD).sum())
        assert int(tgt_out[i, n - 1]) == tr.EOS and torch.equal(tgt_in[i, 1:n], tgt_out[i, :n - 1])


def test_a_few_steps_lower_the_loss_and_translate_runs(tiny_data):
    model = tr.build_translator(tiny_data, "relative", d_model=32, layers=1, d_ff=64, dropout=0.0)
    pairs = tiny_data.train[:64]
    before = tr.mean_token_loss(model, pairs)
    hist = tr.train_translator(model, tiny_data, steps=30, batch_size=32, steps_per_epoch=10, val_pairs=pairs)
    assert list(hist["steps"]) == [10, 20, 30]
    assert tr.mean_token_loss(model, pairs) < before - 0.5
    out = tr.translate(model, tiny_data, ["A man is walking.", "Two dogs play in the snow."])
    assert len(out) == 2 and all(isinstance(s, str) for s in out)
    beam = tr.translate(model, tiny_data, ["A dog."], beam_size=3)
    assert len(beam) == 1
    att = tr.translate_with_attention(model, tiny_data, "A dog runs.")
    t, s = len(att["target_pieces"]), len(att["source_pieces"])
    assert att["cross"].shape == (4, t, s) and att["self"].shape == (4, t, t)


def test_bleu_and_buckets():
    refs = ["ein mann geht .", "zwei hunde spielen im schnee ."]
    assert tr.bleu(refs, refs) == pytest.approx(100.0)
    assert tr.bleu(["x y z", "q"], refs) < 5
    with pytest.raises(ValueError, match="hypotheses"):
        tr.bleu(["a"], refs)
    assert tr.bucket_of(5) == "1-8" and tr.bucket_of(12) == "9-12" and tr.bucket_of(25) == ">=20"
    with pytest.raises(ValueError, match="no bucket"):
        tr.bucket_of(0)
    srcs = ["a b c", " ".join(["w"] * 22)]
    frame = tr.bleu_by_length(srcs, refs, refs)
    assert list(frame.index) == ["1-8", ">=20"] and list(frame["sentences"]) == [1, 1]
