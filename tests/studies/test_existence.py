"""The existence study (thesis ch. 4) on its quick profile: the finding, asserted, and one stored
value recomputed from scratch.

The quick profile is seeded and the heads are convex fits, so the run is deterministic; its only
randomness is the base network's training seed. The bounds below come from running the profile
with five base seeds (``simfunc run existence --set base.seed=S``; everything else the quick
profile's: a CNN pretrained on digits 0-4, odd vs even over all ten digits, 360 test images):

    seed   JSD at d_ratio 0 / 0.25 / 0.5 / 0.8 / 0.9   rank at 0 / 0.9   control JSD   Net1 acc.
     0     0.805 / 0.781 / 0.736 / 0.611 / 0.516       −1.000 / −0.800      0.039        0.975
     1     0.784 / 0.760 / 0.696 / 0.570 / 0.471       −1.000 / −0.878      0.029        0.967
     2     0.785 / 0.750 / 0.696 / 0.595 / 0.529       −1.000 / −0.883      0.024        0.981
     3     0.785 / 0.761 / 0.703 / 0.567 / 0.463       −1.000 / −0.811      0.029        0.978
     4     0.729 / 0.707 / 0.658 / 0.541 / 0.505       −1.000 / −0.783      0.025        0.969
    (seed 0 is the profile's: this test; control JSD is the largest over the five d_ratios)

At d_ratio 0 the base features' CKA and CCA are 1 (to rounding: the same frozen base on the same
images) while JSD is large and the rank coefficient close to −1 in every seed; JSD falls at every
step of d_ratio in every seed (the thesis: 0.59 → 0.29), and the rank coefficient rises towards
0 (−0.95 → −0.70) from d_ratio 0 to 0.9 in every seed — though not at every step (seeds 1 and 2
dip between 0.8 and 0.9), so only its end points are asserted. JSD(0) − JSD(0.9) spans
0.223–0.321. The bounds leave room beyond the spread.

The scorecard's verdicts are the same in all five seeds: 24 reproduced, 5 not comparable (the
accuracy cells: odd vs even digits is not the thesis's task). Over the five, the rules' margins:
the rank coefficient at d_ratio 0.9 is −0.783 … −0.878 (rule ≤ −0.5), JSD at 0.9 0.463 … 0.529
(≥ 0.25), the rank coefficient's rise 0.117 … 0.217 (≥ 0.05), Net1's accuracy falls by
0.067 … 0.114 (0.975 → 0.908 in seed 0; ≥ 0.02), the control's largest share of the JSD
0.041 … 0.076 (≤ 0.25).

The finding alone does not notice a study that computes it on the wrong data. So one stored value
is recomputed independently: Net1's and Net2's masked features at d_ratio 0.5 (the base run on
the digits test split, the kept dimensions sliced out by the documented rule) and their outputs
(the stored heads applied by hand) must give the CKA and JSD the study stored.

The scorecard: every one of Table 4.1's 25 cells must carry this run's value at its own d_ratio
(read back from the results database by SQL, not through the study's code) and the thesis's
value at that d_ratio (parsed from the thesis's text, not copied here). A planted fault — the
sweep's rows read one d_ratio off, or the thesis's rows shifted by one — must be caught.
"""

from __future__ import annotations

import math
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from simfunc import InputError, functional, representational
from simfunc.scorecard import Scorecard, Verdict, judge_point
from simfunc.studies.existence import prose
from simfunc.studies.existence.jobs import feature_masks, kept_ranges
from simfunc.studies.existence.result import ControlRow, ExistenceResult, SweepRow
from simfunc.studies.framework import StudyResult, run_study

from study_checks import THESIS_FILE, summary_reads_back, thesis_text

pytestmark = pytest.mark.usefixtures("one_torch_thread")

JSD_AT_ZERO = 0.6  # bits; measured 0.729 … 0.805
RANK_AT_ZERO = -0.9  # measured −1.000 in every seed
JSD_DROP = 0.15  # JSD(0) − JSD(0.9); measured 0.223 … 0.321
CONTROL_JSD = 0.1  # the control pair's largest JSD; measured 0.024 … 0.039


# ------------------------------------------------------------------------------ d_ratio


