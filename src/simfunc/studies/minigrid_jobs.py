"""The jobs of the MiniGrid study (thesis §3.5): train agents, roll them out, compare pairs.

One *cell* is a variant (plain or bottleneck) and a training grid size; its agents are every
seed's run kept at every save point. Per cell:

* ``train/…`` (one job per seed) — :func:`train_agents`: one PPO run into the job's
  directory with ``train_agent`` (which resumes an interrupted run bit for bit), saving the
  agent at each save point. :func:`record_agents` adds every saved agent to the database
  (``kind="agent"``, ``dataset`` = the training room, ``epoch`` = environment steps,
  ``mean_return`` on the training room, quality in ``extra``).
* ``rollouts/…`` (one job per test grid) — :func:`collect_rollouts`: every agent of the cell
  rolled out on the test room (seeded episodes), at most ``max_states`` of its visited states
  kept; then every agent's features and action probabilities on the *distinct* states any of
  them visited. A state is stored once, so the outputs of every agent on every other agent's
  states cost |agents| × |distinct states| rows (at most ``4 (size - 2)²`` distinct views in
  an Empty room) instead of |agents|² × |states|. :func:`record_test_returns` stores each
  agent's mean return on the test room as a scalar.
* ``compare/…`` (one job per test grid) — :func:`compare_agents`: for every pair of the
  cell's agents, the pooled states (both agents' visited states, with their multiplicity, or
  only the distinct ones) and on them, through :func:`simfunc.compare.compare_pair`, every
  registered representational measure of the features and every output measure of the
  action distributions. A measure undefined on a pair (constant features of a poor agent, too
  few distinct states for CCA) is left out with a note. The image studies'
  :func:`~simfunc.studies.classifier_jobs.record_pairs` writes one row per (pair,
  measure) and the notes.

Job configurations are plain JSON; what the study calls things (model ids, test-set names)
travels in ``Job.meta``, outside the cache key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from simfunc.compare import compare_pair
from simfunc.errors import InputError
from simfunc.io import atomic_save_npz
from simfunc.runner import Job
from simfunc.studies.classifier_jobs import PAIRS_FILE, save_comparisons
from simfunc.validation import check_int

__all__ = [
    "FEATURES_LAYER",
    "ROLLOUTS_FILE",
    "PAIRS_FILE",
    "train_job",
    "rollouts_job",
    "compare_job",
    "train_agents",
    "collect_rollouts",
    "compare_agents",
    "record_agents",
    "record_test_returns",
    "rollout_arrays",
    "load_rollouts",
    "pooled_outputs",
    "test_set_name",
    "TEST_RETURN_PREFIX",
]

FEATURES_LAYER = "features"  # the layer name of the compared features in the database
ROLLOUTS_FILE = "rollouts.npz"
TEST_RETURN_PREFIX = "test_return/"  # scalars "test_return/<model id>/<test set>"
SCALARS_STUDY = "minigrid"  # the study name the scalars are recorded under

_MODULE = "simfunc.studies.minigrid_jobs"


def test_set_name(size: int) -> str:
    """The database's name of a test room: ``empty-5`` for MiniGrid-Empty-5x5-v0."""
    return f"empty-{int(size)}"


# --------------------------------------------------------------------------------- building


