import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from course_lib.claims import generated
from course_lib.exercises import check
from course_lib.mcncc import claims as C
from course_lib.mcncc import exercises as E
from course_lib.mcncc import experiments as ex
from course_lib.mcncc import metrics, search, views
from course_lib.mcncc.ncc import ncc3d
from course_lib.mcncc.presets import PRESETS, MCNCCPreset

matplotlib.use("Agg")


def test_claims_declared_once_and_exact_claims_hold():
    ids = [c.id for c in C.CLAIMS]
    assert len(ids) == len(set(ids)) and all(i.startswith("mcncc.") for i in ids)
    assert all(c.data == ("fid300_mini",) for c in C.CLAIMS if c.id.startswith("mcncc.fid_"))
    ledger = C.make_ledger("smoke")
    inv = C.invariance_checks()
    C.record_exact(ledger, inv, C.sliding_checks())
    assert inv["mcncc_example"] == pytest.approx(1.0, abs=1e-12)
    assert inv["corrupted"]["3D-NCC"] == pytest.approx(inv["corrupted"]["skimage"], abs=1e-5)  # skimage = 3D-NCC
    for cid in ("mcncc.invariance", "mcncc.peers_exact_match", "mcncc.peers_not_invariant",
                "mcncc.sliding_exact", "mcncc.mask_ones"):
        assert ledger.status(cid) == "PASS", cid
    assert ledger.status("mcncc.fid_top4") == "not at this scale"


def test_smoke_gain_claim_and_its_partner():
    run = ex.smoke_gain_retrieval(0)
    assert run["mcncc_max_change"] < 1e-6          # the invariance, through the whole search
    assert run["mcncc_corrupted"] == run["mcncc_clean"]
    ledger = C.make_ledger("smoke")
    C.record_smoke_gain(ledger, [run])
    assert ledger.status("mcncc.smoke_gain") == "PASS"
    assert ledger.status("mcncc.smoke_cosine_fewer") == "PASS"


def test_course_records_from_caches(tmp_path):
    labels = [0, 1, 2]
    good = np.eye(3)
    bad = np.roll(np.eye(3), 1, 1)
    cmc = {k: metrics.cmc_summary(v, labels) for k, v in
           {"mcncc": good, "weighted": good, "ncc3d": bad, "cosine": bad}.items()}
    syn = {"seeds": {"0": {"cmc": cmc}, "1": {"cmc": cmc}, "2": {"cmc": cmc}}}
    path = tmp_path / "syn.json"
    path.write_text("{}")
    ledger = C.make_ledger("course")
    C.record_synthetic(ledger, syn, path)
    assert ledger.measured["mcncc.syn_vs_cosine"].value == pytest.approx(1.0)
    assert ledger.status("mcncc.syn_weighted") == "PASS"
    real = {"all": {"cmc": {"mcncc": cmc["mcncc"], "cosine": cmc["cosine"]}}}
    C.record_real(ledger, real, path)
    assert ledger.measured["mcncc.fid_mean_rank"].value < 0
    with pytest.raises(Exception, match="fid300_mini"):
        ledger.record("mcncc.fid_top4", 0.5, source=generated("synthetic stand-in"))


def test_presets():
    assert set(PRESETS) == {"smoke", "course", "full"}
    assert all(isinstance(p, MCNCCPreset) for p in PRESETS.values())
    assert PRESETS["smoke"].syn_patterns == 10 and PRESETS["course"].rotations == 5


def test_views_draw():
    refs, qs, ms, labels = ex.synthetic_gallery(4, (64, 32), 0, 10.0, 0.5)
    bank = ex.GaborBank(4, (4.0,), stride=2)
    res = search.score_gallery(qs, ms, refs, bank, (0.0,), pad=4)
    figs = [views.plot_pairs(refs, qs, ms, labels, 3), views.plot_cmc(res.scores, labels),
            views.plot_feature_maps(refs[0], bank(refs[:1, None]), (0, 1, 2))]
    explorer = views.MatchExplorer(qs, ms, refs, labels, bank, (-5.0, 5.0), pad=4)
    fig = explorer.figure(1, 0.2, 5.0, 1.0, "cosine")
    figs.append(fig)
    tpl, tm, r = explorer.run(1, 0.2, 5.0, 1.0)
    maps = search.sliding_scores(explorer.ref_feats[:1], tpl[:1], tm[:1], channels=True).channels[0, 0]
    figs.append(views.plot_channel_maps(maps, (0, 0)))
    assert all(isinstance(f, Figure) for f in figs)
    titles = [a.get_title() for a in fig.axes]
    assert "query 1" in titles and sum("✔" in t for t in titles) <= 1
    assert "gains 0.2 / 5" in fig._suptitle.get_text()
    cmc_lines = figs[1].axes[0].get_lines()
    assert len(cmc_lines) == len(res.scores) + 1  # one curve per score + chance
    for f in figs:
        matplotlib.pyplot.close(f)


def test_exercises_accept_the_answer_and_reject_wrong_ones():
    def mine(x, y):
        xc, yc = x - x.mean((1, 2), keepdims=True), y - y.mean((1, 2), keepdims=True)
        return np.mean((xc * yc).sum((1, 2)) / np.sqrt((xc ** 2).sum((1, 2)) * (yc ** 2).sum((1, 2))))

    def joint(x, y):
        return np.corrcoef(x.ravel(), y.ravel())[0, 1]

    assert check("mcncc.1", mine) and not check("mcncc.1", joint) and not check("mcncc.1", 0.5)
    x, y = E.exercise_maps()
    assert check("mcncc.2", ncc3d(x, y).item()) and not check("mcncc.2", 1.0)
    s, lab = E.exercise_scores()
    assert check("mcncc.3", (metrics.ranks(s, lab) <= 2).mean())
    assert check("mcncc.4", 38 * 14) and not check("mcncc.4", 77 * 33)
    assert check("mcncc.5", (0.1, 10.0, 0.0))
    assert not check("mcncc.5", (1.0, 1.0, 0.0)) and not check("mcncc.5", (-1.0, 1.0, 0.0))
