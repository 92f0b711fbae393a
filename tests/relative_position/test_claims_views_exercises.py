"""Claims measurements, plotting functions, exercises and the cache loaders' fallbacks."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from course_lib import pick_preset
from course_lib.claims import Ledger
from course_lib.exercises import check
from course_lib.relative_position import claims, views
from course_lib.relative_position.presets import PRESETS
from course_lib.relative_position.synthetic import LengthResult

from ..figures import data, differ


def test_claims_are_well_formed_and_exactness_claims_hold():
    ids = [c.id for c in claims.CLAIMS]
    assert len(ids) == len(set(ids)) and all(i.startswith("rp.") for i in ids)
    ledger = claims.make_ledger("smoke", notebook=1)
    claims.record_exactness(ledger)
    ledger.check()
    assert ledger.status("rp.fused_equals_naive") == "PASS"


def test_broken_implementation_would_fail_the_equivalence_claim(monkeypatch):
    from course_lib.relative_position import attention

    real = attention.relative_attention_einsum

    def off_by_one(q, k, v, rel_k=None, rel_v=None, **kw):
        return real(q, k, v, rel_k, None if rel_v is None else torch.roll(rel_v, 1, 0), **kw)

    monkeypatch.setattr(attention, "relative_attention_einsum", off_by_one)
    assert claims.measure_equivalence("einsum") > 1e-3


def _res(name, train, unseen):
    return LengthResult(name, train, (train + unseen) / 2, unseen, 1.0, [1.0], [train] * 20 + [unseen] * 20)


def test_recording_length_generalization_and_translation():
    ledger = Ledger(claims.PAPER, claims.CLAIMS, "course")
    claims.record_length_generalization(ledger, {
        "relative (k=8)": _res("r", 1.0, 1.0), "absolute sinusoidal": _res("s", 0.99, 0.2),
        "learned absolute": _res("l", 1.0, 0.1), "k = 0 (no positions)": _res("0", 0.2, 0.17)})
    assert ledger.status("rp.offset.gap") == "PASS"
    assert ledger.status("rp.offset.k0_learns_copy") == "PASS"  # trained here: the k = 0 model can copy
    assert ledger.status("rp.offset.k0_collapse") == "PASS"
    hist = pd.DataFrame({"val_loss": [5.0, 3.0]})
    claims.record_translation(ledger, {"relative": {"history": hist, "bleu": 20.0, "long_bleu": 10.0},
                                       "sinusoidal": {"history": hist, "bleu": 5.0, "long_bleu": 9.0}},
                              synthetic=False)
    assert ledger.measured["rp.multi30k.bleu"].source.label() == "dataset multi30k-task1-en-de"
    assert ledger.status("rp.multi30k.bleu") == "FAIL" and ledger.status("rp.multi30k.loss_falls") == "PASS"
    claims.record_ablation(ledger, {0: _res("0", .2, .1), 2: _res("2", .6, .19), 3: _res("3", 1, .99)})
    assert ledger.measured["rp.ablation.min_k"][0] == 3


def test_untrained_baselines_cannot_pass_their_failure_bounds(monkeypatch):
    monkeypatch.setattr(claims, "measure_k0_copy", lambda **kw: 0.1)  # a broken k = 0 model
    ledger = Ledger(claims.PAPER, claims.CLAIMS, "smoke")
    claims.record_length_generalization(ledger, {
        "relative (k=8)": _res("r", 1.0, 1.0), "absolute sinusoidal": _res("s", 0.3, 0.2),
        "learned absolute": _res("l", 0.25, 0.1), "k = 0 (no positions)": _res("0", 0.2, 0.17)})
    assert ledger.status("rp.offset.absolute_fits_train") == "FAIL"
    assert ledger.status("rp.offset.absolute_unseen").startswith("UNPAIRED")
    assert ledger.status("rp.offset.k0_collapse").startswith("UNPAIRED")


def test_translation_on_the_stand_in_is_skipped_not_recorded(capsys):
    ledger = Ledger(claims.PAPER, claims.CLAIMS, "smoke")
    hist = pd.DataFrame({"val_loss": [5.0, 3.0]})
    claims.record_translation(ledger, {"relative": {"history": hist, "bleu": 20.0, "long_bleu": 10.0}},
                              synthetic=True)
    assert "rp.multi30k.loss_falls" not in ledger.measured
    assert ledger.status("rp.multi30k.loss_falls") == "skipped: dataset multi30k-task1-en-de not available " \
        "(the translators ran on the synthetic stand-in corpus)"
    assert "DATA UNAVAILABLE" in capsys.readouterr().out


def test_presets_cover_every_scale():
    assert pick_preset(PRESETS, "smoke").steps < pick_preset(PRESETS, "course").steps
    assert set(PRESETS["smoke"].variants) <= set(PRESETS["course"].variants)


def test_views_draw_their_input():
    timing = pd.DataFrame({"n": [64, 256, 64, 256], "candidate": ["a", "a", "b", "b"], "ratio": [1, 1, 1.5, 2.0]})
    memory = pd.DataFrame({"n": [16, 32], "impl": ["naive", "naive"], "saved MB": [1.0, 4.0]})
    bleu = pd.DataFrame({"sentences": [3], "BLEU": [10.0]}, index=["1-8"])
    t1, t2 = torch.randn(5, 8), torch.randn(5, 8)
    pairs = {
        "index": (views.plot_relative_index(3, 10), views.plot_relative_index(1, 10)),
        "index query": (views.plot_relative_index(0, 4, query=9), views.plot_relative_index(0, 4, query=2)),
        "attention": (views.plot_attention(torch.eye(4)[:, :4], list("abcd"), list("wxyz")),
                      views.plot_attention(torch.ones(4, 4) / 4, list("abcd"), list("wxyz"))),
        "tables": (views.plot_tables(t1, t2), views.plot_tables(t2, t1)),
        "position acc": (views.plot_position_accuracy({"a": [1.0] * 40, "b": [0.5] * 40}),
                         views.plot_position_accuracy({"a": [0.2] * 40, "b": [0.5] * 40})),
        "loss": (views.plot_loss_curves({"a": list(range(50, 0, -1))}), views.plot_loss_curves({"a": [1.0] * 50})),
        "k ablation": (views.plot_k_ablation({0: 0.1, 2: 1.0, 8: 1.0}), views.plot_k_ablation({0: 0.1, 2: 0.3})),
        "timing": (views.plot_timing(timing), views.plot_timing(timing.assign(ratio=[1, 1, 3.0, 4.0]))),
        "memory": (views.plot_memory(memory), views.plot_memory(memory.assign(**{"saved MB": [2.0, 8.0]}))),
        "bleu": (views.plot_bleu_by_length({"r": bleu}), views.plot_bleu_by_length({"r": bleu.assign(BLEU=20.0)})),
        "translation": (views.plot_translation_attention(["a", "b"], ["<s>", "x"], torch.eye(2), torch.eye(2)),
                        views.plot_translation_attention(["a", "b"], ["<s>", "x"], torch.ones(2, 2) / 2,
                                                         torch.eye(2))),
    }
    for name, (a, b) in pairs.items():
        assert isinstance(a, Figure) and differ(a, b), name
    curves = [arr.reshape(-1, 2)[:, 1] for arr in data(pairs["position acc"][0]) if arr.size == 80]
    assert any(np.allclose(c, 0.5) for c in curves)  # the drawn curve is the accuracy passed in
    plt.close("all")
    with pytest.raises(ValueError, match="2-D"):
        views.plot_attention(torch.rand(2, 3, 4))


def test_exercises_accept_reference_answers_and_reject_wrong_ones():
    from course_lib.relative_position.positions import relative_position_index

    rel = relative_position_index(64, 64, 16)
    good = {1: relative_position_index(4, 4, 1).tolist(), 2: 33, 3: 2 * 8 * 4 * 256 * 256 * 32,
            4: float(((rel == 0) | (rel == 32)).double().mean()), 5: 0.1, 6: [8, 9], 7: [0, 0, 0, 0, 0, 1, 2]}
    bad = {1: relative_position_index(4, 4, 1).T.tolist(), 2: 32, 3: 8 * 4 * 256 * 256 * 32, 4: 13, 5: 0.5,
           6: [9], 7: [0, 1, 2]}
    for i in good:
        assert check(f"relative_position.{i}", good[i]) is True
        assert check(f"relative_position.{i}", bad[i]) is False
    assert check("relative_position.1", None) is False


def test_tagger_attention_view_and_head_validation():
    from course_lib.relative_position.synthetic import build_tagger

    model = build_tagger("relative", 4, seed=0)
    assert isinstance(views.plot_tagger_attention(model, 30, 1, name="rel"), Figure)
    with pytest.raises(ValueError, match="head must be"):
        views.plot_tagger_attention(model, 30, 9)
    plt.close("all")


def test_cache_loaders_read_the_committed_cache_or_fall_back(tmp_path):
    from course_lib.relative_position import cache, translation

    fallback = cache.load_demo_taggers(tmp_path, fallback_steps=2)  # empty folder: loud banner + quick training
    assert set(fallback) == set(cache.TAGGERS)
    if not (cache.DATA_DIR / "translator.pt").is_file():
        pytest.skip("no cached demo models in data/relative_position")
    taggers = cache.load_demo_taggers()
    x = torch.randint(0, 10, (2, 30))
    assert all(m(x).shape == (2, 30, 11) for m in taggers.values())
    model, data = cache.load_demo_translator()
    out = translation.translate(model, data, ["A dog runs on the beach."])
    assert len(out) == 1 and out[0]
    assert cache.load_timings(tmp_path) is None
