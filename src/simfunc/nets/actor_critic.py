"""The thesis's MiniGrid actor-critic (§3.5, §3.5.1) as a stable-baselines3 PPO policy.

Architecture (rl-starter-files' ``ACModel`` without memory or text, which the thesis used)::

    observation (n, 7, 7, 3) uint8, channel-last, cast to float (no scaling)
      -> permute to (n, 3, 7, 7)
      -> Conv2d(3, 16, 2×2), ReLU, MaxPool2d(2×2), Conv2d(16, 32, 2×2), ReLU,
         Conv2d(32, 64, 2×2), ReLU, flatten                 -> 64-d embedding
      [bottleneck variant: Linear(64, 8)                    -> 8-d]
      -> features (nn.Identity)                             the representation compared by CKA
      actor:  Linear(d, 64), Tanh, Linear(64, 7)            -> action logits
      critic: Linear(d, 64), Tanh, Linear(64, 1)            -> state value

``d`` is 64, or 8 with the bottleneck; both heads read the same ``d``-dimensional vector.
The bottleneck is a plain learned linear map (no activation), so the compared features are
exactly what the heads see. Parameters: 19 384 (plain), 12 736 (bottleneck).

In SB3 terms: a :class:`MiniGridFeatures` ``BaseFeaturesExtractor`` (convolutions,
bottleneck, ``features``), ``net_arch=dict(pi=[64], vf=[64])``, ``activation_fn=nn.Tanh``,
``normalize_images=False``. Linear layers are initialised as rl-starter-files does (each
weight row drawn from N(0, 1) and scaled to unit norm, biases zero; convolutions keep
PyTorch's default), instead of SB3's orthogonal initialisation.

Layers for forward hooks (``policy.get_submodule(path)``):

* :data:`FEATURES_LAYER` ``"features_extractor.features"``: output (n, 64), or (n, 8) with the
  bottleneck: the compared features.
* :data:`LOGITS_LAYER` ``"action_net"``: output (n, 7), the action logits (the policy is
  ``softmax(logits)``).

The feature extractor is shared by actor and critic, so each of SB3's forward passes
(``policy(obs)``, ``policy.get_distribution(obs)``, ``policy.evaluate_actions``) runs each
of these modules exactly once. Feed observations as a tensor ``(n, 7, 7, 3)`` of raw
integers (uint8 or float, unscaled); :func:`policy_outputs` does all of this for you.

Training (:func:`train_agent`) writes into a directory, resumable, files holding tensors and
JSON only (a checkpoint never executes code; they load with ``torch.load(weights_only=True)``):

* ``agent-<timesteps>.pt``: the policy's ``state_dict`` at that many environment steps.
* ``agent-<timesteps>.json``: the run configuration, the timesteps, the mean return on the
  training grid at that point (stochastic policy, ``eval_episodes`` episodes seeded
  ``eval_seed + i``), the greedy return, the quality label, the training time so far
  (seconds inside PPO, evaluations excluded) and ``resumed_from`` (the save point this
  process continued from, or null when it trained from scratch).
* ``resume.pt``: what continuing needs at the latest save point (policy, Adam state, the
  torch / numpy / python random states, the environments' states and last observations).

Every file is written to a temporary name and moved into place with ``os.replace``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.preprocessing import preprocess_obs
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from simfunc.envs.minigrid import (
    VIEW_SHAPE,
    check_size,
    evaluate,
    make_env,
    make_vec_env,
)
from simfunc.errors import InputError
from simfunc.train.ppo_files import (
    FORMAT,
    RESUME_FILE,
    SavedAgent,
    agent_path,
    capture_training_state,
    load_tensors,
    read_training_state,
    restore_training_state,
    save_json,
    save_tensors,
    saved_agents,
)
from simfunc.validation import check_int, to_numpy

__all__ = [
    "FEATURES_LAYER",
    "LOGITS_LAYER",
    "EMBEDDING_DIM",
    "BOTTLENECK_DIM",
    "OPTIMAL_RETURN",
    "POOR_RETURN",
    "MiniGridFeatures",
    "MiniGridPolicy",
    "PPOConfig",
    "SavedAgent",
    "agent_config",
    "build_policy",
    "policy_outputs",
    "quality",
    "train_agent",
    "saved_agents",
    "load_agent",
    "agent_path",
]

FEATURES_LAYER = "features_extractor.features"
"""Dotted path of the submodule whose output is the compared features (64-d, or 8-d)."""

LOGITS_LAYER = "action_net"
"""Dotted path of the submodule whose output is the action logits (7 per state)."""

EMBEDDING_DIM = 64
BOTTLENECK_DIM = 8

OPTIMAL_RETURN = 0.8
"""Mean return above which an agent is "optimal" (thesis §3.5)."""

POOR_RETURN = 0.2
"""Mean return at or below which an agent is "poor"; in between it is "mediocre"."""



# --------------------------------------------------------------------------------------------
# The network


class MiniGridFeatures(BaseFeaturesExtractor):
    """rl-starter-files' image convolutions, the optional 64→8 bottleneck, then ``features``.

    Input: float observations ``(n, 7, 7, 3)`` channel-last (SB3 casts the uint8 arrays to
    float without scaling because the policy has ``normalize_images=False`` and the
    observation space is not an RGB image space). Output: ``(n, 64)`` or ``(n, 8)``.
    """

    def __init__(self, observation_space: spaces.Box, bottleneck: bool = False):
        if tuple(observation_space.shape) != VIEW_SHAPE:
            raise InputError(
                f"observation_space has shape {observation_space.shape}: expected {VIEW_SHAPE}"
            )
        super().__init__(observation_space, BOTTLENECK_DIM if bottleneck else EMBEDDING_DIM)
        self.image_conv = nn.Sequential(
            nn.Conv2d(3, 16, (2, 2)),
            nn.ReLU(),
            nn.MaxPool2d((2, 2)),
            nn.Conv2d(16, 32, (2, 2)),
            nn.ReLU(),
            nn.Conv2d(32, EMBEDDING_DIM, (2, 2)),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.bottleneck = nn.Linear(EMBEDDING_DIM, BOTTLENECK_DIM) if bottleneck else nn.Identity()
        self.features = nn.Identity()

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        channels_first = observations.permute(0, 3, 1, 2)
        return self.features(self.bottleneck(self.image_conv(channels_first)))


def _rl_starter_init(module: nn.Module) -> None:
    """rl-starter-files' ``init_params``: Linear rows ~ N(0, 1) scaled to unit norm, zero bias."""
    if isinstance(module, nn.Linear):
        module.weight.data.normal_(0, 1)
        module.weight.data *= 1 / torch.sqrt(module.weight.data.pow(2).sum(1, keepdim=True))
        if module.bias is not None:
            module.bias.data.fill_(0)


