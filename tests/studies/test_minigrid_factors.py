"""The bottleneck factor table (issue 21 §2) over a constructed results database.

Four runs per training size and variant, each kept at three save points (poor, mediocre,
optimal), compared on two test rooms. Planted: the plain agents' CKA tracks JSD through a
network-level effect on every layer; the bottleneck agents' 8-d features do not (their CKA is
noise), but their 64-d embedding tracks JSD as plain's does. The table must find the
bottleneck weaker in the headline and the gap closed by the compared-layer factor, and no
other factor (whose recorded values equal the headline's) may close it.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from simfunc.store import ResultsDB
from simfunc.studies.base import AnalysisContext
from simfunc.studies.minigrid import STUDY, Settings
from simfunc.studies.minigrid import factor_jobs as fj
from simfunc.studies.minigrid.factor_prose import reading
from simfunc.studies.minigrid.factors import factor_table
from simfunc.studies.minigrid.population import agent_frame, pair_table

RETURNS = {"poor": 0.1, "mediocre": 0.5, "optimal": 0.9}
VARIANTS = ("plain", "bottleneck")


def _tracking(names, salt):
    def effect(name):
        return np.random.default_rng(sum(map(ord, name.split("-", 1)[1])) + salt).normal()
    shared = effect(names[0]) + effect(names[1])
    noise = np.random.default_rng([sum(map(ord, "".join(names))), salt]).normal(size=3)
    return {"linear_cka": 0.5 + 0.1 * shared + 0.03 * noise[0],
            "jsd": 0.4 - 0.05 * shared + 0.03 * noise[1],
            "spearman": 0.5 + 0.05 * shared + 0.03 * noise[2]}


def _database(tmp_path):
    db = ResultsDB(tmp_path / "results.sqlite")
    db.start_run("minigrid", "standard", {})
    rows = []
    for variant in VARIANTS:
        names = []
        for seed in range(4):
            for point, label in enumerate(("poor", "mediocre", "optimal")):
                name = f"{variant}-5x5-s{seed}-t{1024 * point}"
                names.append(name)
                db.add_model(name, kind="agent", dataset="empty-5", seed=seed,
                             epoch=1024 * point, mean_return=RETURNS[label],
                             extra={"variant": variant, "train_size": 5,
                                    "run": name.rsplit("-t", 1)[0], "timesteps": 1024 * point})
        for test in (5, 6):
            for pair in combinations(names, 2):
                values = _tracking(pair, test)
                noise = np.random.default_rng([sum(map(ord, "".join(pair))), test, 7]).uniform()
                features = values["linear_cka"] if variant == "plain" else 0.3 + 0.4 * noise
                recorded = {
                    ("features", "linear_cka"): features,
                    (fj.EMBEDDING, "linear_cka"): values["linear_cka"],
                    (fj.POLICY, "greedy_paths_differ"): 0.0,
                    (fj.POLICY, "equal_good_disagreement"): 0.0,
                }
                for states in fj.STATE_SETS:
                    recorded[(fj.features_layer(states), "linear_cka")] = features
                for layer in ("output", *(fj.output_layer(s) for s in fj.STATE_SETS),
                              fj.output_layer(fj.BOTH_OPTIMAL),
                              fj.output_layer(fj.NOT_BOTH_OPTIMAL)):
                    for measure in ("jsd", "spearman"):
                        recorded[(layer, measure)] = values[measure]
                rows += [{"model_a": pair[0], "model_b": pair[1], "test_set": f"empty-{test}",
                          "layer": layer, "measure": measure, "value": float(value)}
                         for (layer, measure), value in recorded.items()]
    db.add_pairs(rows)
    return db


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("factors")
    db = _database(tmp)
    settings = Settings(train_sizes=(5,), test_sizes=(5, 6), variants=VARIANTS, factors=True,
                        n_permutations=200, n_resamples=200, population_draws=200)
    output = STUDY.analyse(db, AnalysisContext(settings, "standard", tmp / "figures"))
    agents = agent_frame(db)
    return output, factor_table(db, agents, pair_table(db, agents), settings)


def _table(analysed):
    return analysed[0].summary["factors"]


def test_the_factor_tables_headline_row_is_the_studys_headline(analysed):
    levels = _table(analysed)["levels"]
    first = levels[0]
    assert first["is_headline"]
    for variant in VARIANTS:
        assert first["jsd"][variant]["rho"] == pytest.approx(
            analysed[0].summary["variants"][variant]["jsd"]["rho"])
        assert first["jsd"][variant]["ci"] is not None


def test_the_planted_layer_effect_is_found_and_no_other_factor_closes_the_gap(analysed):
    levels = {(row["factor"], row["level"]): row for row in _table(analysed)["levels"]}
    headline = next(row for row in levels.values() if row["is_headline"])
    assert headline["difference"] > 0.3  # the bottleneck's 8-d CKA is noise
    (layer,) = [row for (factor, _), row in levels.items() if factor == "compared layer"]
    assert layer["difference"] < 0.1
    assert layer["jsd"]["bottleneck"]["ci"][1] < 0  # decided by its interval
    for (factor, level), row in levels.items():
        if factor in ("states compared on", "equally good policies") and "left out" not in level:
            # the same CKA as the headline's, the same JSD: the same gap
            assert row["difference"] == pytest.approx(headline["difference"], abs=1e-9), level
    untrained_out = next(row for (f, lv), row in levels.items() if "untrained" in lv)
    assert untrained_out["qualities"]["plain"]["poor"] == 0


def test_the_reading_names_the_factor_that_closes_the_gap(analysed):
    output, table = analysed
    text = reading(table)
    assert "compared layer" in text and "against §3.5.1" in text
    assert text.split("under:")[1].split("; it stays")[0].count(";") == 0  # only that row
    assert any("bottleneck factor table" in t.caption for t in output.section.tables)


def test_the_factor_table_reads_back_from_the_summary(analysed):
    from simfunc.studies.minigrid.result import FactorTable
    from simfunc.studies.serialise import from_json

    output, table = analysed
    assert from_json(FactorTable, output.summary["factors"]) == table


def test_without_factor_comparisons_there_is_no_table(tmp_path):
    db = ResultsDB(tmp_path / "results.sqlite")
    db.start_run("minigrid", "quick", {})
    settings = Settings(train_sizes=(5,), test_sizes=(5,), variants=("plain",), factors=True,
                        n_permutations=50, n_resamples=50, population_draws=50)
    output = STUDY.analyse(db, AnalysisContext(settings, "quick", tmp_path / "figures"))
    assert output.summary["factors"] is None
