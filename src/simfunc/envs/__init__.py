"""Environments: the MiniGrid Empty rooms of the thesis's reinforcement-learning study (§3.5)."""

from __future__ import annotations

from simfunc.envs.minigrid import (
    GRID_SIZES,
    N_ACTIONS,
    VIEW_SHAPE,
    ActionProbabilities,
    check_size,
    collect_states,
    env_id,
    evaluate,
    make_env,
    make_vec_env,
    random_policy,
)

__all__ = [
    "GRID_SIZES",
    "N_ACTIONS",
    "VIEW_SHAPE",
    "ActionProbabilities",
    "check_size",
    "collect_states",
    "env_id",
    "evaluate",
    "make_env",
    "make_vec_env",
    "random_policy",
]
