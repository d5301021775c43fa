"""The jobs behind the bottleneck factor table: each cell's pairs compared again, one factor
changed at a time (§3.5.1's claim that the bottleneck makes the relation stronger).

One ``factors/…`` job per cell and test room runs after the cell's rollouts and reads the
same ``rollouts.npz`` (every agent's features and action probabilities on every distinct state
any agent of the cell visited) and the agents themselves. For every pair of the cell it
records, beside the headline's comparison on the pooled states (each agent's visits with
their multiplicity, :func:`simfunc.envs.pooled_outputs`):

* **the states compared on** — linear CKA of the features (layer ``features@<states>``) and the
  JSD and rank coefficient of the actions (``output@<states>``) on ``distinct`` (each pooled
  state once), ``cell`` (every state any agent of the cell visited on the room: one fixed set
  per cell and room, the same for every pair) and ``first`` (the first agent's visits only);
* **the compared layer** — linear CKA of the 64-d embedding on the pooled states (layer
  ``embedding``): for ``plain`` the compared features themselves, for the bottleneck networks
  the layer the bottleneck reads;
* **equally good policies** — on the pooled states whose view has a known shortest-path action
  (:func:`simfunc.envs.optimal.optimal_actions`), the JSD where both agents' most probable
  actions are optimal (``output@both-optimal``) and where they are not
  (``output@not-both-optimal``); under layer ``policy``: ``both_optimal_states`` (the share of
  those states where both act optimally), ``equal_good_disagreement`` (where both act
  optimally with different actions) and ``greedy_paths_differ`` (1 when the two agents' greedy
  episodes from the start of the room pass through different views, else 0).

A value undefined on a pair (no state in a subset, a constant side) is left out with a note.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from simfunc.compare import Comparison, Note, Value
from simfunc.errors import InputError
from simfunc.runner import Job
from simfunc.studies.classifier_jobs import PAIRS_FILE, save_comparisons
from simfunc.studies.minigrid.jobs import FEATURES_LAYER, load_rollouts, test_set_name

__all__ = ["STATE_SETS", "EMBEDDING", "POLICY", "BOTH_OPTIMAL", "NOT_BOTH_OPTIMAL",
           "features_layer", "output_layer", "factors_job", "compare_factors"]

STATE_SETS = ("distinct", "cell", "first")
EMBEDDING = "embedding"
POLICY = "policy"
BOTH_OPTIMAL, NOT_BOTH_OPTIMAL = "both-optimal", "not-both-optimal"
_MODULE = "simfunc.studies.minigrid.factor_jobs"


def features_layer(states: str) -> str:
    return f"{FEATURES_LAYER}@{states}"


def output_layer(states: str) -> str:
    return f"output@{states}"


def factors_job(job_id: str, rollouts_id: str, train_ids: Sequence[str],
                agents: Sequence[tuple[int, int]], model_ids: Sequence[str],
                pairs: Sequence[tuple[int, int]], *, test_size: int, cell: str) -> Job:
    """A job comparing ``pairs`` of one cell on one test room under every factor (see the
    module docstring); ``agents`` as for the rollouts job: (index into ``train_ids``, save
    point), in the rollouts' order."""
    if len(agents) != len(model_ids):
        raise InputError("agents and model_ids must have the same length")
    return Job(
        job_id, f"{_MODULE}:compare_factors",
        {"agents": [[int(i), int(t)] for i, t in agents], "test_size": int(test_size),
         "pairs": [[int(a), int(b)] for a, b in pairs]},
        deps=(rollouts_id, *train_ids), record="simfunc.studies.classifier_jobs:record_pairs",
        meta={"model_ids": list(model_ids), "test_set": test_set_name(test_size), "cell": cell},
    )


