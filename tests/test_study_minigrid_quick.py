"""The MiniGrid study (thesis §3.5, §3.5.1) on its quick profile: the finding, asserted.

The quick profile is seeded, so the run is deterministic. The test runs it without its 16×16
training room (no 16×16 run ends optimal on quick, so the headline, which keeps runs that end
optimal, has no 16×16 cell either way; the full quick run's headline is the same numbers). The
bounds come from running that configuration with several seed sets
(``simfunc run minigrid --profile quick --set seeds=A,B --set train_sizes=5,6,8``): mean over
cells of ρ(CKA, JSD), headline population (pairs across runs, runs that end optimal):

    seeds   plain (cells)   largest plain cell   bottleneck (cells)   bottleneck − plain
    0,1     −0.778 (9)          −0.35              +0.025 (6)            +0.803  (this test)
    2,3     −0.457 (9)          −0.10              −0.308 (6)            +0.149
    4,5     −0.741 (9)          −0.60              −0.164 (6)            +0.577

(The bottleneck has 6 cells: in every seed set an 8×8 run does not end optimal.)

Without the bottleneck CKA tracks JSD in every seed set and every cell (the thesis: −0.721);
its size moves (−0.46 to −0.78), so the bound is −0.95 to −0.3. With the thesis's bottleneck
(64 → 8 → the final linear layers) the relation is weaker than without it in every seed set,
by 0.15 to 0.80, so only the sign of the difference is asserted; the thesis, training to
convergence, found it slightly stronger (−0.781). In the whole recorded population (same-run
pairs, unsolved runs) the difference is not stable (+0.54, −0.01, +0.41) and is not asserted.

The finding alone does not notice a study that computes it on the wrong data: rolling every
cell's agents out on the first test room while recording the pairs under each test room's name
(a swapped test set) left the finding test passing; the independent recomputation of one
bottleneck pair on its 6×6 test room failed (stored CKA 0.4647, recomputed 0.4410). So a pair of
each variant is recomputed here from the cached agents.
"""

from __future__ import annotations

import html
import sqlite3

import numpy as np
import pytest

from simfunc import functional, representational
from simfunc.studies.framework import StudyResult, run_study

pytestmark = pytest.mark.slow

# The quick profile without its 16×16 training room: on quick no 16×16 run ends optimal, so
# the headline (runs that end optimal) has no 16×16 cell either way, and 16×16 is the slowest
# part to train and roll out. The permutation and bootstrap sizes change no ρ.
OVERRIDES = {"train_sizes": [5, 6, 8], "n_permutations": 500, "n_resamples": 500}
PLAIN_RHO_CKA_JSD = (-0.95, -0.3)  # measured -0.778, -0.457, -0.741
BOTTLENECK_MINUS_PLAIN_MIN = 0.0  # measured +0.803, +0.149, +0.577


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("minigrid")


@pytest.fixture(scope="module")
def quick(root) -> StudyResult:
    return run_study("minigrid", "quick", out=root / "runs", cache_dir=root / "cache", jobs=2,
                     progress=False, overrides=OVERRIDES)


def _stored(run_dir, a, b, test_set):
    with sqlite3.connect(run_dir / "results.sqlite") as connection:
        return dict(connection.execute(
            "SELECT measure, value FROM pairs WHERE model_a = ? AND model_b = ? AND test_set = ? "
            "AND ((layer = 'features' AND measure = 'linear_cka') OR layer = 'output')",
            (a, b, test_set)).fetchall())


def _agent(root, run_dir, model_id):
    """The saved agent ``model_id`` from the cache, and its index among its cell's agents."""
    from simfunc.train.ppo import agent_path, load_agent

    with sqlite3.connect(run_dir / "results.sqlite") as connection:
        artifact, epoch = connection.execute(
            "SELECT artifact, epoch FROM models WHERE model_id = ?", (model_id,)).fetchone()
        cell = model_id.rsplit("-s", 1)[0] + "-s%"
        ids = [row[0] for row in connection.execute(
            "SELECT model_id FROM models WHERE model_id LIKE ? ORDER BY seed, epoch", (cell,))]
    return load_agent(agent_path(root / "cache" / artifact, epoch)), ids.index(model_id)


