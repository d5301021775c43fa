"""simfunc.train.sb3_state: the adapter that reads and writes SB3's and MiniGrid's private state.

If a stable-baselines3 or minigrid upgrade moves what the adapter reaches into, these fail
before a resumed run silently diverges.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from simfunc import InputError
from simfunc.train import sb3_state
from simfunc.train.ppo import PPOConfig, _ppo, agent_config

CONFIG = PPOConfig(n_envs=2, n_steps=64, batch_size=64)


def _model(seed: int = 3):
    return _ppo(agent_config(5, seed, "bottleneck", **CONFIG.to_dict()), CONFIG)


def _weights(model):
    return {name: value.clone() for name, value in model.policy.state_dict().items()}


@pytest.mark.slow  # trains PPO twice
def test_a_restored_model_continues_exactly_as_the_original():
    original = _model()
    original.learn(128, reset_num_timesteps=False)
    tensors, meta = sb3_state.capture(original)
    tensors = copy.deepcopy(tensors)
    assert meta["timesteps"] == 128 and meta["n_updates"] == CONFIG.n_epochs  # one update
    original.learn(128, reset_num_timesteps=False)  # from the captured state onwards

    restored = _model()  # a fresh build re-seeds everything; the restore overrides it all
    sb3_state.restore(restored, tensors, meta)
    assert restored.num_timesteps == 128
    np.testing.assert_array_equal(restored._last_obs, tensors["last_obs"].numpy())
    restored.learn(128, reset_num_timesteps=False)
    first, second = _weights(original), _weights(restored)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert restored._n_updates == original._n_updates


def test_capture_reads_every_room_and_restore_writes_it_back():
    model = _model(seed=4)
    model.learn(64 * 2, reset_num_timesteps=False)
    tensors, meta = sb3_state.capture(model)
    rooms = [env.unwrapped for env in model.env.envs]
    assert [tuple(e["agent_pos"]) for e in meta["environments"]] == \
        [tuple(int(v) for v in room.agent_pos) for room in rooms]
    again = _model(seed=4)
    sb3_state.restore(again, tensors, meta)
    _, meta_again = sb3_state.capture(again)
    assert meta_again["environments"] == meta["environments"]
    assert meta_again["n_updates"] == meta["n_updates"]


def test_an_inconsistent_state_is_refused():
    model = _model()
    model.learn(128, reset_num_timesteps=False)
    tensors, meta = sb3_state.capture(model)
    broken = copy.deepcopy(meta)
    broken["environments"][0]["agent_dir"] = (broken["environments"][0]["agent_dir"] + 1) % 4
    with pytest.raises(InputError, match="does not reproduce its saved observation"):
        sb3_state.restore(_model(), tensors, broken)
    fewer = copy.deepcopy(meta)
    fewer["environments"] = fewer["environments"][:1]
    with pytest.raises(InputError, match="environments"):
        sb3_state.restore(_model(), tensors, fewer)