@pytest.mark.parametrize("dim, d_ratio, first, last", [
    (10, 0.0, (0, 10), (0, 10)),     # nothing masked: both see everything
    (10, 0.25, (0, 7), (3, 10)),     # 2.5 rounds half up to 3 masked
    (10, 0.5, (0, 5), (5, 10)),      # disjoint halves
    (10, 0.9, (0, 1), (9, 10)),      # each keeps its own 10 %
    (512, 0.9, (0, 51), (461, 512)),
])
def test_kept_ranges_follow_the_documented_definition(dim, d_ratio, first, last):
    assert kept_ranges(dim, d_ratio) == (first, last)
    masks = feature_masks(dim, d_ratio)
    assert masks["first"].sum() == first[1] - first[0]
    assert masks["first"][: first[1]].all() and masks["last"][last[0]:].all()


def test_kept_sets_are_disjoint_from_half_on():
    for d_ratio in (0.5, 0.8, 0.9):
        masks = feature_masks(128, d_ratio)
        assert not (masks["first"] & masks["last"]).any()
    assert (feature_masks(128, 0.25)["first"] & feature_masks(128, 0.25)["last"]).sum() == 64


@pytest.mark.parametrize("d_ratio", [1.0, -0.1, float("nan"), True])
def test_bad_d_ratio_is_refused(d_ratio):
    with pytest.raises(InputError, match="d_ratio"):
        kept_ranges(10, d_ratio)


def test_a_d_ratio_that_masks_everything_is_refused():
    with pytest.raises(InputError, match="masks all"):
        kept_ranges(1, 0.9)


def test_the_plan_refuses_bad_sweeps():
    from simfunc.studies.existence import STUDY

    with pytest.raises(InputError, match="d_ratio"):
        STUDY.plan(STUDY.settings("quick", {"d_ratios": "0,1.5"}))
    with pytest.raises(InputError, match="twice"):
        STUDY.plan(STUDY.settings("quick", {"d_ratios": "0,0.5,0.5"}))


def test_no_profile_claims_the_thesis_input_size():
    """The report says, whatever the profile, that none runs at 224×224 (and why): keep it so."""
    from simfunc.studies.existence import PROFILES
    from simfunc.studies.existence.prose import THESIS_INPUT_SIZE

    assert all(p.base.image_size != THESIS_INPUT_SIZE for p in PROFILES.values())


# ------------------------------------------------------------------------------ Table 4.1

D_RATIOS = ("0", "0.25", "0.5", "0.8", "0.9")
COLUMNS = ("cka", "cca", "jsd", "rank", "accuracy")
CELL_IDS = {f"existence.d{d}.{c}" for d in D_RATIOS for c in COLUMNS}
# the database's (layer, measure) of each column between net1-d<r> and net2-d<r>
DB_CELLS = {"cka": ("base", "linear_cka"), "cca": ("base", "cca"), "jsd": ("output", "jsd"),
            "rank": ("output", "spearman")}


def thesis_table() -> dict[str, dict[str, float]]:
    """Table 4.1 parsed from the thesis's text: {"0.25": {"cka": …, "accuracy": 0.971}};
    accuracy as a fraction (the text prints percent). Skips when the text is not here."""
    text = thesis_text()
    if text is None:
        pytest.skip(f"the thesis's text ({THESIS_FILE}) is not on this machine; set "
                    "SIMFUNC_THESIS_TEXT to its path")
    start = text.index("FIGURE 4.1")
    block = text[start:text.index("TABLE 4.1:", start)]
    number = r"(-?\d+(?:\.\d+)?)"
    table = {}
    for line in block.splitlines():
        match = re.fullmatch(r"\s*" + r"\s+".join([number] * 6) + r"\s*", line)
        if match:
            d, cka, cca, jsd, rank, accuracy = match.groups()
            table[d] = {"cka": float(cka), "cca": float(cca), "jsd": float(jsd),
                        "rank": float(rank), "accuracy": float(accuracy) / 100}
    assert list(table) == list(D_RATIOS), table  # the five rows, in the thesis's order
    return table


def test_the_thesis_table_is_the_thesis_text():
    parsed = thesis_table()
    assert {f"{d:g}" for d in prose.THESIS} == set(parsed)
    for d, row in prose.THESIS.items():
        for column in COLUMNS:
            assert getattr(row, column) == pytest.approx(parsed[f"{d:g}"][column], abs=1e-12), \
                (d, column)