@pytest.mark.parametrize("variant, test", [("bottleneck", 6), ("plain", 5)])
def test_a_pair_recomputed_independently_matches_what_the_study_stored(quick, root, variant,
                                                                       test):
    """The thesis's quantities from scratch: two agents of different runs (one final, one
    halfway) loaded from the cache, each playing the test room (4 episodes seeded 1000 + i, at
    most 200 of its states kept as documented), their features after the bottleneck and their
    logits read by forward hooks on the pooled states, compared with the measures themselves."""
    from simfunc.envs import collect_states
    from simfunc.extract import activations

    a, b = f"{variant}-8x8-s0-t24576", f"{variant}-8x8-s1-t8192"
    pooled = []
    hooked = []
    for model_id in (a, b):
        agent, k = _agent(root, quick.run_dir, model_id)
        if variant == "bottleneck":  # §3.5.1: 8-d features, then the final layer directly
            assert agent.action_net.in_features == 8 and len(agent.mlp_extractor.policy_net) == 0
        states, _ = collect_states(agent, test, 4, seed=1000)
        if len(states) > 200:
            keep = np.random.default_rng([1000, k]).choice(len(states), 200, replace=False)
            states = states[np.sort(keep)]
        pooled.append(states)
        hooked.append(agent)
    states = np.concatenate(pooled)
    outputs = [activations(agent, states, ["features_extractor.features", "action_net"],
                           dtype=np.float64) for agent in hooked]
    stored = _stored(quick.run_dir, a, b, f"empty-{test}")
    assert {"linear_cka", "jsd", "spearman"} <= set(stored), stored
    width = 8 if variant == "bottleneck" else 64
    assert outputs[0]["features_extractor.features"].shape == (len(states), width)
    assert stored["linear_cka"] == pytest.approx(representational.linear_cka(
        outputs[0]["features_extractor.features"], outputs[1]["features_extractor.features"]),
        abs=1e-6)
    for name in ("jsd", "spearman"):
        expected = functional.OUTPUT_MEASURES[name](
            outputs[0]["action_net"], outputs[1]["action_net"], from_logits=True)
        assert stored[name] == pytest.approx(expected, abs=1e-6), name


def _mean_rho(summary, variant, key):
    mean = summary["variants"][variant][f"mean_rho_cka_{key}"]
    return None if mean is None else mean["spearman"]


def test_the_bottleneck_effect_on_the_quick_profile(quick):
    """The finding, with bounds from the seed sets in the module docstring: without the
    bottleneck CKA tracks JSD (the mean over cells of ρ(CKA, JSD) negative, and every cell's);
    with the thesis's 8-d bottleneck the relation is weaker on the quick profile (the thesis saw
    it slightly stronger, −0.721 → −0.781, after training to convergence), and the report sets
    that difference beside the thesis's."""
    summary = quick.summary
    plain, bottleneck = (_mean_rho(summary, v, "jsd") for v in ("plain", "bottleneck"))
    assert PLAIN_RHO_CKA_JSD[0] <= plain <= PLAIN_RHO_CKA_JSD[1]
    cells = summary["variants"]["plain"]["mean_rho_cka_jsd"]["cells"]
    assert len(cells) == 9 and max(cells) < 0  # 3 training × 3 test rooms, both runs solved
    assert bottleneck - plain > BOTTLENECK_MINUS_PLAIN_MIN
    report = html.unescape((quick.run_dir / "report.html").read_text(encoding="utf-8"))
    assert "mean ρ(CKA, JSD): bottleneck minus plain" in report


def test_the_headline_is_network_level_over_the_thesis_population(quick):
    summary = quick.summary
    assert summary["population"] == {"same_run_pairs": False, "suboptimal": "drop-unsolved-runs"}
    for variant in ("plain", "bottleneck"):
        for key in ("jsd", "rank"):
            mean = summary["variants"][variant][f"mean_rho_cka_{key}"]
            assert mean["inference"] == "network-level" and mean["combine"] == "mean"
            assert mean["n_blocks"] == mean["n_cells"] and mean["spearman_p"] is not None
            assert mean["spearman"] == pytest.approx(np.mean(mean["cells"]))
            # two runs per cell: too few runs redrawn for a network-level interval, and said so
            assert mean["spearman_ci"] is None
            assert any("no network-level interval" in note for note in mean["notes"])
            assert mean["pair_spearman_ci"] is not None


def test_every_population_is_beside_the_headline_in_the_report(quick):
    populations = quick.summary["populations"]
    assert len(populations) == 5 and populations[0]["headline"]
    every = populations[-1]
    assert every["same_run_pairs"] and every["suboptimal"] == "keep"
    for variant in ("plain", "bottleneck"):
        assert every[variant]["n_pairs"] == 3 * 3 * 15  # 3 training × 3 test rooms, 15 pairs
        assert populations[0][variant]["n_pairs"] <= 3 * 3 * 9  # across runs: 9 per cell
    report = html.unescape((quick.run_dir / "report.html").read_text(encoding="utf-8"))
    assert "how much the choice of population moves ρ" in report
    assert "every recorded pair (the earlier headline)" in report
    assert "network-level (" in report and "JSD is in bits" in report
    assert report.count('src="data:image/png;base64,') == 4


def test_a_rerun_reuses_every_job(quick, root):
    again = run_study("minigrid", "quick", out=root / "runs", cache_dir=root / "cache",
                      progress=False, overrides=OVERRIDES)
    assert again.report.run == 0 and again.report.cached == len(quick.report.status)
    assert again.summary == quick.summary
