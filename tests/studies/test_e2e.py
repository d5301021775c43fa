"""The image-classifier studies end to end, at a test-only size: train, extract, compare,
analyse, report — then a rerun from the cache and a rebuild from the database."""

from __future__ import annotations

import html
import json
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import pytest

from simfunc.measure import Measure
from simfunc.reproduce import rebuild, reproduce
from simfunc.studies.framework import STUDIES, run_study

pytestmark = pytest.mark.slow

IMAGE_STUDIES = ("dataset-bias", "cross-dataset", "architectures", "checkpoints")

# Smaller than the quick profile: one epoch, a few small networks, few examples.
TINY = {
    "dataset-bias": {"training.epochs": 1, "test_subset": 40, "tsne_points": 20,
                     "image_size": 8, "n_resamples": 200},
    "cross-dataset": {"arch": "mlp", "seeds": "0,1", "untrained_seeds": "100",
                      "training.epochs": 1, "test_subset": 60, "image_size": 8,
                      "n_permutations": 200, "n_resamples": 200},
    "architectures": {"archs": "mlp,cnn", "seeds": "0,1", "training.epochs": 1, "image_size": 8,
                      "n_permutations": 200, "n_resamples": 200},
    "checkpoints": {"archs": "mlp", "lrs": "0.05,0.01", "seeds": "0", "training.epochs": 3,
                    "image_size": 8, "n_permutations": 200, "n_resamples": 200},
}


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.sections: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.sources.append(attrs.get("src", ""))
        if tag == "section":
            self.sections.append(attrs.get("id", ""))


def parse_report(path: Path) -> _Images:
    parser = _Images()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    root = tmp_path_factory.mktemp("studies")
    report, results = reproduce("quick", studies=IMAGE_STUDIES, out=root / "runs",
                                cache_dir=root / "cache", overrides=TINY, jobs=1,
                                progress=False)
    return root, report, {r.name: r for r in results}


def test_every_study_writes_its_run_directory(reproduced):
    _, _, results = reproduced
    for name in IMAGE_STUDIES:
        run_dir = results[name].run_dir
        assert run_dir.name == f"{name}-quick"
        for item in ("results.sqlite", "summary.json", "report.html", "figures", "csv"):
            assert (run_dir / item).exists(), f"{name}: {item} missing"
        assert list((run_dir / "figures").glob("*.png")), name
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["study"] == name and summary["profile"] == "quick"
        report = parse_report(run_dir / "report.html")
        assert report.sources and all(s.startswith("data:image/png;base64,") for s in report.sources)
        assert_names_the_machine(run_dir / "report.html")


def assert_names_the_machine(report_path):
    """A report's header says which CPU and torch kernels wrote it (float32 results move a
    little from one CPU to another: simfunc.machine)."""
    from simfunc.machine import this_machine

    text = html.unescape(report_path.read_text(encoding="utf-8"))
    start = text.index('<div class="meta">')
    header = text[start:text.index("</div>", start)]
    assert f"machine: {this_machine().describe()}" in header


def test_the_combined_report_names_the_machine_and_says_why(reproduced):
    _, report, _ = reproduced
    assert_names_the_machine(report)
    assert "bit for bit" in html.unescape(report.read_text(encoding="utf-8"))


