"""The thesis's MiniGrid actor-critic in stable-baselines3 (simfunc.nets.actor_critic).

The architecture is checked against an independent re-implementation of rl-starter-files'
``ACModel`` written in this file, with the thesis's §3.5.1 bottleneck (64 → 8 → the final
linear layers) and the bottleneck-with-hidden-layer variant.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from simfunc import InputError
from simfunc.envs import collect_states, random_policy
from simfunc.nets.actor_critic import (
    FEATURES_LAYER,
    LOGITS_LAYER,
    NETWORKS,
    build_policy,
    network_of_state,
    policy_outputs,
)


class ReferenceACModel(nn.Module):
    """rl-starter-files' ACModel (no memory, no text), with the optional 64 -> 8 bottleneck
    and, after it, either the final layers directly (the thesis's) or the 64-unit tanh layer."""

    def __init__(self, network: str):
        super().__init__()
        self.image_conv = nn.Sequential(
            nn.Conv2d(3, 16, (2, 2)), nn.ReLU(), nn.MaxPool2d((2, 2)),
            nn.Conv2d(16, 32, (2, 2)), nn.ReLU(),
            nn.Conv2d(32, 64, (2, 2)), nn.ReLU(),
        )  # fmt: skip
        embedding = ((7 - 1) // 2 - 2) * ((7 - 1) // 2 - 2) * 64
        width = {"plain": embedding, "bottleneck-16": 16}.get(network, 8)
        self.bottleneck = None if network == "plain" else nn.Linear(embedding, width)
        self.activation = nn.Tanh() if network == "bottleneck-tanh" else nn.Identity()
        if network in ("bottleneck", "bottleneck-16", "bottleneck-tanh"):
            self.actor = nn.Sequential(nn.Linear(width, 7))
            self.critic = nn.Sequential(nn.Linear(width, 1))
        else:
            self.actor = nn.Sequential(nn.Linear(width, 64), nn.Tanh(), nn.Linear(64, 7))
            self.critic = nn.Sequential(nn.Linear(width, 64), nn.Tanh(), nn.Linear(64, 1))

    def forward(self, image):
        x = image.float().transpose(1, 3).transpose(2, 3)  # as rl-starter-files does
        x = self.image_conv(x).reshape(x.shape[0], -1)
        if self.bottleneck is not None:
            x = self.activation(self.bottleneck(x))
        return x, torch.softmax(self.actor(x).double(), dim=1), self.critic(x)

    def copy_from(self, policy):
        """Load the SB3 policy's weights into this model (names mapped by hand)."""
        state = policy.state_dict()
        for index in (0, 3, 5):
            self.image_conv[index].weight.data = state[f"features_extractor.image_conv.{index}.weight"]
            self.image_conv[index].bias.data = state[f"features_extractor.image_conv.{index}.bias"]
        if self.bottleneck is not None:
            name = "bottleneck.0" if "features_extractor.bottleneck.0.weight" in state else "bottleneck"
            self.bottleneck.weight.data = state[f"features_extractor.{name}.weight"]
            self.bottleneck.bias.data = state[f"features_extractor.{name}.bias"]
        pairs = [(self.actor[-1], "action_net"), (self.critic[-1], "value_net")]
        if len(self.actor) > 1:
            pairs += [(self.actor[0], "mlp_extractor.policy_net.0"),
                      (self.critic[0], "mlp_extractor.value_net.0")]
        for layer, name in pairs:
            layer.weight.data = state[f"{name}.weight"]
            layer.bias.data = state[f"{name}.bias"]


def _unique_parameter_count(module):
    return sum(p.numel() for p in {id(p): p for p in module.parameters()}.values())


@pytest.fixture(scope="module")
def states():
    observations, _ = collect_states(random_policy(), 6, 6, seed=0)
    return observations


@pytest.mark.parametrize("network", NETWORKS)
def test_parameter_count_matches_the_theses_architecture(network):
    policy = build_policy(network)
    assert _unique_parameter_count(policy) == _unique_parameter_count(ReferenceACModel(network))
    # written out: convolutions 3*16*4+16 + 16*32*4+32 + 32*64*4+64; then per network
    convolutions = 208 + 2080 + 8256
    by_hand = {
        "plain": convolutions + 2 * (64 * 64 + 64) + (64 * 7 + 7) + (64 + 1),
        "bottleneck": convolutions + (64 * 8 + 8) + (8 * 7 + 7) + (8 + 1),
        "bottleneck-hidden": convolutions + (64 * 8 + 8) + 2 * (8 * 64 + 64) + (64 * 7 + 7)
        + (64 + 1),
        "bottleneck-16": convolutions + (64 * 16 + 16) + (16 * 7 + 7) + (16 + 1),
        "bottleneck-tanh": convolutions + (64 * 8 + 8) + (8 * 7 + 7) + (8 + 1),
    }[network]
    assert _unique_parameter_count(policy) == by_hand
    assert by_hand == {"plain": 19384, "bottleneck": 11136, "bottleneck-hidden": 12736,
                       "bottleneck-16": 11720, "bottleneck-tanh": 11136}[network]


def test_the_thesis_bottleneck_feeds_the_final_layers_directly():
    """§3.5.1: the 8-d features are followed by the final linear layer, nothing between."""
    policy = build_policy("bottleneck", seed=0)
    assert len(policy.mlp_extractor.policy_net) == 0 and len(policy.mlp_extractor.value_net) == 0
    assert (policy.action_net.in_features, policy.action_net.out_features) == (8, 7)
    assert (policy.value_net.in_features, policy.value_net.out_features) == (8, 1)
    hidden = build_policy("bottleneck-hidden", seed=0)
    assert hidden.action_net.in_features == 64 and len(hidden.mlp_extractor.policy_net) == 2


@pytest.mark.parametrize("network", NETWORKS)
def test_policy_computes_what_the_reference_model_computes(network, states):
    policy = build_policy(network, seed=3)
    reference = ReferenceACModel(network)
    reference.copy_from(policy)
    features, probabilities = policy_outputs(policy, states)
    with torch.no_grad():
        ref_features, ref_probabilities, ref_values = reference(torch.as_tensor(states))
        values = policy.predict_values(torch.as_tensor(states))
    np.testing.assert_allclose(features, ref_features.double().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probabilities, ref_probabilities.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(values.numpy(), ref_values.numpy(), rtol=1e-5, atol=1e-6)
    # the protocol methods the rollouts use return the same
    np.testing.assert_array_equal(policy.action_probabilities(states), probabilities)
    np.testing.assert_array_equal(policy.outputs(states)[0], features)


@pytest.mark.parametrize("network, width", [("plain", 64), ("bottleneck", 8),
                                            ("bottleneck-hidden", 8), ("bottleneck-16", 16),
                                            ("bottleneck-tanh", 8)])
def test_features_and_logits_read_directly_and_through_hooks(network, width, states):
    policy = build_policy(network, seed=0)
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


def test_the_tanh_bottleneck_bounds_its_features_and_the_embedding_is_what_it_reads(states):
    from simfunc.nets.actor_critic import policy_embedding

    tanh = build_policy("bottleneck-tanh", seed=0)
    features, _ = policy_outputs(tanh, states)
    assert np.abs(features).max() < 1.0
    embedding = policy_embedding(tanh, states)
    layer = tanh.features_extractor.bottleneck[0]
    with torch.no_grad():
        expected = torch.tanh(layer(torch.as_tensor(embedding, dtype=torch.float32))).double()
    np.testing.assert_allclose(features, expected.numpy(), rtol=1e-5, atol=1e-6)
    plain = build_policy("plain", seed=0)
    np.testing.assert_array_equal(policy_embedding(plain, states), policy_outputs(plain, states)[0])


def test_the_network_is_read_back_from_a_state_dict():
    for network in NETWORKS:
        assert network_of_state(build_policy(network).state_dict()) == network


def test_bad_networks_and_observations_raise_input_error():
    with pytest.raises(InputError, match="network"):
        build_policy("wide")
    policy = build_policy()
    with pytest.raises(InputError, match="shape"):
        policy_outputs(policy, np.zeros((3, 3, 7, 7), dtype=np.uint8))
    with pytest.raises(InputError, match="empty"):
        policy_outputs(policy, np.zeros((0, 7, 7, 3), dtype=np.uint8))
    with pytest.raises(InputError, match="NaN"):
        policy_outputs(policy, np.full((1, 7, 7, 3), np.nan))


def test_the_embedding_refuses_bad_observations_as_the_outputs_do():
    from simfunc.nets.actor_critic import policy_embedding

    policy = build_policy("bottleneck", seed=0)
    with pytest.raises(InputError, match="observations"):
        policy_embedding(policy, np.zeros((3, 7, 7)))
    with pytest.raises(InputError, match="batch_size"):
        policy_embedding(policy, np.zeros((3, 7, 7, 3)), batch_size=0)


def test_outputs_are_read_in_eval_mode_and_the_mode_is_left_as_found(states, monkeypatch):
    """policy_outputs runs in eval mode: a policy in training mode (or with one submodule in
    it) is switched and switched back; one already in eval mode throughout is not switched at
    all (rollouts call this at every step). The outputs are the same either way."""
    policy = build_policy("plain", seed=4)
    switches = []
    real = policy.set_training_mode
    monkeypatch.setattr(policy, "set_training_mode",
                        lambda mode: switches.append(mode) or real(mode))
    evaluated = policy_outputs(policy, states)
    assert switches == [] and not policy.training
    policy.train(True)
    trained_mode = policy_outputs(policy, states)
    assert switches == [False, True] and policy.training
    assert all(np.array_equal(a, b) for a, b in zip(evaluated, trained_mode))
    policy.train(False)
    policy.features_extractor.train(True)  # one submodule left in training mode
    switches.clear()
    policy_outputs(policy, states)
    assert switches == [False, False] and not policy.features_extractor.training
