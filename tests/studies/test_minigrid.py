"""The MiniGrid study (thesis §3.5, §3.5.1): its design, its analysis over constructed
databases, and the quick profile end to end (test_minigrid_quick.py)."""

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
from simfunc.studies.minigrid.result import MiniGridResult
from simfunc.studies.serialise import from_json

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
    assert spread.mean == 2.5
    assert spread.std == pytest.approx(np.sqrt(((1.5**2 + 0.5**2) * 2) / 3))
    assert spread.iqr == pytest.approx(3.25 - 1.75)
    assert (spread.min, spread.max, spread.n_cells) == (1.0, 4.0, 4)
    assert spread.cv == pytest.approx(spread.std / 2.5)
    assert slope_spread([-0.2]).std is None
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
    with pytest.raises(InputError, match="linear_cka"):
        STUDY.plan(Settings(measures=("cca",)))
    with pytest.raises(InputError, match="population_draws"):
        STUDY.plan(Settings(population_draws=0))
    jobs = STUDY.plan(Settings(measures=("linear_cka", "cca")))
    compares = [job for job in jobs if job.id.startswith("compare/")]
    assert compares and all(job.config["measures"] == ["linear_cka", "cca"] for job in compares)


def test_every_profile_plans_its_design_and_records_every_pair():
    for name, settings in PROFILES.items():
        jobs = list(STUDY.plan(settings))
        cells = len(settings.variants) * len(settings.train_sizes)
        assert sum(job.id.startswith("train/") for job in jobs) == cells * len(settings.seeds)
        compares = [job for job in jobs if job.id.startswith("compare/")]
        assert len(compares) == cells * len(settings.test_sizes)
        assert settings.test_sizes == (5, 6, 8), name
        assert settings.variants == ("plain", "bottleneck"), name
        agents = len(settings.seeds) * len(settings.training.schedule(settings.train_sizes)[5])
        compare = next(job for job in compares if job.id.endswith("plain-5x5-test6"))
        assert [tuple(p) for p in compare.config["pairs"]] == list(combinations(range(agents), 2))
        train = next(job for job in jobs if job.id == "train/minigrid-bottleneck-8x8-s0")
        assert train.config["agent"]["network"] == "bottleneck"
        assert train.meta["run"] == "bottleneck-8x8-s0"
    # the thesis's four training rooms at standard and paper scale; quick leaves out 16×16
    assert PROFILES["standard"].train_sizes == PROFILES["paper"].train_sizes == (5, 6, 8, 16)
    assert PROFILES["quick"].train_sizes == (5, 6, 8)


def test_every_profile_has_enough_runs_per_training_size_for_an_interval():
    """The network bootstrap redraws runs within a training size: with 2 runs too few of its
    resamples keep two runs in every cell (no interval), with 3 only about a third (issue 21);
    quick needs at least 4, standard and paper at least 5."""
    assert len(PROFILES["quick"].seeds) >= 4
    assert len(PROFILES["standard"].seeds) >= 5 and len(PROFILES["paper"].seeds) >= 5
    for settings in PROFILES.values():  # every run spans poor (untrained) to its last point
        for size, points in settings.training.schedule(settings.train_sizes).items():
            assert points[0] == 0 and len(points) >= 3, size


# ----------------------------------------------------------------------- analysis over a database

RETURNS = {"optimal": 0.9, "mediocre": 0.5, "poor": 0.1}


def _database(tmp_path, runs, values, variant="plain", measures=("linear_cka", "jsd", "spearman"),
              test_sizes=(5,)):
    """A results database of constructed agents and every pair of them: ``runs`` maps a
    training size to a list of runs, each a list of save points' qualities; ``values`` maps a
    measure to ``f(size, test, k, pair)`` for the k-th pair (a, b) of that size's agents."""
    db = ResultsDB(tmp_path / "results.sqlite")
    db.start_run("minigrid", "quick", {})
    _add_variant(db, runs, {measure: values[measure] for measure in measures}, variant,
                 test_sizes)
    return db


