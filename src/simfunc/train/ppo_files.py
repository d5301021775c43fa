"""Files of a PPO training run: tensors-only checkpoints, JSON records, the resume state.

Everything is written to a temporary name in the same directory and moved into place with
``os.replace``, so a reader (or a killed writer) never sees half a file. Checkpoints hold
tensors and plain Python values only and are read with ``torch.load(weights_only=True)``:
loading one can never execute code.

* ``agent-<timesteps>.pt``: the policy's ``state_dict`` at that many environment steps;
  :func:`load_agent` rebuilds the policy.
* ``agent-<timesteps>.json``: its record (:class:`SavedAgent`): the run configuration, the
  timesteps, the mean and greedy returns on the training room, the training time so far.
* ``resume.pt``: what continuing the run at its latest save point needs to be bit-identical
  to never having stopped (:mod:`simfunc.train.sb3_state` captures it), with the run
  configuration and the format, checked by :func:`read_training_state`.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from simfunc.errors import InputError
from simfunc.io.atomic import atomic_writer
from simfunc.nets.actor_critic import MiniGridPolicy, build_policy, network_of_state
from simfunc.train import sb3_state

__all__ = [
    "FORMAT",
    "RESUME_FILE",
    "SavedAgent",
    "agent_path",
    "saved_agents",
    "save_tensors",
    "save_json",
    "load_tensors",
    "load_agent",
    "save_training_state",
    "read_training_state",
]

FORMAT = "simfunc-minigrid-ppo/2"
"""Written into every record and resume state; a resume state of another format is refused.
(Format 1 had a ``bottleneck`` flag where format 2 names the ``network``.)"""

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


def load_agent(path: str | os.PathLike, network: str | None = None) -> MiniGridPolicy:
    """Rebuild a saved policy (CPU, eval mode) from its ``state_dict``.

    The file is read with ``torch.load(weights_only=True)``: it can hold tensors only. The
    network comes from the record next to it (``agent-<t>.json``) or, without one, from the
    state dict's layers; an explicit ``network`` must agree with the file.
    """
    path = Path(path)
    state = load_tensors(path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path} does not hold a policy state_dict")
    stored = network_of_state(state)
    record = path.with_suffix(".json")
    if record.exists():
        stored = SavedAgent.read(record).config.get("network", stored)
    if network is not None and network != stored:
        raise InputError(f"network={network!r} but {path} holds a {stored!r} policy")
    policy = build_policy(network=stored)
    try:
        policy.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise InputError(f"{path} does not match the MiniGrid policy: {error}") from None
    policy.set_training_mode(False)
    return policy


def save_training_state(out_dir: Path, model: Any, run_config: dict, seconds: float) -> None:
    """Write ``resume.pt``: the model's training state (:func:`simfunc.train.sb3_state.capture`)
    with the format, the run configuration and the training seconds so far."""
    tensors, meta = sb3_state.capture(model)
    meta = {"format": FORMAT, "config": run_config, "train_seconds": seconds, **meta}
    save_tensors(Path(out_dir) / RESUME_FILE, {"meta": json.dumps(meta), **tensors})


def read_training_state(out_dir: Path, run_config: dict) -> tuple[dict, dict] | None:
    """The resume state in ``out_dir`` (tensors, and its JSON metadata), or None if absent;
    :func:`simfunc.train.sb3_state.restore` puts it into a model.

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
