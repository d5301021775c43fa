"""MobileNet v1 and v2 for 32x32 inputs.

* ``mobilenet`` (Howard et al. 2017): a 3x3 stride-1 stem of 32 channels, then 13
  depthwise-separable blocks (3x3 depthwise conv-BN-ReLU, 1x1 pointwise conv-BN-ReLU) with
  64, 128, 128, 256, 256, 512 x 6, 1024, 1024 channels. The paper's first stride-2 (the stem)
  is dropped for 32x32 inputs, so the stride-2 blocks are the ones to 128, 256, 512 and 1024
  channels and a 32x32 input gives a ``last_conv`` map of (1024 * width, 2, 2).
* ``mobilenetv2`` (Sandler et al. 2018): a 3x3 stride-1 stem of 32 channels, the paper's
  seven bottleneck stages (expansion t, channels c, repeats n, stride s) = (1,16,1,1),
  (6,24,2,1), (6,32,3,2), (6,64,4,2), (6,96,3,1), (6,160,3,2), (6,320,1,1) -- the usual CIFAR
  strides, where the stem and the 24-channel stage keep stride 1 -- then a 1x1 conv to 1280
  channels (the ``last_conv`` output, (1280 * width, 4, 4) for 32x32 inputs). Inverted
  residual blocks: 1x1 expansion conv-BN-ReLU6, 3x3 depthwise conv-BN-ReLU6, 1x1 linear
  projection conv-BN, with an identity residual when the stride is 1 and the channels match.
  The width multiplier scales every layer, the last 1x1 conv included (the paper keeps that
  one at 1280 for multipliers below one; scaling it keeps small widths cheap on CPUs).
"""

from __future__ import annotations

import torch
from torch import nn

from simfunc.nets.common import Classifier, conv_bn_relu, global_average_pool, scaled

__all__ = ["mobilenet", "mobilenetv2", "InvertedResidual"]

# (output channels, stride) of the 13 depthwise-separable blocks.
MOBILENET_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)  # fmt: skip

# (expansion t, output channels c, repeats n, first stride s) of the bottleneck stages.
MOBILENETV2_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)  # fmt: skip


def _depthwise_separable(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        conv_bn_relu(in_channels, in_channels, stride=stride, groups=in_channels),
        conv_bn_relu(in_channels, out_channels, kernel_size=1),
    )


def mobilenet(num_classes: int, width: float, in_channels: int, input_size: int) -> Classifier:
    """MobileNet v1 for 32x32 inputs."""
    channels = scaled(32, width)
    layers: list[nn.Module] = [conv_bn_relu(in_channels, channels)]
    for out, stride in MOBILENET_BLOCKS:
        layers.append(_depthwise_separable(channels, scaled(out, width), stride))
        channels = scaled(out, width)
    return Classifier(
        nn.Sequential(*layers), global_average_pool(), channels, channels, num_classes
    )


def _conv_bn_relu6(
    in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1
) -> nn.Sequential:
    return conv_bn_relu(in_channels, out_channels, kernel_size, stride, groups, nn.ReLU6)


class InvertedResidual(nn.Module):
    """MobileNetV2 bottleneck: expand (1x1), depthwise (3x3), linear projection (1x1)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(_conv_bn_relu6(in_channels, hidden, 1))
        layers += [
            _conv_bn_relu6(hidden, hidden, 3, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.residual else out


def mobilenetv2(num_classes: int, width: float, in_channels: int, input_size: int) -> Classifier:
    """MobileNetV2 with CIFAR strides."""
    channels = scaled(32, width)
    layers: list[nn.Module] = [_conv_bn_relu6(in_channels, channels, 3)]
    for expansion, out, repeats, stride in MOBILENETV2_STAGES:
        for index in range(repeats):
            block = InvertedResidual(
                channels, scaled(out, width), stride if index == 0 else 1, expansion
            )
            layers.append(block)
            channels = scaled(out, width)
    last = scaled(1280, width)
    layers.append(_conv_bn_relu6(channels, last, 1))
    return Classifier(nn.Sequential(*layers), global_average_pool(), last, last, num_classes)
