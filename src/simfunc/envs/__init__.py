"""Environments: the MiniGrid Empty rooms of the thesis's reinforcement-learning study (§3.5),
and rollouts of agents on them."""

from __future__ import annotations

from simfunc.envs.minigrid import (
    GRID_SIZES,
    N_ACTIONS,
    VIEW_SHAPE,
    ActionProbabilities,
    Policy,
    action_space,
    check_size,
    collect_states,
    env_id,
    evaluate,
    make_env,
    make_vec_env,
    observation_space,
    random_policy,
)
from simfunc.envs.rollouts import Agent, pooled_outputs, rollout_arrays

__all__ = [
    "GRID_SIZES",
    "N_ACTIONS",
    "VIEW_SHAPE",
    "ActionProbabilities",
    "Agent",
    "Policy",
    "action_space",
    "check_size",
    "collect_states",
    "env_id",
    "evaluate",
    "make_env",
    "make_vec_env",
    "observation_space",
    "pooled_outputs",
    "random_policy",
    "rollout_arrays",
]