def test_each_cell_rule_accepts_the_thesis_own_table_and_rejects_the_opposite():
    """A rule that the thesis's own cell fails would call the thesis's result unreproduced; a
    rule that accepts the opposite finding (identical outputs, the same ranking, unrelated
    representations) decides nothing. Neither may hold."""
    for d, row in prose.THESIS.items():
        for column in ("cka", "cca", "jsd", "rank"):
            thesis = getattr(row, column)
            rule = prose.cell_rule(column, thesis)
            assert judge_point(thesis, rule).verdict is Verdict.REPRODUCED, (d, column)
        opposite = {"cka": 0.3, "cca": 0.3, "jsd": 0.0, "rank": 0.0}  # unrelated / identical
        for column, value in opposite.items():
            rule = prose.cell_rule(column, getattr(row, column))
            assert judge_point(value, rule).verdict is Verdict.CONTRADICTED, (d, column)
        accuracy = prose.cell_rule("accuracy", row.accuracy)
        assert judge_point(row.accuracy - 0.1, accuracy).verdict is Verdict.CONTRADICTED
        assert judge_point(row.accuracy + 0.02, accuracy).verdict is Verdict.REPRODUCED


def _synthetic_result(d_ratios=(0.0, 0.25, 0.5, 0.8, 0.9)) -> ExistenceResult:
    """A result whose every value names its d_ratio: value = base + d_ratio / 100."""
    rows = tuple(SweepRow(d_ratio=d, kept=1, cka_base=0.95 + d / 100, cca_base=0.94 + d / 100,
                          cka_masked=0.5, cca_masked=0.5, jsd=0.8 - d / 2, rank=-0.99 + d / 2,
                          disagreement=(1 + 0.99 - d / 2) / 2, accuracy_net1=0.97 - d / 5,
                          accuracy_net2=0.96) for d in d_ratios)
    controls = tuple(ControlRow(d_ratio=d, cka_base=None, cca_base=None, cka_masked=None,
                                cca_masked=None, jsd=0.01, rank=0.9, disagreement=None,
                                accuracy_control=None) for d in d_ratios)
    return ExistenceResult(base_accuracy=None, input_size=32, feature_dim=512, rows=rows,
                           controls=controls)


def test_each_cell_carries_its_own_d_ratio_and_a_missing_one_is_not_comparable():
    from simfunc.studies.existence import PROFILES

    result = _synthetic_result((0.0, 0.5, 0.8, 0.9, 0.3))  # 0.25 left out; 0.3 not the thesis's
    rows = {r.id: r for r in prose.thesis_rows(result, PROFILES["paper"]) if r.id}
    assert set(rows) == CELL_IDS | {"existence.jsd_falls", "existence.rank_rises",
                                    "existence.accuracy_falls", "existence.control"}
    by_d = {f"{r.d_ratio:g}": r for r in result.rows}
    keys = {"cka": "cka_base", "cca": "cca_base", "jsd": "jsd", "rank": "rank",
            "accuracy": "accuracy_net1"}
    for d in ("0", "0.5", "0.8", "0.9"):
        for column, key in keys.items():
            assert rows[f"existence.d{d}.{column}"].value == getattr(by_d[d], key), (d, column)
    for column in COLUMNS:
        missing = rows[f"existence.d0.25.{column}"]
        assert missing.value is None and missing.judgement.verdict is Verdict.NOT_COMPARABLE
        assert "0.25" in missing.judgement.why
    # the trend runs over the sweep in d_ratio order, the extra 0.3 included
    assert rows["existence.jsd_falls"].value == pytest.approx(by_d["0.9"].jsd - by_d["0"].jsd)


def test_accuracy_is_judged_only_on_the_thesis_task_and_base():
    from simfunc.studies.existence import PROFILES

    result = _synthetic_result()
    for profile in ("quick", "standard"):
        reason = prose.accuracy_not_comparable(PROFILES[profile])
        assert reason is not None
        rows = {r.id: r for r in prose.thesis_rows(result, PROFILES[profile]) if r.id}
        assert all(rows[f"existence.d{d}.accuracy"].judgement.verdict
                   is Verdict.NOT_COMPARABLE for d in D_RATIOS)
    assert "not Cats vs Dogs" in prose.accuracy_not_comparable(PROFILES["quick"])
    assert "not ImageNet32" in prose.accuracy_not_comparable(PROFILES["standard"])
    assert prose.accuracy_not_comparable(PROFILES["paper"]) is None
    rows = {r.id: r for r in prose.thesis_rows(result, PROFILES["paper"]) if r.id}
    # Net1's accuracy 0.97 − d_ratio / 5: 0.007 from the thesis's 0.977 at d_ratio 0, then
    # 0.92 vs 0.971, 0.87 vs 0.964, 0.81 vs 0.935, 0.79 vs 0.895 (all more than 0.05 off)
    verdicts = [rows[f"existence.d{d}.accuracy"].judgement.verdict for d in D_RATIOS]
    assert verdicts == [Verdict.REPRODUCED] + [Verdict.CONTRADICTED] * 4


