"""docs/adding-a-study.md, run as written: its toy study end to end through the framework."""

from __future__ import annotations

import importlib
import json
import re
import sqlite3
from pathlib import Path

import pytest

from simfunc.functional import OUTPUT_MEASURES
from simfunc.representational import MEASURES
from simfunc.reproduce import rebuild, reproduce
from simfunc.studies import Study
from simfunc.studies.framework import STUDIES, run_study

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-study.md"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.fixture
def noise_study(tmp_path, monkeypatch):
    """The study module from the page, importable as ``toy_noise`` and registered as "noise"."""
    (tmp_path / "toy_noise.py").write_text(code_blocks("python")[0], encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("toy_noise")
    monkeypatch.setitem(STUDIES, "noise", "toy_noise")
    yield module
    importlib.sys.modules.pop("toy_noise", None)


def test_the_page_walks_through_a_study_in_under_100_lines_of_code():
    study, registration = code_blocks("python")[:2]
    lines = [line for line in study.splitlines() if line.strip()]
    assert len(lines) < 100, len(lines)
    assert re.search(r'"noise": "simfunc\.studies\.noise"', registration)


def test_the_toy_study_runs_end_to_end_through_the_framework(noise_study, tmp_path):
    assert isinstance(noise_study.STUDY, Study) and noise_study.STUDY.NAME == "noise"
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    result = run_study("noise", "quick", out=runs, cache_dir=cache, jobs=1, progress=False,
                       overrides={"noise": "0,0.5,1,2,4,8", "examples": "150"})
    assert result.report.run == 6 and result.report.ok
    relation = result.result.relation
    assert relation.n == 6 and relation.rho < -0.8  # noise: CKA down, JSD up
    assert result.summary["schema"] == 1 and result.summary["relation"]["rho"] == relation.rho
    with sqlite3.connect(result.run_dir / "results.sqlite") as connection:
        layers = dict(connection.execute(
            "SELECT layer, count(*) FROM pairs GROUP BY layer").fetchall())
    # every measure of every pair
    assert layers == {"features": 6 * len(MEASURES), "output": 6 * len(OUTPUT_MEASURES)}
    html = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert "simfunc&#x27;s own claim (not the thesis&#x27;s): more noise means less CKA and more JSD" in html
    assert (result.run_dir / "figures" / "noise.png").is_file()

    again = run_study("noise", "quick", out=runs, cache_dir=cache, jobs=1, progress=False,
                      overrides={"noise": "0,0.5,1,2,4,8", "examples": "150"})
    assert again.report.cached == 6 and again.summary == result.summary
    assert again.result == result.result  # read back from summary.json, not analysed again
    before = (result.run_dir / "report.html").read_bytes()
    (result.run_dir / "report.html").unlink()
    rebuild(result.run_dir)
    assert (result.run_dir / "report.html").read_bytes() == before


@pytest.mark.slow  # runs a study
def test_the_toy_study_joins_reproduce_and_the_leaderboard(noise_study, tmp_path):
    report, results = reproduce("quick", studies=["noise"], out=tmp_path / "runs",
                                cache_dir=tmp_path / "cache", progress=False,
                                overrides={"noise": {"examples": 120}})
    combined = json.loads((report.parent / "summary.json").read_text())
    assert combined["leaderboard"]["n_pairs"] == {"noise": 5}
    assert "noise: its compared layer" in report.read_text(encoding="utf-8")
    assert [r.name for r in results] == ["noise"]


def test_what_a_study_leaves_out_is_stored_and_shown_in_its_report(noise_study, tmp_path):
    """Ten examples are too few for mutual k-NN (k = 10): every pair notes it, the database
    keeps the notes and the report shows them without code in the study."""
    result = run_study("noise", "quick", out=tmp_path / "runs", cache_dir=tmp_path / "cache",
                       jobs=1, progress=False, overrides={"examples": 10})
    with sqlite3.connect(result.run_dir / "results.sqlite") as connection:
        notes = connection.execute("SELECT study, context, layer, measure FROM notes").fetchall()
        measured = {m for (m,) in connection.execute("SELECT DISTINCT measure FROM pairs")}
    assert ("noise", "clean vs noisy-0.5 on gaussian", "features", "mutual_knn") in notes
    assert len([n for n in notes if n[3] == "mutual_knn"]) == 5 and "mutual_knn" not in measured
    html = (result.run_dir / "report.html").read_text(encoding="utf-8")
    left_out = html[html.index("<h3>Left out</h3>"):]
    assert "mutual_knn" in left_out and "clean vs noisy-" in left_out
    assert (result.run_dir / "csv" / "notes.csv").is_file()


@pytest.mark.slow  # runs a study
def test_a_reproduce_written_to_a_log_has_plain_lines_and_no_redrawn_bars(noise_study, tmp_path,
                                                                          capfd, monkeypatch):
    """``simfunc reproduce ... > log``: a line per finished job, never a ``\\r``; with
    --no-progress only the results."""
    from simfunc.cli import main

    monkeypatch.delenv("SIMFUNC_PROGRESS", raising=False)  # capfd's output is not a terminal
    argv = ["reproduce", "--studies", "noise", "--out", str(tmp_path / "runs"),
            "--cache-dir", str(tmp_path / "cache"), "--set", "examples=120", "--jobs", "1"]
    assert main(argv) == 0
    out, err = capfd.readouterr()
    assert "\r" not in out + err and "\x1b[" not in out + err
    finished = [line for line in err.splitlines() if re.search(r": run in \d+\.\d s; ", line)]
    assert len(finished) == 5, err  # the study's five jobs, each once
    assert finished[-1].split("; ")[1].startswith("5/5 jobs done (5 run, 0 cached, 0 failed")
    assert len(re.findall(r"^toy/noise-", err, re.M)) == 5  # no other line names a job
    assert "report: " in out
    assert main([*argv, "--no-progress"]) == 0  # everything cached now
    out, err = capfd.readouterr()
    assert "jobs done" not in err and "\r" not in out + err
    assert "5 jobs: 0 run, 5 cached" in out and "report: " in out


@pytest.mark.slow  # three reproduces of two studies
def test_an_unchanged_rerun_reuses_the_analysis_and_a_changed_study_redoes_only_its_own(
        noise_study, tmp_path, monkeypatch):
    """The analysis is keyed like every artifact (results, settings, code): a rerun that finds
    the same results keeps the summary, scorecard, figures and report it made; a study whose
    results change is analysed again, and only it; the combined report follows."""
    from simfunc.report import RenderedSection, Section

    runs, cache = tmp_path / "runs", tmp_path / "cache"
    over = {"noise": {"examples": "120"}, "architectures": {
        "archs": "mlp,cnn", "seeds": "0,1", "training.epochs": 1, "image_size": 8,
        "untrained": "false", "n_permutations": 100, "n_resamples": 100}}

    def run():
        return reproduce("quick", studies=["noise", "architectures"], out=runs, cache_dir=cache,
                         overrides=over, progress=False)
    report, first = run()
    assert all(isinstance(r.section, Section) for r in first)
    files = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()
             and p.suffix in (".html", ".json", ".png", ".csv") and p.name != "reproduce.json"}
    calls = []
    monkeypatch.setattr(noise_study.Noise, "analyse", lambda self, *a: calls.append(a) or
                        (_ for _ in ()).throw(AssertionError("analysed again")))
    report, again = run()
    assert [type(r.section) for r in again] == [RenderedSection, RenderedSection]
    assert [r.summary for r in again] == [r.summary for r in first]
    # the typed results, read back from summary.json
    assert [r.result for r in again] == [r.result for r in first] and first[0].result is not None
    assert [r.scorecard for r in again] == [r.scorecard for r in first]
    assert {p: p.read_bytes() for p in files} == files  # nothing rewritten
    # a changed study (one more noise level) is analysed again; the other one is not
    monkeypatch.undo()
    monkeypatch.setitem(STUDIES, "noise", "toy_noise")
    over["noise"]["noise"] = "0,0.5,1,2,4,8"
    report, changed = run()
    assert [type(r.section) for r in changed] == [Section, RenderedSection]
    assert changed[0].result.relation.n == 6 != first[0].result.relation.n
    assert report.read_bytes() != files[report]


