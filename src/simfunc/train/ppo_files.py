"""Files of a PPO training run: tensors-only checkpoints, JSON records, the resume state.

Everything is written to a temporary name in the same directory and moved into place with
``os.replace``, so a reader (or a killed writer) never sees half a file. Checkpoints hold
tensors and plain Python values only and are read with ``torch.load(weights_only=True)``:
loading one can never execute code.

The resume state (``resume.pt``) is what continuing an SB3 PPO run at a save point needs to
be bit-identical to never having stopped: policy and Adam state, the torch / numpy / python
random states, each MiniGrid room's state (agent position, direction, step count, random
generator) and the last observations and episode-start flags PPO carries between rollouts.
Save points fall on rollout boundaries, where SB3's rollout buffer holds nothing that is
still needed.
"""

from __future__ import annotations

import io
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simfunc.errors import InputError
from simfunc.io.atomic import atomic_writer

__all__ = [
    "FORMAT",
    "RESUME_FILE",
    "SavedAgent",
    "agent_path",
    "saved_agents",
    "save_tensors",
    "save_json",
    "load_tensors",
    "capture_training_state",
    "restore_training_state",
    "read_training_state",
]

FORMAT = "simfunc-minigrid-ppo/1"
"""Written into every record and resume state; a different value is refused."""

RESUME_FILE = "resume.pt"


def agent_path(out_dir: str | os.PathLike, timesteps: int) -> Path:
    """Where ``train_agent`` saves the policy after ``timesteps`` environment steps."""
    return Path(out_dir) / f"agent-{int(timesteps)}.pt"


def write_atomically(path: Path, write: Any, binary: bool) -> None:
    """Write through ``write(stream)`` into a temporary file next to ``path``, flush it to
    disk, then ``os.replace`` it onto ``path``: readers see the old file or the new one."""
    with atomic_writer(path) as handle:
        if binary:
            write(handle)
        else:
            text = io.TextIOWrapper(handle, encoding="utf-8")
            write(text)
            text.flush()
            text.detach()  # the binary handle stays open for atomic_writer to sync and close


def save_tensors(path: Path, payload: Any) -> None:
    """``torch.save`` ``payload`` (tensors and plain values only) to ``path``, atomically."""
    write_atomically(path, lambda stream: torch.save(payload, stream), binary=True)


