"""The thesis's MiniGrid actor-critic in stable-baselines3 and its training (simfunc.train.ppo).

Real MiniGrid, real SB3, small sizes. The architecture is checked against an independent
re-implementation of rl-starter-files' ``ACModel`` written in this file.
"""

from __future__ import annotations

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
from torch import nn

from simfunc import InputError
from simfunc.envs import collect_states, evaluate, random_policy
from simfunc.train.ppo import (
    FEATURES_LAYER,
    LOGITS_LAYER,
    PPOConfig,
    agent_config,
    agent_path,
    build_policy,
    load_agent,
    policy_outputs,
    quality,
    saved_agents,
    train_agent,
)

SRC = Path(__file__).resolve().parents[1] / "src"
# A small, fast PPO: one update every 2 * 64 = 128 environment steps.
TINY = dict(n_envs=2, n_steps=64, batch_size=64, progress=False, eval_episodes=4)


class ReferenceACModel(nn.Module):
    """rl-starter-files' ACModel (no memory, no text), with the optional 64 -> 8 bottleneck."""

    def __init__(self, bottleneck: bool):
        super().__init__()
        self.image_conv = nn.Sequential(
            nn.Conv2d(3, 16, (2, 2)), nn.ReLU(), nn.MaxPool2d((2, 2)),
            nn.Conv2d(16, 32, (2, 2)), nn.ReLU(),
            nn.Conv2d(32, 64, (2, 2)), nn.ReLU(),
        )  # fmt: skip
        embedding = ((7 - 1) // 2 - 2) * ((7 - 1) // 2 - 2) * 64
        self.bottleneck = nn.Linear(embedding, 8) if bottleneck else None
        width = 8 if bottleneck else embedding
        self.actor = nn.Sequential(nn.Linear(width, 64), nn.Tanh(), nn.Linear(64, 7))
        self.critic = nn.Sequential(nn.Linear(width, 64), nn.Tanh(), nn.Linear(64, 1))

    def forward(self, image):
        x = image.float().transpose(1, 3).transpose(2, 3)  # as rl-starter-files does
        x = self.image_conv(x).reshape(x.shape[0], -1)
        if self.bottleneck is not None:
            x = self.bottleneck(x)
        return x, torch.softmax(self.actor(x).double(), dim=1), self.critic(x)

    def copy_from(self, policy):
        """Load the SB3 policy's weights into this model (names mapped by hand)."""
        state = policy.state_dict()
        for index in (0, 3, 5):
            self.image_conv[index].load_state_dict(
                {
                    "weight": state[f"features_extractor.image_conv.{index}.weight"],
                    "bias": state[f"features_extractor.image_conv.{index}.bias"],
                }
            )
        if self.bottleneck is not None:
            self.bottleneck.weight.data = state["features_extractor.bottleneck.weight"]
            self.bottleneck.bias.data = state["features_extractor.bottleneck.bias"]
        pairs = [
            (self.actor[0], "mlp_extractor.policy_net.0"),
            (self.actor[2], "action_net"),
            (self.critic[0], "mlp_extractor.value_net.0"),
            (self.critic[2], "value_net"),
        ]
        for layer, name in pairs:
            layer.weight.data = state[f"{name}.weight"]
            layer.bias.data = state[f"{name}.bias"]


def _unique_parameter_count(module):
    return sum(p.numel() for p in {id(p): p for p in module.parameters()}.values())


@pytest.fixture(scope="module")
def states():
    observations, _ = collect_states(random_policy(), 6, 6, seed=0)
    return observations


@pytest.mark.parametrize("bottleneck", [False, True])
def test_parameter_count_matches_the_theses_architecture(bottleneck):
    policy = build_policy(bottleneck=bottleneck)
    assert _unique_parameter_count(policy) == _unique_parameter_count(ReferenceACModel(bottleneck))
    # written out: convolutions 3*16*4+16 + 16*32*4+32 + 32*64*4+64; heads (d*64+64) + ...
    d = 8 if bottleneck else 64
    by_hand = (208 + 2080 + 8256) + (64 * 8 + 8 if bottleneck else 0)
    by_hand += 2 * (d * 64 + 64) + (64 * 7 + 7) + (64 + 1)
    assert _unique_parameter_count(policy) == by_hand
    assert by_hand == (12736 if bottleneck else 19384)


@pytest.mark.parametrize("bottleneck", [False, True])
def test_policy_computes_what_the_reference_model_computes(bottleneck, states):
    policy = build_policy(bottleneck=bottleneck, seed=3)
    reference = ReferenceACModel(bottleneck)
    reference.copy_from(policy)
    features, probabilities = policy_outputs(policy, states)
    with torch.no_grad():
        ref_features, ref_probabilities, ref_values = reference(torch.as_tensor(states))
        values = policy.predict_values(torch.as_tensor(states))
    np.testing.assert_allclose(features, ref_features.double().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probabilities, ref_probabilities.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(values.numpy(), ref_values.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bottleneck, width", [(False, 64), (True, 8)])
def test_features_and_logits_read_directly_and_through_hooks(bottleneck, width, states):
    policy = build_policy(bottleneck=bottleneck, seed=0)
    features, probabilities = policy_outputs(policy, states)
    assert features.shape == (len(states), width) and features.dtype == np.float64
    assert probabilities.shape == (len(states), 7) and probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.all(probabilities >= 0)

    captured = {}

    def keep(name):
        return lambda module, inputs, output: captured.__setitem__(name, output.detach().clone())

    handles = [
        policy.get_submodule(FEATURES_LAYER).register_forward_hook(keep("features")),
        policy.get_submodule(LOGITS_LAYER).register_forward_hook(keep("logits")),
    ]
    with torch.no_grad():
        policy.get_distribution(torch.as_tensor(states))  # SB3's own forward path
    for handle in handles:
        handle.remove()
    np.testing.assert_allclose(captured["features"].double().numpy(), features, rtol=1e-6)
    np.testing.assert_allclose(
        torch.softmax(captured["logits"].double(), dim=1).numpy(), probabilities, rtol=1e-6
    )


def test_a_policy_compared_with_itself_gives_identical_outputs(states):
    policy = build_policy(seed=5)
    first = policy_outputs(policy, states)
    second = policy_outputs(policy, states)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    small_batches = policy_outputs(policy, states, batch_size=7)
    np.testing.assert_allclose(small_batches[0], first[0], rtol=1e-6, atol=1e-7)
    # different seeds give different policies
    assert not np.allclose(policy_outputs(build_policy(seed=6), states)[0], first[0])


def test_policy_outputs_rejects_bad_observations():
    policy = build_policy()
    with pytest.raises(InputError, match="shape"):
        policy_outputs(policy, np.zeros((3, 3, 7, 7), dtype=np.uint8))
    with pytest.raises(InputError, match="empty"):
        policy_outputs(policy, np.zeros((0, 7, 7, 3), dtype=np.uint8))
    with pytest.raises(InputError, match="NaN"):
        policy_outputs(policy, np.full((1, 7, 7, 3), np.nan))


@pytest.mark.parametrize(
    "value, label",
    [(1.0, "optimal"), (0.8001, "optimal"), (0.8, "mediocre"), (0.21, "mediocre"),
     (0.2, "poor"), (0.0, "poor")],
)  # fmt: skip
def test_quality_labels_follow_the_thesis_thresholds(value, label):
    assert quality(value) == label


def test_quality_rejects_non_numbers():
    for bad in (float("nan"), float("inf"), "0.5", None):
        with pytest.raises(InputError, match="mean_return"):
            quality(bad)


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
        assert written["quality"] == quality(written["mean_return"])
        assert written["config"]["size"] == 5 and written["config"]["bottleneck"] is False
    # the saved policy behaves as the recorded return says (same evaluation, re-run)
    final = load_agent(records[-1].path, bottleneck=False)
    assert evaluate(final, 5, 4, seed=0) == pytest.approx(records[-1].mean_return)
    # training moved the weights
    assert not torch.equal(
        _state(records[0].path)["action_net.weight"], _state(records[-1].path)["action_net.weight"]
    )
    features, _ = policy_outputs(final, states)
    assert features.shape[1] == 64
    with pytest.raises(InputError, match="bottleneck"):
        load_agent(records[-1].path, bottleneck=True)
    assert saved_agents(tmp_path) == records


def test_load_agent_refuses_files_that_are_not_tensor_checkpoints(tmp_path):
    pickled = tmp_path / "agent-0.pt"
    torch.save({"not": "tensors", "f": Path("x")}, pickled)  # a pickled object, not a tensor
    with pytest.raises(InputError):
        load_agent(pickled)
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="could not be read"):
        load_agent(tmp_path / "garbage.pt")


def test_bottleneck_agent_saves_and_loads_with_8_features(tmp_path, states):
    (record,) = train_agent(6, 2, 128, out_dir=tmp_path, bottleneck=True, **TINY)
    policy = load_agent(record.path)
    assert policy_outputs(policy, states)[0].shape == (len(states), 8)
    with pytest.raises(InputError, match="bottleneck"):
        load_agent(record.path, bottleneck=False)


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
    (record,) = train_agent(5, 3, 128, out_dir=tmp_path, bottleneck=True, **TINY)
    hyperparameters = {k: v for k, v in TINY.items() if k not in ("progress", "eval_episodes")}
    assert record.config == agent_config(5, 3, bottleneck=True, **hyperparameters)
    assert agent_config(5, 3) != agent_config(5, 4)
    assert agent_config(5, 3)["learning_rate"] == PPOConfig().learning_rate
    with pytest.raises(InputError, match="unknown PPO"):
        agent_config(5, 3, lr=0.1)


def test_continuing_a_run_is_bit_identical_to_an_uninterrupted_one(tmp_path):
    whole = train_agent(5, 6, 512, out_dir=tmp_path / "whole", save_at=[256], **TINY)
    train_agent(5, 6, 256, out_dir=tmp_path / "parts", **TINY)  # stops at the first point
    parts = train_agent(5, 6, 512, out_dir=tmp_path / "parts", save_at=[256], **TINY)
    for a, b in zip(whole, parts):
        _assert_same_tensors(_state(a.path), _state(b.path))
        assert a.mean_return == b.mean_return
    record = json.loads(parts[-1].path.with_suffix(".json").read_text())
    assert record["resumed_from"] == 256


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
