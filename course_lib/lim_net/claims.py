"""Claims of the LIM-Net series, the notebook ledgers and ``run(scale, device)``, which measures every claim
applicable at a scale.

Thresholds were calibrated once on the first course-scale run and then frozen. The paper's own numbers (Table I:
DSC % after 6 rounds on KiTS19 / MSD) are quoted as the anchor only -- they are on other data with expert labels;
ours use TotalSegmentator pseudo-GT at 96x96. Claims about the CT/MR volumes declare ``data="totalseg_examples"``
and are skipped (never measured on the synthetic stand-in) when the volumes are unavailable.
"""
from __future__ import annotations

from course_lib.claims import Claim, Ledger, dataset, generated

PAPER = "lim_net"
DATA = "totalseg_examples"
ALL, CF = ("smoke", "course", "full"), ("course", "full")
SYNTHETIC = generated("synthetic organ-like volumes (held out, seeds 9000+)")
MODEL = generated("the model definition (parameter count)")

TABLE_I = ("Table I (transcribed from the project page's table1.png; verify against the PDF): LIM-Net with MRF, "
           "DSC % after 6 points: KiTS19 organ 97.3, KiTS19 tumor 89.2, MSD lung 83.3, MSD colon 81.4; "
           "w/o MRF 96.8 / 84.8 / 83.0 / 77.1")


def _c(**kw) -> Claim:
    return Claim(**kw)


CLAIMS = [
    _c(id="lim_net.oracle_mrf_property",
       statement="Oracle MRF never increases the per-slice error of either input round and every fused slice "
                 "equals one of the two candidates (exact property), on synthetic volumes.",
       paper_value="MRF keeps the better slice of rounds t and t+1", source="paper Fig. 1 (MRF module)",
       metric="violating slices over all round pairs (count)", op="<=", threshold=0.0, scales=ALL),
    _c(id="lim_net.oracle_mrf_property_real",
       statement="The same exact oracle-MRF property on the CT organs (test A).",
       paper_value="MRF keeps the better slice of rounds t and t+1", source="paper Fig. 1 (MRF module)",
       metric="violating slices over all round pairs (count)", op="<=", threshold=0.0, scales=CF, data=DATA),
    _c(id="lim_net.smoke_dice",
       statement="Smoke: the cached course-scale weights (trained on synthetic volumes and CT bones/muscles) reach "
                 "Dice >= 0.6 after 3 rounds on held-out synthetic volumes (a pipeline sanity check; smoke does "
                 "not train these weights).",
       paper_value="n/a (pipeline sanity check)", source="this course",
       metric="mean 3D Dice after round 3 (LIM-Net with MRF)", op=">=", threshold={"smoke": 0.6},
       scales=("smoke",)),
    _c(id="lim_net.test_a_dice",
       statement="Test A (unseen abdominal organs, CT): mean 3D Dice after 6 rounds >= 0.70.",
       paper_value=TABLE_I, source="paper Table I (other data, not comparable)",
       metric="mean 3D Dice after round 6, LIM-Net (MRF)", op=">=", threshold={"course": 0.70, "full": 0.70},
       scales=CF, data=DATA),
    _c(id="lim_net.test_a_gain",
       statement="Test A: more rounds help -- Dice after 6 rounds >= round-1 Dice + 0.05.",
       paper_value="MRF curves rise from round 1 to 15 (mrf-effectiveness.png, values ≈ read off the plot)",
       source="paper, MRF-effectiveness figure", metric="Dice(round 6) - Dice(round 1), LIM-Net (MRF)", op=">=",
       threshold={"course": 0.05, "full": 0.05}, scales=CF, data=DATA),
    _c(id="lim_net.copy_works_adjacent",
       statement="Copying a correct mask works where it should: on the slice next to the reference slice it "
                 "keeps slice Dice >= 0.85 on the test-A organs (propagation diagnostic, gap 1).",
       paper_value="n/a (baseline sanity check)", source="this course",
       metric="mean slice Dice of the copied ground-truth mask at gap 1, test A", op=">=",
       threshold={"course": 0.85, "full": 0.85}, scales=CF, data=DATA),
    _c(id="lim_net.propagation_vs_copy",
       statement="Memory propagation beats '2D net on the interacted slices + copy the nearest mask' by >= 0.10 "
                 "Dice at round 6.",
       paper_value="not reported (course ablation)", source="paper Fig. 1 (memory model)",
       metric="Dice(no-MRF propagation) - Dice(copy nearest), round 6, test A", op=">=",
       threshold={"course": 0.10, "full": 0.10}, scales=CF, data=DATA, baseline="copy nearest",
       partner="lim_net.copy_works_adjacent"),
    _c(id="lim_net.propagation_gap8",
       statement="Propagation diagnostic: slice Dice of memory propagation minus copying the reference mask, "
                 "8 slices from a ground-truth reference slice, test A (reported).",
       paper_value="not reported", source="this course",
       metric="Dice(propagation) - Dice(copy), gap 8, test A", op="report", scales=CF, data=DATA),
    _c(id="lim_net.mrf_vs_none",
       statement="Learned MRF is not worse than no MRF at round 6 (>= no-MRF - 0.01).",
       paper_value="Table I: w/ MRF 97.3 / 89.2 / 83.3 / 81.4 vs w/o 96.8 / 84.8 / 83.0 / 77.1",
       source="paper Table I (verify against the PDF)",
       metric="Dice(MRF) - Dice(no MRF), round 6, test A", op=">=", threshold={"course": -0.01, "full": -0.01},
       scales=CF, data=DATA),
    _c(id="lim_net.mrf_beats_latest",
       statement="On the slices where rounds t and t+1 differ, the learned MRF picks the oracle's choice more "
                 "often than 'always take the latest round' does (its agreement is above chance).",
       paper_value="MRF keeps the better slice of rounds t and t+1 (learned scorer)",
       source="paper Fig. 1 (MRF module)",
       metric="agreement(learned MRF, oracle) - agreement(latest round, oracle), differing slices, test A",
       op=">=", threshold={"course": 0.02, "full": 0.02}, scales=CF, data=DATA),
    _c(id="lim_net.mrf_monotone",
       statement="The learned-MRF Dice-vs-round curve (test A mean) is non-decreasing in >= 80% of transitions "
                 "(the paper's own curves are not strictly monotone).",
       paper_value="≈ rising curves with small dips (mrf-effectiveness.png)", source="paper, MRF-effectiveness figure",
       metric="fraction of non-decreasing transitions", op=">=", threshold={"course": 0.8, "full": 0.8},
       scales=CF, data=DATA),
    _c(id="lim_net.vs_random_walker_a",
       statement="Test A: LIM-Net (MRF) is at least as good as the seeded 3D random walker after 6 rounds.",
       paper_value="zero-shot claims are qualitative (BTCV, EndoVis18)", source="paper (zero-shot claims)",
       metric="Dice(LIM-Net MRF) - Dice(random walker), round 6, test A", op=">=",
       threshold={"course": 0.0, "full": 0.0}, scales=CF, data=DATA),
    _c(id="lim_net.test_b_dice",
       statement="Test B (unseen modality: the MR volume) -- reported whatever it is (start value 0.55).",
       paper_value="zero-shot claims are qualitative (BTCV, EndoVis18)", source="paper (zero-shot claims)",
       metric="mean 3D Dice after round 6, LIM-Net (MRF)", op="report", scales=CF, data=DATA),
    _c(id="lim_net.vs_random_walker_b",
       statement="Test B (MR): LIM-Net (MRF) is at least as good as the seeded 3D random walker after 6 rounds.",
       paper_value="zero-shot claims are qualitative (BTCV, EndoVis18)", source="paper (zero-shot claims)",
       metric="Dice(LIM-Net MRF) - Dice(random walker), round 6, test B", op=">=",
       threshold={"course": 0.0, "full": 0.0}, scales=CF, data=DATA),
    _c(id="lim_net.click_params",
       statement="The 2D interaction network is lightweight (about 0.5 M parameters at course scale).",
       paper_value="HRNet click network (size [not retrieved])", source="paper Section 3 (2D interaction module)",
       metric="parameters of the 2D click U-Net", op="report"),
    _c(id="lim_net.memory_ratio",
       statement="Peak memory of one interaction round, LIM-Net / 3D U-Net peer (same volume, in-process).",
       paper_value="'lightweight, low memory' (no number retrieved)", source="paper title",
       metric="peak extra MiB ratio", op="report", scales=CF, data=DATA),
    _c(id="lim_net.time_ratio",
       statement="Seconds of one interaction round, LIM-Net / 3D U-Net peer (same volume).",
       paper_value="31 FPS 3D inference (author CV, GPU; verify against the PDF)", source="author CV (not the paper)",
       metric="seconds ratio", op="report", scales=CF, data=DATA),
]

