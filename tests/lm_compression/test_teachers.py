import numpy as np
import pytest

from course_lib.lm_compression.teachers import load_minilm, load_teacher_cache, minilm_features


def test_minilm_features_are_unit_norm_and_order_independent():
    tok, model = load_minilm("cpu")
    texts = ["a charming journey .", "bleak", "the movie was long , slow and very dull ."]
    feats = minilm_features(texts, tok, model, batch_size=2, progress=False)
    assert feats.shape == (3, 384)
    assert np.allclose(np.linalg.norm(feats, axis=1), 1, atol=1e-5)
    again = minilm_features(texts[::-1], tok, model, batch_size=3, progress=False)[::-1]
    assert np.allclose(feats, again, atol=1e-4)
    with pytest.raises(ValueError):
        minilm_features([], tok, model)


def test_cached_probe_reproduces_its_dev_accuracy():
    arrays, meta = load_teacher_cache()
    assert meta["command"].startswith("python -m course_lib.lm_compression.teachers")
    assert len(arrays["logits_transfer"]) == meta["n_transfer"] and len(arrays["logits_dev"]) == 872
    z = arrays["features_dev"].astype(np.float32) @ arrays["probe_coef"].T + arrays["probe_intercept"]
    pred = (z[:, 0] > 0).astype(int)
    assert np.mean(pred == arrays["logits_dev"].argmax(1)) > 0.99
    assert 50 < meta["probe_dev_acc"] <= 100
