"""Rollouts of several agents on one room, and each agent's outputs on every visited state.

What the MiniGrid study compares two agents on (thesis §3.5): the states either of them
visits when it plays the test room, and on those states each agent's features and action
probabilities. :func:`rollout_arrays` plays every agent, keeps each one's visited states,
stores each *distinct* state once and every agent's outputs on all of them, so that the
outputs of every agent on every other agent's states cost |agents| × |distinct states| rows
(at most ``4 (size - 2)²`` distinct views in an Empty room) instead of |agents|² × |states|.
:func:`pooled_outputs` then gives any pair its pooled states' features and probabilities.

An *agent* here is an :class:`Agent`: a :class:`~simfunc.envs.minigrid.Policy` that also
returns its features, such as the actor-critic of :mod:`simfunc.nets.actor_critic`.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from simfunc.envs.minigrid import collect_states
from simfunc.errors import InputError
from simfunc.validation import check_int

__all__ = ["Agent", "rollout_arrays", "pooled_outputs"]


@runtime_checkable
class Agent(Protocol):
    """A policy whose features can be read: ``outputs(observations) -> (features, probs)``."""

    def action_probabilities(self, observations: np.ndarray) -> np.ndarray: ...

    def outputs(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def rollout_arrays(agents: Sequence[Agent], test_size: int, episodes: int, seed: int,
                   max_states: int, num_threads: int | None = 1) -> dict[str, np.ndarray]:
    """Roll every agent out on the Empty room of ``test_size``; their outputs on all states.

    Agent ``k`` plays ``episodes`` episodes (:func:`~simfunc.envs.collect_states` with
    ``seed``: episode ``i`` resets with ``seed + i`` and samples its actions from its own
    generator); if it visited more than ``max_states`` states, a uniform sample of
    ``max_states`` of them (without replacement, generator ``default_rng([seed, k])``,
    visiting order kept) is kept.

    Returns the arrays (what the study stores as ``rollouts.npz``):

    * ``states`` ``uint8 (m, 7, 7, 3)``: the distinct states any agent visited;
    * ``index_<k>`` ``int64``: agent k's kept states as rows of ``states``, with repetitions;
    * ``features_<k>`` ``(m, d)`` and ``probs_<k>`` ``(m, 7)``: agent k on every state;
    * ``returns_<k>`` ``(episodes,)``: its episode returns on the room.

    ``num_threads``: torch threads meanwhile (restored afterwards; None leaves the setting
    alone). One is right for these tiny networks, which run one small batch per step: with
    two threads on a busy 2-core machine rollouts were measured 10-40 times slower.
    """
    import torch

    if len(agents) == 0:
        raise InputError("agents is empty: at least one agent is needed")
    for k, agent in enumerate(agents):
        if not isinstance(agent, Agent):
            raise InputError(f"agents[{k}] has no outputs/action_probabilities methods: "
                             f"{type(agent).__name__}")
    episodes = check_int(episodes, "episodes", minimum=1)
    max_states = check_int(max_states, "max_states", minimum=1)
    previous = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(check_int(num_threads, "num_threads", minimum=1))
    try:
        return _rollout_arrays(agents, test_size, episodes, seed, max_states)
    finally:
        torch.set_num_threads(previous)


def _rollout_arrays(agents: Sequence[Agent], test_size: int, episodes: int, seed: int,
                    max_states: int) -> dict[str, np.ndarray]:
    visited, returns = [], []
    for k, agent in enumerate(agents):
        states, episode_returns = collect_states(agent, test_size, episodes, seed)
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
    for k, agent in enumerate(agents):
        features, probabilities = agent.outputs(states)
        arrays[f"index_{k}"] = inverse[offsets[k]:offsets[k + 1]].astype(np.int64)
        arrays[f"features_{k}"] = features
        arrays[f"probs_{k}"] = probabilities
        arrays[f"returns_{k}"] = returns[k]
    return arrays


def pooled_outputs(arrays: Mapping[str, Any], a: int, b: int, distinct: bool = False
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Agents ``a`` and ``b`` of :func:`rollout_arrays` on their pooled states: ``(X, Y, P, Q)``.

    The pooled states are the states a visited followed by those b visited (each with its
    multiplicity), or with ``distinct=True`` each distinct state of that union once.
    X, Y are the two agents' features on them, P, Q their action probabilities.
    """
    rows = np.concatenate([arrays[f"index_{a}"], arrays[f"index_{b}"]])
    if distinct:
        rows = np.unique(rows)
    return (arrays[f"features_{a}"][rows], arrays[f"features_{b}"][rows],
            arrays[f"probs_{a}"][rows], arrays[f"probs_{b}"][rows])