@pytest.mark.slow  # a reproduce of two studies
def test_a_study_whose_jobs_fail_stops_the_reproduce_after_the_others_ran_and_were_analysed(
        noise_study, tmp_path, monkeypatch):
    """reproduce runs every study's jobs as one plan: a failing job fails its own study (its
    run recorded as failed, its other jobs kept in the cache), while the other studies' jobs
    still run and are analysed; then the failure is raised."""
    from simfunc.runner import JobsFailed

    source = code_blocks("python")[0]
    broken = (source.replace('NAME = "noise"', 'NAME = "broken"')
              .replace('f"toy/noise-{t:g}"', 'f"toy/broken-{t:g}"')
              .replace('    c = ctx.config\n', '    c = ctx.config\n    if c["noise"] == 2.0:\n'
                       '        raise RuntimeError("planted failure")\n', 1))
    assert broken.count("planted failure") == 1 and '"broken"' in broken
    (tmp_path / "toy_broken.py").write_text(broken, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(STUDIES, "broken", "toy_broken")
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    with pytest.raises(JobsFailed, match="planted failure"):
        reproduce("quick", studies=["broken", "noise"], out=runs, cache_dir=cache,
                  progress=False, overrides={"broken": {"examples": 120},
                                             "noise": {"examples": 120}})
    importlib.sys.modules.pop("toy_broken", None)

    def statuses(study):
        with sqlite3.connect(runs / f"{study}-quick" / "results.sqlite") as connection:
            return [row[0] for row in connection.execute("SELECT status FROM runs")]
    assert statuses("broken") == ["failed"]
    assert statuses("noise") == ["completed"]  # listed after the failing study, still done
    assert (runs / "noise-quick" / "summary.json").is_file()
    assert not (runs / "broken-quick" / "summary.json").exists()
    assert not (runs / "reproduce-quick").exists()  # no combined report over a failed study
    kept = [p for p in (cache / "toy").iterdir() if not p.name.endswith(".partial")]
    assert len(kept) == 4 + 5  # broken's four healthy levels and noise's five