def test_report_rebuilds_on_the_command_line_and_prints_the_scorecard_and_machine(reproduced,
                                                                                   capsys):
    from simfunc.cli import main
    from simfunc.machine import this_machine

    _, report, _ = reproduced
    assert main(["report", str(report.parent)]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Scorecard (quick profile)"))
    card = json.loads((report.parent / "scorecard.json").read_text())
    assert len(lines) == start + len(card["rows"]) + 3  # header, a line a claim, counts, machine
    assert lines[-1] == (f"  machine: {this_machine().describe()} (another CPU may round "
                         "differently)")


def test_pairs_are_complete_and_within_their_bounds(reproduced):
    from simfunc import functional, representational

    _, _, results = reproduced
    registry: dict[str, Measure] = {**representational.MEASURES, **functional.OUTPUT_MEASURES}
    expected_pairs = {"architectures": 2 * 6, "cross-dataset": 3 * 10, "checkpoints": 2 * 3}
    for name, count in expected_pairs.items():
        with sqlite3.connect(results[name].run_dir / "results.sqlite") as connection:
            rows = connection.execute(
                "SELECT model_a, model_b, test_set, measure, value FROM pairs").fetchall()
        pairs = {(a, b, t) for a, b, t, _, _ in rows}
        assert len(pairs) == count, name
        recorded = {m for *_, m, _ in rows}
        assert {"linear_cka", "debiased_cka", "procrustes", "rsa", "jsd"} <= recorded or (
            name == "cross-dataset" and "jsd" not in recorded  # outputs are not compared there
        ), (name, recorded)
        for *_, measure, value in rows:
            low, high = registry[measure].bounds
            assert low - 1e-9 <= value <= high + 1e-9, (name, measure, value)


def test_architectures_summary(reproduced):
    _, _, results = reproduced
    result = results["architectures"].result
    assert result.n_pairs == 6 and result.n_untrained_pairs == 6
    with sqlite3.connect(results["architectures"].run_dir / "results.sqlite") as connection:
        measures = {m for (m,) in connection.execute("SELECT DISTINCT measure FROM pairs")}
    assert {"cca", "svcca", "pwcca", "spearman", "disagreement"} <= measures  # n=360 > widths
    for relation in (result.spearman_cka_vs_jsd, result.spearman_cka_vs_rank):
        assert relation.undefined is not None or (
            -1 <= relation.rho <= 1 and 0 < relation.p_value <= 1
            and relation.ci[0] <= relation.rho <= relation.ci[1]
        )
    assert results["architectures"].summary["schema"] == 1


def test_dataset_bias_summary(reproduced):
    _, _, results = reproduced
    result = results["dataset-bias"].result
    assert len(result.representation_sets) == 18
    assert 0 <= result.svm_accuracy <= 1
    shares = (result.confusions.same_network, result.confusions.same_test_set,
              result.confusions.neither)
    assert sum(shares) == pytest.approx(1.0) or sum(shares) == 0


def test_the_combined_report_has_a_section_per_study(reproduced):
    _, report, _ = reproduced
    parsed = parse_report(report)
    assert parsed.sections == ["scorecard", "dataset-bias", "cross-dataset", "architectures",
                               "checkpoints", "leaderboard"]
    combined = json.loads((report.parent / "summary.json").read_text())
    assert set(combined["studies"]) == set(IMAGE_STUDIES)
    # the measure leaderboard over the pairs that have outputs: architectures and checkpoints
    assert set(combined["leaderboard"]["n_pairs"]) == {"architectures", "checkpoints"}
    assert (report.parent / "leaderboard.csv").is_file()


def _table_3_1() -> dict[str, tuple[float, float]]:
    """Table 3.1 of the thesis, read from its text: row -> (ρ(CKA, JSD), ρ(CKA, rank))."""
    import re

    from study_checks import thesis_text

    text = thesis_text()
    if text is None:
        pytest.skip("the thesis's text is not on this machine; set SIMFUNC_THESIS_TEXT")
    rows = {}
    for name in ("Cifar : trained nets", "MiniGrid (average)", "MiniGrid with bottleneck"):
        match = re.search(re.escape(name) + r"\s+(-?\d\.\d+)\s+(-?\d\.\d+)", text)
        assert match, name
        rows[name] = (float(match.group(1)), float(match.group(2)))
    return rows


def test_the_scorecard_holds_every_claim_with_the_thesis_values(reproduced):
    from simfunc.scorecard import Scorecard, Verdict

    _, report, results = reproduced
    card = Scorecard.read(report.parent)
    rows = {row.id: row for row in card.rows}
    assert {"dataset_bias.mistakes_keep_network", "cross_dataset.within_minus_across",
            "architectures.cka_jsd", "architectures.cka_rank", "architectures.untrained_jsd",
            "checkpoints.cka_rises", "checkpoints.jsd_falls", "checkpoints.cka_jsd",
            "checkpoints.slope_by_arch"} <= set(rows)
    assert [r.id for r in card.rows] == [r.id for name in IMAGE_STUDIES
                                         for r in results[name].scorecard.rows]
    jsd, rank = _table_3_1()["Cifar : trained nets"]
    assert (rows["architectures.cka_jsd"].thesis, rows["architectures.cka_rank"].thesis) == (
        jsd, rank)
    for row in card.rows:  # the one rule: no interval spanning 0 is a reproduction
        assert row.differs, row.id
        if row.rule == "interval" and row.ci is not None and row.ci[0] <= 0 <= row.ci[1]:
            assert row.verdict is not Verdict.REPRODUCED, row.id
    counts = card.counts()
    assert sum(counts.values()) == len(card.rows) and set(counts) == {v.value for v in Verdict}
    assert json.loads((report.parent / "summary.json").read_text())["schema"] == 1


def test_the_leaderboards_headline_rows_are_the_studies_own(reproduced):
    """The leaderboard relates each study's declared headline as the study does: its
    (study, linear_cka, jsd) row has the study's ρ (oriented: CKA is a similarity, JSD a
    distance), network-level p and interval."""
    import pandas as pd

    _, report, results = reproduced
    board = pd.read_csv(report.parent / "leaderboard.csv")
    for study, relation in (("architectures", results["architectures"].result.spearman_cka_vs_jsd),
                            ("checkpoints", results["checkpoints"].result.cka_vs_jsd)):
        (row,) = board[(board["group"] == study) & (board["measure"] == "linear_cka")
                       & (board["output_measure"] == "jsd")].itertuples()
        assert relation.network_level
        assert row.n == relation.n
        assert row.rho == pytest.approx(-relation.rho, abs=1e-5)
        assert row.p_value == pytest.approx(relation.p_value, abs=1e-5)
        low, high = relation.ci
        assert [row.ci_low, row.ci_high] == pytest.approx([-high, -low], abs=1e-5)


def test_a_rerun_is_served_from_the_cache(reproduced):
    root, _, results = reproduced
    again = run_study("architectures", "quick", out=root / "runs", cache_dir=root / "cache",
                      overrides=TINY["architectures"], progress=False)
    assert again.report.run == 0 and again.report.cached == len(again.report.status)
    assert again.summary == results["architectures"].summary
    assert again.result == results["architectures"].result  # summary.json read back


def test_report_rebuilds_identically_from_the_database(reproduced):
    _, report, results = reproduced
    run_dir = results["checkpoints"].run_dir
    before = (run_dir / "report.html").read_bytes()
    figure = next((run_dir / "figures").glob("*.png"))
    figure_before = figure.read_bytes()
    figure.unlink()
    (run_dir / "report.html").unlink()
    rebuild(run_dir)
    assert (run_dir / "report.html").read_bytes() == before
    assert figure.read_bytes() == figure_before
    combined_before = report.read_bytes()
    rebuild(report.parent)
    assert report.read_bytes() == combined_before


def test_every_registered_study_is_importable():
    from simfunc.studies import Study, load_study

    for name in STUDIES:
        study = load_study(name)
        assert isinstance(study, Study) and study.NAME == name
        assert set(study.PROFILES) == {"quick", "standard", "paper"}
        for profile in study.PROFILES:
            study.plan(study.settings(profile))  # builds without touching data
