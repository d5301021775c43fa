"""The jobs of the MiniGrid study (thesis §3.5): train agents, roll them out, compare pairs.

One *cell* is a variant (network) and a training grid size; its agents are every seed's run
kept at every save point. Per cell:

* ``train/…`` (one job per seed) — :func:`train_agents`: one PPO run
  (:func:`simfunc.train.ppo.train_agent`, which resumes an interrupted run bit for bit) into
  the job's directory, saving the agent at each save point. :func:`record_agents` adds every
  saved agent to the database (``kind="agent"``, ``dataset`` = the training room, ``epoch`` =
  environment steps, ``mean_return`` on the training room; variant, training size, run and
  greedy return in ``extra``).
* ``rollouts/…`` (one job per test grid) — :func:`collect_rollouts`: every agent of the cell
  rolled out on the test room and its outputs on every distinct visited state
  (:func:`simfunc.envs.rollout_arrays`). :func:`record_test_returns` stores each agent's mean
  return on the test room as a scalar.
* ``compare/…`` (one job per test grid) — :func:`compare_agents`: for *every* pair of the
  cell's agents (the analysis chooses the population it relates), the pooled states
  (:func:`simfunc.envs.pooled_outputs`) and on them, through
  :func:`simfunc.compare.compare_pair`, every registered representational measure of the
  features and every output measure of the action distributions. A measure undefined on a
  pair (constant features of a poor agent, too few distinct states for CCA) is left out with a
  note; :func:`~simfunc.studies.classifier_jobs.record_pairs` writes the values and notes.

Job configurations are plain JSON; what the study calls things (model ids, test-set names)
travels in ``Job.meta``, outside the cache key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from simfunc.compare import compare_pair
from simfunc.envs import pooled_outputs, rollout_arrays
from simfunc.errors import InputError
from simfunc.io import atomic_save_npz, load_npz
from simfunc.runner import Job
from simfunc.studies.classifier_jobs import PAIRS_FILE, save_comparisons

__all__ = [
    "FEATURES_LAYER",
    "ROLLOUTS_FILE",
    "TEST_RETURN_PREFIX",
    "train_job",
    "rollouts_job",
    "compare_job",
    "train_agents",
    "collect_rollouts",
    "compare_agents",
    "record_agents",
    "record_test_returns",
    "load_rollouts",
    "test_set_name",
]

FEATURES_LAYER = "features"  # the layer name of the compared features in the database
ROLLOUTS_FILE = "rollouts.npz"
TEST_RETURN_PREFIX = "test_return/"  # scalars "test_return/<model id>/<test set>"
SCALARS_STUDY = "minigrid"  # the study name the scalars are recorded under

_MODULE = "simfunc.studies.minigrid.jobs"


def test_set_name(size: int) -> str:
    """The database's name of a test room: ``empty-5`` for MiniGrid-Empty-5x5-v0."""
    return f"empty-{int(size)}"


# --------------------------------------------------------------------------------- building


def train_job(job_id: str, size: int, seed: int, network: str, save_at: Sequence[int], *,
              eval_episodes: int, eval_seed: int, model_ids: Mapping[int, str], run: str,
              hyperparameters: Mapping[str, Any] | None = None) -> Job:
    """A job training one agent and saving it at ``save_at`` (environment steps).

    ``model_ids`` maps each save point to the study's name of the agent saved there; ``run``
    names the training run they all belong to.
    """
    from simfunc.train.ppo import agent_config

    config = {
        "agent": agent_config(size, seed, network, **dict(hyperparameters or {})),
        "save_at": sorted(int(point) for point in save_at),
        "eval_episodes": eval_episodes,
        "eval_seed": eval_seed,
    }
    return Job(
        job_id, f"{_MODULE}:train_agents", config, record=f"{_MODULE}:record_agents",
        meta={"variant": network, "run": run,
              "model_ids": {str(t): name for t, name in model_ids.items()}},
    )


def rollouts_job(job_id: str, train_ids: Sequence[str], agents: Sequence[tuple[int, int]],
                 model_ids: Sequence[str], *, test_size: int, episodes: int, seed: int,
                 max_states: int) -> Job:
    """A job rolling out ``agents`` — (index into ``train_ids``, save point) — on one room."""
    if len(agents) != len(model_ids):
        raise InputError("agents and model_ids must have the same length")
    return Job(
        job_id, f"{_MODULE}:collect_rollouts",
        {"agents": [[int(i), int(t)] for i, t in agents], "test_size": test_size,
         "episodes": episodes, "seed": seed, "max_states": max_states},
        deps=tuple(train_ids), record=f"{_MODULE}:record_test_returns",
        meta={"model_ids": list(model_ids), "test_set": test_set_name(test_size)},
    )


