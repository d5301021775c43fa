"""MiniGrid Empty rooms as the thesis used them (§3.5), and seeded rollouts of a policy.

The environments are the registered ``MiniGrid-Empty-{5x5,6x6,8x8,16x16}-v0`` of the real
``minigrid`` package, built through ``gymnasium.make``. As in rl-starter-files (the code the
thesis trained with) the agent sees only its partial view: a 7×7×3 ``uint8`` image whose
cells are ``(object index, colour index, state)`` (``minigrid.wrappers.ImgObsWrapper``).
The agent starts in the top-left free cell ``(1, 1)`` facing right (direction 0); the goal
is the bottom-right free cell ``(size - 2, size - 2)``. Reaching it gives
``1 - 0.9 * steps / max_steps`` (``max_steps = 4 * size**2`` by default), otherwise 0. The
Empty rooms have no randomness at all: seeds only matter to the policy's action sampling.

Observation bounds: the image space is re-declared with its true per-channel upper bounds
(object ≤ 10, colour ≤ 5, state ≤ 2) instead of minigrid's 0…255. The values are unchanged;
the tighter bounds stop stable-baselines3 from mistaking the 7×7×3 encoding for a
channel-last RGB picture, which it would transpose (``VecTransposeImage``) and divide by 255.
The policy in :mod:`simfunc.train.ppo` therefore always sees channel-last raw integers,
exactly the arrays :func:`collect_states` returns.

Speed: every room built here computes each distinct partial view once per process
(:mod:`simfunc.envs.observation_memo`); the observations are minigrid's, step for step.

A *policy* for the rollout functions is either an object with an ``action_probabilities``
method (a :class:`Policy`, such as the actor-critic of :mod:`simfunc.nets.actor_critic`) or
any callable mapping a batch of observations ``(n, 7, 7, 3)`` to action probabilities
``(n, 7)`` (rows summing to one), such as :func:`random_policy`.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import gymnasium as gym
import minigrid  # noqa: F401  (importing registers the MiniGrid-* environments)
import numpy as np
from gymnasium import spaces
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX
from minigrid.wrappers import ImgObsWrapper

from simfunc.envs.observation_memo import memoise_observations
from simfunc.errors import InputError
from simfunc.validation import check_int

__all__ = [
    "GRID_SIZES",
    "N_ACTIONS",
    "VIEW_SHAPE",
    "ActionProbabilities",
    "Policy",
    "env_id",
    "check_size",
    "make_env",
    "make_vec_env",
    "observation_space",
    "action_space",
    "random_policy",
    "collect_states",
    "evaluate",
]

GRID_SIZES: tuple[int, ...] = (5, 6, 8, 16)
"""The Empty room sizes of the thesis (§3.5): agents train on all four, are tested on 5/6/8."""

N_ACTIONS = 7
"""MiniGrid's action set: left, right, forward, pickup, drop, toggle, done."""

VIEW_SHAPE: tuple[int, int, int] = (7, 7, 3)
"""The agent's partial view: 7×7 cells × (object, colour, state), channel-last uint8."""

ActionProbabilities = Callable[[np.ndarray], np.ndarray]
"""observations (n, 7, 7, 3) uint8 -> action probabilities (n, 7), rows summing to one."""


@runtime_checkable
class Policy(Protocol):
    """A policy the rollouts can run: action probabilities ``(n, 7)`` of observations."""

    def action_probabilities(self, observations: np.ndarray) -> np.ndarray: ...


_ENCODING_HIGH = np.broadcast_to(
    np.array(
        [max(OBJECT_TO_IDX.values()), max(COLOR_TO_IDX.values()), max(STATE_TO_IDX.values())],
        dtype=np.uint8,
    ),
    VIEW_SHAPE,
).copy()


def env_id(size: int) -> str:
    """The registered gymnasium id of the Empty room of this size."""
    return f"MiniGrid-Empty-{check_size(size)}x{size}-v0"