# ------------------------------------------------------------------------------ the quick run


@pytest.fixture(scope="module")
def root(study_root):
    return study_root  # cache/ is the session's shared study cache (conftest.py)


@pytest.fixture(scope="module")
def quick(root) -> StudyResult:
    return run_study("existence", "quick", out=root / "runs", cache_dir=root / "cache", jobs=1,
                     progress=False)


def _rows(quick: StudyResult) -> dict[float, SweepRow]:
    return {row.d_ratio: row for row in quick.result.rows}


@pytest.mark.slow
def test_identical_representations_opposite_functions_at_d_ratio_zero(quick):
    """The thesis's Table 4.1 at d_ratio 0: CKA 0.99, CCA 0.99, JSD 0.59, rank −0.95."""
    first = _rows(quick)[0.0]
    assert first.cka_base == pytest.approx(1.0, abs=1e-9)
    assert first.cca_base == pytest.approx(1.0, abs=1e-6)
    assert first.cka_masked == pytest.approx(1.0, abs=1e-9)  # nothing masked at d_ratio 0
    assert first.jsd > JSD_AT_ZERO, first.jsd
    assert first.rank < RANK_AT_ZERO, first.rank
    # with two classes the rank coefficient is 1 − 2 × disagreement, image by image
    assert first.rank == pytest.approx(1 - 2 * first.disagreement, abs=1e-9)


@pytest.mark.slow
def test_jsd_falls_and_the_rank_coefficient_rises_as_more_features_are_masked(quick):
    """The thesis: JSD 0.59 → 0.29 and rank −0.95 → −0.70 as d_ratio goes 0 → 0.9."""
    rows = _rows(quick)
    assert sorted(rows) == [0.0, 0.25, 0.5, 0.8, 0.9]
    jsd = [rows[d].jsd for d in sorted(rows)]
    rank = [rows[d].rank for d in sorted(rows)]
    assert all(b < a for a, b in zip(jsd, jsd[1:])), jsd
    assert jsd[0] - jsd[-1] > JSD_DROP, jsd
    assert rank[-1] > rank[0] and all(r < 0 for r in rank), rank
    for d, row in rows.items():  # the base features stay identical whatever the masks
        assert row.cka_base == pytest.approx(1.0, abs=1e-9), d


@pytest.mark.slow
def test_the_control_net_shows_the_gap_comes_from_the_labels(quick):
    controls = quick.result.controls
    assert len(controls) == 5 and summary_reads_back(quick)
    assert max(c.jsd for c in controls) < CONTROL_JSD
    assert all(c.rank > 0 for c in controls)


def _database_cells(run_dir: Path) -> dict[str, float]:
    """Each cell of Table 4.1 as the results database holds it for net1-d<r> vs net2-d<r>
    (Net1's accuracy from the models table), read by SQL: {"existence.d0.5.jsd": value}."""
    cells = {}
    with sqlite3.connect(run_dir / "results.sqlite") as connection:
        for d in D_RATIOS:
            pairs = {(layer, measure): value for layer, measure, value in connection.execute(
                "SELECT layer, measure, value FROM pairs WHERE model_a = ? AND model_b = ?",
                (f"net1-d{d}", f"net2-d{d}"))}
            for column, key in DB_CELLS.items():
                cells[f"existence.d{d}.{column}"] = pairs[key]
            (accuracy,), = connection.execute(
                "SELECT accuracy FROM models WHERE model_id = ?", (f"net1-d{d}",))
            cells[f"existence.d{d}.accuracy"] = accuracy
    return cells