def _add_variant(db, runs, values, variant, test_sizes=(5, 6)):
    """Add ``variant``'s agents and pairs to ``db``: every save point of every run an agent
    (its quality as its mean return), every pair of a training size's agents compared on each
    test size, ``values[measure](size, test, k, pair)`` for its k-th pair."""
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
                for measure, f in values.items():
                    layer = "features" if measure == "linear_cka" else "output"
                    rows.append({"model_a": pair[0], "model_b": pair[1],
                                 "test_set": f"empty-{test}", "layer": layer, "measure": measure,
                                 "value": f(size, test, k, pair)})
        db.add_pairs(rows)


def _analyse(db, tmp_path, **settings):
    settings = Settings(**{"train_sizes": (5, 6), "test_sizes": (5,), "variants": ("plain",),
                           "n_permutations": 200, "n_resamples": 200, "population_draws": 100,
                           **settings})
    return STUDY.analyse(db, AnalysisContext(settings, "quick", tmp_path / "figures"))


def _lines(slopes):
    """Values on a line per training size: JSD = 0.5 + slope * CKA, rank = CKA."""
    def cka(size, test, k, pair):
        return 0.2 + 0.01 * k + 0.001 * test
    return {"linear_cka": cka,
            "jsd": lambda size, test, k, pair: 0.5 + slopes[size] * cka(size, test, k, pair),
            "spearman": cka}


def _noisy(size, test, k, pair):
    """Values with a network-level effect: each agent shifts CKA up and JSD down on all its
    pairs (so pairs that share an agent are dependent, and the network-level interval is
    wider than the pair-level one), plus pair noise; deterministic."""
    def effect(name):
        return np.random.default_rng(sum(map(ord, name))).normal()

    shared = effect(pair[0]) + effect(pair[1])
    noise = np.random.default_rng([size, test, k]).normal(size=2)
    return {"linear_cka": 0.5 + 0.1 * shared + 0.05 * noise[0],
            "jsd": 0.4 - 0.05 * shared + 0.05 * noise[1],
            "spearman": 0.5 + 0.05 * shared + 0.05 * noise[1]}


NOISY = {m: (lambda m: lambda *a: _noisy(*a)[m])(m) for m in ("linear_cka", "jsd", "spearman")}
SOLVED = ["poor", "mediocre", "optimal"]


@pytest.fixture(scope="module")
def four_runs(tmp_path_factory):
    """Four solved runs per training size and one that does not end optimal, noisy values."""
    tmp = tmp_path_factory.mktemp("four_runs")
    runs = {5: [SOLVED] * 4 + [["poor", "mediocre", "mediocre"]], 6: [SOLVED] * 4}
    db = _database(tmp, runs, NOISY, test_sizes=(5, 6))
    return db, _analyse(db, tmp, test_sizes=(5, 6))


def _check_headline_population(db, output):
    """The headline's pairs are the thesis's: across runs, runs that end optimal. 5x5 has 4
    solved runs of 3 agents (54 pairs across them), 6x6 likewise, on two test rooms."""
    plain = output.result.variants["plain"]
    assert plain.n_pairs == 4 * 54
    assert [c.n_pairs for c in plain.cells.values()] == [54, 54, 54, 54]
    (declared,) = STUDY.headlines(db, Settings(train_sizes=(5, 6), test_sizes=(5, 6),
                                               variants=("plain",)))
    pairs = declared.pairs
    assert len(pairs) == 4 * 54 and not (pairs["run_a"] == pairs["run_b"]).any()
    assert pairs["run_solved_a"].all() and pairs["run_solved_b"].all()


def test_the_headline_relates_pairs_across_runs_that_end_optimal(four_runs):
    db, output = four_runs
    _check_headline_population(db, output)
    plain = output.result.variants["plain"]
    assert output.result.n_pairs == 105 * 2 + 66 * 2
    assert output.result.n_headline_pairs == 4 * 54
    cell = plain.cells["train5-test5"]
    # the categories are those of the headline's pairs: never two save points of one run
    assert cell.categories == {"both optimal": 6, "optimal vs mediocre": 12,
                               "optimal vs poor": 12, "other": 24}
    counts = {(a.variant, a.train_size): a for a in output.result.agents}
    assert counts[("plain", 5)].runs == 5 and counts[("plain", 5)].runs_solved == 4
    assert any("1 of 5 runs do not end optimal" in note for note in output.section.notes)
    assert len(output.section.figures) == 2 and all(f.path.is_file() for f in output.section.figures)
    summary = json.loads(json.dumps(output.summary))  # plain JSON: the result's serialisation
    assert from_json(MiniGridResult, summary) == output.result