def check_size(size: Any, name: str = "size") -> int:
    """A grid size of the thesis (5, 6, 8 or 16), or InputError."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size not in GRID_SIZES:
        raise InputError(
            f"{name} must be one of {{{', '.join(map(str, GRID_SIZES))}}} "
            f"(MiniGrid-Empty-NxN-v0), got {size!r}"
        )
    return int(size)


def observation_space() -> spaces.Box:
    """The rooms' observation space: 7×7×3 ``uint8`` with the encoding's true bounds."""
    return spaces.Box(low=0, high=_ENCODING_HIGH, shape=VIEW_SHAPE, dtype=np.uint8)


def action_space() -> spaces.Discrete:
    """The rooms' action space: MiniGrid's 7 actions."""
    return spaces.Discrete(N_ACTIONS)


class _EncodingBounds(gym.ObservationWrapper):
    """Declares the image encoding's true bounds (see the module docstring); values unchanged."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.observation_space = observation_space()

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation


def make_env(size: int, seed: int | None = None, max_steps: int | None = None) -> gym.Env:
    """Build ``MiniGrid-Empty-<size>x<size>-v0`` with the 7×7×3 partial-view image observation.

    Args:
        size: 5, 6, 8 or 16.
        seed: if given, the environment is reset once with it and its action space seeded,
            so later ``reset()`` calls without a seed continue from that generator.
        max_steps: episode step limit; ``None`` keeps minigrid's ``4 * size**2``.
    """
    size = check_size(size)
    kwargs: dict[str, Any] = {}
    if max_steps is not None:
        kwargs["max_steps"] = check_int(max_steps, "max_steps", minimum=1)
    if seed is not None:
        seed = check_int(seed, "seed", minimum=0)
    env = _EncodingBounds(ImgObsWrapper(gym.make(env_id(size), **kwargs)))
    memoise_observations(env)  # each distinct view computed once (exact: observation_memo)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