class _Recorder:
    """Collects one pair's values and the notes on those left out."""

    def __init__(self) -> None:
        self.values: list[Value] = []
        self.notes: list[Note] = []

    def add(self, layer: str, measure: str, compute: Any) -> None:
        try:
            value = float(compute())
        except InputError as error:
            self.notes.append(Note(layer, measure, str(error)))
            return
        if np.isfinite(value):
            self.values.append(Value(layer, measure, value))
        else:
            self.notes.append(Note(layer, measure, f"not finite ({value})"))

    def comparison(self) -> Comparison:
        return Comparison(tuple(self.values), tuple(self.notes))


def _outputs(recorder: _Recorder, layer: str, P: np.ndarray, Q: np.ndarray) -> None:
    from simfunc.functional import jsd, spearman

    if len(P) == 0:
        recorder.notes.append(Note(layer, "jsd", "no state in this subset"))
        return
    recorder.add(layer, "jsd", lambda: jsd(P, Q))
    recorder.add(layer, "spearman", lambda: spearman(P, Q))


def compare_factors(ctx: Any) -> None:
    from simfunc.envs.optimal import greedy_path, optimal_mask
    from simfunc.nets.actor_critic import policy_embedding
    from simfunc.representational import linear_cka
    from simfunc.train.ppo import agent_path, load_agent

    config = ctx.config
    rollouts_id, *train_ids = ctx.job.deps
    arrays = load_rollouts(ctx.input(rollouts_id))
    states, size = arrays["states"], int(config["test_size"])
    embeddings, optimal, paths = [], [], []
    for k, (i, t) in enumerate(config["agents"]):
        policy = load_agent(agent_path(ctx.input(train_ids[i]), t))
        embeddings.append(policy_embedding(policy, states))
        optimal.append(optimal_mask(states, arrays[f"probs_{k}"].argmax(axis=1), size))
        paths.append(greedy_path(policy, size).tobytes())
    every_state = np.arange(len(states))
    compared = []
    with ctx.progress(total=len(config["pairs"]), desc=f"factors {ctx.job.label}") as bar:
        for a, b in config["pairs"]:
            Fa, Fb = arrays[f"features_{a}"], arrays[f"features_{b}"]
            Pa, Pb = arrays[f"probs_{a}"], arrays[f"probs_{b}"]
            pooled = np.concatenate([arrays[f"index_{a}"], arrays[f"index_{b}"]])
            recorder = _Recorder()
            for name, rows in (("distinct", np.unique(pooled)), ("cell", every_state),
                               ("first", arrays[f"index_{a}"])):
                recorder.add(features_layer(name), "linear_cka",
                             lambda rows=rows: linear_cka(Fa[rows], Fb[rows]))
                _outputs(recorder, output_layer(name), Pa[rows], Pb[rows])
            recorder.add(EMBEDDING, "linear_cka",
                         lambda: linear_cka(embeddings[a][pooled], embeddings[b][pooled]))
            known = ~(np.isnan(optimal[a][pooled]) | np.isnan(optimal[b][pooled]))
            both = known & (np.nan_to_num(optimal[a][pooled]) == 1) & (
                np.nan_to_num(optimal[b][pooled]) == 1)
            for layer, mask in ((BOTH_OPTIMAL, both), (NOT_BOTH_OPTIMAL, known & ~both)):
                rows = pooled[mask]
                _outputs(recorder, output_layer(layer), Pa[rows], Pb[rows])
            if known.any():
                differ = Pa[pooled].argmax(axis=1) != Pb[pooled].argmax(axis=1)
                recorder.add(POLICY, "both_optimal_states", lambda: both[known].mean())
                recorder.add(POLICY, "equal_good_disagreement",
                             lambda: (both & differ)[known].mean())
            else:
                recorder.notes.append(Note(POLICY, "both_optimal_states",
                                           "no pooled state has a known optimal action"))
            recorder.add(POLICY, "greedy_paths_differ", lambda: paths[a] != paths[b])
            compared.append((a, b, recorder.comparison()))
            bar.update(1)
    save_comparisons(ctx.output_dir / PAIRS_FILE, compared)
