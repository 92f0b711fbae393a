import pandas as pd
import pytest
import torch

from course_lib import pick_preset
from course_lib.claims import Ledger
from course_lib.counting import claims
from course_lib.counting.presets import PRESETS
from course_lib.counting.training import SweepResult, ToyRun
from course_lib.exercises import check


def test_claims_are_declared_consistently():
    ids = [c.id for c in claims.CLAIMS]
    assert len(ids) == len(set(ids)) and all(i.startswith("counting.") for i in ids)
    for c in claims.CLAIMS:
        if c.op != "report":
            assert all(c.threshold_at(s) is not None for s in c.scales)


def test_unit_claims_hold():
    ledger = Ledger("counting", claims.CLAIMS, scale="smoke").only(*claims.UNIT, elsewhere="notebook 2")
    claims.record_unit(ledger)
    ledger.check()
    assert ledger.status("counting.tiny_box_self_iou") == "PASS"
    assert "0.5" in ledger.table().set_index("id").loc["counting.tiny_box_self_iou", "note"]


def _sweep(param, values, counter, base):
    rows = [
        {param: v, "model": m, "accuracy": a}
        for v, c, b in zip(values, counter, base)
        for m, a in (("counter", c), ("attention_sum", b))
    ]
    return SweepResult(param, pd.DataFrame(rows), {})


def test_recorders_compute_the_declared_metrics():
    ledger = Ledger("counting", claims.CLAIMS, scale="course")
    metrics = pd.DataFrame(
        {"model": ["counter", "attention_sum"], "accuracy": [0.97, 0.70], "mae": [0.1, 0.4]}
    )
    run = ToyRun({}, pd.DataFrame(), metrics, 0.0)
    claims.record_toy(ledger, run)
    assert ledger.measured["counting.toy_margin"][0] == pytest.approx(0.27)
    values = [0.0, 0.2, 0.5, 0.8, 1.0]
    claims.record_sweeps(
        ledger,
        _sweep("l", values, [0.9, 1.0, 1.0, 0.9, 0.2], [1.0, 0.8, 0.6, 0.7, 0.2]),
        _sweep("q", values, [1.0, 0.9, 0.5, 0.3, 0.1], [0.7, 0.6, 0.4, 0.3, 0.1]),
    )
    assert ledger.measured["counting.sweep_l_gap"][0] == pytest.approx(0.2)
    assert ledger.measured["counting.sweep_l_small"][0] == pytest.approx(-0.1)
    assert ledger.measured["counting.sweep_q_high_noise"][0] == pytest.approx(0.1 / 3)
    claims.record_coins(ledger, run)
    assert ledger.measured["counting.coins_gain_vs_sum"][0] == pytest.approx(0.3)
    assert (
        ledger.status("counting.toy_counter_acc") == "PASS"
        and ledger.status("counting.vqa_number") == "not at this scale"
    )
    assert ledger.measured["counting.baseline_no_overlap"].value == pytest.approx(1.0)
    assert ledger.status("counting.toy_baseline_acc") == "PASS"  # 0.70 <= 0.75 and its partner passes
    assert ledger.measured["counting.toy_counter_acc"].source.kind == "generated"


def test_untrained_baseline_cannot_pass_the_failure_bound():
    """A broken attention sum (wrong everywhere) 'fails' at l = 0.5 too: its partner at l = 0 must catch it."""
    ledger = Ledger("counting", claims.CLAIMS, scale="smoke")
    metrics = pd.DataFrame({"model": ["counter", "attention_sum"], "accuracy": [0.97, 0.05], "mae": [0.1, 3.0]})
    claims.record_toy(ledger, ToyRun({}, pd.DataFrame(), metrics, 0.0))
    values = [0.0, 0.5, 1.0]
    claims.record_sweeps(ledger, _sweep("l", values, [1.0, 1.0, 0.2], [0.05, 0.05, 0.05]),
                         _sweep("q", values, [1.0, 0.5, 0.1], [0.05, 0.05, 0.05]))
    assert ledger.status("counting.baseline_no_overlap") == "FAIL"
    assert ledger.status("counting.toy_baseline_acc").startswith("UNPAIRED")
    with pytest.raises(ValueError, match="l = 0"):
        claims.record_sweeps(ledger, _sweep("l", [0.5, 1.0], [1.0, 0.2], [0.6, 0.2]),
                             _sweep("q", values, [1.0, 0.5, 0.1], [0.7, 0.4, 0.1]))


def test_every_baseline_bound_has_a_partner_at_its_scales():
    ledger = Ledger("counting", claims.CLAIMS, scale="smoke")  # declaration checks run here
    bounds = [c for c in claims.CLAIMS if c.baseline]
    assert bounds and all(set(c.scales) <= set(ledger.claims[c.partner].scales) for c in bounds)


def test_presets_scale_up():
    smoke, course, full = (pick_preset(PRESETS, s) for s in ("smoke", "course", "full"))
    assert (
        smoke.toy_iterations * smoke.toy_batch
        <= course.toy_iterations * course.toy_batch
        < full.toy_iterations * full.toy_batch
    )
    assert len(smoke.sweep_l) < len(course.sweep_l) < len(full.sweep_l) == 101


def test_exercises_accept_right_and_reject_wrong_answers():
    from course_lib.counting.component import Counter, hand_set_counter
    from course_lib.counting.toy import ToyCountingDataset, duplicate_scene

    b = ToyCountingDataset(0.5, 0.0, seed=123).batch(2048)
    scene = duplicate_scene(6, 3, jitter=0.05)
    right = {
        "counting.1": 9,
        "counting.2": [0, 0.7, 0.3, 0],
        "counting.3": 0.5,
        "counting.4": (b.attention.sum(1).round().long() == b.count).float().mean().item(),
        "counting.5": sum(p.numel() for p in Counter(100, d=24).parameters()),
        "counting.6": (b.attention.sum(1) - b.count >= 0.5).float().mean().item(),
        "counting.7": hand_set_counter(10).count(scene.boxes, scene.attention).item(),
        "counting.8": 25,
    }
    for key, answer in right.items():
        assert check(key, answer), key
        assert not check(key, torch.tensor(answer, dtype=torch.float64) + 0.37), key
    assert not check("counting.2", [1, 2])
    assert not check("counting.1", None)
