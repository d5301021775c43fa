"""The MiniGrid study (thesis §3.5, §3.5.1): its design, its analysis over constructed
databases, and the quick profile end to end (test_study_minigrid_quick.py)."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pytest

from simfunc import InputError
from simfunc.compare import compare_pair
from simfunc.envs import pooled_outputs, rollout_arrays
from simfunc.nets.actor_critic import build_policy
from simfunc.store import ResultsDB
from simfunc.studies.base import AnalysisContext
from simfunc.studies.minigrid import (
    PAIR_CATEGORIES,
    PROFILES,
    STUDY,
    AgentTraining,
    Population,
    Settings,
    in_population,
    pair_category,
    quality,
    slope_spread,
)

# ----------------------------------------------------------------------- comparing agents


@pytest.mark.parametrize("network", ["plain", "bottleneck"])
def test_an_agent_compared_with_itself_has_cka_one_and_jsd_zero(network):
    policy = build_policy(network, seed=3)
    arrays = rollout_arrays([policy, policy], test_size=5, episodes=2, seed=7, max_states=60)
    X, Y, P, Q = pooled_outputs(arrays, 0, 1)
    compared = compare_pair({"features": X}, {"features": Y}, P, Q, from_logits=False)
    assert compared.value("features", "linear_cka") == pytest.approx(1.0, abs=1e-9)
    assert compared.value("output", "jsd") == pytest.approx(0.0, abs=1e-12)
    assert compared.value("output", "disagreement") == 0.0
    assert compared.value("output", "spearman") == pytest.approx(1.0)
    assert all(np.isfinite(item.value) for item in compared.values)
    assert X.shape[1] == (8 if network == "bottleneck" else 64)


# ----------------------------------------------------------------------- qualities, pairs


@pytest.mark.parametrize(
    "value, label",
    [(1.0, "optimal"), (0.8001, "optimal"), (0.8, "mediocre"), (0.21, "mediocre"),
     (0.2, "poor"), (0.0, "poor")],
)  # fmt: skip
def test_quality_labels_follow_the_thesis_thresholds(value, label):
    assert quality(value) == label


def test_quality_rejects_non_numbers():
    for bad in (float("nan"), float("inf"), "0.5", None, True):
        with pytest.raises(InputError, match="mean_return"):
            quality(bad)


@pytest.mark.parametrize(
    "a, b, category",
    [
        ("optimal", "optimal", "both optimal"),
        ("optimal", "mediocre", "optimal vs mediocre"),
        ("mediocre", "optimal", "optimal vs mediocre"),
        ("poor", "optimal", "optimal vs poor"),
        ("mediocre", "mediocre", "other"),
        ("mediocre", "poor", "other"),
        ("poor", "poor", "other"),
    ],
)
def test_pairs_are_coloured_as_in_the_thesis(a, b, category):
    assert pair_category(a, b) == category
    assert category in PAIR_CATEGORIES


def test_pair_category_rejects_unknown_qualities():
    with pytest.raises(InputError, match="quality_b"):
        pair_category("optimal", "great")


def test_slope_spread_on_known_slopes():
    spread = slope_spread([1.0, 2.0, 3.0, 4.0])
    assert spread["mean"] == 2.5
    assert spread["std"] == pytest.approx(np.sqrt(((1.5**2 + 0.5**2) * 2) / 3))
    assert spread["iqr"] == pytest.approx(3.25 - 1.75)
    assert (spread["min"], spread["max"], spread["n_cells"]) == (1.0, 4.0, 4)
    assert spread["cv"] == pytest.approx(spread["std"] / 2.5)
    assert slope_spread([-0.2])["std"] is None
    with pytest.raises(InputError):
        slope_spread([])


# ----------------------------------------------------------------------- settings and plan


def test_save_schedule_parses_and_checks_entries():
    training = AgentTraining(save_steps=("5:0/2048/1024", "8:4096"))
    assert training.schedule((5, 8)) == {5: (0, 1024, 2048), 8: (4096,)}
    for bad in (("5:0/x",), ("5-0/1024",), ("5:0",), ("5:1024", "5:2048")):
        with pytest.raises(InputError, match="save_steps"):
            AgentTraining(save_steps=bad).schedule((5,))
    with pytest.raises(InputError, match="no entry for training size"):
        AgentTraining(save_steps=("5:1024",)).schedule((5, 6))
    with pytest.raises(InputError, match="multiples of n_envs × 128 = 1024"):
        AgentTraining(save_steps=("5:0/1000/2048",)).schedule((5,))
    with pytest.raises(InputError, match="2048"):
        AgentTraining(save_steps=("5:1024",), n_envs=16).schedule((5,))


def test_population_settings_are_checked_and_overridable():
    with pytest.raises(InputError, match="population.suboptimal"):
        Population(suboptimal="drop-everything")
    with pytest.raises(InputError, match="same_run_pairs"):
        Population(same_run_pairs="no")
    settings = STUDY.settings("quick", {"population.same_run_pairs": "true",
                                        "population.suboptimal": "keep",
                                        "training.n_envs": "16"})
    assert settings.population == Population(True, "keep") and settings.training.n_envs == 16
    assert PROFILES["quick"].population == Population(False, "drop-unsolved-runs")
    with pytest.raises(InputError, match="variants"):
        STUDY.plan(Settings(variants=("plain", "wide")))


def test_every_profile_plans_the_full_design_and_records_every_pair():
    for name, settings in PROFILES.items():
        jobs = list(STUDY.plan(settings))
        cells = len(settings.variants) * len(settings.train_sizes)
        assert sum(job.id.startswith("train/") for job in jobs) == cells * len(settings.seeds)
        compares = [job for job in jobs if job.id.startswith("compare/")]
        assert len(compares) == cells * len(settings.test_sizes)
        assert (settings.train_sizes, settings.test_sizes) == ((5, 6, 8, 16), (5, 6, 8)), name
        assert settings.variants == ("plain", "bottleneck"), name
        agents = len(settings.seeds) * len(settings.training.schedule(settings.train_sizes)[5])
        compare = next(job for job in compares if job.id.endswith("plain-5x5-test6"))
        assert [tuple(p) for p in compare.config["pairs"]] == list(combinations(range(agents), 2))
        train = next(job for job in jobs if job.id == "train/minigrid-bottleneck-8x8-s0")
        assert train.config["agent"]["network"] == "bottleneck"
        assert train.meta["run"] == "bottleneck-8x8-s0"


# ----------------------------------------------------------------------- analysis over a database

RETURNS = {"optimal": 0.9, "mediocre": 0.5, "poor": 0.1}


def _database(tmp_path, runs, values, variant="plain", measures=("linear_cka", "jsd", "spearman"),
              test_sizes=(5,)):
    """A results database of constructed agents and every pair of them: ``runs`` maps a
    training size to a list of runs, each a list of save points' qualities; ``values`` maps a
    measure to ``f(size, test, k, pair)`` for the k-th pair (a, b) of that size's agents."""
    db = ResultsDB(tmp_path / "results.sqlite")
    db.start_run("minigrid", "quick", {})
    for size, qualities in runs.items():
        names = []
        for seed, run in enumerate(qualities):
            for point, label in enumerate(run):
                name = f"{variant}-{size}x{size}-s{seed}-t{1024 * point}"
                names.append(name)
                db.add_model(name, kind="agent", dataset=f"empty-{size}", seed=seed,
                             epoch=1024 * point, mean_return=RETURNS[label],
                             extra={"variant": variant, "train_size": size,
                                    "run": name.rsplit("-t", 1)[0], "timesteps": 1024 * point})
        rows = []
        for test in test_sizes:
            for k, pair in enumerate(combinations(names, 2)):
                for measure in measures:
                    layer = "features" if measure == "linear_cka" else "output"
                    rows.append({"model_a": pair[0], "model_b": pair[1],
                                 "test_set": f"empty-{test}", "layer": layer, "measure": measure,
                                 "value": values[measure](size, test, k, pair)})
        db.add_pairs(rows)
    return db


