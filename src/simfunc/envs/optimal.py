"""Which actions are optimal in each view of an Empty room, and an agent's greedy path.

In an Empty room many shortest paths lead to the goal: from the start (top-left, facing
right) an agent may go right first or down first, and turn at any cell on the way. Two agents
that both act optimally can therefore choose different actions on the same state, and their
action distributions differ (a large JSD) although both are equally good. These functions let
the MiniGrid study tell that disagreement apart from a worse policy.

:func:`optimal_actions` enumerates every agent state of the room (free cell × direction),
computes each state's number of steps to the goal by breadth-first search over MiniGrid's
moves (``left``/``right`` turn in place, ``forward`` moves unless a wall is ahead; the other
four actions do nothing in an Empty room), and calls an action optimal when it starts a
shortest path: ``1 + steps(next) == steps(state)``. Agents see a 7×7 egocentric view, not
their position: in a view seen from several states an action is optimal when it is optimal in
each of them, and a view with no such action is ambiguous (None). :func:`greedy_path` is the sequence of views an agent's most probable
actions lead through from the start (the rooms are deterministic).
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from simfunc.envs.minigrid import VIEW_SHAPE, check_size, collect_states, make_env
from simfunc.errors import InputError

__all__ = ["LEFT", "RIGHT", "FORWARD", "optimal_actions", "optimal_mask", "greedy_path"]

LEFT, RIGHT, FORWARD = 0, 1, 2
_STEPS = {0: (1, 0), 1: (0, 1), 2: (-1, 0), 3: (0, -1)}  # MiniGrid's DIR_TO_VEC


def _next_state(state: tuple[int, int, int], action: int, size: int) -> tuple[int, int, int]:
    x, y, direction = state
    if action == LEFT:
        return x, y, (direction - 1) % 4
    if action == RIGHT:
        return x, y, (direction + 1) % 4
    if action == FORWARD:
        dx, dy = _STEPS[direction]
        if 1 <= x + dx <= size - 2 and 1 <= y + dy <= size - 2:  # the outer ring is wall
            return x + dx, y + dy, direction
    return state


@lru_cache(maxsize=None)
def _steps_to_goal(size: int) -> dict[tuple[int, int, int], int]:
    """Steps from every (x, y, direction) to the goal cell (size − 2, size − 2)."""
    goal = size - 2
    states = [(x, y, d) for x in range(1, size - 1) for y in range(1, size - 1) for d in range(4)]
    predecessors: dict[tuple[int, int, int], list[tuple[int, int, int]]] = {s: [] for s in states}
    for state in states:
        for action in (LEFT, RIGHT, FORWARD):
            after = _next_state(state, action, size)
            if after != state:
                predecessors[after].append(state)
    steps = {s: 0 for s in states if s[:2] == (goal, goal)}
    queue = deque(steps)
    while queue:
        state = queue.popleft()
        for before in predecessors[state]:
            if before not in steps:
                steps[before] = steps[state] + 1
                queue.append(before)
    return steps


@lru_cache(maxsize=None)
def _optimal_by_view(size: int) -> dict[bytes, frozenset[int] | None]:
    steps = _steps_to_goal(size)
    env = make_env(size)
    env.reset(seed=0)
    room = env.unwrapped
    seen: dict[bytes, list[frozenset[int]]] = {}
    goal = size - 2
    for (x, y, direction), distance in steps.items():
        if (x, y) == (goal, goal):
            continue  # the episode ends there: no view is ever acted on
        room.agent_pos, room.agent_dir = (x, y), direction
        view = np.asarray(room.gen_obs()["image"], dtype=np.uint8).tobytes()
        best = frozenset(a for a in (LEFT, RIGHT, FORWARD)
                         if 1 + steps[_next_state((x, y, direction), a, size)] == distance)
        seen.setdefault(view, []).append(best)
    env.close()
    # A view seen from several states: an action is optimal in it when it is optimal in
    # every one of them (the agent cannot tell them apart); none such: ambiguous.
    by_view: dict[bytes, frozenset[int] | None] = {}
    for view, sets in seen.items():
        common = frozenset.intersection(*sets)
        by_view[view] = common or None
    return by_view


def optimal_actions(size: int) -> Mapping[bytes, frozenset[int] | None]:
    """Every view of the Empty room of ``size`` (``uint8 (7, 7, 3)`` as bytes) -> the set of
    the actions optimal in every state it is seen from (a subset of left 0, right 1,
    forward 2), or None when no action is (the view is ambiguous)."""
    return _optimal_by_view(check_size(size))


def optimal_mask(states: np.ndarray, actions: np.ndarray, size: int) -> np.ndarray:
    """For views ``states`` ``(n, 7, 7, 3)`` and one action each, ``float (n,)``: 1 where the
    action is optimal, 0 where it is not, NaN where the view is ambiguous or never seen from a
    state of the room."""
    table = optimal_actions(size)
    states, actions = np.asarray(states), np.asarray(actions)
    if states.ndim != 4 or tuple(states.shape[1:]) != VIEW_SHAPE:
        raise InputError(f"states has shape {states.shape}: expected (n, 7, 7, 3) MiniGrid views")
    if actions.shape != (len(states),):
        raise InputError(f"actions has shape {actions.shape}: expected one action per state "
                         f"({len(states)},)")
    states = states.astype(np.uint8)
    out = np.full(len(states), np.nan)
    for i, (view, action) in enumerate(zip(states, np.asarray(actions))):
        best = table.get(view.tobytes())
        if best is not None:
            out[i] = float(int(action) in best)
    return out


def greedy_path(policy: Any, size: int) -> np.ndarray:
    """The views ``uint8 (steps, 7, 7, 3)`` the policy's most probable action leads through
    from the start of the room (one episode; at most the room's step limit)."""
    states, _ = collect_states(policy, size, 1, 0, deterministic=True)
    return states