def compare_job(job_id: str, rollouts_id: str, model_ids: Sequence[str],
                pairs: Sequence[tuple[int, int]], *, test_size: int, cell: str,
                distinct_states: bool, measures: Sequence[str] | None = None,
                output_measures: Sequence[str] | None = None) -> Job:
    """A job comparing ``pairs`` (indices into the rollouts' agents) on one test room."""
    return Job(
        job_id, f"{_MODULE}:compare_agents",
        {"pairs": [[int(a), int(b)] for a, b in pairs], "distinct_states": distinct_states,
         "measures": list(measures) if measures is not None else None,
         "output_measures": list(output_measures) if output_measures is not None else None},
        deps=(rollouts_id,), record="simfunc.studies.classifier_jobs:record_pairs",
        meta={"model_ids": list(model_ids), "test_set": test_set_name(test_size), "cell": cell},
    )


# ------------------------------------------------------------------------------ job functions


def train_agents(ctx: Any) -> None:
    from simfunc.train.ppo import agent_arguments, train_agent

    config = ctx.config
    size, seed, network, hyperparameters = agent_arguments(config["agent"])
    save_at = config["save_at"]
    train_agent(
        size, seed, max(save_at), out_dir=ctx.output_dir, network=network, save_at=save_at,
        eval_episodes=config["eval_episodes"], eval_seed=config["eval_seed"], num_threads=1,
        progress=ctx.settings.progress, **hyperparameters,
    )


def collect_rollouts(ctx: Any) -> None:
    from simfunc.train.ppo import agent_path, load_agent

    config = ctx.config
    deps = ctx.job.deps
    agents = [load_agent(agent_path(ctx.input(deps[i]), t)) for i, t in config["agents"]]
    arrays = rollout_arrays(agents, config["test_size"], config["episodes"], config["seed"],
                            config["max_states"])
    atomic_save_npz(ctx.output_dir / ROLLOUTS_FILE, **arrays)


def load_rollouts(entry: Path) -> dict[str, np.ndarray]:
    """The arrays :func:`collect_rollouts` wrote into the cache entry ``entry``."""
    return load_npz(Path(entry) / ROLLOUTS_FILE)


def compare_agents(ctx: Any) -> None:
    config = ctx.config
    (rollouts_id,) = ctx.job.deps
    arrays = load_rollouts(ctx.input(rollouts_id))
    compared = []
    with ctx.progress(total=len(config["pairs"]), desc=f"compare {ctx.job.label}") as bar:
        for a, b in config["pairs"]:
            X, Y, P, Q = pooled_outputs(arrays, a, b, config["distinct_states"])
            compared.append((a, b, compare_pair(
                {FEATURES_LAYER: X}, {FEATURES_LAYER: Y}, P, Q, measures=config["measures"],
                output_measures=config["output_measures"], from_logits=False)))
            bar.update(1)
    save_comparisons(ctx.output_dir / PAIRS_FILE, compared)


# ------------------------------------------------------------------------------ recording


def record_agents(entry: Path, db: Any, job: Job) -> None:
    from simfunc.train.ppo import SavedAgent, agent_path

    for point, model_id in job.meta["model_ids"].items():
        saved = SavedAgent.read(agent_path(entry, int(point)))
        config = saved.config
        network = config["network"]
        db.add_model(
            model_id, kind="agent",
            arch="actor-critic" + ("" if network == "plain" else f"+{network}"),
            dataset=test_set_name(config["size"]), seed=config["seed"], epoch=saved.timesteps,
            trained=saved.timesteps > 0, mean_return=saved.mean_return,
            artifact=f"{job.namespace}/{Path(entry).name}", config=config,
            extra={"variant": job.meta["variant"], "train_size": config["size"],
                   "run": job.meta["run"], "timesteps": saved.timesteps,
                   "greedy_return": saved.greedy_return},
        )


def record_test_returns(entry: Path, db: Any, job: Job) -> None:
    arrays = load_rollouts(entry)
    test_set = job.meta["test_set"]
    for k, model_id in enumerate(job.meta["model_ids"]):
        returns = arrays[f"returns_{k}"]
        db.add_scalar(SCALARS_STUDY, f"{TEST_RETURN_PREFIX}{model_id}/{test_set}",
                      float(np.mean(returns)), extra={"episodes": int(len(returns))})
