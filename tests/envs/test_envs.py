"""The MiniGrid Empty rooms and seeded rollouts (simfunc.envs), on the real minigrid package."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3.common.preprocessing import is_image_space

from simfunc import InputError
from simfunc.envs import (
    GRID_SIZES,
    N_ACTIONS,
    collect_states,
    env_id,
    evaluate,
    make_env,
    make_vec_env,
    random_policy,
)

# minigrid's encoding (minigrid.core.constants), written out independently
EMPTY, WALL, GOAL = 1, 2, 8
LEFT, RIGHT, FORWARD = 0, 1, 2


@pytest.mark.parametrize("size", [5, 6, 8, 16])
def test_env_builds_with_agent_top_left_facing_right_and_goal_bottom_right(size):
    env = make_env(size, seed=0)
    observation, _ = env.reset(seed=0)
    room = env.unwrapped
    assert env.spec is not None and env.unwrapped.spec.id == f"MiniGrid-Empty-{size}x{size}-v0"
    assert env_id(size) == f"MiniGrid-Empty-{size}x{size}-v0"
    assert observation.shape == (7, 7, 3) and observation.dtype == np.uint8
    assert env.observation_space.shape == (7, 7, 3)
    assert env.observation_space.contains(observation)
    assert tuple(int(v) for v in room.agent_pos) == (1, 1)
    assert room.agent_dir == 0  # facing right (+x)
    assert room.grid.get(size - 2, size - 2).type == "goal"
    assert room.max_steps == 4 * size**2
    # In its view (column, row) the agent stands at (3, 6) looking towards row 0. Facing +x
    # from (1, 1), the cell on its left is the top wall (1, 0), the one on its right the
    # empty floor (1, 2), the one ahead the floor (2, 1).
    assert observation[2, 6, 0] == WALL
    assert observation[4, 6, 0] == EMPTY
    assert observation[3, 5, 0] == EMPTY


@pytest.mark.parametrize("size", [5, 6])
def test_goal_appears_in_the_agents_view_where_geometry_puts_it(size):
    observation, _ = make_env(size).reset(seed=0)
    # goal is size-3 cells ahead (+x) and size-3 cells to the right (+y) of the agent
    ahead, right = size - 3, size - 3
    assert observation[3 + right, 6 - ahead, 0] == GOAL
    assert (observation[:, :, 0] == GOAL).sum() == 1


@pytest.mark.parametrize("size", [4, 7, 9, 32, 0, -5, 5.0, "5", True, None])
def test_bad_sizes_raise_input_error_listing_the_valid_ones(size):
    with pytest.raises(InputError, match=r"\{5, 6, 8, 16\}"):
        make_env(size)


def test_vectorised_env_is_seeded_channel_last_and_not_taken_for_an_rgb_image():
    vec = make_vec_env(8, n_envs=3, seed=7)
    observations = vec.reset()
    assert observations.shape == (3, 7, 7, 3) and observations.dtype == np.uint8
    # SB3 would transpose and divide an RGB image space by 255; ours must stay raw integers
    assert not is_image_space(vec.observation_space)
    vec.close()
    with pytest.raises(InputError, match="n_envs"):
        make_vec_env(5, n_envs=0, seed=0)


def _scripted(actions):
    """A one-episode policy playing a fixed action sequence (one-hot probabilities)."""
    steps = iter(actions)

    def policy(observations):
        probabilities = np.zeros((len(observations), N_ACTIONS))
        probabilities[:, next(steps)] = 1.0
        return probabilities

    return policy


@pytest.mark.parametrize("size", [5, 8])
def test_shortest_path_earns_the_documented_reward(size):
    # from (1, 1) facing right: size-3 steps forward, turn right, size-3 steps forward
    path = [FORWARD] * (size - 3) + [RIGHT] + [FORWARD] * (size - 3)
    expected = 1 - 0.9 * len(path) / (4 * size**2)
    observations, returns = collect_states(_scripted(path), size, 1, seed=0, deterministic=True)
    assert returns.tolist() == pytest.approx([expected])
    assert len(observations) == len(path)  # one state per action; the terminal one is dropped


def test_collect_states_is_deterministic_for_a_seed_and_differs_for_another():
    first = collect_states(random_policy(), 5, 6, seed=11)
    again = collect_states(random_policy(), 5, 6, seed=11)
    other = collect_states(random_policy(), 5, 6, seed=12)
    assert first[0].dtype == np.uint8 and first[0].shape[1:] == (7, 7, 3)
    assert first[1].shape == (6,) and first[1].dtype == np.float64
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert first[0].shape != other[0].shape or not np.array_equal(first[0], other[0])


def test_an_episode_does_not_depend_on_how_many_are_collected():
    few, few_returns = collect_states(random_policy(), 6, 2, seed=3)
    many, many_returns = collect_states(random_policy(), 6, 5, seed=3)
    np.testing.assert_array_equal(many[: len(few)], few)
    np.testing.assert_array_equal(many_returns[:2], few_returns)


@pytest.mark.slow  # plays many episodes
def test_max_steps_limits_episodes_and_random_returns_are_in_range():
    observations, returns = collect_states(random_policy(), 16, 4, seed=0, max_steps=5)
    assert len(observations) == 4 * 5  # nobody reaches a goal 26 steps away in 5 steps
    assert np.all(returns == 0)
    _, returns = collect_states(random_policy(), 5, 40, seed=0)
    assert np.all((returns >= 0) & (returns < 1))
    assert evaluate(random_policy(), 5, 40, seed=0) == pytest.approx(returns.mean())


def test_bad_policies_and_arguments_raise_input_error():
    with pytest.raises(InputError, match="shape"):
        collect_states(lambda obs: np.ones((len(obs), 3)) / 3, 5, 1, seed=0)
    with pytest.raises(InputError, match="sum to one"):
        collect_states(lambda obs: np.ones((len(obs), N_ACTIONS)), 5, 1, seed=0)
    uniform = np.full(N_ACTIONS, 1 / N_ACTIONS)
    for value in (np.nan, np.inf, -0.1):  # the row still sums to one where it can
        def broken(obs, value=value):
            probabilities = np.tile(uniform, (len(obs), 1))
            probabilities[0, 2] += probabilities[0, 1] - (value if np.isfinite(value) else 0)
            probabilities[0, 1] = value
            return probabilities
        with pytest.raises(InputError, match="negative or non-finite"):
            collect_states(broken, 5, 2, seed=0)
    almost = lambda obs: np.tile(uniform * (1 + 2e-5), (len(obs), 1))  # noqa: E731
    with pytest.raises(InputError, match="sum to one"):
        collect_states(almost, 5, 1, seed=0)
    within = lambda obs: np.tile(uniform * (1 + 5e-6), (len(obs), 1))  # noqa: E731
    assert len(collect_states(within, 5, 1, seed=0)[0]) > 0  # np.allclose's tolerance
    with pytest.raises(InputError, match="policy"):
        collect_states(42, 5, 1, seed=0)
    with pytest.raises(InputError, match="n_episodes"):
        collect_states(random_policy(), 5, 0, seed=0)
    with pytest.raises(InputError, match="seed"):
        evaluate(random_policy(), 5, 1, seed=-1)


def test_grid_sizes_are_the_theses():
    assert GRID_SIZES == (5, 6, 8, 16)


# ----------------------------------------------------------------------- rollouts of agents


def test_rollout_arrays_hold_each_agents_outputs_on_the_visited_states():
    import torch

    from simfunc.envs import pooled_outputs, rollout_arrays
    from simfunc.nets.actor_critic import build_policy, policy_outputs

    agents = [build_policy(seed=0), build_policy("bottleneck", seed=1)]
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        arrays = rollout_arrays(agents, test_size=6, episodes=3, seed=11, max_states=40)
        assert torch.get_num_threads() == 2  # rollout_arrays ran on one thread, then restored
        torch.set_num_threads(1)  # for the reference rollouts below (fastest for this network)
        states = arrays["states"]
        assert states.dtype == np.uint8
        assert len(np.unique(states.reshape(len(states), -1), axis=0)) == len(states)
        for k, agent in enumerate(agents):
            visited, returns = collect_states(agent, 6, 3, 11)
            index = arrays[f"index_{k}"]
            assert len(index) == min(len(visited), 40)
            # the kept states are a subsequence of the visited ones (a sample in visiting order)
            position = 0
            for state in states[index]:
                while not np.array_equal(visited[position], state):
                    position += 1
                position += 1
            features, probabilities = policy_outputs(agent, states)
            np.testing.assert_array_equal(arrays[f"features_{k}"], features)
            np.testing.assert_array_equal(arrays[f"probs_{k}"], probabilities)
            np.testing.assert_array_equal(arrays[f"returns_{k}"], returns)
    finally:
        torch.set_num_threads(previous)
    X, Y, P, Q = pooled_outputs(arrays, 0, 1)
    assert len(X) == len(arrays["index_0"]) + len(arrays["index_1"])
    assert X.shape[1] == 64 and Y.shape[1] == 8 and P.shape == Q.shape == (len(X), 7)
    np.testing.assert_array_equal(X[: len(arrays["index_0"])],
                                  arrays["features_0"][arrays["index_0"]])
    Xd, *_ = pooled_outputs(arrays, 0, 1, distinct=True)
    assert len(Xd) == len(np.unique(np.concatenate([arrays["index_0"], arrays["index_1"]])))


def test_rollouts_need_agents_whose_outputs_can_be_read():
    from simfunc.envs import rollout_arrays

    with pytest.raises(InputError, match="agents is empty"):
        rollout_arrays([], 5, 1, seed=0, max_states=10)
    with pytest.raises(InputError, match=r"agents\[0\]"):
        rollout_arrays([random_policy()], 5, 1, seed=0, max_states=10)
