import json

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from course_lib.claims import ProvenanceError, dataset, generated
from course_lib.exercises import get
from course_lib.input_iba import claims, exercises, views
from course_lib.input_iba.data import cluttered_digits
from course_lib.input_iba.experiments import METRICS
from course_lib.input_iba.model import make_cnn


def test_unit_claims_hold_at_every_scale():
    ledger = claims.make_ledger("smoke")
    claims.record_unit(ledger, claims.unit_checks())
    statuses = {cid: ledger.status(cid) for cid in claims.UNIT}
    assert all(s == "PASS" for s in statuses.values()), statuses
    for scale in ("course", "full"):
        assert {c.id for c in claims.make_ledger(scale).applicable()} >= set(claims.UNIT)


def test_course_claims_are_not_asserted_at_smoke_and_no_auroc_win_is_claimed():
    smoke = {c.id for c in claims.make_ledger("smoke").applicable()}
    assert not smoke & set(claims.TABLE)
    auroc = next(c for c in claims.CLAIMS if c.id == "input_iba.auroc_vs_iba")
    assert auroc.op == "report"
    bounds = [c for c in claims.CLAIMS if c.baseline]
    assert {c.id for c in bounds} == {"input_iba.energy_margin", "input_iba.insertion_vs_iba",
                                      "input_iba.deletion_vs_iba"}
    assert all(c.partner == "input_iba.auroc_all" for c in bounds)


def _fake_cache(margin: float, seeds=(0, 1, 2)):
    rows = {k: [] for k in ("method", "seed", "image", *METRICS)}
    base = {"random": (0.5, 0.12, 0.2, 0.2), "IntegratedGradients": (0.9, 0.5, 0.12, 0.5),
            "GradCAM": (0.9, 0.4, 0.12, 0.6), "IBA": (0.93, 0.55, 0.11, 0.58)}
    for s in seeds:
        for method, vals in {**base, "InputIBA": (0.88, 0.55 + margin, 0.105, 0.66)}.items():
            for i in range(3):
                rows["method"].append(method)
                rows["seed"].append(s if method in ("IBA", "InputIBA", "random") else 0)
                rows["image"].append(i)
                for m, v in zip(METRICS, vals):
                    rows[m].append(v + 0.01 * i)
    return {"rows": rows, "seconds": {"IntegratedGradients": 0.04, "InputIBA": 1.2, "IBA": 0.1},
            "threads": 1, "machine": "test"}


def test_course_claims_from_a_cache_with_artifact_provenance(tmp_path):
    cache = _fake_cache(0.2)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cache))
    ledger = claims.make_ledger("course")
    claims.record_table(ledger, cache, path)
    values = ledger.measured
    assert values["input_iba.energy_margin"].value == pytest.approx(0.2)
    assert values["input_iba.auroc_all"].value == pytest.approx(0.89)  # InputIBA's mean over 3 images
    assert values["input_iba.speed"].value == pytest.approx(1.2)
    assert "artifact" in values["input_iba.energy_margin"].source.label()
    for cid in ("input_iba.energy_margin", "input_iba.auroc_all", "input_iba.insertion_vs_iba",
                "input_iba.deletion_vs_iba", "input_iba.speed"):
        assert ledger.status(cid) == "PASS", (cid, ledger.status(cid))
    assert ledger.status("input_iba.auroc_vs_iba") == "reported"


def test_a_failing_margin_is_reported_as_failing(tmp_path):
    cache = _fake_cache(0.05)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cache))
    ledger = claims.make_ledger("course")
    claims.record_table(ledger, cache, path)
    assert ledger.status("input_iba.energy_margin") == "FAIL"


def test_a_real_dataset_is_refused_for_generated_digits():
    ledger = claims.make_ledger("smoke")
    with pytest.raises((ProvenanceError, ValueError)):
        ledger.record("input_iba.kl_nonneg", 0.0, source=dataset("planetoid"))
    ledger.record("input_iba.kl_nonneg", 0.0, source=generated("test"))


def test_live_checks_flag_out_of_range_masks():
    class R:  # a stand-in result object with the fields live_checks reads
        def __init__(self, lam):
            self.input_mask = self.lambda_g = lam
            self.input = type("I", (), {"mask": lam, "loss": torch.tensor([[2.0], [1.0]])})()
            self.prior = type("P", (), {"mask": lam})()

    assert claims.live_checks(R(torch.rand(1, 4, 4)), 0.95)["range"] == 0.0
    assert claims.live_checks(R(torch.full((1, 4, 4), 1.5)), 0.95)["range"] == pytest.approx(0.5)
    assert claims.live_checks(R(torch.full((1, 4, 4), float("nan"))), 0.95)["range"] == float("inf")
    assert claims.live_checks(R(torch.rand(1, 4, 4)), 0.95)["loss_ratio"] == pytest.approx(0.5)


