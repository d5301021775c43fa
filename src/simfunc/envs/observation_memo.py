"""MiniGrid's partial view, computed once per distinct state of a room.

``MiniGridEnv.gen_obs`` rebuilds the agent's 7×7 view at every step and every reset: it slices
the grid, rotates the slice ``agent_dir + 1`` times, walks it for visibility and encodes it
cell by cell, all in Python (about 80 µs of a 150 µs step of an Empty room on this project's
machine; ``benchmarks/ppo.py``). PPO and the rollouts revisit the same few hundred states of an
Empty room hundreds of thousands of times.

:func:`memoise_observations` makes one environment answer ``gen_obs`` from a table shared by
every environment in the process. The table is keyed by everything the view is a function of:

* the grid's contents, as the bytes of ``Grid.encode()`` (taken again whenever the
  environment holds a different ``Grid`` object, i.e. after every ``reset``);
* the agent's position and direction;
* what the agent carries (its encoding, or None).

A state seen for the first time is computed by minigrid's own ``gen_obs``; every answer is a
fresh dict holding a copy of the image, so a caller may change what it receives. The
observations are therefore identical to minigrid's, step for step
(``tests/envs/test_observation_memo.py`` replays random action sequences in every room with and
without the table and compares every observation).

One assumption makes this exact: nothing changes the grid's cells in place between two
observations without replacing the ``Grid`` object. That holds for the Empty rooms (no
objects to pick up, toggle or drop; reset builds a new grid), which are the only environments
:func:`simfunc.envs.minigrid.make_env` builds. It would not hold for rooms with doors or keys.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["memoise_observations", "memo_size", "clear_memo"]

# (grid bytes, agent x, agent y, direction, carried encoding) -> the observation minigrid gave
_VIEWS: dict[tuple[Any, ...], dict[str, Any]] = {}
# Far above any Empty room's states (16×16: 196 cells × 4 directions); a bound, not a cache policy.
_MAX_VIEWS = 200_000


def memo_size() -> int:
    """How many distinct views the process's table holds."""
    return len(_VIEWS)


def clear_memo() -> None:
    """Empty the process's table (tests; nothing else needs it)."""
    _VIEWS.clear()


class _MemoisedGenObs:
    """The ``gen_obs`` of one MiniGrid environment instance, answered from :data:`_VIEWS`."""

    def __init__(self, env: Any):
        self.env = env
        self.compute = type(env).gen_obs.__get__(env)  # minigrid's own, bound to env
        self.grid: Any = None  # the Grid object the key bytes were taken from (held, so its
        self.grid_bytes = b""  # id cannot be reused by a new grid while we compare against it)

    def __call__(self) -> dict[str, Any]:
        env = self.env
        if env.grid is not self.grid:
            self.grid = env.grid
            self.grid_bytes = env.grid.encode().tobytes()
        carrying = env.carrying
        key = (self.grid_bytes, int(env.agent_pos[0]), int(env.agent_pos[1]),
               int(env.agent_dir), None if carrying is None else carrying.encode())
        view = _VIEWS.get(key)
        if view is None:
            view = self.compute()
            if len(_VIEWS) < _MAX_VIEWS:
                _VIEWS[key] = {**view, "image": view["image"].copy()}
            return view
        answer = dict(view)
        answer["image"] = np.array(view["image"], copy=True)
        return answer


def memoise_observations(env: Any) -> Any:
    """Make ``env`` (a ``gymnasium`` environment wrapping a ``MiniGridEnv``) compute each
    distinct view once per process; returns ``env``. See the module docstring for when this
    is exact."""
    base = env.unwrapped
    if not isinstance(getattr(base, "gen_obs", None), _MemoisedGenObs):
        base.gen_obs = _MemoisedGenObs(base)
    return env
