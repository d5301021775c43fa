"""SmallBatchConv2d (simfunc.nets.small_batch_conv): nn.Conv2d, with PyTorch's native kernel
for small batches without gradients.

What it must keep: nn.Conv2d's values (to float32 rounding), its parameters, initialisation,
state_dict, hooks and gradients. What it must do: send exactly the small batches without
gradients to the native kernel (a spy counts the calls, so a class that always fell back to
nn.Conv2d fails here), and PPO's rollouts must be such batches.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from simfunc.nets import small_batch_conv
from simfunc.nets.small_batch_conv import SMALL_BATCH, SmallBatchConv2d

pytestmark = pytest.mark.skipif(small_batch_conv._native_conv2d is None,
                                reason="this torch build has no native thnn_conv2d")


def pair(in_channels=16, out_channels=32, kernel_size=(2, 2), seed=0, **kwargs):
    """A SmallBatchConv2d and an nn.Conv2d with the same parameters."""
    torch.manual_seed(seed)
    small = SmallBatchConv2d(in_channels, out_channels, kernel_size, **kwargs)
    torch.manual_seed(seed)
    reference = nn.Conv2d(in_channels, out_channels, kernel_size, **kwargs)
    return small, reference


@pytest.fixture
def native_calls(monkeypatch):
    """The batch sizes the native kernel was called with."""
    calls: list[int] = []
    native = small_batch_conv._native_conv2d

    def spy(inputs, *args):
        calls.append(inputs.shape[0])
        return native(inputs, *args)

    monkeypatch.setattr(small_batch_conv, "_native_conv2d", spy)
    return calls


def test_initialised_and_saved_as_nn_conv2d():
    small, reference = pair()
    assert isinstance(small, nn.Conv2d)
    assert small.state_dict().keys() == reference.state_dict().keys()
    for name, tensor in reference.state_dict().items():
        assert torch.equal(small.state_dict()[name], tensor), name
    loaded = SmallBatchConv2d(16, 32, (2, 2))
    loaded.load_state_dict(reference.state_dict())
    assert torch.equal(loaded.weight, reference.weight)


@pytest.mark.parametrize("batch", [1, 8, SMALL_BATCH, SMALL_BATCH + 1, 256])
@pytest.mark.parametrize("options", [{}, {"stride": 2, "padding": 1}, {"bias": False}])
def test_values_are_nn_conv2d_s_to_float32_rounding(batch, options):
    small, reference = pair(**options)
    inputs = torch.randn(batch, 16, 7, 7, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        torch.testing.assert_close(small(inputs), reference(inputs), rtol=1e-5, atol=1e-6)


def test_the_native_kernel_is_the_one_pytorch_runs_without_onednn():
    small, reference = pair()
    inputs = torch.randn(8, 16, 3, 3, generator=torch.Generator().manual_seed(1))
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        with torch.no_grad():
            expected = reference(inputs)
    finally:
        torch.backends.mkldnn.enabled = previous
    with torch.no_grad():
        assert torch.equal(small(inputs), expected)


def test_only_small_batches_without_gradients_take_the_native_kernel(native_calls):
    small, _ = pair()
    with torch.no_grad():
        small(torch.randn(1, 16, 3, 3))
        small(torch.randn(SMALL_BATCH, 16, 3, 3))
        small(torch.randn(SMALL_BATCH + 1, 16, 3, 3))  # oneDNN's: faster from here on
        small(torch.randn(4, 16, 3, 3, dtype=torch.float64).float())
        small.double()(torch.randn(4, 16, 3, 3, dtype=torch.float64))  # float32 only
        small.float()
    with torch.inference_mode():
        small(torch.randn(2, 16, 3, 3))
    small(torch.randn(8, 16, 3, 3))  # gradients recorded: training goes through nn.Conv2d
    assert native_calls == [1, SMALL_BATCH, 4, 2]


def test_convolutions_the_native_kernel_does_not_compute_go_through_nn_conv2d(native_calls):
    with torch.no_grad():
        for options in ({"groups": 4}, {"dilation": 2}, {"padding": "same"},
                        {"padding": 1, "padding_mode": "reflect"}):
            small, reference = pair(kernel_size=(3, 3), **options)
            inputs = torch.randn(4, 16, 7, 7)
            assert torch.equal(small(inputs), reference(inputs)), options
    assert native_calls == []


def test_gradients_and_hooks_are_nn_conv2d_s():
    small, reference = pair()
    inputs = torch.randn(8, 16, 3, 3, requires_grad=True)
    outputs = [conv(inputs) for conv in (small, reference)]
    assert torch.equal(outputs[0], outputs[1])  # the same kernel while training
    grads = [torch.autograd.grad(out.square().sum(), (inputs, conv.weight, conv.bias))
             for out, conv in zip(outputs, (small, reference))]
    for a, b in zip(*grads):
        assert torch.equal(a, b)
    seen = []
    small.register_forward_hook(lambda module, args, output: seen.append(output.shape))
    with torch.no_grad():
        small(torch.randn(2, 16, 3, 3))
    assert seen == [torch.Size([2, 32, 2, 2])]


def test_ppo_s_rollouts_run_the_native_kernel(tmp_path, native_calls):
    from simfunc.train.ppo import train_agent

    train_agent(5, 0, 128, out_dir=tmp_path, n_envs=2, n_steps=64, batch_size=64,
                eval_episodes=1, progress=False)
    # the policy's three convolutions at each of the 64 rollout steps of 2 rooms
    assert native_calls.count(2) >= 3 * 64
