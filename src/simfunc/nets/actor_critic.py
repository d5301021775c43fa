"""The thesis's MiniGrid actor-critic (§3.5, §3.5.1) as a stable-baselines3 policy.

Three networks (``NETWORKS``), all built on rl-starter-files' ``ACModel`` without memory or
text, the code the thesis trained with::

    observation (n, 7, 7, 3) uint8, channel-last, cast to float (no scaling)
      -> permute to (n, 3, 7, 7)
      -> Conv2d(3, 16, 2×2), ReLU, MaxPool2d(2×2), Conv2d(16, 32, 2×2), ReLU,
         Conv2d(32, 64, 2×2), ReLU, flatten                     -> 64-d embedding

    "plain" (§3.5):              features = the 64-d embedding
                                 actor:  Linear(64, 64), Tanh, Linear(64, 7) -> action logits
                                 critic: Linear(64, 64), Tanh, Linear(64, 1) -> state value
    "bottleneck" (§3.5.1):       features = Linear(64, 8) of the embedding (8-d)
                                 actor:  Linear(8, 7)                         -> action logits
                                 critic: Linear(8, 1)                         -> state value
    "bottleneck-hidden":         features = Linear(64, 8) of the embedding (8-d)
                                 actor:  Linear(8, 64), Tanh, Linear(64, 7)
                                 critic: Linear(8, 64), Tanh, Linear(64, 1)
    "bottleneck-16":             as "bottleneck", 16-d: Linear(64, 16), then Linear(16, 7)
    "bottleneck-tanh":           as "bottleneck", the 8-d features = Tanh(Linear(64, 8))

The thesis's bottleneck is a 64→8 layer followed directly by the final fully connected layer:
nothing but one linear map lies between the compared 8-d features and the action logits, which
is what the bottleneck experiment is about (it removes capacity between the representation and
the outputs). ``bottleneck-hidden`` keeps rl-starter-files' 64-unit tanh layer after the 8-d
layer; it is not the thesis's experiment and is kept for comparison only. The bottleneck is a
plain learned linear map (no activation), so the compared features are exactly what the heads
see. ``bottleneck-16`` and ``bottleneck-tanh`` change one thing of it each (its width, an
activation after it) for the MiniGrid study's factor table. Parameters: 19 384 (plain), 11 136 (bottleneck), 12 736 (bottleneck-hidden).

In SB3 terms: a :class:`MiniGridFeatures` ``BaseFeaturesExtractor`` (convolutions, bottleneck,
``features``), ``net_arch`` ``dict(pi=[64], vf=[64])`` (or empty lists for ``bottleneck``),
``activation_fn=nn.Tanh``, ``normalize_images=False``. Linear layers are initialised as
rl-starter-files does (each weight row drawn from N(0, 1) and scaled to unit norm, biases
zero; convolutions keep PyTorch's default), instead of SB3's orthogonal initialisation.
The convolutions are :class:`~simfunc.nets.small_batch_conv.SmallBatchConv2d`: the same
layers, computed by PyTorch's native kernel on the rollouts' small batches without gradients,
where oneDNN's costs several times more a call.

Layers for forward hooks (``policy.get_submodule(path)``):

* :data:`FEATURES_LAYER` ``"features_extractor.features"``: output (n, 64), or (n, 8) with a
  bottleneck: the compared features.
* :data:`LOGITS_LAYER` ``"action_net"``: output (n, 7), the action logits (the policy is
  ``softmax(logits)``).
* :data:`EMBEDDING_LAYER` ``"features_extractor.image_conv"``: output (n, 64), the
  convolutions' embedding: the compared features of ``plain``, the bottleneck's input
  otherwise (:func:`policy_embedding`).

The feature extractor is shared by actor and critic, so each of SB3's forward passes runs each
of these modules exactly once. :func:`policy_outputs` (or the policy's ``outputs`` method)
reads both on a batch of observations; ``action_probabilities`` is what the rollouts in
:mod:`simfunc.envs` call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.preprocessing import preprocess_obs
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from simfunc.envs.minigrid import VIEW_SHAPE, action_space, observation_space
from simfunc.errors import InputError
from simfunc.nets.small_batch_conv import SmallBatchConv2d
from simfunc.validation import check_choice, check_int, to_numpy

__all__ = [
    "NETWORKS",
    "FEATURES_LAYER",
    "LOGITS_LAYER",
    "EMBEDDING_LAYER",
    "EMBEDDING_DIM",
    "BOTTLENECK_DIM",
    "MiniGridFeatures",
    "MiniGridPolicy",
    "build_policy",
    "network_of_state",
    "policy_outputs",
    "policy_embedding",
]

NETWORKS = ("plain", "bottleneck", "bottleneck-hidden", "bottleneck-16", "bottleneck-tanh")
"""The networks (see the module docstring); ``bottleneck`` is the thesis's §3.5.1 network."""

