"""PPO training of the thesis's MiniGrid actor-critic (§3.5) with stable-baselines3.

The network is :mod:`simfunc.nets.actor_critic` (``plain``, the §3.5.1 ``bottleneck``, or
``bottleneck-hidden``); the rooms are :mod:`simfunc.envs`. :func:`train_agent` trains one agent
on one Empty room and saves it at the requested environment steps, into a directory of files
(:mod:`simfunc.train.ppo_files`): tensors-only checkpoints (``agent-<t>.pt``, read with
``torch.load(weights_only=True)``, so a checkpoint never executes code), a JSON record of each
(the run configuration, the mean return on the training room, the greedy return, the training
time so far, ``resumed_from``), and ``resume.pt``, from which an interrupted run continues bit
for bit (:mod:`simfunc.train.sb3_state`). Every file is written to a temporary name and moved
into place with ``os.replace``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simfunc.envs.minigrid import check_size, evaluate, make_vec_env
from simfunc.errors import InputError
from simfunc.nets.actor_critic import NETWORKS, MiniGridPolicy
from simfunc.nets.small_batch_conv import SMALL_BATCH_CONVOLUTIONS
from simfunc.train import sb3_state
from simfunc.train.ppo_files import (
    FORMAT,
    SavedAgent,
    agent_path,
    load_agent,
    read_training_state,
    save_json,
    save_tensors,
    save_training_state,
    saved_agents,
)
from simfunc.validation import (
    check_bool,
    check_choice,
    check_fraction,
    check_int,
    check_known,
    check_number,
    check_positive,
)

__all__ = [
    "PPOConfig",
    "SavedAgent",
    "agent_config",
    "agent_arguments",
    "train_agent",
    "saved_agents",
    "load_agent",
    "agent_path",
]


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyper-parameters; the defaults follow rl-starter-files' ``train.py`` / torch-ac.

    rl-starter-files (thesis): 16 processes, 128 frames per process, Adam lr 1e-3 eps 1e-8,
    discount 0.99, GAE λ 0.95, clip 0.2, entropy 0.01, value loss 0.5, grad norm 0.5,
    4 epochs, batch 256, no advantage normalisation. Differences, for CPU speed and SB3:

    * ``n_envs`` 8 instead of 16 (all copies step in one process, ``DummyVecEnv``): 16
      copies run about 20% more steps per second, but 8 update twice as often per step and
      solve 8×8 in fewer steps (about 16k against 20-24k), so the time to solve is the same
      and each save point is a multiple of 1024 steps instead of 2048
      (``benchmarks/ppo.py``).
    * SB3 does not clip the value loss by default; torch-ac clips it with ``max(unclipped,
      clipped)``, which SB3 cannot express. ``clip_range_vf=None`` leaves it unclipped.

    Learning rate and clip range are constant (no schedules), so the training trajectory
    does not depend on the total number of steps requested.
    """

    n_envs: int = 8
    n_steps: int = 128
    batch_size: int = 256
    n_epochs: int = 4
    learning_rate: float = 1e-3
    adam_eps: float = 1e-8
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    clip_range_vf: float | None = None
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    normalize_advantage: bool = False

    def __post_init__(self) -> None:
        for name in ("n_envs", "n_steps", "batch_size", "n_epochs"):
            check_int(getattr(self, name), name, minimum=1)
        if self.batch_size > self.n_envs * self.n_steps:
            raise InputError(
                f"batch_size {self.batch_size} exceeds the rollout size n_envs * n_steps = "
                f"{self.n_envs * self.n_steps}"
            )
        for name in ("learning_rate", "adam_eps", "clip_range", "max_grad_norm"):
            check_positive(getattr(self, name), name)
        if self.clip_range_vf is not None:
            check_positive(self.clip_range_vf, "clip_range_vf")
        for name in ("gamma", "gae_lambda"):
            check_fraction(getattr(self, name), name)
        for name in ("ent_coef", "vf_coef"):
            check_number(getattr(self, name), name, minimum=0)
        check_bool(self.normalize_advantage, "normalize_advantage")

    @property
    def rollout_steps(self) -> int:
        """Environment steps per PPO update (``n_envs * n_steps``); save points are multiples."""
        return self.n_envs * self.n_steps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, hyperparameters: dict[str, Any]) -> PPOConfig:
        """A config from keyword values, or InputError naming the unknown ones."""
        check_known(hyperparameters, [field.name for field in fields(cls)],
                    "PPO hyper-parameter(s)")
        return cls(**hyperparameters)


