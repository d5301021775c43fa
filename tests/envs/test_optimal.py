"""Shortest-path actions of the Empty rooms, checked against the real minigrid dynamics."""

from __future__ import annotations

import numpy as np
import pytest

from simfunc.envs import make_env
from simfunc.envs.optimal import (
    FORWARD,
    LEFT,
    RIGHT,
    _next_state,
    _steps_to_goal,
    greedy_path,
    optimal_actions,
    optimal_mask,
)


def _place(env, x, y, direction):
    room = env.unwrapped
    room.agent_pos, room.agent_dir = (x, y), direction
    room.step_count = 0
    return np.asarray(room.gen_obs()["image"], dtype=np.uint8)


@pytest.mark.parametrize("size", [5, 6, 8])
def test_every_shortest_path_action_reaches_the_goal_in_the_counted_steps(size):
    """From every state, taking an action the table calls optimal in the real environment
    leads to a state one step closer; the other two moves do not."""
    steps = _steps_to_goal(size)
    env = make_env(size)
    env.reset(seed=0)
    goal = (size - 2, size - 2)
    for (x, y, direction), distance in steps.items():
        if (x, y) == goal:
            continue
        for action in (LEFT, RIGHT, FORWARD):
            _place(env, x, y, direction)
            _, reward, terminated, _, _ = env.step(action)
            room = env.unwrapped
            after = (*map(int, room.agent_pos), int(room.agent_dir))
            reached = 0 if terminated and reward > 0 else steps[after]
            assert reached >= distance - 1  # no move gains more than one step
            counted = 1 + steps[_next_state((x, y, direction), action, size)] == distance
            assert (reached == distance - 1) == counted, ((x, y, direction), action)
    env.close()


@pytest.mark.parametrize("size", [5, 6, 8, 16])
def test_the_start_is_one_turn_and_two_straight_runs_from_the_goal(size):
    # (1, 1) facing right: size − 3 steps right, one right turn, size − 3 steps down
    assert _steps_to_goal(size)[(1, 1, 0)] == 2 * (size - 3) + 1


def test_the_start_view_calls_forward_optimal_and_turns_not():
    env = make_env(6)
    env.reset(seed=0)
    view = _place(env, 1, 1, 0)
    env.close()
    assert optimal_actions(6)[view.tobytes()] == frozenset({FORWARD})
    mask = optimal_mask(np.stack([view] * 3), np.array([FORWARD, LEFT, RIGHT]), 6)
    assert mask.tolist() == [1.0, 0.0, 0.0]
    unseen = np.zeros((1, 7, 7, 3), dtype=np.uint8)
    assert np.isnan(optimal_mask(unseen, np.array([FORWARD]), 6)).all()


def test_a_view_seen_from_states_with_different_shortest_paths_is_ambiguous():
    """In 8×8 the start (1, 1) facing right and (1, 6) facing up show the same view (a wall
    on the left, the far wall ahead, the goal out of sight): forward is optimal at one, a
    right turn at the other, so the agent cannot know, and the view has no optimal action."""
    env = make_env(8)
    env.reset(seed=0)
    start, mirrored = _place(env, 1, 1, 0), _place(env, 1, 6, 3)
    env.close()
    assert start.tobytes() == mirrored.tobytes()
    assert optimal_actions(8)[start.tobytes()] is None


class _ShortestPath:
    """A policy that always takes an optimal action of its view (forward first)."""

    def __init__(self, size):
        self.table = optimal_actions(size)

    def __call__(self, observations):
        out = np.zeros((len(observations), 7))
        for i, view in enumerate(observations):
            best = self.table[np.asarray(view, dtype=np.uint8).tobytes()]
            out[i, FORWARD if best is None or FORWARD in best else min(best)] = 1.0
        return out


@pytest.mark.parametrize("size", [5, 6, 8])
def test_a_shortest_path_policy_takes_the_counted_number_of_steps(size):
    path = greedy_path(_ShortestPath(size), size)
    assert len(path) == 2 * (size - 3) + 1


def test_greedy_paths_tell_two_policies_apart():
    always_forward = lambda observations: np.tile(np.eye(7)[FORWARD], (len(observations), 1))  # noqa: E731
    shortest = greedy_path(_ShortestPath(6), 6)
    walled = greedy_path(always_forward, 6)
    assert walled.tobytes() != shortest.tobytes()
    assert greedy_path(_ShortestPath(6), 6).tobytes() == shortest.tobytes()


@pytest.mark.parametrize("size", [5, 6, 8, 16])
def test_no_view_has_two_shortest_path_actions(size):
    """A turn costs a step, so in an Empty room the shortest path from a state starts with
    one action only: two agents that both act on a shortest path cannot disagree (what the
    factor table's equally-good-policies caption states)."""
    table = optimal_actions(size)
    assert all(len(best) == 1 for best in table.values() if best is not None)
    assert sum(best is not None for best in table.values()) > len(table) / 2


def test_bad_states_or_actions_raise_input_error():
    from simfunc import InputError

    views = np.zeros((2, 7, 7, 3), dtype=np.uint8)
    with pytest.raises(InputError, match="states"):
        optimal_mask(views[:, :5], np.array([0, 1]), 6)
    with pytest.raises(InputError, match="actions"):
        optimal_mask(views, np.array([0]), 6)
    with pytest.raises(InputError, match="size"):
        optimal_actions(7)