def make_vec_env(size: int, n_envs: int, seed: int, max_steps: int | None = None):
    """``n_envs`` copies of :func:`make_env` in an SB3 ``DummyVecEnv`` (each in a ``Monitor``).

    Copy ``i`` is reset with ``seed + i`` on the first ``reset()`` and its action space seeded
    the same way (SB3's ``make_vec_env`` convention).
    """
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    size = check_size(size)
    n_envs = check_int(n_envs, "n_envs", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    return sb3_make_vec_env(
        make_env,
        n_envs=n_envs,
        seed=seed,
        vec_env_cls=DummyVecEnv,
        env_kwargs={"size": size, "max_steps": max_steps},
    )


def random_policy() -> ActionProbabilities:
    """The baseline policy: every one of the 7 actions with probability 1/7, in every state."""

    def uniform(observations: np.ndarray) -> np.ndarray:
        return np.full((len(observations), N_ACTIONS), 1.0 / N_ACTIONS)

    return uniform


def _action_probabilities(policy: Any) -> ActionProbabilities:
    """A :class:`Policy`'s ``action_probabilities``, or the probabilities callable itself."""
    if isinstance(policy, Policy):
        return policy.action_probabilities
    if callable(policy):
        return policy
    raise InputError(
        "policy must have an action_probabilities method (e.g. the actor-critic of "
        "simfunc.nets.actor_critic) or be a callable returning action probabilities, got "
        f"{type(policy).__name__}"
    )


_SUM_TOLERANCE = 1e-6 + 1e-5  # np.allclose(sums, 1.0, atol=1e-6)'s: atol + rtol * 1
_SAMPLING_TOLERANCE = float(np.sqrt(np.finfo(np.float64).eps))  # Generator.choice's


def _checked_probabilities(probabilities: Any, n: int) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (n, N_ACTIONS):
        raise InputError(
            f"policy returned probabilities of shape {probabilities.shape}: expected ({n}, "
            f"{N_ACTIONS})"
        )
    # Checked at every step of every episode, so the common case is two reductions: a NaN
    # fails ``min >= 0``, an infinity the sum (the messages are worked out on failure only).
    sums = probabilities.sum(axis=1)
    deviation = np.abs(sums - 1.0)
    if not (probabilities.min() >= 0 and np.all(deviation <= _SUM_TOLERANCE)):
        if not np.all(np.isfinite(probabilities)) or np.any(probabilities < 0):
            raise InputError("policy returned negative or non-finite action probabilities")
        raise InputError("policy returned action probabilities whose rows do not sum to one")
    # Rows within the tolerance but beyond numpy's own for sampling (a policy computing in
    # float32) are rescaled to sum to one; rows of a float64 softmax never are.
    off = deviation > _SAMPLING_TOLERANCE
    if off.any():
        probabilities = probabilities.copy()
        probabilities[off] /= sums[off, None]
    return probabilities


def _run_episodes(
    policy: Any,
    size: int,
    n_episodes: int,
    seed: int,
    deterministic: bool,
    max_steps: int | None,
    keep_observations: bool,
) -> tuple[list[list[np.ndarray]], np.ndarray]:
    """Run the episodes in lock-step, one batched policy call per step for all live episodes.

    Episode ``i`` resets with ``seed + i`` and samples its actions from its own generator
    ``np.random.default_rng([seed, i])``, so each episode is the same whatever ``n_episodes``
    is and however the batch is formed; nothing global (torch, numpy) is consumed.
    """
    size = check_size(size)
    n_episodes = check_int(n_episodes, "n_episodes", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    probabilities_of = _action_probabilities(policy)
    envs = [make_env(size, max_steps=max_steps) for _ in range(n_episodes)]
    generators = [np.random.default_rng([seed, i]) for i in range(n_episodes)]
    current = [envs[i].reset(seed=seed + i)[0] for i in range(n_episodes)]
    visited: list[list[np.ndarray]] = [[] for _ in range(n_episodes)]
    returns = np.zeros(n_episodes)
    live = list(range(n_episodes))
    while live:
        batch = np.stack([current[i] for i in live])
        probabilities = _checked_probabilities(probabilities_of(batch), len(live))
        still_live = []
        for row, i in enumerate(live):
            if keep_observations:
                visited[i].append(current[i])
            if deterministic:
                action = int(np.argmax(probabilities[row]))
            else:
                action = int(generators[i].choice(N_ACTIONS, p=probabilities[row]))
            current[i], reward, terminated, truncated, _ = envs[i].step(action)
            returns[i] += float(reward)
            if not (terminated or truncated):
                still_live.append(i)
        live = still_live
    for env in envs:
        env.close()
    return visited, returns


def collect_states(
    policy: Any,
    size: int,
    n_episodes: int,
    seed: int,
    deterministic: bool = False,
    max_steps: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Roll ``policy`` out on the Empty room of ``size`` and return every state it acted in.

    Episode ``i`` (0-based) resets with ``seed + i``; its actions are sampled from the
    policy's probabilities with its own generator ``np.random.default_rng([seed, i])`` (or
    the most probable action with ``deterministic=True``). The result depends only on the
    arguments and the policy: the same call returns the same arrays.

    Returns:
        observations: ``uint8 (N, 7, 7, 3)``, episode 0's states in order, then episode 1's,
            …; the observation after the last step of an episode is not included.
        returns: ``float64 (n_episodes,)``, each episode's total reward.
    """
    visited, returns = _run_episodes(
        policy, size, n_episodes, seed, deterministic, max_steps, keep_observations=True
    )
    observations = np.stack([obs for episode in visited for obs in episode]).astype(np.uint8)
    return observations, returns


def evaluate(
    policy: Any,
    size: int,
    n_episodes: int,
    seed: int,
    deterministic: bool = False,
    max_steps: int | None = None,
) -> float:
    """Mean episode return of ``policy`` over ``n_episodes`` seeded episodes.

    The episodes are those of :func:`collect_states` with the same arguments.
    """
    _, returns = _run_episodes(
        policy, size, n_episodes, seed, deterministic, max_steps, keep_observations=False
    )
    return float(returns.mean())