def _analyse(db, tmp_path, **settings):
    settings = Settings(**{"train_sizes": (5, 6), "test_sizes": (5,), "variants": ("plain",),
                           "n_permutations": 200, "n_resamples": 200, **settings})
    return STUDY.analyse(db, AnalysisContext(settings, "quick", tmp_path / "figures"))


def _lines(slopes):
    """Values on a line per training size: JSD = 0.5 + slope * CKA, rank = CKA."""
    def cka(size, test, k, pair):
        return 0.2 + 0.01 * k + 0.001 * test
    return {"linear_cka": cka,
            "jsd": lambda size, test, k, pair: 0.5 + slopes[size] * cka(size, test, k, pair),
            "spearman": cka}


def test_the_headline_relates_pairs_across_runs_that_end_optimal(tmp_path):
    solved = ["poor", "mediocre", "optimal"]
    runs = {5: [solved, solved, solved, ["poor", "poor", "poor"]], 6: [solved] * 4}
    db = _database(tmp_path, runs, _lines({5: -0.4, 6: -0.2}))
    output = _analyse(db, tmp_path)
    summary, plain = output.summary, output.summary["variants"]["plain"]
    # 5x5: 3 solved runs × 3 save points, pairs across runs: 27; 6x6: 4 runs: 54
    assert plain["cells"]["train5-test5"]["n_pairs"] == 27
    assert plain["cells"]["train6-test5"]["n_pairs"] == 54
    assert summary["n_pairs"] == 66 + 66 and summary["n_headline_pairs"] == 81
    for key, slope in (("train5-test5", -0.4), ("train6-test5", -0.2)):
        cell = plain["cells"][key]
        assert cell["rho_cka_jsd"] == pytest.approx(-1.0)
        assert cell["slope_cka_jsd"] == pytest.approx(slope)
        assert cell["rho_cka_rank"] == pytest.approx(1.0)
        assert cell["discordant_fraction_cka_jsd"] == 0.0
    mean = plain["mean_rho_cka_jsd"]
    assert mean["spearman"] == pytest.approx(-1.0) and mean["n_cells"] == 2
    # network-level: agents relabelled within training size, runs redrawn whole
    assert mean["inference"] == "network-level" and mean["combine"] == "mean"
    assert mean["n_networks"] == 9 + 12 and mean["n_blocks"] == 2 and mean["design"] == "partial"
    assert mean["spearman_p"] < 0.05 and mean["pair_spearman_ci"] == pytest.approx([-1.0, -1.0])
    spread = plain["slope_spread_cka_jsd"]
    assert spread["mean"] == pytest.approx(-0.3) and spread["cv"] == pytest.approx(
        0.1 * 2**0.5 / 0.3)
    # the categories are those of the headline's pairs: never two save points of one run
    assert plain["cells"]["train5-test5"]["categories"] == {
        "both optimal": 3, "optimal vs mediocre": 6, "optimal vs poor": 6, "other": 12}
    assert summary["agents"]["plain"]["5"] == {"optimal": 3, "mediocre": 3, "poor": 6}
    assert any("1 of 4 runs do not end optimal" in note for note in output.section.notes)
    assert output.section.thesis_rows[0].value == pytest.approx(-1.0)
    assert len(output.section.figures) == 2 and all(f.path.is_file() for f in output.section.figures)
    json.dumps(summary)