FEATURES_LAYER = "features_extractor.features"
"""Dotted path of the submodule whose output is the compared features (64-d, or 8-d)."""

LOGITS_LAYER = "action_net"
"""Dotted path of the submodule whose output is the action logits (7 per state)."""

EMBEDDING_LAYER = "features_extractor.image_conv"
"""Dotted path of the convolutions whose output is the 64-d embedding (what a bottleneck reads)."""

EMBEDDING_DIM = 64
BOTTLENECK_DIM = 8
HIDDEN_DIM = 64

# The actor's and critic's layers between the features and the final linear layers.
_NET_ARCH = {
    "plain": dict(pi=[HIDDEN_DIM], vf=[HIDDEN_DIM]),
    "bottleneck": dict(pi=[], vf=[]),
    "bottleneck-hidden": dict(pi=[HIDDEN_DIM], vf=[HIDDEN_DIM]),
    "bottleneck-16": dict(pi=[], vf=[]),
    "bottleneck-tanh": dict(pi=[], vf=[]),
}
# Each network's bottleneck: (width, activation after it); width 0: none.
_BOTTLENECK = {"plain": (0, None), "bottleneck": (BOTTLENECK_DIM, None),
               "bottleneck-hidden": (BOTTLENECK_DIM, None), "bottleneck-16": (16, None),
               "bottleneck-tanh": (BOTTLENECK_DIM, "tanh")}


def _check_network(network: Any) -> str:
    return check_choice(network, "network", NETWORKS)


class MiniGridFeatures(BaseFeaturesExtractor):
    """rl-starter-files' image convolutions, the optional 64→8 bottleneck, then ``features``.

    Input: float observations ``(n, 7, 7, 3)`` channel-last (SB3 casts the uint8 arrays to
    float without scaling because the policy has ``normalize_images=False`` and the
    observation space is not an RGB image space). Output: ``(n, 64)`` or ``(n, 8)``.
    """

    def __init__(self, observation_space: spaces.Box, bottleneck: bool | int = False,
                 activation: str | None = None):
        if tuple(observation_space.shape) != VIEW_SHAPE:
            raise InputError(
                f"observation_space has shape {observation_space.shape}: expected {VIEW_SHAPE}"
            )
        width = BOTTLENECK_DIM if bottleneck is True else int(bottleneck)
        super().__init__(observation_space, width or EMBEDDING_DIM)
        self.image_conv = nn.Sequential(
            SmallBatchConv2d(3, 16, (2, 2)),
            nn.ReLU(),
            nn.MaxPool2d((2, 2)),
            SmallBatchConv2d(16, 32, (2, 2)),
            nn.ReLU(),
            SmallBatchConv2d(32, EMBEDDING_DIM, (2, 2)),
            nn.ReLU(),
            nn.Flatten(),
        )
        if not width:
            self.bottleneck: nn.Module = nn.Identity()
        elif activation == "tanh":  # its layer names ("bottleneck.0.weight") tell it apart
            self.bottleneck = nn.Sequential(nn.Linear(EMBEDDING_DIM, width), nn.Tanh())
        elif activation is None:
            self.bottleneck = nn.Linear(EMBEDDING_DIM, width)
        else:
            raise InputError(f"activation must be None or 'tanh', got {activation!r}")
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

    ``network`` is one of :data:`NETWORKS`. Any other keyword goes to ``ActorCriticPolicy``
    (for example ``optimizer_kwargs``).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Any,
        network: str = "plain",
        **kwargs: Any,
    ):
        self.network = _check_network(network)
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch=_NET_ARCH[self.network],
            activation_fn=nn.Tanh,
            ortho_init=False,
            features_extractor_class=MiniGridFeatures,
            features_extractor_kwargs=dict(zip(("bottleneck", "activation"),
                                               _BOTTLENECK[self.network])),
            normalize_images=False,
            share_features_extractor=True,
            **kwargs,
        )
        self.apply(_rl_starter_init)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        parameters = super()._get_constructor_parameters()
        parameters["network"] = self.network
        return parameters

    def outputs(self, observations: Any) -> tuple[np.ndarray, np.ndarray]:
        """The compared features and the action probabilities (:func:`policy_outputs`)."""
        return policy_outputs(self, observations)

    def action_probabilities(self, observations: Any) -> np.ndarray:
        """The action probabilities ``(n, 7)`` on ``observations`` (what rollouts sample from)."""
        return policy_outputs(self, observations)[1]


def build_policy(network: str = "plain", seed: int | None = None) -> MiniGridPolicy:
    """A freshly initialised (untrained) policy on CPU, in eval mode; seeded if ``seed`` given."""
    network = _check_network(network)
    if seed is not None:
        torch.manual_seed(check_int(seed, "seed", minimum=0))
    policy = MiniGridPolicy(observation_space(), action_space(), lambda _: 0.0, network)
    policy.set_training_mode(False)
    return policy


