"""The bottleneck factor comparisons (issue 21 §2) for real, on a small MiniGrid run: real PPO
agents, their real rollouts, the factor jobs (other states, the 64-d embedding, the policy's
greedy paths), the factor table in the summary and the report.

The run is small (the 5×5 room, three runs per variant of four rooms each, saved untrained,
after 512 and 1,024 steps, tested on the 5×5 and 6×6 rooms for two episodes, linear CKA only,
every agent kept), so its numbers are not a finding: what is checked is that the factor values the study stores are the quantities it
names, recomputed here from scratch. The table's analysis is tested on constructed databases in
test_minigrid_factors.py, and the quick profile's finding in test_minigrid_quick.py."""

from __future__ import annotations

import html
import sqlite3

import numpy as np
import pytest

from simfunc import functional, representational
from simfunc.studies.framework import StudyResult, run_study

from study_checks import played_states, saved_agent

pytestmark = pytest.mark.slow

OVERRIDES = {"train_sizes": "5", "test_sizes": "5,6", "seeds": "0,1,2",
             "training.n_envs": 4, "training.save_steps": "5:0/512/1024",
             "training.eval_episodes": 2, "episodes": 2,
             "measures": "linear_cka",
             "population.suboptimal": "keep", "factors": True, "n_permutations": 200,
             "n_resamples": 200, "population_draws": 100}


@pytest.fixture(scope="module")
def root(study_root):
    return study_root  # cache/ is the session's shared study cache (conftest.py)


@pytest.fixture(scope="module")
def small(root) -> StudyResult:
    return run_study("minigrid", "quick", out=root / "runs", cache_dir=root / "cache", jobs=1,
                     progress=False, overrides=OVERRIDES)


@pytest.mark.parametrize("variant", ["bottleneck", "plain"])
def test_a_pairs_factor_values_recomputed_independently(small, root, variant):
    """The factor table's quantities from scratch for one pair on the 6×6 test room: CKA of
    the 64-d embedding (a forward hook on the convolutions) on the pooled states, the JSD on
    the first agent's states only, and whether the greedy episodes differ."""
    from simfunc.envs import collect_states
    from simfunc.extract import activations

    a, b = f"{variant}-5x5-s0-t1024", f"{variant}-5x5-s1-t0"
    pooled, agents = [], []
    for model_id in (a, b):
        agent, k = saved_agent(root, small.run_dir, model_id)
        pooled.append(played_states(agent, k, 6, 2))
        agents.append(agent)
    states = np.concatenate(pooled)
    layers = ["features_extractor.image_conv", "action_net"]
    outputs = [activations(agent, states, layers, dtype=np.float64) for agent in agents]
    with sqlite3.connect(small.run_dir / "results.sqlite") as connection:
        stored = {(layer, measure): value for layer, measure, value in connection.execute(
            "SELECT layer, measure, value FROM pairs WHERE model_a = ? AND model_b = ? "
            "AND test_set = 'empty-6'", (a, b)).fetchall()}
    assert outputs[0][layers[0]].shape == (len(states), 64)
    assert stored[("embedding", "linear_cka")] == pytest.approx(representational.linear_cka(
        outputs[0][layers[0]], outputs[1][layers[0]]), abs=1e-6)
    first = slice(0, len(pooled[0]))
    assert stored[("output@first", "jsd")] == pytest.approx(functional.jsd(
        outputs[0]["action_net"][first], outputs[1]["action_net"][first], from_logits=True),
        abs=1e-6)
    paths = [collect_states(agent, 6, 1, 0, deterministic=True)[0].tobytes() for agent in agents]
    assert stored[("policy", "greedy_paths_differ")] == float(paths[0] != paths[1])


def test_the_factor_table_is_in_the_summary_and_the_report(small):
    factors = small.summary["factors"]
    headline = factors["levels"][0]
    for variant in ("plain", "bottleneck"):
        assert headline["jsd"][variant]["rho"] == small.summary["variants"][variant]["jsd"]["rho"]
    assert {row["factor"] for row in factors["levels"]} >= {
        "training budget", "population", "states compared on", "compared layer",
        "equally good policies", "bottleneck"}
    report = html.unescape((small.run_dir / "report.html").read_text(encoding="utf-8"))
    assert "The bottleneck factor table" in report and "Bottleneck factor table:" in report