def test_planted_same_run_pairs_in_the_headline_are_caught(four_runs, monkeypatch, tmp_path):
    """Fault: the headline lets same-run pairs in (the population rule ignores its setting)."""
    from simfunc.studies.minigrid import analysis, population

    right = population.in_population

    def faulty(table, chosen):
        return right(table, Population(True, chosen.suboptimal))

    monkeypatch.setattr(analysis, "in_population", faulty)
    monkeypatch.setattr(population, "in_population", faulty)
    monkeypatch.setattr("simfunc.studies.minigrid.in_population", faulty)
    db, _ = four_runs
    with pytest.raises(AssertionError):
        _check_headline_population(db, _analyse(db, tmp_path, test_sizes=(5, 6)))


def _check_network_level(db, output):
    """The headline's interval is the network-level one: an independent network bootstrap
    (runs redrawn within training sizes, the mean over cells) over the headline's pairs gives
    the same interval, and it is wider than the pair-level one."""
    from simfunc import stats

    row = next(r for r in output.section.thesis_rows if r.id == "minigrid.plain.cka_jsd")
    (declared,) = STUDY.headlines(db, Settings(train_sizes=(5, 6), test_sizes=(5, 6),
                                               variants=("plain",)))
    pairs = declared.pairs
    runs = dict(zip(pairs["model_a"], pairs["run_a"])) | dict(zip(pairs["model_b"], pairs["run_b"]))
    sizes = {model: int(model.split("-")[1].split("x")[0]) for model in runs}
    expected = stats.network_bootstrap_ci(
        pairs["linear_cka"], pairs["jsd"], a=list(pairs["model_a"]), b=list(pairs["model_b"]),
        blocks=list(pairs["cell"]), combine="mean", clusters=runs, bootstrap_strata=sizes,
        n_resamples=200, seed=0)
    assert row.ci is not None and row.ci == pytest.approx(expected)
    mean = output.result.variants["plain"].jsd
    pair_ci = mean.relation.pair_ci
    assert row.ci[1] - row.ci[0] > pair_ci[1] - pair_ci[0]


def test_the_verdict_uses_the_network_level_interval(four_runs):
    db, output = four_runs
    _check_network_level(db, output)
    row = next(r for r in output.section.thesis_rows if r.id == "minigrid.plain.cka_jsd")
    assert row.value < 0 and row.ci[1] < 0  # the planted relation: more CKA, less JSD
    assert row.judgement.verdict.value == "reproduced"
    assert "network-bootstrap" in row.judgement.why and row.differs


def test_planted_pair_level_inference_is_caught(four_runs, monkeypatch, tmp_path):
    """Fault: the headline relation is computed as if pairs were independent (no networks):
    the interval check fails and the verdict turns inconclusive, saying why."""
    from simfunc.studies import common
    from simfunc.studies.minigrid import analysis

    def pair_level(declared, measure, output, sign):
        pairs = declared.pairs.dropna(subset=[measure, output])
        return common.relation_summary(pairs[measure].to_numpy(float),
                                       pairs[output].to_numpy(float), sign,
                                       declared.n_permutations, declared.n_resamples)

    monkeypatch.setattr(analysis, "relate_headline", pair_level)
    db, _ = four_runs
    output = _analyse(db, tmp_path, test_sizes=(5, 6))
    with pytest.raises(AssertionError):
        _check_network_level(db, output)
    row = next(r for r in output.section.thesis_rows if r.id == "minigrid.plain.cka_jsd")
    assert row.judgement.verdict.value == "inconclusive" and row.ci is None
    assert "network-level" in row.judgement.why


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
    populations = {entry.name: entry for entry in output.result.populations}
    assert [entry.headline for entry in output.result.populations] == \
        [True, False, False, False, False]
    counts = {name: entry.n_pairs["plain"] for name, entry in populations.items()}
    # 12 agents of 4 runs; 3 solved runs: 27 pairs across them, +9 within them; without
    # mediocre agents 7 are left (2 + 2 + 1 + 2), 21 pairs of which 3 within a run
    assert list(counts.values()) == [27, 36, 54, 18, 66]
    rho = {name: entry.jsd["plain"].rho for name, entry in populations.items()}
    headline = next(iter(rho))
    assert rho[headline] == pytest.approx(-1.0)
    assert rho["… with same-run pairs"] > -0.95  # the same-run pairs break the trend
    table = output.section.tables[0].frame
    assert len(table) == 5 and table["population"].iloc[0].endswith("(headline)")
    # a population of the settings' own that is none of the named ones is listed first
    own = _analyse(db, tmp_path, train_sizes=(5,),
                   population=Population(same_run_pairs=True, suboptimal="drop-mediocre"))
    assert own.result.populations[0].headline and len(own.result.populations) == 6


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
    plain = output.result.variants["plain"]
    cell = plain.cells["train5-test5"]
    assert cell.n_pairs == 3 and cell.jsd.rho is None and cell.jsd.undefined
    assert not cell.in_headline and plain.jsd.rho is None
    assert any("have no CKA" in note for note in output.section.notes)
    row = next(r for r in output.section.thesis_rows if r.id == "minigrid.plain.cka_jsd")
    assert row.value is None and row.judgement.verdict.value == "inconclusive"
    assert "NaN" not in json.dumps(output.summary)