# ------------------------------------------------------------------------------------------------- views
def test_map_grid_draws_one_panel_per_method_and_image():
    x = torch.randn(3, 1, 8, 8)
    maps = {"IBA": torch.rand(3, 8, 8), "IntegratedGradients": np.random.rand(3, 8, 8)}
    fig = views.plot_maps(x, maps, torch.rand(3, 8, 8) > 0.5, index=(0, 2))
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 3
    assert [fig.axes[i].get_title() for i in range(3)] == ["canvas", "IBA", "IG"]


def test_metric_bars_and_curves_and_sanity():
    table = pd.DataFrame({m: [0.5, 0.9] for m in METRICS} | {f"{m} s.e.": [0.01, 0.02] for m in METRICS},
                         index=["random", "InputIBA"])
    fig = views.plot_metric_bars(table)
    assert len(fig.axes) == 4 and len(fig.axes[0].patches) == 2 and "↓" in fig.axes[2].get_title()
    fig = views.plot_curves({"IBA": [1, 0.5, 0.0]}, "deletion")
    assert "[0.500]" in fig.axes[0].get_legend().get_texts()[0].get_text()
    san = pd.DataFrame({"method": ["A"] * 3, "randomised up to": ["none (trained)", "fc", "conv4"],
                        "layers": [0, 1, 2], "spearman": [1.0, 0.5, 0.1], "s.e.": [0, 0.1, 0.1]})
    fig = views.plot_sanity(san)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["none (trained)", "fc", "conv4"]
    fig = views.plot_kl()
    assert len(fig.axes[1].get_lines()) == 4 and np.allclose(fig.axes[0].get_lines()[0].get_ydata()[0], 0)


def test_explorer_draws_every_method_with_its_scores():
    model = make_cnn(0).eval().requires_grad_(False)
    data = cluttered_digits(2, split="test", seed=3)
    ex = views.Explorer(model, data, peers=("Saliency", "GradCAM"), gan_epochs=1, stats_images=100,
                        deletion_steps=4)
    fig = ex.figure(image=1, beta=5.0, layer="pool1", steps=2)
    titles = [a.get_title() for a in fig.axes]
    assert titles[0].startswith("canvas 1")
    assert any(t.startswith("InputIBA\nAUROC") for t in titles) and any(t.startswith("IBA\nAUROC") for t in titles)
    assert fig._suptitle.get_text().startswith("β = 5")
    assert set(ex.maps(1, 5.0, "pool1", 2)) == {"IBA", "GAN prior λ_G", "InputIBA", "Saliency", "GradCAM"}


# --------------------------------------------------------------------------------------------- exercises
def test_build_it_exercises_accept_a_correct_numpy_version_and_refuse_wrong_ones():
    def gaussian_kl(r, lam, mean, std):
        rn = (r - mean) / std
        v = (1 - lam) ** 2
        return -0.5 * (1 + np.log(v) - (lam * rn) ** 2 - v)

    assert get("input_iba.1").checker(gaussian_kl) is True
    assert get("input_iba.1").checker(lambda r, lam, mean, std: gaussian_kl(r, lam, mean, std) * 2) is not True
    assert get("input_iba.1").checker(gaussian_kl(1.0, 0.5, 0.0, 1.0)) is not True  # a value, not a function

    def welford(batches):
        n, mean, m2 = 0, 0.0, 0.0
        for b in batches:
            nb, mb = len(b), b.mean(0)
            m2b = ((b - mb) ** 2).sum(0)
            tot = n + nb
            d = mb - mean
            mean = mean + d * nb / tot
            m2 = m2 + m2b + d ** 2 * n * nb / tot
            n = tot
        return np.stack([mean, np.sqrt(m2 / (n - 1))])

    assert get("input_iba.3").checker(welford) is True
    assert get("input_iba.3").checker(lambda bs: np.stack([np.concatenate(bs).mean(0),
                                                           np.concatenate(bs).std(0)])) is not True  # ddof=0
    assert get("input_iba.2").checker(exercises.kl_by_hand()) is True
    assert get("input_iba.2").checker(0.5) is not True