def agent_config(size: int, seed: int, network: str = "plain",
                 **hyperparameters: Any) -> dict[str, Any]:
    """The configuration that determines a training run, as recorded in its files.

    ``{"size", "seed", "network", **PPOConfig fields, "small_batch_convolutions"}``: two
    calls of :func:`train_agent` with equal configurations train the same agent (save points,
    evaluation, threads and progress do not enter), so this is the thing to hash for a cache
    key. A resumed run must match it exactly. ``small_batch_convolutions`` is no setting: it
    records which kernel the rollouts' convolutions ran
    (:data:`~simfunc.nets.small_batch_conv.SMALL_BATCH_CONVOLUTIONS`), so that agents trained
    before that rule (which differ in their last bits) are neither found in a cache nor resumed.
    """
    return {
        "size": check_size(size),
        "seed": check_int(seed, "seed", minimum=0),
        "network": check_choice(network, "network", NETWORKS),
        **PPOConfig.from_dict(hyperparameters).to_dict(),
        "small_batch_convolutions": SMALL_BATCH_CONVOLUTIONS,
    }


def agent_arguments(config: dict[str, Any]) -> tuple[int, int, str, dict[str, Any]]:
    """``(size, seed, network, hyperparameters)`` of an :func:`agent_config`, the arguments
    that train its agent with :func:`train_agent` today.

    InputError if the configuration records another rule for the small batches' convolutions
    (an agent of an older simfunc, which today's code cannot train again bit for bit).
    """
    hyperparameters = dict(config)
    rule = hyperparameters.pop("small_batch_convolutions", None)
    if rule != SMALL_BATCH_CONVOLUTIONS:
        raise InputError(
            f"the agent configuration records small_batch_convolutions {rule!r}, this simfunc "
            f"{SMALL_BATCH_CONVOLUTIONS!r}: it trains other agents (in their last bits)")
    try:
        size, seed, network = (hyperparameters.pop(key) for key in ("size", "seed", "network"))
    except KeyError as missing:
        raise InputError(f"the agent configuration has no {missing}") from None
    return size, seed, network, hyperparameters


# --------------------------------------------------------------------------------------------
# Training


def _check_save_points(save_at: Any, total_timesteps: int, rollout_steps: int) -> list[int]:
    points = [total_timesteps] if save_at is None else list(save_at)
    points = sorted({check_int(point, "save_at entries", minimum=0) for point in points})
    points = sorted(set(points) | {total_timesteps})
    for point in points:
        if point > total_timesteps:
            raise InputError(f"save_at entry {point} exceeds total_timesteps {total_timesteps}")
        if point % rollout_steps:
            below = point // rollout_steps * rollout_steps
            raise InputError(
                f"save point {point} is not a multiple of the PPO rollout n_envs * n_steps = "
                f"{rollout_steps} (nearest: {below} or {below + rollout_steps})"
            )
    return points


def _ppo(run_config: dict[str, Any], config: PPOConfig):
    """A seeded SB3 PPO on ``config.n_envs`` copies of the room (nothing trained yet)."""
    from stable_baselines3 import PPO

    return PPO(
        MiniGridPolicy,
        make_vec_env(run_config["size"], config.n_envs, run_config["seed"]),
        learning_rate=config.learning_rate,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        clip_range_vf=config.clip_range_vf,
        normalize_advantage=config.normalize_advantage,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        policy_kwargs={"network": run_config["network"],
                       "optimizer_kwargs": {"eps": config.adam_eps}},
        seed=run_config["seed"],
        device="cpu",
        verbose=0,
    )


