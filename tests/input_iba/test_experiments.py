import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch

from course_lib.input_iba import experiments as ex
from course_lib.input_iba.data import cluttered_digits
from course_lib.input_iba.model import make_cnn
from course_lib.input_iba.presets import PRESETS, inputiba_config

TINY = dataclasses.replace(PRESETS["smoke"], n_images=2, seeds=(0,), iba_steps=2, gan_epochs=1, input_steps=2,
                           deletion_steps=4, peers=("Saliency", "GradCAM"))


@pytest.fixture(scope="module")
def setup():
    model = make_cnn(0).eval().requires_grad_(False)
    data = cluttered_digits(2, split="test", seed=3)
    stats = ex.layer_stats(model, "pool1", n=100)
    return model, data, stats


def test_presets_cover_every_scale_and_course_is_the_asserted_protocol():
    assert set(PRESETS) == {"smoke", "course", "full"}
    assert PRESETS["smoke"].n_images <= 3 and PRESETS["smoke"].sanity_images == 0
    course = PRESETS["course"]
    assert course.n_images >= 30 and len(course.seeds) >= 3 and course.ablation_images > 0
    cfg = inputiba_config(PRESETS["smoke"])
    assert cfg.gan.epochs == 2 and cfg.input_steps == 10 and cfg.layer == "pool1"
    with pytest.raises(ValueError, match="schedule"):
        inputiba_config(dataclasses.replace(course, schedule="slow"))


def test_every_method_is_evaluated_on_the_same_images(setup):
    model, data, stats = setup
    maps, seconds = ex.method_maps(model, data, TINY, stats=stats)
    assert {name for name, _ in maps} == {"random", "Saliency", "GradCAM", "IBA", "InputIBA", "GAN prior λ_G"}
    assert all(m.shape == (2, 32, 32) for m in maps.values())
    rows = ex.evaluate(model, data, maps, TINY)
    assert len(rows) == 2 * len(maps)
    assert rows[list(ex.METRICS)].notna().all().all()
    assert rows["mask AUROC"].between(0, 1).all() and rows["energy in mask"].between(0, 1).all()
    seconds["IntegratedGradients"] = seconds["Saliency"] * 2
    table = ex.summary_table(rows, seconds, order=("random", "Saliency", "IBA", "InputIBA"))
    assert list(table.index[:4]) == ["random", "Saliency", "IBA", "InputIBA"]
    assert table.loc["Saliency", "× IG"] == pytest.approx(0.5)
    assert np.isnan(table.loc["random", "s / image"])
    shown = ex.format_table(table)
    assert "±" in shown.loc["IBA", "mask AUROC"]


def test_summary_averages_seeds_per_image_then_images():
    rows = pd.DataFrame({"method": ["A"] * 4, "seed": [0, 0, 1, 1], "image": [0, 1, 0, 1],
                         **{m: [0.0, 1.0, 1.0, 1.0] for m in ex.METRICS}})
    t = ex.summary_table(rows, {})
    assert t.loc["A", "mask AUROC"] == pytest.approx(0.75)      # images: 0.5 and 1.0
    assert t.loc["A", "mask AUROC s.e."] == pytest.approx(0.25)  # std(ddof=1)=0.354 / sqrt(2)
    seed = ex.per_seed(rows)
    assert seed.loc[("A", 0), "mask AUROC"] == pytest.approx(0.5)


def test_sanity_check_and_ablation_run_and_name_their_rows(setup):
    model, data, stats = setup
    san = ex.sanity_check(model, data, TINY, methods=("Saliency", "IBA"), layers=("fc", "conv4"))
    assert list(san["method"].unique()) == ["Saliency", "IBA"] and len(san) == 6
    assert (san[san.layers == 0]["spearman"] == 1.0).all()
    abl = ex.ablation(model, data, TINY, stats=stats)
    assert set(abl["method"]) == {"λ_G (zero init)", "InputIBA (zero-init prior)"}


def test_cache_round_trip_and_missing_cache_names_the_command(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="course-cache"):
        ex.load_cache("nope.json")
    payload = {"rows": {"method": ["A"], "seed": [0], "image": [0], **{m: [0.5] for m in ex.METRICS}}}
    (tmp_path / "c.json").write_text(json.dumps(payload))
    monkeypatch.setattr(ex, "DATA_DIR", tmp_path)
    assert ex.cache_rows(ex.load_cache("c.json")).shape == (1, 3 + len(ex.METRICS))


def test_select_images_keeps_only_correct_predictions():
    class Oracle(torch.nn.Module):
        def __init__(self, labels):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.labels = labels

        def forward(self, x):  # right on every image but the first of the pool
            out = torch.nn.functional.one_hot(self.labels[:len(x)], 10).float()
            out[0] = out[0].roll(1)
            return out

    pool = cluttered_digits(20, split="test", seed=5, clutter=3, noise=0.3)
    sel = ex.select_images(Oracle(pool.labels), 3, seed=5, pool=20, clutter=3, noise=0.3)
    assert torch.equal(sel.labels, pool.labels[1:4])
    with pytest.raises(RuntimeError, match="classified correctly"):
        ex.select_images(Oracle(pool.labels), 20, seed=5, pool=20, clutter=3, noise=0.3)