def test_every_population_is_reported_beside_the_headline(tmp_path):
    solved, unsolved = ["poor", "mediocre", "optimal"], ["poor", "mediocre", "mediocre"]
    runs = {5: [solved, solved, unsolved, solved]}

    def jsd(size, test, k, pair):  # same-run pairs break the trend, the rest follow it
        a, b = pair
        cka = 0.2 + 0.01 * k
        return 0.9 * cka if a.rsplit("-t", 1)[0] == b.rsplit("-t", 1)[0] else 1.0 - cka

    values = {"linear_cka": lambda size, test, k, pair: 0.2 + 0.01 * k, "jsd": jsd,
              "spearman": lambda size, test, k, pair: 0.2 + 0.01 * k}
    db = _database(tmp_path, runs, values)
    output = _analyse(db, tmp_path, train_sizes=(5,))
    populations = {entry["name"]: entry for entry in output.summary["populations"]}
    assert [entry["headline"] for entry in output.summary["populations"]] == \
        [True, False, False, False, False]
    counts = {name: entry["plain"]["n_pairs"] for name, entry in populations.items()}
    # 12 agents of 4 runs; 3 solved runs: 27 pairs across them, +9 within them; without
    # mediocre agents 7 are left (2 + 2 + 1 + 2), 21 pairs of which 3 within a run
    assert list(counts.values()) == [27, 36, 54, 18, 66]
    rho = {name: entry["plain"]["jsd"]["spearman"] for name, entry in populations.items()}
    headline = next(iter(rho))
    assert rho[headline] == pytest.approx(-1.0)
    assert rho["… with same-run pairs"] > -0.95  # the same-run pairs break the trend
    table = output.section.tables[0].frame
    assert len(table) == 5 and table["population"].iloc[0].endswith("(headline)")
    # a population of the settings' own that is none of the named ones is listed first
    own = _analyse(db, tmp_path, train_sizes=(5,),
                   population=Population(same_run_pairs=True, suboptimal="drop-mediocre"))
    assert own.summary["populations"][0]["headline"] and len(own.summary["populations"]) == 6