class _Progress:
    """A tqdm bar over the requested timesteps, advanced after every PPO rollout."""

    def __init__(self, total: int, start: int, label: str, enabled: bool):
        self.bar = None
        if enabled:
            from simfunc.progress import progress_bar

            self.bar = progress_bar(total=total, initial=start, desc=label, unit="step")

    def callback(self):
        from stable_baselines3.common.callbacks import BaseCallback

        bar = self.bar

        class _Advance(BaseCallback):
            def _on_step(self) -> bool:
                return True

            def _on_rollout_end(self) -> None:
                if bar is not None:
                    bar.update(self.model.num_timesteps - bar.n)
                    episodes = self.model.ep_info_buffer
                    if episodes:
                        bar.set_postfix(ep_return=f"{np.mean([e['r'] for e in episodes]):.2f}")

        return _Advance()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def train_agent(
    size: int,
    seed: int,
    total_timesteps: int,
    *,
    out_dir: str | os.PathLike,
    network: str = "plain",
    save_at: Any = None,
    eval_episodes: int = 32,
    eval_seed: int = 0,
    num_threads: int | None = 1,
    progress: bool = True,
    **hyperparameters: Any,
) -> list[SavedAgent]:
    """Train one PPO agent on the Empty room of ``size``, saving it at the requested steps.

    Args:
        size: 5, 6, 8 or 16.
        seed: seeds torch, numpy, python ``random``, the environments (copy ``i`` resets with
            ``seed + i``) and so the action sampling.
        total_timesteps: environment steps to train for (over all copies).
        out_dir: directory for the run's files (created if needed; see the module docstring).
        network: ``"plain"``, ``"bottleneck"`` (the thesis's §3.5.1 network) or
            ``"bottleneck-hidden"`` (:mod:`simfunc.nets.actor_critic`).
        save_at: timesteps at which to save the agent (``total_timesteps`` is always added;
            0 saves the untrained agent). Each must be a multiple of ``n_envs * n_steps``
            (1024 with the defaults), the steps of one PPO update.
        eval_episodes, eval_seed: the mean return recorded at each save point is that of the
            stochastic policy over ``eval_episodes`` episodes of the training room, episode
            ``i`` seeded ``eval_seed + i`` (:func:`simfunc.envs.evaluate`); the greedy return
            is one episode of the most probable actions (the rooms are deterministic).
        num_threads: torch threads while training (restored afterwards); 1 is fastest for
            this tiny network (``benchmarks/ppo.py``). ``None`` leaves the setting alone.
        progress: show a progress bar (tqdm, on stderr).
        **hyperparameters: fields of :class:`PPOConfig` (``n_envs``, ``learning_rate``, …).

    Resuming: if ``out_dir`` holds ``resume.pt`` from an interrupted run of the same
    configuration, training continues from its save point instead of restarting; save points
    already on disk are kept. The continued run is bit-identical to an uninterrupted one on
    the same machine with the same ``num_threads``: ``resume.pt`` restores everything PPO
    carries (:mod:`simfunc.train.sb3_state`), and training between save points is the same
    sequence of SB3 ``learn`` calls either way. Requesting a save point earlier than the
    latest one on disk that was not saved raises InputError (it would need retraining from
    scratch).

    Returns:
        the :class:`SavedAgent` record of every requested save point, by timesteps.
    """
    run_config = agent_config(size, seed, network, **hyperparameters)
    config = PPOConfig.from_dict(hyperparameters)
    total_timesteps = check_int(total_timesteps, "total_timesteps", minimum=0)
    eval_episodes = check_int(eval_episodes, "eval_episodes", minimum=1)
    eval_seed = check_int(eval_seed, "eval_seed", minimum=0)
    if num_threads is not None:
        num_threads = check_int(num_threads, "num_threads", minimum=1)
    points = _check_save_points(save_at, total_timesteps, config.rollout_steps)
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)

    previous_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        with unvalidated_distributions():
            return _train(directory, run_config, config, points, eval_episodes, eval_seed,
                          progress)
    finally:
        torch.set_num_threads(previous_threads)