def network_of_state(state: dict[str, Any]) -> str:
    """Which of :data:`NETWORKS` a policy ``state_dict`` belongs to, from its layers."""
    if "features_extractor.bottleneck.0.weight" in state:
        return "bottleneck-tanh"
    weight = state.get("features_extractor.bottleneck.weight")
    if weight is None:
        return "plain"
    if tuple(weight.shape)[0] == 16:
        return "bottleneck-16"
    return "bottleneck-hidden" if "mlp_extractor.policy_net.0.weight" in state else "bottleneck"


def _as_observations(observations: Any) -> np.ndarray:
    array = to_numpy(observations, "observations")
    if array.ndim != 4 or tuple(array.shape[1:]) != VIEW_SHAPE:
        raise InputError(
            f"observations has shape {array.shape}: expected (n, {', '.join(map(str, VIEW_SHAPE))})"
            " MiniGrid partial views, channel-last"
        )
    if array.shape[0] == 0:
        raise InputError("observations is empty: at least one state is needed")
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):  # integers always are
        raise InputError("observations contains NaN or infinite values")
    return array


def _any_in_training_mode(module: nn.Module) -> bool:
    """Whether ``module`` or any module below it is in training mode.

    The same answer as ``any(m.training for m in module.modules())`` without the generators
    that build ``named_modules``' prefixed names, which cost about a tenth of a rollout step's
    policy call (rollouts ask at every step).
    """
    pending = [module]
    while pending:
        current = pending.pop()
        if current.training:
            return True
        pending.extend(child for child in current._modules.values() if child is not None)
    return False


def policy_embedding(policy: ActorCriticPolicy, observations: Any, batch_size: int = 4096
                     ) -> np.ndarray:
    """``float64 (n, 64)``: the embedding (:data:`EMBEDDING_LAYER`) of ``policy`` on
    ``observations``: the compared features of ``plain``; for the bottleneck networks the
    layer the 64→8 bottleneck reads. Eval mode, no gradients; the mode is restored."""
    module = policy.get_submodule(EMBEDDING_LAYER)
    (embedding,) = _batched(policy, observations, batch_size,
                            lambda inputs: (module(inputs.permute(0, 3, 1, 2)),))
    return embedding


def _batched(policy: ActorCriticPolicy, observations: Any, batch_size: int,
             compute: Any) -> tuple[np.ndarray, ...]:
    """``compute(inputs)`` (a tuple of tensors) on ``observations`` ``batch_size`` states at a
    time, after SB3's preprocessing; in eval mode without gradients (the policy's mode
    restored), each output concatenated as float64."""
    array = _as_observations(observations)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    parts: list[tuple[np.ndarray, ...]] = []
    was_training = policy.training
    # Switching modes walks every module, twice per call, and rollouts call this at every step:
    # a policy already in eval mode throughout is left as it is.
    switch = _any_in_training_mode(policy)
    if switch:
        policy.set_training_mode(False)
    try:
        with torch.no_grad():
            for start in range(0, len(array), batch_size):
                batch = torch.as_tensor(array[start : start + batch_size], device=policy.device)
                inputs = preprocess_obs(batch, policy.observation_space, policy.normalize_images)
                parts.append(tuple(t.double().cpu().numpy() for t in compute(inputs)))
    finally:
        if switch:
            policy.set_training_mode(was_training)
    return tuple(np.concatenate(column) for column in zip(*parts))


def policy_outputs(
    policy: ActorCriticPolicy, observations: Any, batch_size: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """The compared features and the action probabilities of ``policy`` on ``observations``.

    Runs in eval mode without gradients, ``batch_size`` states at a time; the policy's mode
    is restored afterwards. The logits are SB3's own actor path,
    ``action_net(mlp_extractor.forward_actor(pi_features_extractor(obs)))``.

    Args:
        policy: a :class:`MiniGridPolicy` (e.g. from :func:`build_policy` or
            ``simfunc.train.ppo.load_agent``).
        observations: ``(n, 7, 7, 3)`` MiniGrid views, as ``simfunc.envs.collect_states``
            returns.

    Returns:
        features: ``float64 (n, d)``, the output of :data:`FEATURES_LAYER` (d = 64, or 8).
        action_probs: ``float64 (n, 7)``, softmax of the :data:`LOGITS_LAYER` output, taken
            in float64 (rows sum to one).
    """
    def features_and_probabilities(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = policy.pi_features_extractor(inputs)
        logits = policy.action_net(policy.mlp_extractor.forward_actor(features))
        return features, torch.softmax(logits.double(), dim=1)

    features, probabilities = _batched(policy, observations, batch_size,
                                       features_and_probabilities)
    return features, probabilities
