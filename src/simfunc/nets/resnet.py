"""Residual networks for 32x32 inputs (He et al. 2016, "Deep Residual Learning").

* ``resnet18`` / ``resnet34``: the ImageNet BasicBlock networks (stages of 64/128/256/512
  channels with 2-2-2-2 and 3-4-6-3 blocks) adapted to CIFAR the usual way: a 3x3 stride-1
  stem without max-pool, stage strides 1-2-2-2, projection (1x1 conv + BN) shortcuts where
  the shape changes. A 32x32 input gives a ``last_conv`` map of (512 * width, 4, 4).
* ``resnet110``: the CIFAR network of §4.2 -- a 3x3 stem of 16 channels, three stages of 18
  BasicBlocks with 16/32/64 channels (strides 1-2-2), identity shortcuts everywhere
  ("option A": the shortcut subsamples by 2 and pads the new channels with zeros), global
  average pooling. 6 * 18 + 2 = 110 weighted layers, about 1.7 M parameters at width 1
  (Table 6 of the paper). A 32x32 input gives (64 * width, 8, 8).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from simfunc.nets.common import Classifier, conv_bn_relu, global_average_pool, scaled

__all__ = ["BasicBlock", "resnet", "resnet110"]


class _PadShortcut(nn.Module):
    """Option-A shortcut: subsample by ``stride`` and zero-pad the channels up to ``out``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        extra = out_channels - in_channels
        self.pad_before = extra // 2
        self.pad_after = extra - extra // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a shortcut; ReLU after the sum."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, shortcut: str = "projection"
    ) -> None:
        super().__init__()
        self.conv1 = conv_bn_relu(in_channels, out_channels, stride=stride)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        elif shortcut == "pad":
            self.shortcut = _PadShortcut(in_channels, out_channels, stride)
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.conv1(x)))
        return F.relu(out + self.shortcut(x))


def _stages(
    stem_channels: int,
    stage_channels: tuple[int, ...],
    blocks: tuple[int, ...],
    strides: tuple[int, ...],
    shortcut: str,
    in_channels: int,
) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = [conv_bn_relu(in_channels, stem_channels)]
    channels = stem_channels
    for out, count, stride in zip(stage_channels, blocks, strides):
        stage = []
        for index in range(count):
            stage.append(BasicBlock(channels, out, stride if index == 0 else 1, shortcut))
            channels = out
        layers.append(nn.Sequential(*stage))
    return nn.Sequential(*layers), channels


_IMAGENET_BLOCKS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


def resnet(
    depth_name: str, num_classes: int, width: float, in_channels: int, input_size: int
) -> Classifier:
    """ResNet-18 or ResNet-34 (``depth_name``) adapted to 32x32 inputs."""
    stage_channels = tuple(scaled(c, width) for c in (64, 128, 256, 512))
    body, channels = _stages(
        stage_channels[0],
        stage_channels,
        _IMAGENET_BLOCKS[depth_name],
        (1, 2, 2, 2),
        "projection",
        in_channels,
    )
    return Classifier(body, global_average_pool(), channels, channels, num_classes)


def resnet110(num_classes: int, width: float, in_channels: int, input_size: int) -> Classifier:
    """The 110-layer CIFAR ResNet of He et al. 2016 §4.2 (n = 18, option-A shortcuts)."""
    stage_channels = tuple(scaled(c, width) for c in (16, 32, 64))
    body, channels = _stages(
        stage_channels[0], stage_channels, (18, 18, 18), (1, 2, 2), "pad", in_channels
    )
    return Classifier(body, global_average_pool(), channels, channels, num_classes)