def train_job(job_id: str, size: int, seed: int, bottleneck: bool, save_at: Sequence[int], *,
              eval_episodes: int, eval_seed: int, model_ids: Mapping[int, str], variant: str,
              hyperparameters: Mapping[str, Any] | None = None) -> Job:
    """A job training one agent and saving it at ``save_at`` (environment steps).

    ``model_ids`` maps each save point to the study's name of the agent saved there.
    """
    from simfunc.train.ppo import agent_config

    config = {
        "agent": agent_config(size, seed, bottleneck, **dict(hyperparameters or {})),
        "save_at": sorted(int(point) for point in save_at),
        "eval_episodes": eval_episodes,
        "eval_seed": eval_seed,
    }
    return Job(
        job_id, f"{_MODULE}:train_agents", config, record=f"{_MODULE}:record_agents",
        meta={"variant": variant, "model_ids": {str(t): name for t, name in model_ids.items()}},
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


# ------------------------------------------------------------------------- pure computations


def rollout_arrays(policies: Sequence[Any], test_size: int, episodes: int, seed: int,
                   max_states: int, num_threads: int | None = 1) -> dict[str, np.ndarray]:
    """Roll every policy out on the Empty room of ``test_size``; their outputs on all states.

    Policy ``k`` plays ``episodes`` episodes (``collect_states`` with ``seed``: episode ``i``
    resets with ``seed + i`` and samples its actions from its own generator); if it visited
    more than ``max_states`` states, a uniform sample of ``max_states`` of them (without
    replacement, generator ``default_rng([seed, k])``, visiting order kept) is kept.

    Returns the arrays of ``rollouts.npz``:

    * ``states`` ``uint8 (m, 7, 7, 3)``: the distinct states any policy visited;
    * ``index_<k>`` ``int64``: policy k's kept states as rows of ``states``, with repetitions;
    * ``features_<k>`` ``(m, d)`` and ``probs_<k>`` ``(m, 7)``: policy k on every state;
    * ``returns_<k>`` ``(episodes,)``: its episode returns on the room.

    ``num_threads``: torch threads meanwhile (restored afterwards; None leaves the setting
    alone). One is right for this tiny network, which runs one small batch per step: with
    two threads on a busy 2-core machine the rollouts were measured 10-40 times slower.
    """
    import torch

    if len(policies) == 0:
        raise InputError("policies is empty: at least one agent is needed")
    episodes = check_int(episodes, "episodes", minimum=1)
    max_states = check_int(max_states, "max_states", minimum=1)
    previous = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(check_int(num_threads, "num_threads", minimum=1))
    try:
        return _rollout_arrays(policies, test_size, episodes, seed, max_states)
    finally:
        torch.set_num_threads(previous)


def _rollout_arrays(policies: Sequence[Any], test_size: int, episodes: int, seed: int,
                    max_states: int) -> dict[str, np.ndarray]:
    from simfunc.envs import collect_states
    from simfunc.train.ppo import policy_outputs

    visited, returns = [], []
    for k, policy in enumerate(policies):
        states, episode_returns = collect_states(policy, test_size, episodes, seed)
        if len(states) > max_states:
            keep = np.random.default_rng([seed, k]).choice(len(states), max_states, replace=False)
            states = states[np.sort(keep)]
        visited.append(states)
        returns.append(episode_returns)
    flat = np.concatenate(visited).reshape(sum(map(len, visited)), -1)
    distinct, inverse = np.unique(flat, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    states = distinct.reshape(len(distinct), *visited[0].shape[1:]).astype(np.uint8)
    arrays: dict[str, np.ndarray] = {"states": states}
    offsets = np.cumsum([0] + [len(v) for v in visited])
    for k, policy in enumerate(policies):
        features, probabilities = policy_outputs(policy, states)
        arrays[f"index_{k}"] = inverse[offsets[k]:offsets[k + 1]].astype(np.int64)
        arrays[f"features_{k}"] = features
        arrays[f"probs_{k}"] = probabilities
        arrays[f"returns_{k}"] = returns[k]
    return arrays


def pooled_outputs(arrays: Mapping[str, np.ndarray], a: int, b: int, distinct: bool = False
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Agents ``a`` and ``b`` on their pooled states: ``(X, Y, P, Q)``.

    The pooled states are the states a visited followed by those b visited (each with its
    multiplicity), or with ``distinct=True`` each distinct state of that union once.
    X, Y are the two agents' features on them, P, Q their action probabilities.
    """
    rows = np.concatenate([arrays[f"index_{a}"], arrays[f"index_{b}"]])
    if distinct:
        rows = np.unique(rows)
    return (arrays[f"features_{a}"][rows], arrays[f"features_{b}"][rows],
            arrays[f"probs_{a}"][rows], arrays[f"probs_{b}"][rows])


# ------------------------------------------------------------------------------ job functions


def train_agents(ctx: Any) -> None:
    from simfunc.train.ppo import train_agent

    config = ctx.config
    agent = dict(config["agent"])
    size, seed, bottleneck = agent.pop("size"), agent.pop("seed"), agent.pop("bottleneck")
    save_at = config["save_at"]
    train_agent(
        size, seed, max(save_at), out_dir=ctx.output_dir, bottleneck=bottleneck,
        save_at=save_at, eval_episodes=config["eval_episodes"], eval_seed=config["eval_seed"],
        num_threads=1, progress=ctx.settings.progress, **agent,
    )


def collect_rollouts(ctx: Any) -> None:
    from simfunc.train.ppo import agent_path, load_agent

    config = ctx.config
    deps = ctx.job.deps
    policies = [load_agent(agent_path(ctx.input(deps[i]), t)) for i, t in config["agents"]]
    arrays = rollout_arrays(policies, config["test_size"], config["episodes"], config["seed"],
                            config["max_states"])
    atomic_save_npz(ctx.output_dir / ROLLOUTS_FILE, **arrays)


def load_rollouts(entry: Path) -> dict[str, np.ndarray]:
    """The arrays :func:`collect_rollouts` wrote into the cache entry ``entry``."""
    from simfunc.io import load_npz

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

    variant = job.meta["variant"]
    for point, model_id in job.meta["model_ids"].items():
        saved = SavedAgent.read(agent_path(entry, int(point)))
        config = saved.config
        db.add_model(
            model_id, kind="agent",
            arch="actor-critic" + ("+bottleneck" if config["bottleneck"] else ""),
            dataset=test_set_name(config["size"]), seed=config["seed"], epoch=saved.timesteps,
            trained=saved.timesteps > 0, mean_return=saved.mean_return,
            artifact=f"{job.namespace}/{Path(entry).name}", config=config,
            extra={"variant": variant, "train_size": config["size"],
                   "timesteps": saved.timesteps, "quality": saved.quality,
                   "greedy_return": saved.greedy_return},
        )


def record_test_returns(entry: Path, db: Any, job: Job) -> None:
    arrays = load_rollouts(entry)
    test_set = job.meta["test_set"]
    for k, model_id in enumerate(job.meta["model_ids"]):
        returns = arrays[f"returns_{k}"]
        db.add_scalar(SCALARS_STUDY, f"{TEST_RETURN_PREFIX}{model_id}/{test_set}",
                      float(np.mean(returns)), extra={"episodes": int(len(returns))})