def test_in_population_follows_each_setting(tmp_path):
    from simfunc.studies.minigrid import agent_frame, pair_table

    runs = {5: [["poor", "optimal"], ["mediocre", "mediocre"]]}
    db = _database(tmp_path, runs, _lines({5: -0.1}))
    table = pair_table(db, agent_frame(db))
    assert len(table) == 6 and int(table["same_run"].sum()) == 2
    assert int(in_population(table, Population(True, "keep")).sum()) == 6
    assert int(in_population(table, Population(False, "keep")).sum()) == 4
    assert int(in_population(table, Population(True, "drop-unsolved-runs")).sum()) == 1
    assert int(in_population(table, Population(False, "drop-unsolved-runs")).sum()) == 0
    # mediocre agents out: only the first run's two agents remain, a same-run pair
    assert int(in_population(table, Population(True, "drop-mediocre")).sum()) == 1


def test_analysis_survives_pairs_without_cka_and_says_so(tmp_path):
    values = {"jsd": lambda *a: 0.1 * a[2], "spearman": lambda *a: 0.5}
    db = _database(tmp_path, {5: [["optimal"], ["optimal"], ["optimal"]]}, values,
                   measures=("jsd", "spearman"))
    output = _analyse(db, tmp_path, train_sizes=(5,))
    cell = output.summary["variants"]["plain"]["cells"]["train5-test5"]
    assert cell["n_pairs"] == 3 and cell["rho_cka_jsd"] is None and "undefined_cka_jsd" in cell
    assert output.summary["variants"]["plain"]["mean_rho_cka_jsd"] is None
    assert any("have no CKA" in note for note in output.section.notes)
    assert "NaN" not in json.dumps(output.summary)


def test_too_few_agents_for_network_level_inference_give_no_p_value(tmp_path):
    db = _database(tmp_path, {5: [["optimal", "optimal"], ["optimal"]]}, _lines({5: -0.3}))
    output = _analyse(db, tmp_path, train_sizes=(5,), population=Population(True, "keep"))
    mean = output.summary["variants"]["plain"]["mean_rho_cka_jsd"]
    assert mean["spearman"] == pytest.approx(-1.0) and mean["n_cells"] == 1
    assert "spearman_p" not in mean and "network_level_undefined" in mean
    row = output.section.thesis_rows[0]
    assert row.p_value is None and row.ci is None and "No p-value" in row.remark