def cell_mismatches(card: Scorecard, database: dict[str, float],
                    thesis: dict[str, dict[str, float]] | None) -> list[str]:
    """The Table 4.1 cells of ``card`` whose value is not the database's at the cell's d_ratio,
    or (``thesis`` given) whose thesis value is not the thesis text's cell."""
    wrong = []
    for row in card.rows:
        if row.id not in CELL_IDS:
            continue
        d, column = row.id.removeprefix("existence.d").rsplit(".", 1)
        if row.value is None or not math.isclose(row.value, database[row.id], abs_tol=1e-12):
            wrong.append(f"{row.id}: value {row.value} but the database has {database[row.id]}")
        if thesis is not None and not math.isclose(row.thesis, thesis[d][column], abs_tol=1e-12):
            wrong.append(f"{row.id}: thesis {row.thesis} but the thesis's text has "
                         f"{thesis[d][column]}")
    return wrong


@pytest.mark.slow
def test_the_scorecard_holds_table_4_1_at_the_right_d_ratios(quick):
    """scorecard.json (as written by the run): exactly the 25 cells, the three trends and the
    control; every cell this run's value at its own d_ratio and the thesis's cell from its
    text; verdicts by the declared rules."""
    card = Scorecard.read(quick.run_dir)
    rows = {row.id: row for row in card.rows}
    assert set(rows) == CELL_IDS | {"existence.jsd_falls", "existence.rank_rises",
                                    "existence.accuracy_falls", "existence.control"}
    assert cell_mismatches(card, _database_cells(quick.run_dir), thesis_table()) == []
    for claim_id, row in rows.items():
        if claim_id == "existence.control":  # simfunc's own, not credited to the thesis
            assert (row.source, row.section, row.thesis) == ("simfunc", None, None)
        else:
            assert (row.source, row.section) == ("thesis", "4")
            assert "input 8×8, not 224×224" in row.differs and "digits" in row.differs
    by_verdict = {v: sorted(i for i, r in rows.items() if r.verdict is v) for v in Verdict}
    # quick's task is odd vs even digits: its accuracy cannot stand beside Cats vs Dogs'
    assert by_verdict[Verdict.NOT_COMPARABLE] == sorted(f"existence.d{d}.accuracy"
                                                        for d in D_RATIOS)
    assert by_verdict[Verdict.CONTRADICTED] == by_verdict[Verdict.INCONCLUSIVE] == []
    # the rules, applied here to the stored values: CKA, CCA ≥ 0.9; JSD ≥ 0.25; rank ≤ −0.5
    for d in D_RATIOS:
        assert rows[f"existence.d{d}.cka"].value >= 0.9 and rows[f"existence.d{d}.cca"].value >= 0.9
        assert rows[f"existence.d{d}.jsd"].value >= 0.25
        assert rows[f"existence.d{d}.rank"].value <= -0.5
    assert rows["existence.jsd_falls"].value < 0 < rows["existence.rank_rises"].value
    assert rows["existence.accuracy_falls"].value < 0
    counts = card.counts()
    assert counts == {"reproduced": 24, "contradicted": 0, "inconclusive": 0,
                      "not comparable": 5}