_NB1 = ("lim_net.oracle_mrf_property", "lim_net.click_params")
_NOTEBOOK = {1: _NB1, 2: tuple(c.id for c in CLAIMS if c.id not in _NB1), 3: ("lim_net.oracle_mrf_property_real",)}


def make_ledger(scale: str | None = None, notebook: int | None = None) -> Ledger:
    """An empty ledger of this series' claims at ``scale``; for ``notebook`` 1, 2 or 3 only the claims that
    notebook measures (the others read "not measured here")."""
    return Ledger.scoped(PAPER, CLAIMS, scale, notebook, _NOTEBOOK)


def record_values(ledger: Ledger, values: dict[str, tuple[float, str]], *, real_available: bool) -> list[str]:
    """Record ``{claim id: (value, note)}`` with provenance; returns the ids recorded.

    Claims about the CT/MR volumes get ``dataset("totalseg_examples")``; when the volumes were unavailable
    (``real_available=False``) they are **not** recorded from the synthetic stand-in:
    ``ledger.unavailable`` marks them skipped. Other claims are on generated data (synthetic volumes, the
    model definition). Values for claims not applicable at the ledger's scale are ignored.
    """
    if not real_available:
        ledger.unavailable(DATA)
    done = []
    for cid, (value, note) in values.items():
        claim = ledger.claims.get(cid)
        if claim is None:
            raise KeyError(f"no claim {cid!r} in the LIM-Net ledger")
        if ledger.scale not in claim.scales:
            continue
        if claim.data:
            if not real_available:
                continue
            source = dataset(DATA)
        else:
            source = MODEL if cid == "lim_net.click_params" else SYNTHETIC
        ledger.record(cid, value, note, source=source)
        done.append(cid)
    return done


def run(scale: str, device=None) -> Ledger:
    """Measure every claim applicable at ``scale`` (load the cached weights, evaluate the protocol, record)."""
    from course_lib.lim_net.experiments import full_protocol

    ledger = make_ledger(scale)
    results = full_protocol(scale, device=device, progress=False)
    record_values(ledger, results["claims"], real_available=not results["data"].is_synthetic_fallback)
    return ledger
