"""PPO training of the MiniGrid actor-critic with stable-baselines3 (simfunc.train.ppo).

Real MiniGrid, real SB3, small sizes: arguments, the files a run writes, loading, reuse of a
finished directory, and resuming bit for bit (the network itself is tested in
nets/test_actor_critic.py, the SB3 state adapter in test_sb3_state.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from simfunc import InputError
from simfunc.envs import collect_states, evaluate, random_policy
from simfunc.nets.actor_critic import policy_outputs
from simfunc.train import ppo
from simfunc.train.ppo import (
    PPOConfig,
    agent_arguments,
    agent_config,
    agent_path,
    load_agent,
    saved_agents,
    train_agent,
    unvalidated_distributions,
)

SRC = Path(__file__).resolve().parents[2] / "src"
# A small, fast PPO: one update every 2 * 64 = 128 environment steps.
TINY = dict(n_envs=2, n_steps=64, batch_size=64, progress=False, eval_episodes=4)


@pytest.fixture(scope="module")
def states():
    observations, _ = collect_states(random_policy(), 6, 6, seed=0)
    return observations


def test_bad_training_arguments_raise_input_error(tmp_path):
    with pytest.raises(InputError, match="multiple"):
        train_agent(5, 0, 256, out_dir=tmp_path, save_at=[100], **TINY)
    with pytest.raises(InputError, match="exceeds"):
        train_agent(5, 0, 256, out_dir=tmp_path, save_at=[512], **TINY)
    with pytest.raises(InputError, match="unknown PPO"):
        train_agent(5, 0, 256, out_dir=tmp_path, learning_rat=1e-3, progress=False)
    with pytest.raises(InputError, match=r"\{5, 6, 8, 16\}"):
        train_agent(7, 0, 256, out_dir=tmp_path, **TINY)
    with pytest.raises(InputError, match="batch_size"):
        PPOConfig(n_envs=1, n_steps=16, batch_size=64)
    with pytest.raises(InputError, match="gamma"):
        PPOConfig(gamma=1.5)
    with pytest.raises(InputError, match="ent_coef"):
        PPOConfig(ent_coef=-0.1)
    with pytest.raises(InputError, match="normalize_advantage"):
        PPOConfig(normalize_advantage=1)
    with pytest.raises(InputError, match="network"):
        train_agent(5, 0, 256, out_dir=tmp_path, network="wide", **TINY)
    assert not list(tmp_path.iterdir())  # nothing was written


def _state(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def _assert_same_tensors(first, second):
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


def test_save_load_round_trips_exactly_with_weights_only(tmp_path, states):
    records = train_agent(5, 1, 256, out_dir=tmp_path, save_at=[0, 128], **TINY)
    assert [r.timesteps for r in records] == [0, 128, 256]
    assert [r.path for r in records] == [agent_path(tmp_path, t) for t in (0, 128, 256)]
    for record in records:
        state = _state(record.path)  # tensors only: loads under weights_only=True
        assert all(isinstance(v, torch.Tensor) for v in state.values())
        policy = load_agent(record.path)
        _assert_same_tensors(policy.state_dict(), state)
        written = json.loads(record.path.with_suffix(".json").read_text())
        assert written["timesteps"] == record.timesteps
        assert written["mean_return"] == record.mean_return and "quality" not in written
        assert written["config"]["size"] == 5 and written["config"]["network"] == "plain"
    # the saved policy behaves as the recorded return says (same evaluation, re-run)
    final = load_agent(records[-1].path, network="plain")
    assert evaluate(final, 5, 4, seed=0) == pytest.approx(records[-1].mean_return)
    # training moved the weights
    assert not torch.equal(
        _state(records[0].path)["action_net.weight"], _state(records[-1].path)["action_net.weight"]
    )
    features, _ = policy_outputs(final, states)
    assert features.shape[1] == 64
    with pytest.raises(InputError, match="bottleneck"):
        load_agent(records[-1].path, network="bottleneck")
    assert saved_agents(tmp_path) == records


def test_load_agent_refuses_files_that_are_not_tensor_checkpoints(tmp_path):
    pickled = tmp_path / "agent-0.pt"
    torch.save({"not": "tensors", "f": Path("x")}, pickled)  # a pickled object, not a tensor
    with pytest.raises(InputError):
        load_agent(pickled)
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="could not be read"):
        load_agent(tmp_path / "garbage.pt")


@pytest.mark.parametrize("network", ["bottleneck", "bottleneck-hidden"])
def test_bottleneck_agents_save_and_load_with_8_features(tmp_path, states, network):
    (record,) = train_agent(6, 2, 128, out_dir=tmp_path, network=network, **TINY)
    policy = load_agent(record.path)
    assert policy.network == network
    assert policy_outputs(policy, states)[0].shape == (len(states), 8)
    with pytest.raises(InputError, match="plain"):
        load_agent(record.path, network="plain")
    record.path.with_suffix(".json").unlink()  # without its record, the layers say which
    assert load_agent(record.path).network == network


def test_a_complete_directory_is_reused_and_a_different_run_refused(tmp_path):
    first = train_agent(5, 4, 256, out_dir=tmp_path, save_at=[128], **TINY)
    stamp = first[-1].path.stat().st_mtime_ns
    again = train_agent(5, 4, 256, out_dir=tmp_path, save_at=[128], **TINY)
    assert again == first and first[-1].path.stat().st_mtime_ns == stamp
    with pytest.raises(InputError, match="different configuration.*seed"):
        train_agent(5, 5, 256, out_dir=tmp_path, **TINY)
    with pytest.raises(InputError, match="without saving"):
        train_agent(5, 4, 256, out_dir=tmp_path, save_at=[128, 0], **TINY)
    # an untrained agent alone leaves no resume state; its record still guards the directory
    train_agent(6, 9, 0, out_dir=tmp_path / "untrained", **TINY)
    with pytest.raises(InputError, match="different configuration"):
        train_agent(6, 10, 0, out_dir=tmp_path / "untrained", **TINY)


def test_agent_config_is_what_the_records_hold(tmp_path):
    (record,) = train_agent(5, 3, 128, out_dir=tmp_path, network="bottleneck", **TINY)
    hyperparameters = {k: v for k, v in TINY.items() if k not in ("progress", "eval_episodes")}
    assert record.config == agent_config(5, 3, network="bottleneck", **hyperparameters)
    assert agent_config(5, 3) != agent_config(5, 4)
    assert agent_config(5, 3)["learning_rate"] == PPOConfig().learning_rate
    with pytest.raises(InputError, match="unknown PPO"):
        agent_config(5, 3, lr=0.1)


def test_the_config_records_the_small_batches_kernel_and_an_older_rule_is_refused(tmp_path,
                                                                                monkeypatch):
    from simfunc.nets.small_batch_conv import SMALL_BATCH_CONVOLUTIONS

    config = agent_config(5, 3, network="bottleneck", n_envs=2)
    assert config["small_batch_convolutions"] == SMALL_BATCH_CONVOLUTIONS
    size, seed, network, hyperparameters = agent_arguments(config)
    assert (size, seed, network) == (5, 3, "bottleneck")
    assert hyperparameters == PPOConfig(n_envs=2).to_dict()
    older = {k: v for k, v in config.items() if k != "small_batch_convolutions"}
    for stale in (older, {**config, "small_batch_convolutions": "onednn"}):
        with pytest.raises(InputError, match="small_batch_convolutions"):
            agent_arguments(stale)
    with pytest.raises(InputError, match="no 'seed'"):
        agent_arguments({k: v for k, v in config.items() if k != "seed"})
    # a directory holding a run of an older simfunc is not resumed with today's kernels
    monkeypatch.setattr(ppo, "SMALL_BATCH_CONVOLUTIONS", "oneDNN for every batch")
    train_agent(5, 3, 256, out_dir=tmp_path, save_at=[128], **TINY)
    monkeypatch.undo()
    with pytest.raises(InputError, match="different configuration.*small_batch_convolutions"):
        train_agent(5, 3, 384, out_dir=tmp_path, **TINY)


def test_distribution_checks_are_off_only_while_training_and_change_no_weight(tmp_path,
                                                                             monkeypatch):
    from torch.distributions import Distribution

    monkeypatch.setattr(Distribution, "_validate_args", True)
    unchecked = train_agent(5, 8, 128, out_dir=tmp_path / "unchecked", **TINY)
    assert Distribution._validate_args is True  # restored
    seen = []

    @contextlib.contextmanager
    def checked():  # every Categorical validated, as torch does by default
        seen.append(Distribution._validate_args)
        yield

    monkeypatch.setattr(ppo, "unvalidated_distributions", checked)
    validated = train_agent(5, 8, 128, out_dir=tmp_path / "checked", **TINY)
    assert seen == [True]
    _assert_same_tensors(_state(unchecked[-1].path), _state(validated[-1].path))
    with unvalidated_distributions():
        assert Distribution._validate_args is False
    assert Distribution._validate_args is True


def test_a_diverged_policy_still_stops_training_without_the_checks(tmp_path):
    train_agent(5, 9, 128, out_dir=tmp_path, **TINY)
    resume = tmp_path / "resume.pt"
    saved = torch.load(resume, weights_only=True)
    saved["policy"]["action_net.bias"][0] = float("nan")
    torch.save(saved, resume)
    with pytest.raises(RuntimeError, match="nan"):
        train_agent(5, 9, 256, out_dir=tmp_path, **TINY)


@pytest.mark.slow  # trains PPO four times
def test_continuing_a_run_is_bit_identical_to_an_uninterrupted_one(tmp_path):
    whole = train_agent(5, 6, 512, out_dir=tmp_path / "whole", save_at=[256], **TINY)
    train_agent(5, 6, 256, out_dir=tmp_path / "parts", **TINY)  # stops at the first point
    parts = train_agent(5, 6, 512, out_dir=tmp_path / "parts", save_at=[256], **TINY)
    for a, b in zip(whole, parts):
        _assert_same_tensors(_state(a.path), _state(b.path))
        assert a.mean_return == b.mean_return
    record = json.loads(parts[-1].path.with_suffix(".json").read_text())
    assert record["resumed_from"] == 256


@pytest.mark.slow  # trains PPO four times
def test_resuming_continues_from_the_saved_state_not_from_scratch(tmp_path):
    """Perturb the saved training state: a resumed run must carry the perturbation on."""
    train_agent(5, 7, 256, out_dir=tmp_path / "a", **TINY)
    train_agent(5, 7, 256, out_dir=tmp_path / "b", **TINY)
    resume = tmp_path / "b" / "resume.pt"
    saved = torch.load(resume, weights_only=True)
    saved["policy"]["action_net.bias"] += 5.0
    torch.save(saved, resume)
    a = train_agent(5, 7, 384, out_dir=tmp_path / "a", **TINY)[-1]
    b = train_agent(5, 7, 384, out_dir=tmp_path / "b", **TINY)[-1]
    bias_a, bias_b = _state(a.path)["action_net.bias"], _state(b.path)["action_net.bias"]
    # one more update cannot undo a shift of 5 in the logits (Adam moves by about lr per step)
    assert torch.all((bias_b - bias_a) > 4.0)


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_save_point(tmp_path):
    """SIGKILL a training process once it has saved its first point, then resume."""
    arguments = dict(save_at=[1024, 2048], n_envs=4, n_steps=128, batch_size=128,
                     eval_episodes=4, progress=False)  # fmt: skip
    killed = tmp_path / "killed"
    script = (
        "from simfunc.train.ppo import train_agent\n"
        f"train_agent(5, 8, 8192, out_dir={str(killed)!r}, **{arguments!r})\n"
    )
    environment = dict(os.environ, PYTHONPATH=str(SRC))
    process = subprocess.Popen([sys.executable, "-c", script], env=environment)
    try:
        deadline = time.monotonic() + 120
        while not (killed / "resume.pt").exists():
            assert process.poll() is None, "the training process ended early"
            assert time.monotonic() < deadline, "no save point appeared in time"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (killed / "agent-8192.pt").exists()
    for saved in killed.glob("agent-*.pt"):  # a kill may leave a temp file, never a torn final one
        assert all(isinstance(v, torch.Tensor) for v in _state(saved).values())

    resumed = train_agent(5, 8, 8192, out_dir=killed, **arguments)
    whole = train_agent(5, 8, 8192, out_dir=tmp_path / "whole", **arguments)
    assert [r.timesteps for r in resumed] == [1024, 2048, 8192]
    for a, b in zip(resumed, whole):
        _assert_same_tensors(_state(a.path), _state(b.path))
        assert a.mean_return == b.mean_return
    record = json.loads(resumed[-1].path.with_suffix(".json").read_text())
    assert record["resumed_from"] in (1024, 2048)
    assert 0 <= resumed[-1].mean_return <= 1


@pytest.mark.slow
def test_briefly_trained_agent_beats_the_random_policy(tmp_path):
    (record,) = train_agent(5, 0, 16384, out_dir=tmp_path, progress=False)
    agent = load_agent(record.path)
    n = 100
    _, trained = collect_states(agent, 5, n, seed=1000)
    _, random_returns = collect_states(random_policy(), 5, n, seed=1000)
    difference = trained.mean() - random_returns.mean()
    standard_error = np.sqrt(trained.var(ddof=1) / n + random_returns.var(ddof=1) / n)
    assert difference > 5 * standard_error
    assert trained.mean() > 0.5