def test_two_runs_per_cell_leave_no_interval_and_the_verdict_says_so(tmp_path):
    """The old quick design (2 runs per training size): the mean over cells is computed, its
    network-level interval is not (too few resamples keep both runs), and every relation's
    verdict is inconclusive, naming the reason; the pair-level interval is never used."""
    runs = {5: [SOLVED, SOLVED], 6: [SOLVED, SOLVED]}
    db = _database(tmp_path, runs, _lines({5: -0.4, 6: -0.2}))
    output = _analyse(db, tmp_path)
    mean = output.result.variants["plain"].jsd
    assert mean.rho == pytest.approx(-1.0) and mean.n_cells == 2
    assert mean.ci is None and "network-level interval" in mean.ci_undefined
    for key in ("cka_jsd", "cka_rank"):
        row = next(r for r in output.section.thesis_rows if r.id == f"minigrid.plain.{key}")
        assert row.ci is None and row.judgement.verdict.value == "inconclusive"
        assert "no network-bootstrap 95% interval" in row.judgement.why


def test_the_bottleneck_contrasts_have_intervals_that_decide(tmp_path):
    """bottleneck − plain of the mean ρ(CKA, JSD) and of the slopes' coefficient of
    variation: planted so that the bottleneck's relation is the stronger one (plain noisy,
    bottleneck a clean line with equal slopes in every cell), both claims are reproduced;
    swapped, both are contradicted."""
    runs = {5: [SOLVED] * 4, 6: [SOLVED] * 4}

    def both(first, second):
        (tmp_path / first).mkdir()
        db = _database(tmp_path / first, runs,
                       NOISY if first == "noisy" else _steep(), test_sizes=(5, 6))
        _add_variant(db, runs, NOISY if second == "noisy" else _steep(), "bottleneck")
        return _analyse(db, tmp_path, test_sizes=(5, 6), variants=("plain", "bottleneck"))

    good = both("noisy", "clean")
    rows = {r.id: r for r in good.section.thesis_rows if r.id}
    assert rows["minigrid.bottleneck_stronger"].value < 0
    assert rows["minigrid.bottleneck_stronger"].judgement.verdict.value == "reproduced"
    assert rows["minigrid.slopes_alike"].judgement.verdict.value == "reproduced"
    bad = both("clean", "noisy")
    rows = {r.id: r for r in bad.section.thesis_rows if r.id}
    assert rows["minigrid.bottleneck_stronger"].judgement.verdict.value == "contradicted"
    assert rows["minigrid.slopes_alike"].judgement.verdict.value == "contradicted"


def _steep():
    """A clean line per cell, the same slope everywhere up to a little noise (ρ near −1)."""
    def cka(size, test, k, pair):
        return 0.2 + 0.01 * k + 0.001 * test

    def jitter(size, test, k):
        return 0.002 * np.random.default_rng([size, test, k, 7]).normal()

    return {"linear_cka": cka,
            "jsd": lambda size, test, k, pair: 0.5 - 0.3 * cka(size, test, k, pair)
            + jitter(size, test, k),
            "spearman": lambda size, test, k, pair: cka(size, test, k, pair)
            + jitter(size, test, k)}
