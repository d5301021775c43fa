"""A 2-d convolution that takes PyTorch's native kernel for small batches without gradients.

PPO's rollouts run the MiniGrid policy once per environment step on ``n_envs`` observations
(8 on the quick and standard profiles, 16 on paper), without gradients. On such a batch
PyTorch runs oneDNN's convolution, which costs 50-75 µs a call whatever the batch's size, where
its own native kernel (im2col and one GEMM, ``thnn_conv2d``) costs 12-33 µs; from about 64
examples on oneDNN is the faster one (measured on the policy's three convolutions, one thread,
2026-12-08). PyTorch already takes the native kernel for a single small example, and for the
policy's first convolution, whose input is the permuted channel-last observation. For the other
two, the rollouts' policy calls were the largest part of a PPO step: with
:class:`SmallBatchConv2d` PPO runs 15-19 % more environment steps per second
(``benchmarks/ppo.py``).

The two kernels add in a different order, so on the same batch their outputs differ in the last
bits of float32 (a few 1e-7): an agent trained with it is not the agent trained before, bit for
bit. :data:`SMALL_BATCH_CONVOLUTIONS` names the rule, and
:func:`simfunc.train.ppo.agent_config` records it, so that cached agents trained under another
rule get other cache keys and a resumed run cannot mix the two.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SMALL_BATCH", "SMALL_BATCH_CONVOLUTIONS", "SmallBatchConv2d", "uses_native_kernel"]

SMALL_BATCH = 32
"""The largest batch that takes the native kernel (without gradients)."""

SMALL_BATCH_CONVOLUTIONS = f"native up to {SMALL_BATCH} examples without gradients"
"""The rule, as agents' configurations record it."""

# PyTorch's native convolution; absent from a build, every batch goes through nn.Conv2d.
_native_conv2d = getattr(torch._C._nn, "thnn_conv2d", None)


def uses_native_kernel(conv: nn.Conv2d, inputs: torch.Tensor) -> bool:
    """Whether :class:`SmallBatchConv2d` runs ``inputs`` through the native kernel: a CPU
    float32 batch of at most :data:`SMALL_BATCH` examples, no gradients being recorded, and a
    plain convolution (zero padding, no groups, no dilation) that the kernel computes."""
    return (
        _native_conv2d is not None
        and not torch.is_grad_enabled()
        and inputs.dim() == 4
        and inputs.shape[0] <= SMALL_BATCH
        and inputs.device.type == "cpu"
        and inputs.dtype == torch.float32
        and conv.groups == 1
        and conv.dilation == (1, 1)
        and conv.padding_mode == "zeros"
        and not isinstance(conv.padding, str)
    )


class SmallBatchConv2d(nn.Conv2d):
    """``nn.Conv2d``, except that a batch :func:`uses_native_kernel` accepts is computed by
    PyTorch's native kernel instead of oneDNN's (see the module docstring).

    Same parameters, ``state_dict``, hooks and gradients as ``nn.Conv2d``: training (with
    gradients) and large batches go through ``nn.Conv2d`` itself.
    """

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor,  # noqa: A002
                      bias: torch.Tensor | None) -> torch.Tensor:
        if uses_native_kernel(self, input):
            return _native_conv2d(input, weight, self.kernel_size, bias, self.stride,
                                  self.padding)
        return super()._conv_forward(input, weight, bias)
