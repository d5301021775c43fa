"""The one place that reaches into stable-baselines3's (and MiniGrid's) private state.

Continuing an SB3 PPO run at a save point bit for bit needs more than SB3's ``save``/``load``
keeps: the policy and Adam state, the torch / numpy / python random states, each MiniGrid
room's state (agent position, direction, step count, random generator), each ``Monitor``'s
running episode reward, and the last observations, episode-start flags and update counter that
PPO carries between rollouts (``_last_obs``, ``_last_episode_starts``, ``_n_updates``: private
attributes). :func:`capture` reads all of it into tensors and plain JSON values,
:func:`restore` writes it into a freshly built PPO of the same configuration. Save points fall
on rollout boundaries, where SB3's rollout buffer holds nothing that is still needed.

Written against stable-baselines3 2.x (``PPO`` over a ``DummyVecEnv`` of ``Monitor``-wrapped
rooms) and minigrid 3.x; ``tests/train/test_sb3_state.py`` fails if an upgrade moves any of these.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from simfunc.errors import InputError

__all__ = ["capture", "restore"]


def _room(monitored_env: Any) -> Any:
    return monitored_env.unwrapped


def capture(model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(tensors, meta)``: everything :func:`restore` needs to continue ``model`` bit for bit;
    ``tensors`` holds tensors (and nested state dicts of tensors), ``meta`` plain JSON values."""
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    environments = []
    for env in model.env.envs:
        room = _room(env)
        if room.carrying is not None:  # cannot happen in Empty rooms: nothing to pick up
            raise RuntimeError("cannot save a MiniGrid environment whose agent carries an object")
        environments.append({
            "agent_pos": [int(v) for v in room.agent_pos],
            "agent_dir": int(room.agent_dir),
            "step_count": int(room.step_count),
            "np_random": room.np_random.bit_generator.state,
            "episode_rewards": list(env.rewards),
        })
    meta = {
        "timesteps": int(model.num_timesteps),
        "n_updates": int(model._n_updates),
        "numpy_random": {
            "pos": int(numpy_state[2]),
            "has_gauss": int(numpy_state[3]),
            "cached_gaussian": float(numpy_state[4]),
        },
        "python_random": [python_state[0], list(python_state[1]), python_state[2]],
        "environments": environments,
    }
    tensors = {
        "policy": model.policy.state_dict(),
        "optimizer": model.policy.optimizer.state_dict(),
        "torch_random": torch.get_rng_state(),
        "numpy_random_keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
        "last_obs": torch.from_numpy(np.asarray(model._last_obs).copy()),
        "episode_starts": torch.from_numpy(np.asarray(model._last_episode_starts, dtype=bool)),
    }
    return tensors, meta


def restore(model: Any, tensors: dict[str, Any], meta: dict[str, Any]) -> None:
    """Put a freshly built SB3 PPO ``model`` (same configuration) into the captured state.

    Also sets the process-wide torch, numpy and python random states, as training needs.
    InputError if a room's restored state does not reproduce its saved observation (an
    inconsistent file).
    """
    model.policy.load_state_dict(tensors["policy"], strict=True)
    model.policy.optimizer.load_state_dict(tensors["optimizer"])
    last_obs = tensors["last_obs"].numpy().copy()
    if len(meta["environments"]) != len(model.env.envs):
        raise InputError(f"the saved state has {len(meta['environments'])} environments, the "
                         f"model {len(model.env.envs)}")
    model.env.reset()  # readies the wrappers; the rooms' states are then overwritten
    for index, (env, state) in enumerate(zip(model.env.envs, meta["environments"])):
        room = _room(env)
        room.agent_pos = tuple(state["agent_pos"])
        room.agent_dir = state["agent_dir"]
        room.step_count = state["step_count"]
        room.np_random.bit_generator.state = state["np_random"]
        env.rewards = list(state["episode_rewards"])
        if not np.array_equal(room.gen_obs()["image"], last_obs[index]):
            raise InputError(
                f"environment {index}'s saved state does not reproduce its saved observation: "
                "the saved training state is inconsistent"
            )
    model._last_obs = last_obs
    model._last_episode_starts = tensors["episode_starts"].numpy().copy()
    model.num_timesteps = meta["timesteps"]
    model._n_updates = meta["n_updates"]
    torch.set_rng_state(tensors["torch_random"])
    numpy_random = meta["numpy_random"]
    np.random.set_state((
        "MT19937",
        tensors["numpy_random_keys"].numpy().astype(np.uint32),
        numpy_random["pos"],
        numpy_random["has_gauss"],
        numpy_random["cached_gaussian"],
    ))
    version, internal, gauss = meta["python_random"]
    random.setstate((version, tuple(internal), gauss))
