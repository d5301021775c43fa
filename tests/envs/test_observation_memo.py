"""Each distinct MiniGrid view computed once (simfunc.envs.observation_memo): the observations
must be minigrid's own, step for step, in every room, across resets and episodes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from minigrid.core.world_object import Ball
from minigrid.wrappers import ImgObsWrapper

from simfunc.envs import make_env
from simfunc.envs.minigrid import env_id
from simfunc.envs.observation_memo import clear_memo, memo_size, memoise_observations


def _replay(env, actions, seeds):
    """Every observation of the action sequence, resetting with the next seed at episode end."""
    seeds = iter(seeds)
    observations = [env.reset(seed=next(seeds))[0]]
    for action in actions:
        observation, _, terminated, truncated, _ = env.step(int(action))
        observations.append(observation)
        if terminated or truncated:
            observations.append(env.reset(seed=next(seeds))[0])
    return observations


@pytest.mark.parametrize("size", [5, 6, 8, 16])
def test_memoised_views_equal_minigrid_views_step_for_step(size):
    clear_memo()
    rng = np.random.default_rng(size)
    # forward-heavy so that episodes reach the goal and end, and reset starts a new grid
    actions = rng.choice(7, size=3000, p=[0.2, 0.2, 0.45, 0.05, 0.04, 0.03, 0.03])
    plain = ImgObsWrapper(gym.make(env_id(size), max_steps=60))
    expected = _replay(plain, actions, range(10_000))
    memoised = _replay(make_env(size, max_steps=60), actions, range(10_000))
    assert len(memoised) == len(expected)
    for step, (got, want) in enumerate(zip(memoised, expected)):
        np.testing.assert_array_equal(got, want, err_msg=f"observation {step} differs")
    # the table was used: far fewer distinct views than steps
    assert 0 < memo_size() <= 4 * (size - 2) ** 2 < len(expected)


def test_answers_are_copies_a_caller_may_change():
    clear_memo()
    env = make_env(5)
    first, _ = env.reset(seed=0)
    first[:] = 99  # a caller scribbling on its observation
    again, _ = env.reset(seed=0)
    assert again.max() < 99
    np.testing.assert_array_equal(again, ImgObsWrapper(gym.make(env_id(5))).reset(seed=0)[0])


def test_a_changed_grid_or_a_carried_object_is_a_different_view():
    """The key covers the grid's contents (taken again when the Grid object changes) and what
    the agent carries: a room with a ball placed in view must not get the empty room's view."""
    clear_memo()
    env = make_env(6)
    base = env.unwrapped
    empty_view, _ = env.reset(seed=0)
    fresh = ImgObsWrapper(gym.make(env_id(6)))
    fresh.reset(seed=0)
    for room in (base, fresh.unwrapped):
        room.grid = room.grid.copy() if hasattr(room.grid, "copy") else room.grid
        room.grid.set(3, 1, Ball("red"))
    with_ball = base.gen_obs()["image"]
    np.testing.assert_array_equal(with_ball, fresh.unwrapped.gen_obs()["image"])
    assert not np.array_equal(with_ball, empty_view)
    base.carrying = Ball("blue")
    fresh.unwrapped.carrying = Ball("blue")
    np.testing.assert_array_equal(base.gen_obs()["image"], fresh.unwrapped.gen_obs()["image"])


def test_memoising_twice_keeps_one_table_entry_per_view():
    clear_memo()
    env = memoise_observations(make_env(5))
    env.reset(seed=0)
    env.reset(seed=1)
    assert memo_size() == 1