def _copy_run(quick: StudyResult, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(quick.run_dir, copy)
    return copy


@pytest.mark.slow
def test_a_cell_read_from_the_wrong_d_ratio_is_caught(quick, tmp_path, monkeypatch):
    """Planted fault: the analysis reads the sweep's rows one d_ratio off (each row labelled
    with the next d_ratio). Rebuilt from the same database, its scorecard must fail the check
    the run passed."""
    import simfunc.studies.existence as existence
    from simfunc.studies.framework import rebuild_study

    database = _database_cells(quick.run_dir)
    original = existence.sweep_frame

    def shifted(db):
        frame = original(db)
        flipped = frame["pair"] == "flipped"
        ratios = sorted(frame.loc[flipped, "d_ratio"])
        following = dict(zip(ratios, ratios[1:] + ratios[:1]))
        frame.loc[flipped, "d_ratio"] = frame.loc[flipped, "d_ratio"].map(following)
        return frame

    monkeypatch.setattr(existence, "sweep_frame", shifted)
    card = rebuild_study(_copy_run(quick, tmp_path)).scorecard
    wrong = cell_mismatches(card, database, None)
    # every column at every d_ratio is off (CKA and CCA are 1 throughout, so they cannot show it)
    off = {w.split(":")[0] for w in wrong}
    for d in D_RATIOS:
        for column in ("jsd", "rank", "accuracy"):
            assert f"existence.d{d}.{column}" in off, (d, column, wrong)


@pytest.mark.slow
def test_a_thesis_row_shifted_by_one_d_ratio_is_caught(quick, tmp_path, monkeypatch):
    """Planted fault: the thesis's Table 4.1 rows one d_ratio off in the study's copy."""
    from simfunc.studies.framework import rebuild_study

    text = thesis_table()
    ratios = list(prose.THESIS)
    shifted = {d: prose.THESIS[ratios[(i + 1) % len(ratios)]] for i, d in enumerate(ratios)}
    monkeypatch.setattr(prose, "THESIS", shifted)
    card = rebuild_study(_copy_run(quick, tmp_path)).scorecard
    wrong = cell_mismatches(card, _database_cells(quick.run_dir), text)
    off = {w.split(":")[0] for w in wrong if ": thesis " in w}
    # CKA and CCA are 0.99 in every row of the thesis: the shift shows in the other columns
    assert off == {f"existence.d{d}.{c}" for d in D_RATIOS for c in ("jsd", "rank", "accuracy")}


@pytest.mark.slow
def test_a_stored_value_recomputed_independently(quick, root):
    """Net1 vs Net2 at d_ratio 0.5 from scratch: the base (from the cache) on the digits test
    split, the kept dimensions sliced by the documented rule, the stored heads applied by hand."""
    import sqlite3

    import torch

    from simfunc.data import load
    from simfunc.extract import activations
    from simfunc.train.supervised import load_model

    with sqlite3.connect(quick.run_dir / "results.sqlite") as connection:
        stored = {(layer, measure): value for layer, measure, value in connection.execute(
            "SELECT layer, measure, value FROM pairs WHERE model_a = 'net1-d0.5' AND "
            "model_b = 'net2-d0.5'")}
        artifacts = dict(connection.execute("SELECT model_id, artifact FROM models"))
    base = load_model(root / "cache" / artifacts["base"])
    test = load("digits", "test", image_size=base.input_size, channels=base.in_channels)
    features = activations(base, test, ["features"], dtype=np.float64)["features"]
    dim = features.shape[1]
    kept = dim - math.floor(0.5 * dim + 0.5)
    first, last = features[:, :kept], features[:, dim - kept:]
    assert stored[("masked", "linear_cka")] == pytest.approx(
        representational.linear_cka(first, last), abs=1e-6)
    assert stored[("base", "linear_cka")] == pytest.approx(1.0, abs=1e-9)
    heads = torch.load(root / "cache" / artifacts["net1-d0.5"] / "heads.pt", weights_only=True)
    logits = {}
    for role, part, columns in (("net1", first, slice(0, kept)),
                                ("net2", last, slice(dim - kept, dim))):
        weight = heads[role]["weight"].double().numpy()
        masked = np.ones(dim, dtype=bool)
        masked[columns] = False
        assert not weight[:, masked].any()  # the head reads only the kept dimensions
        logits[role] = part @ weight[:, columns].T + heads[role]["bias"].double().numpy()
    for name in ("jsd", "spearman"):
        expected = functional.OUTPUT_MEASURES[name](logits["net1"], logits["net2"],
                                                    from_logits=True)
        assert stored[("output", name)] == pytest.approx(expected, abs=1e-5), name


@pytest.mark.slow
def test_a_composed_network_rebuilt_from_the_cache_gives_the_compared_outputs(quick, root):
    import sqlite3

    from simfunc.data import load
    from simfunc.extract import activations
    from simfunc.studies.existence.jobs import load_head_activations, load_masked_net

    with sqlite3.connect(quick.run_dir / "results.sqlite") as connection:
        artifacts = dict(connection.execute("SELECT model_id, artifact FROM models"))
    cache = root / "cache"
    net2 = load_masked_net(cache / artifacts["base"], cache / artifacts["net2-d0.5"], "net2")
    stored = load_head_activations(cache / artifacts["net2-d0.5"])
    test = load("digits", "test", image_size=8, channels=1)
    assert np.array_equal(activations(net2, test, ["logits"])["logits"], stored["net2/logits"])
    with pytest.raises(InputError, match="role"):
        load_masked_net(cache / artifacts["base"], cache / artifacts["net2-d0.5"], "net3")


@pytest.mark.slow
def test_the_report_rebuilds_identically(quick):
    from simfunc.reproduce import rebuild

    run_dir = quick.run_dir
    before = {name: (run_dir / name).read_text() for name in ("report.html", "scorecard.json")}
    for name in before:
        (run_dir / name).unlink()
    rebuild(run_dir)
    assert {name: (run_dir / name).read_text() for name in before} == before