def save_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented, key-sorted JSON to ``path``, atomically."""

    def write(stream: Any) -> None:
        json.dump(payload, stream, indent=2, sort_keys=True)
        stream.write("\n")

    write_atomically(path, write, binary=False)


def load_tensors(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU, or InputError naming the file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except Exception as error:  # a truncated or foreign file, or one holding code
        raise InputError(
            f"{path} could not be read as a tensors-only checkpoint: {error}"
        ) from None


@dataclass(frozen=True)
class SavedAgent:
    """One saved point of a training run, as recorded in ``agent-<timesteps>.json``."""

    path: Path
    timesteps: int
    mean_return: float
    greedy_return: float
    quality: str
    config: dict[str, Any]

    @classmethod
    def read(cls, path: str | os.PathLike) -> SavedAgent:
        """Read the record of ``agent-<t>.pt`` (give the ``.pt`` or the ``.json`` path)."""
        weights = Path(path).with_suffix(".pt")
        record_path = weights.with_suffix(".json")
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            return cls(
                path=weights,
                timesteps=int(record["timesteps"]),
                mean_return=float(record["mean_return"]),
                greedy_return=float(record["greedy_return"]),
                quality=str(record["quality"]),
                config=dict(record["config"]),
            )
        except FileNotFoundError:
            raise InputError(f"{record_path} does not exist") from None
        except (ValueError, KeyError, TypeError) as error:
            raise InputError(f"{record_path} is not a training record: {error!r}") from None


def saved_agents(out_dir: str | os.PathLike) -> list[SavedAgent]:
    """Every complete saved point in ``out_dir`` (weights and record present), by timesteps."""
    directory = Path(out_dir)
    found = []
    for weights in directory.glob("agent-*.pt"):
        stem = weights.stem.removeprefix("agent-")
        if stem.isdigit() and weights.with_suffix(".json").exists():
            found.append(SavedAgent.read(weights))
    return sorted(found, key=lambda agent: agent.timesteps)


def _room(monitored_env: Any) -> Any:
    return monitored_env.unwrapped


def capture_training_state(model: Any, timesteps: int, run_config: dict, seconds: float) -> dict:
    """Everything :func:`restore_training_state` needs to continue ``model`` bit for bit."""
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    environments = []
    for env in model.env.envs:
        room = _room(env)
        if room.carrying is not None:  # cannot happen in Empty rooms: nothing to pick up
            raise RuntimeError("cannot save a MiniGrid environment whose agent carries an object")
        environments.append(
            {
                "agent_pos": [int(v) for v in room.agent_pos],
                "agent_dir": int(room.agent_dir),
                "step_count": int(room.step_count),
                "np_random": room.np_random.bit_generator.state,
                "episode_rewards": list(env.rewards),
            }
        )
    meta = {
        "format": FORMAT,
        "config": run_config,
        "timesteps": timesteps,
        "n_updates": int(model._n_updates),
        "train_seconds": seconds,
        "numpy_random": {
            "pos": int(numpy_state[2]),
            "has_gauss": int(numpy_state[3]),
            "cached_gaussian": float(numpy_state[4]),
        },
        "python_random": [python_state[0], list(python_state[1]), python_state[2]],
        "environments": environments,
    }
    return {
        "meta": json.dumps(meta),
        "policy": model.policy.state_dict(),
        "optimizer": model.policy.optimizer.state_dict(),
        "torch_random": torch.get_rng_state(),
        "numpy_random_keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
        "last_obs": torch.from_numpy(np.asarray(model._last_obs).copy()),
        "episode_starts": torch.from_numpy(np.asarray(model._last_episode_starts, dtype=bool)),
    }


def restore_training_state(model: Any, saved: dict, meta: dict) -> None:
    """Put a freshly built SB3 PPO ``model`` (same configuration) into the saved state.

    Also sets the process-wide torch, numpy and python random states, as training needs.
    """
    model.policy.load_state_dict(saved["policy"], strict=True)
    model.policy.optimizer.load_state_dict(saved["optimizer"])
    last_obs = saved["last_obs"].numpy().copy()
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
                f"{RESUME_FILE}: environment {index}'s saved state does not reproduce its saved "
                "observation; the file is inconsistent, delete it to train from scratch"
            )
    model._last_obs = last_obs
    model._last_episode_starts = saved["episode_starts"].numpy().copy()
    model.num_timesteps = meta["timesteps"]
    model._n_updates = meta["n_updates"]
    torch.set_rng_state(saved["torch_random"])
    numpy_random = meta["numpy_random"]
    np.random.set_state(
        (
            "MT19937",
            saved["numpy_random_keys"].numpy().astype(np.uint32),
            numpy_random["pos"],
            numpy_random["has_gauss"],
            numpy_random["cached_gaussian"],
        )
    )
    version, internal, gauss = meta["python_random"]
    random.setstate((version, tuple(internal), gauss))


def read_training_state(out_dir: Path, run_config: dict) -> tuple[dict, dict] | None:
    """The resume state in ``out_dir`` (tensors, and its JSON metadata), or None if absent.

    InputError if it is unreadable or was written by a run of another configuration.
    """
    path = out_dir / RESUME_FILE
    if not path.exists():
        return None
    saved = load_tensors(path)
    try:
        meta = json.loads(saved["meta"])
    except (TypeError, KeyError, ValueError):
        raise InputError(f"{path} is not a simfunc resume state") from None
    if meta.get("format") != FORMAT:
        raise InputError(f"{path} has format {meta.get('format')!r}, expected {FORMAT!r}")
    if meta["config"] != run_config:
        differing = sorted(
            key
            for key in set(meta["config"]) | set(run_config)
            if meta["config"].get(key) != run_config.get(key)
        )
        raise InputError(
            f"out_dir {out_dir} holds a run with a different configuration (differs in "
            f"{', '.join(differing)}): use another directory"
        )
    return saved, meta