class MiniGridPolicy(ActorCriticPolicy):
    """SB3 ``ActorCriticPolicy`` with the thesis's architecture (see the module docstring).

    ``bottleneck=True`` builds the §3.5.1 variant. Any other keyword goes to
    ``ActorCriticPolicy`` (for example ``optimizer_kwargs``).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Any,
        bottleneck: bool = False,
        **kwargs: Any,
    ):
        self.bottleneck = bool(bottleneck)
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch=dict(pi=[64], vf=[64]),
            activation_fn=nn.Tanh,
            ortho_init=False,
            features_extractor_class=MiniGridFeatures,
            features_extractor_kwargs={"bottleneck": self.bottleneck},
            normalize_images=False,
            share_features_extractor=True,
            **kwargs,
        )
        self.apply(_rl_starter_init)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        parameters = super()._get_constructor_parameters()
        parameters["bottleneck"] = self.bottleneck
        return parameters


def build_policy(bottleneck: bool = False, seed: int | None = None) -> MiniGridPolicy:
    """A freshly initialised (untrained) policy on CPU, in eval mode; seeded if ``seed`` given."""
    if seed is not None:
        torch.manual_seed(check_int(seed, "seed", minimum=0))
    env = make_env(5)
    policy = MiniGridPolicy(env.observation_space, env.action_space, lambda _: 0.0, bottleneck)
    env.close()
    policy.set_training_mode(False)
    return policy


# --------------------------------------------------------------------------------------------
# Reading a policy


def _as_observations(observations: Any) -> np.ndarray:
    array = to_numpy(observations, "observations")
    if array.ndim != 4 or tuple(array.shape[1:]) != VIEW_SHAPE:
        raise InputError(
            f"observations has shape {array.shape}: expected (n, {', '.join(map(str, VIEW_SHAPE))})"
            " MiniGrid partial views, channel-last"
        )
    if array.shape[0] == 0:
        raise InputError("observations is empty: at least one state is needed")
    if not np.all(np.isfinite(array)):
        raise InputError("observations contains NaN or infinite values")
    return array


def policy_outputs(
    policy: ActorCriticPolicy, observations: Any, batch_size: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """The compared features and the action probabilities of ``policy`` on ``observations``.

    Runs in eval mode without gradients, ``batch_size`` states at a time; the policy's mode
    is restored afterwards.

    Args:
        policy: a :class:`MiniGridPolicy` (from :func:`train_agent`, :func:`load_agent` or
            :func:`build_policy`).
        observations: ``(n, 7, 7, 3)`` MiniGrid views, as :func:`collect_states` returns.

    Returns:
        features: ``float64 (n, d)``, the output of :data:`FEATURES_LAYER` (d = 64, or 8).
        action_probs: ``float64 (n, 7)``, softmax of the :data:`LOGITS_LAYER` output, taken
            in float64 (rows sum to one).
    """
    array = _as_observations(observations)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    features_parts, probability_parts = [], []
    was_training = policy.training
    policy.set_training_mode(False)
    try:
        with torch.no_grad():
            for start in range(0, len(array), batch_size):
                batch = torch.as_tensor(array[start : start + batch_size], device=policy.device)
                inputs = preprocess_obs(batch, policy.observation_space, policy.normalize_images)
                features = policy.pi_features_extractor(inputs)
                logits = policy.action_net(policy.mlp_extractor.forward_actor(features))
                features_parts.append(features.double().cpu().numpy())
                probability_parts.append(torch.softmax(logits.double(), dim=1).cpu().numpy())
    finally:
        policy.set_training_mode(was_training)
    return np.concatenate(features_parts), np.concatenate(probability_parts)


def quality(mean_return: float) -> str:
    """The thesis's label for an agent: "optimal" (R > 0.8), "mediocre" (0.2 < R ≤ 0.8),
    "poor" (R ≤ 0.2)."""
    if isinstance(mean_return, bool) or not isinstance(mean_return, (int, float, np.floating)):
        raise InputError(f"mean_return must be a number, got {mean_return!r}")
    if not math.isfinite(mean_return):
        raise InputError(f"mean_return must be finite, got {mean_return!r}")
    if mean_return > OPTIMAL_RETURN:
        return "optimal"
    if mean_return > POOR_RETURN:
        return "mediocre"
    return "poor"


# --------------------------------------------------------------------------------------------
# Configuration


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
            _check_positive_number(getattr(self, name), name)
        if self.clip_range_vf is not None:
            _check_positive_number(self.clip_range_vf, "clip_range_vf")
        for name in ("gamma", "gae_lambda"):
            value = _check_number(getattr(self, name), name)
            if not 0 < value <= 1:
                raise InputError(f"{name} must be in (0, 1], got {value!r}")
        for name in ("ent_coef", "vf_coef"):
            if _check_number(getattr(self, name), name) < 0:
                raise InputError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        if not isinstance(self.normalize_advantage, bool):
            raise InputError(
                f"normalize_advantage must be True or False, got {self.normalize_advantage!r}"
            )

    @property
    def rollout_steps(self) -> int:
        """Environment steps per PPO update (``n_envs * n_steps``); save points are multiples."""
        return self.n_envs * self.n_steps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _check_positive_number(value: Any, name: str) -> float:
    if _check_number(value, name) <= 0:
        raise InputError(f"{name} must be positive, got {value!r}")
    return float(value)


def _ppo_config(hyperparameters: dict[str, Any]) -> PPOConfig:
    known = {field.name for field in fields(PPOConfig)}
    unknown = sorted(set(hyperparameters) - known)
    if unknown:
        raise InputError(
            f"unknown PPO hyper-parameter(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    return PPOConfig(**hyperparameters)


def _run_config(size: int, seed: int, bottleneck: bool, config: PPOConfig) -> dict[str, Any]:
    return {"size": size, "seed": seed, "bottleneck": bottleneck, **config.to_dict()}


def agent_config(
    size: int, seed: int, bottleneck: bool = False, **hyperparameters: Any
) -> dict[str, Any]:
    """The configuration that determines a training run, as recorded in its files.

    ``{"size", "seed", "bottleneck", **PPOConfig fields}``: two calls of :func:`train_agent`
    with equal configurations train the same agent (save points, evaluation, threads and
    progress do not enter), so this is the thing to hash for a cache key. A resumed run must
    match it exactly.
    """
    return _run_config(
        check_size(size),
        check_int(seed, "seed", minimum=0),
        _check_bool(bottleneck, "bottleneck"),
        _ppo_config(hyperparameters),
    )


def load_agent(path: str | os.PathLike, bottleneck: bool | None = None) -> MiniGridPolicy:
    """Rebuild a saved policy (CPU, eval mode) from its ``state_dict``.

    The file is read with ``torch.load(weights_only=True)``: it can hold tensors only. The
    variant comes from the record next to it (``agent-<t>.json``) or, without one, from the
    state dict's layers; an explicit ``bottleneck`` must agree with the file.
    """
    path = Path(path)
    state = load_tensors(path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path} does not hold a policy state_dict")
    stored = "features_extractor.bottleneck.weight" in state
    record = path.with_suffix(".json")
    if record.exists():
        stored = bool(json.loads(record.read_text(encoding="utf-8"))["config"]["bottleneck"])
    if bottleneck is not None and bool(bottleneck) != stored:
        raise InputError(
            f"bottleneck={bottleneck} but {path} holds a policy "
            f"{'with' if stored else 'without'} the bottleneck"
        )
    policy = build_policy(bottleneck=stored)
    try:
        policy.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise InputError(f"{path} does not match the MiniGrid policy: {error}") from None
    policy.set_training_mode(False)
    return policy


# --------------------------------------------------------------------------------------------
# Training


def _check_save_points(
    save_at: Any, total_timesteps: int, rollout_steps: int
) -> list[int]:
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


def _ppo(size: int, seed: int, bottleneck: bool, config: PPOConfig):
    """A seeded SB3 PPO on ``config.n_envs`` copies of the room (nothing trained yet)."""
    from stable_baselines3 import PPO

    return PPO(
        MiniGridPolicy,
        make_vec_env(size, config.n_envs, seed),
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
        policy_kwargs={"bottleneck": bottleneck, "optimizer_kwargs": {"eps": config.adam_eps}},
        seed=seed,
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
    bottleneck: bool = False,
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
        out_dir: directory for the files listed in the module docstring (created if needed).
        bottleneck: the §3.5.1 variant with the 8-d bottleneck.
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
    the same machine with the same ``num_threads``: ``resume.pt`` restores the policy, Adam's
    moments, the torch / numpy / python random states, every environment's state and the
    last observations, and training between save points is the same sequence of SB3
    ``learn`` calls either way. Requesting a save point earlier than the latest one on disk
    that was not saved raises InputError (it would need retraining from scratch).

    Returns:
        the :class:`SavedAgent` record of every requested save point, by timesteps.
    """
    size = check_size(size)
    seed = check_int(seed, "seed", minimum=0)
    total_timesteps = check_int(total_timesteps, "total_timesteps", minimum=0)
    bottleneck = _check_bool(bottleneck, "bottleneck")
    eval_episodes = check_int(eval_episodes, "eval_episodes", minimum=1)
    eval_seed = check_int(eval_seed, "eval_seed", minimum=0)
    if num_threads is not None:
        num_threads = check_int(num_threads, "num_threads", minimum=1)
    config = _ppo_config(hyperparameters)
    points = _check_save_points(save_at, total_timesteps, config.rollout_steps)
    run_config = _run_config(size, seed, bottleneck, config)
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)

    previous_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        return _train(directory, run_config, config, points, eval_episodes, eval_seed, progress)
    finally:
        torch.set_num_threads(previous_threads)


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _train(
    directory: Path,
    run_config: dict,
    config: PPOConfig,
    points: list[int],
    eval_episodes: int,
    eval_seed: int,
    progress: bool,
) -> list[SavedAgent]:
    size, seed, bottleneck = run_config["size"], run_config["seed"], run_config["bottleneck"]
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

    model = _ppo(size, seed, bottleneck, config)
    seconds = 0.0
    if resumed:
        saved, meta = resumed
        restore_training_state(model, saved, meta)
        seconds = float(meta["train_seconds"])
    label = f"PPO {size}x{size} seed {seed}{' bottleneck' if bottleneck else ''}"
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
    mean_return = evaluate(policy, size, eval_episodes, eval_seed)
    greedy_return = evaluate(policy, size, 1, eval_seed, deterministic=True)
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
            "quality": quality(mean_return),
            "evaluation": {"episodes": eval_episodes, "seed": eval_seed, "deterministic": False},
            "train_seconds": round(seconds, 3),
            "resumed_from": resumed_from,
        },
    )
    if timesteps > 0:  # at 0 a fresh start is the same thing
        state = capture_training_state(model, timesteps, run_config, seconds)
        save_tensors(directory / RESUME_FILE, state)
