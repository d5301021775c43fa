"""The MiniGrid study (thesis §3.5, §3.5.1): pair comparison, quality colouring, summaries,
and the quick profile end to end at a test-only size (real MiniGrid, real SB3, real measures)."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import sqlite3
from itertools import combinations

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats

from simfunc import InputError
from simfunc.envs import collect_states
from simfunc.studies import minigrid
from simfunc.studies.minigrid import (
    PAIR_CATEGORIES,
    Settings,
    average_rho,
    pair_category,
    save_schedule,
    slope_spread,
)
from simfunc.compare import compare_pair
from simfunc.studies.minigrid_jobs import pooled_outputs, rollout_arrays
from simfunc.train.ppo import build_policy, policy_outputs

needs_measures = pytest.mark.skipif(
    importlib.util.find_spec("simfunc.representational") is None,
    reason="simfunc.representational (the representational measures) is not installed",
)


# ----------------------------------------------------------------------- comparing agents


@needs_measures
@pytest.mark.parametrize("bottleneck", [False, True])
def test_an_agent_compared_with_itself_has_cka_one_and_jsd_zero(bottleneck):
    policy = build_policy(bottleneck=bottleneck, seed=3)
    arrays = rollout_arrays([policy, policy], test_size=5, episodes=2, seed=7, max_states=60)
    X, Y, P, Q = pooled_outputs(arrays, 0, 1)
    compared = compare_pair({"features": X}, {"features": Y}, P, Q, from_logits=False)
    assert compared.value("features", "linear_cka") == pytest.approx(1.0, abs=1e-9)
    assert compared.value("output", "jsd") == pytest.approx(0.0, abs=1e-12)
    assert compared.value("output", "disagreement") == 0.0
    assert compared.value("output", "spearman") == pytest.approx(1.0)
    assert all(np.isfinite(item.value) for item in compared.values)
    assert X.shape[1] == (8 if bottleneck else 64)


@needs_measures
def test_rollout_arrays_hold_each_agents_outputs_on_the_visited_states():
    policies = [build_policy(seed=0), build_policy(bottleneck=True, seed=1)]
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        arrays = rollout_arrays(policies, test_size=6, episodes=3, seed=11, max_states=40)
        assert torch.get_num_threads() == 2  # rollout_arrays ran on one thread, then restored
        torch.set_num_threads(1)  # for the reference rollouts below (fastest for this network)
        _check_rollout_arrays(arrays, policies)
    finally:
        torch.set_num_threads(previous)


def _check_rollout_arrays(arrays, policies):
    states = arrays["states"]
    assert states.dtype == np.uint8
    assert len(np.unique(states.reshape(len(states), -1), axis=0)) == len(states)
    for k, policy in enumerate(policies):
        visited, returns = collect_states(policy, 6, 3, 11)
        index = arrays[f"index_{k}"]
        assert len(index) == min(len(visited), 40)
        kept = states[index]
        # the kept states are a subsequence of the visited ones (a sample in visiting order)
        position = 0
        for state in kept:
            while not np.array_equal(visited[position], state):
                position += 1
            position += 1
        features, probabilities = policy_outputs(policy, states)
        np.testing.assert_array_equal(arrays[f"features_{k}"], features)
        np.testing.assert_array_equal(arrays[f"probs_{k}"], probabilities)
        np.testing.assert_array_equal(arrays[f"returns_{k}"], returns)
    X, Y, P, Q = pooled_outputs(arrays, 0, 1)
    assert len(X) == len(arrays["index_0"]) + len(arrays["index_1"])
    assert X.shape[1] == 64 and Y.shape[1] == 8 and P.shape == Q.shape == (len(X), 7)
    Xd, *_ = pooled_outputs(arrays, 0, 1, distinct=True)
    assert len(Xd) == len(np.unique(np.concatenate([arrays["index_0"], arrays["index_1"]])))


@needs_measures
def test_degenerate_pairs_are_left_out_with_notes_not_nan():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(7), size=20)
    constant = np.ones((20, 64))
    compared = compare_pair({"features": constant}, {"features": rng.normal(size=(20, 64))},
                            P, P, from_logits=False)
    assert not [v for v in compared.values if v.layer == "features"]
    assert any("constant" in note.reason for note in compared.notes)
    assert compared.value("output", "jsd") == pytest.approx(0.0, abs=1e-12)
    # 3 distinct states: measures that need more examples are left out with a note
    few = rng.normal(size=(3, 8))
    compared = compare_pair({"features": few}, {"features": few * 2.0}, P[:3], P[:3],
                            from_logits=False)
    assert compared.value("features", "linear_cka") == pytest.approx(1.0)
    assert compared.value("features", "mutual_knn") is None
    assert any(note.measure == "mutual_knn" for note in compared.notes)
    assert all(np.isfinite(item.value) for item in compared.values)


# ----------------------------------------------------------------------- quality colouring


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


# ----------------------------------------------------------------------- summary functions


def test_average_rho_of_perfectly_monotone_cells_is_exact():
    x = np.linspace(0.1, 0.9, 8)
    cells = [(x, 1.0 - x), (x, np.exp(-3 * x)), (x[:5], -(x[:5] ** 2))]
    result = average_rho(cells, n_resamples=300)
    assert result["mean"] == pytest.approx(-1.0)
    assert result["cells"] == pytest.approx([-1.0, -1.0, -1.0])
    assert result["ci"] == pytest.approx([-1.0, -1.0])


def test_average_rho_is_the_mean_of_scipys_per_cell_rho_with_an_interval_around_it():
    rng = np.random.default_rng(1)
    cells = []
    for slope in (-1.0, -0.5, 0.3):
        x = rng.uniform(size=40)
        cells.append((x, slope * x + rng.normal(scale=0.3, size=40)))
    expected = [scipy_stats.spearmanr(x, y).statistic for x, y in cells]
    result = average_rho(cells, n_resamples=1000, seed=5)
    assert result["cells"] == pytest.approx(expected)
    assert result["mean"] == pytest.approx(np.mean(expected))
    low, high = result["ci"]
    assert low < result["mean"] < high and high - low < 0.6
    assert average_rho(cells, n_resamples=1000, seed=5) == result  # seeded


def test_average_rho_refuses_cells_without_a_rank_correlation():
    with pytest.raises(InputError, match="constant"):
        average_rho([([0.1, 0.2, 0.3], [1.0, 1.0, 1.0])], n_resamples=10)
    with pytest.raises(InputError, match="cells is empty"):
        average_rho([], n_resamples=10)


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


def test_save_schedule_parses_and_checks_entries():
    settings = Settings(train_sizes=(5, 8), save_steps=("5:0/2048/1024", "8:4096"))
    assert save_schedule(settings) == {5: (0, 1024, 2048), 8: (4096,)}
    for bad in (("5:0/x",), ("5-0/1024",), ("5:0",), ("5:1024", "5:2048")):
        with pytest.raises(InputError, match="save_steps"):
            save_schedule(Settings(train_sizes=(5,), save_steps=bad))
    with pytest.raises(InputError, match="no entry for training size"):
        save_schedule(Settings(train_sizes=(5, 6), save_steps=("5:1024",)))
    with pytest.raises(InputError, match="multiples of n_envs × 128 = 1024"):
        save_schedule(Settings(train_sizes=(5,), save_steps=("5:0/1000/2048",)))
    with pytest.raises(InputError, match="2048"):
        save_schedule(Settings(train_sizes=(5,), save_steps=("5:1024",), n_envs=16))


def test_every_profile_plans_the_full_design():
    for name, settings in minigrid.PROFILES.items():
        plan = minigrid.plan(settings)
        jobs = list(plan)
        cells = len(settings.variants) * len(settings.train_sizes)
        assert sum(job.id.startswith("train/") for job in jobs) == cells * len(settings.seeds)
        compares = sum(job.id.startswith("compare/") for job in jobs)
        assert compares == cells * len(settings.test_sizes)
        assert (settings.train_sizes, settings.test_sizes) == ((5, 6, 8, 16), (5, 6, 8)), name


# ----------------------------------------------------------------------- end to end

TINY = {
    "seeds": [0],
    "train_sizes": [5, 6],
    "test_sizes": [5],
    "save_steps": ["5:0/1024/2048", "6:0/1024/2048"],
    "eval_episodes": 4,
    "episodes": 2,
    "max_states": 60,
    "n_permutations": 200,
    "n_resamples": 200,
}


@needs_measures
@pytest.mark.slow
def test_quick_profile_end_to_end_at_a_tiny_size(tmp_path):
    from simfunc.studies.framework import run_study

    result = run_study("minigrid", "quick", out=tmp_path, cache_dir=tmp_path / "cache",
                       overrides=TINY, progress=False)
    run_dir = tmp_path / "minigrid-quick"
    n_jobs = len(result.report.status)
    assert n_jobs == 2 * 2 * (1 + 2)  # variants × sizes × (1 train job + rollouts + compare)

    with sqlite3.connect(run_dir / "results.sqlite") as connection:
        models = connection.execute(
            "SELECT model_id, kind, dataset, epoch, mean_return, trained FROM models").fetchall()
        pairs = connection.execute(
            "SELECT model_a, model_b, test_set, layer, measure, value FROM pairs").fetchall()
    assert len(models) == 2 * 2 * 3  # variants × sizes × save points
    for model_id, kind, dataset, epoch, mean_return, trained in models:
        assert kind == "agent" and dataset in ("empty-5", "empty-6") and epoch in (0, 1024, 2048)
        assert 0.0 <= mean_return <= 1.0 and trained == (epoch > 0)
        assert dataset == f"empty-{model_id.split('-')[1].split('x')[0]}"
    pair_keys = {(a, b) for a, b, *_ in pairs}
    assert len(pair_keys) == 2 * 2 * 3  # per cell, the 3 pairs of its 3 agents
    for a, b in pair_keys:
        assert a.rsplit("-", 2)[0] == b.rsplit("-", 2)[0]  # same variant and training room
    values = {}
    for a, b, test_set, layer, measure, value in pairs:
        assert test_set == "empty-5" and np.isfinite(value)
        values.setdefault((layer, measure), []).append(value)
    assert len(values[("features", "linear_cka")]) == 12 and len(values[("output", "jsd")]) == 12
    assert all(0.0 <= v <= 1.0 + 1e-9 for v in values[("features", "linear_cka")])
    assert all(0.0 <= v <= 1.0 for v in values[("output", "jsd")])
    assert all(-1.0 <= v <= 1.0 for v in values[("output", "spearman")])

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["study"] == "minigrid" and summary["n_pairs"] == 12
    for variant in ("plain", "bottleneck"):
        result_v = summary["variants"][variant]
        assert set(result_v["cells"]) == {"train5-test5", "train6-test5"}
        for cell in result_v["cells"].values():
            assert cell["n_pairs"] == 3 and sum(cell["categories"].values()) == 3
            assert cell["rho_cka_jsd"] is None or -1.0 <= cell["rho_cka_jsd"] <= 1.0
        for key in ("mean_rho_cka_jsd", "mean_rho_cka_rank", "slope_spread_cka_jsd"):
            assert key in result_v
        average = result_v["mean_rho_cka_jsd"]
        if average is not None:
            assert -1.0 <= average["mean"] <= 1.0
            assert average["mean"] == pytest.approx(np.mean(average["cells"]))
    assert summary["thesis"]["plain"]["rho_cka_jsd"] == -0.721

    figures = sorted(p.name for p in (run_dir / "figures").glob("*.png"))
    assert figures == ["cka_vs_jsd_bottleneck.png", "cka_vs_jsd_plain.png",
                       "cka_vs_rank_bottleneck.png", "cka_vs_rank_plain.png"]
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 4 and all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "−0.721" in html or "-0.721" in html

    again = run_study("minigrid", "quick", out=tmp_path, cache_dir=tmp_path / "cache",
                      overrides=TINY, progress=False)
    assert again.report.cached == n_jobs and again.report.run == 0
    assert again.summary == result.summary


def test_pair_counts_follow_the_number_of_agents_per_cell():
    settings = minigrid.PROFILES["standard"]
    plan = minigrid.plan(settings)
    compare = plan["compare/minigrid-plain-5x5-test6"]
    agents = len(settings.seeds) * len(save_schedule(settings)[5])
    assert [tuple(p) for p in compare.config["pairs"]] == list(combinations(range(agents), 2))
    assert len(compare.meta["model_ids"]) == agents


# ----------------------------------------------------------------------- analysis over a database


def _database(tmp_path, cells, measures=("linear_cka", "jsd", "spearman")):
    """A results database of constructed agents and pairs: ``cells`` maps a training size to
    (qualities of its agents, pair values ``{measure: f(index of pair)}``)."""
    from simfunc.store import ResultsDB

    db = ResultsDB(tmp_path / "results.sqlite")
    db.start_run("minigrid", "quick", {})
    returns = {"optimal": 0.9, "mediocre": 0.5, "poor": 0.1}
    for size, (qualities, values) in cells.items():
        names = [f"plain-{size}x{size}-s0-t{1024 * i}" for i in range(len(qualities))]
        for index, (name, quality) in enumerate(zip(names, qualities)):
            db.add_model(name, kind="agent", dataset=f"empty-{size}", seed=0, epoch=1024 * index,
                         mean_return=returns[quality],
                         extra={"variant": "plain", "train_size": size, "timesteps": 1024 * index,
                                "quality": quality})
        rows = []
        for k, (a, b) in enumerate(combinations(range(len(names)), 2)):
            for measure in measures:
                layer = "features" if measure == "linear_cka" else "output"
                rows.append({"model_a": names[a], "model_b": names[b], "test_set": "empty-5",
                             "layer": layer, "measure": measure, "value": values[measure](k)})
        db.add_pairs(rows)
    return db


def test_analysis_of_constructed_pairs_gives_the_known_rho_slopes_and_spread(tmp_path):
    def line(intercept, slope):
        cka = lambda k: 0.3 + 0.1 * k  # noqa: E731 - 6 pairs: CKA 0.3 ... 0.8
        return {"linear_cka": cka, "jsd": lambda k: intercept + slope * cka(k),
                "spearman": lambda k: 0.1 * k}

    qualities = ["optimal", "optimal", "mediocre", "poor"]  # 6 pairs
    db = _database(tmp_path, {5: (qualities, line(0.5, -0.4)), 6: (qualities, line(0.3, -0.2))})
    settings = Settings(train_sizes=(5, 6), test_sizes=(5,), variants=("plain",),
                        n_permutations=200, n_resamples=200)
    summary, section = minigrid.analyse(db, settings, tmp_path / "figures")
    plain = summary["variants"]["plain"]
    for key, slope in (("train5-test5", -0.4), ("train6-test5", -0.2)):
        cell = plain["cells"][key]
        assert cell["n_pairs"] == 6 and cell["rho_cka_jsd"] == pytest.approx(-1.0)
        assert cell["slope_cka_jsd"] == pytest.approx(slope)
        assert cell["rho_cka_rank"] == pytest.approx(1.0)
        assert cell["discordant_fraction_cka_jsd"] == 0.0
        # pairs (0,1) both optimal; (0,2), (1,2) optimal vs mediocre; (0,3), (1,3) vs poor;
        # (2,3) other
        assert cell["categories"] == {"both optimal": 1, "optimal vs mediocre": 2,
                                      "optimal vs poor": 2, "other": 1}
    assert plain["mean_rho_cka_jsd"]["mean"] == pytest.approx(-1.0)
    assert plain["mean_rho_cka_jsd"]["ci"] == pytest.approx([-1.0, -1.0])
    assert plain["mean_rho_cka_rank"]["mean"] == pytest.approx(1.0)
    spread = plain["slope_spread_cka_jsd"]
    assert spread["mean"] == pytest.approx(-0.3) and spread["std"] == pytest.approx(0.1 * 2**0.5)
    assert summary["agents"]["plain"]["5"] == {"optimal": 2, "mediocre": 1, "poor": 1}
    assert len(section.figures) == 2 and all(f.path.is_file() for f in section.figures)
    assert section.comparison["thesis"].iloc[0] == -0.721


def test_analysis_survives_pairs_without_cka_and_says_so(tmp_path):
    values = {"jsd": lambda k: 0.1 * k, "spearman": lambda k: 0.5}
    db = _database(tmp_path, {5: (["poor", "poor", "optimal"], values)},
                   measures=("jsd", "spearman"))
    settings = Settings(train_sizes=(5,), test_sizes=(5,), variants=("plain",),
                        n_permutations=50, n_resamples=50)
    summary, section = minigrid.analyse(db, settings, tmp_path / "figures")
    cell = summary["variants"]["plain"]["cells"]["train5-test5"]
    assert cell["n_pairs"] == 3 and cell["rho_cka_jsd"] is None and "undefined_cka_jsd" in cell
    assert summary["variants"]["plain"]["mean_rho_cka_jsd"] is None
    assert any("have no CKA" in note for note in section.notes)
    json.dumps(summary)  # plain JSON, no NaN
    assert "NaN" not in json.dumps(summary)