@contextlib.contextmanager
def unvalidated_distributions() -> Iterator[None]:
    """torch.distributions' argument checks off inside the block, the previous default after.

    SB3 builds a ``Categorical`` at every rollout step and every minibatch, and by default
    torch checks its logits (finite, the right shape) and every action it scores (in the
    support) each time: 5-10 % of a MiniGrid agent's training time. The checks compute
    nothing that enters the results (the same run trains the same weights bit for bit with
    them on or off: ``tests/train/test_ppo.py``), and a diverged policy still stops the run
    loudly: ``torch.multinomial`` refuses NaN probabilities at the next rollout step.
    """
    from torch.distributions import Distribution

    previous = Distribution._validate_args
    Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        Distribution.set_default_validate_args(previous)


def _train(
    directory: Path,
    run_config: dict,
    config: PPOConfig,
    points: list[int],
    eval_episodes: int,
    eval_seed: int,
    progress: bool,
) -> list[SavedAgent]:
    resumed = read_training_state(directory, run_config)
    reached = resumed[1]["timesteps"] if resumed else 0

    def on_disk(point: int) -> bool:
        record = agent_path(directory, point).with_suffix(".json")
        if not ((point == 0 or point <= reached) and record.exists()):
            return False
        if SavedAgent.read(record).config != run_config:
            raise InputError(
                f"{record} was written by a run with a different configuration: use another "
                "out_dir"
            )
        return True

    missing = [point for point in points if resumed and point <= reached and not on_disk(point)]
    if missing:
        raise InputError(
            f"out_dir {directory} is already trained to {reached} steps without saving at "
            f"{', '.join(map(str, missing))}; use a fresh directory to save those points"
        )
    if all(on_disk(point) for point in points):
        return [SavedAgent.read(agent_path(directory, point)) for point in points]

    model = _ppo(run_config, config)
    seconds = 0.0
    if resumed:
        saved, meta = resumed
        sb3_state.restore(model, saved, meta)
        seconds = float(meta["train_seconds"])
    network = "" if run_config["network"] == "plain" else f" {run_config['network']}"
    label = f"PPO {run_config['size']}x{run_config['size']} seed {run_config['seed']}{network}"
    bar = _Progress(points[-1], min(reached, points[-1]), label, progress)
    callback = bar.callback()
    try:
        for point in points:
            if on_disk(point):
                continue
            started = time.perf_counter()
            if point > model.num_timesteps:
                model.learn(
                    point - model.num_timesteps,
                    callback=callback,
                    reset_num_timesteps=False,
                    progress_bar=False,
                )
            seconds += time.perf_counter() - started
            if model.num_timesteps != point:
                raise RuntimeError(
                    f"PPO stopped at {model.num_timesteps} steps instead of {point}"
                )
            _save_point(
                directory, model, run_config, point, seconds, eval_episodes, eval_seed,
                resumed_from=reached if resumed else None,
            )
    finally:
        bar.close()
        model.env.close()
    return [SavedAgent.read(agent_path(directory, point)) for point in points]


def _save_point(
    directory: Path,
    model: Any,
    run_config: dict,
    timesteps: int,
    seconds: float,
    eval_episodes: int,
    eval_seed: int,
    resumed_from: int | None,
) -> None:
    """Write agent-<t>.pt, agent-<t>.json, then resume.pt (so resume.pt is never ahead)."""
    policy = model.policy
    size = run_config["size"]
    # evaluated in eval mode, switched once here rather than at every step (SB3 sets the mode
    # itself before it collects or trains again; the network has no mode-dependent layer)
    was_training = policy.training
    policy.set_training_mode(False)
    try:
        mean_return = evaluate(policy, size, eval_episodes, eval_seed)
        greedy_return = evaluate(policy, size, 1, eval_seed, deterministic=True)
    finally:
        policy.set_training_mode(was_training)
    weights = agent_path(directory, timesteps)
    weights_only = {name: value.detach().clone() for name, value in policy.state_dict().items()}
    save_tensors(weights, weights_only)
    save_json(
        weights.with_suffix(".json"),
        {
            "format": FORMAT,
            "config": run_config,
            "timesteps": timesteps,
            "mean_return": mean_return,
            "greedy_return": greedy_return,
            "evaluation": {"episodes": eval_episodes, "seed": eval_seed, "deterministic": False},
            "train_seconds": round(seconds, 3),
            "resumed_from": resumed_from,
        },
    )
    if timesteps > 0:  # at 0 a fresh start is the same thing
        save_training_state(directory, model, run_config, seconds)
