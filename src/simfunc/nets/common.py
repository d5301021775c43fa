"""What every simfunc classifier shares: channel scaling and the three named taps.

A ``Classifier`` runs ``body -> last_conv -> pool -> features -> logits``. The three taps have
fixed dotted names so forward hooks (the extractor) find them in any architecture:

* ``last_conv`` -- ``nn.Identity`` on the last convolutional block's output ``(n, C, H, W)``,
  before global pooling: the thesis's "last-convolution features", flattened, which the SVM
  reads in §3.1 and CKA compares in §3.2;
* ``features`` -- ``nn.Identity`` on the penultimate representation ``(n, feature_dim)``, the
  pooled vector that feeds the classifier (what CKA compares in §3.3-3.4);
* ``logits`` -- the final ``nn.Linear``; its output is the logits ``(n, num_classes)``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Classifier", "scaled", "conv_bn_relu"]


def scaled(channels: int, width: float) -> int:
    """``channels * width`` rounded half up, at least 1."""
    return max(1, int(channels * width + 0.5))


def conv_bn_relu(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    groups: int = 1,
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """Convolution (no bias, 'same' padding for odd kernels), batch norm, ``activation``
    (ReLU; MobileNetV2 uses ReLU6)."""
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels),
        activation(inplace=True),
    )


class Classifier(nn.Module):
    """``body`` (to a feature map), the ``last_conv`` tap, ``pool`` (to a vector), the
    ``features`` tap and the ``logits`` layer.

    Attributes: ``architecture`` (its registry name), ``num_classes``, ``width``,
    ``in_channels``, ``input_size``, ``feature_dim`` (length of the ``features`` vector) and
    ``last_conv_channels`` (C of the ``last_conv`` map).
    """

    def __init__(
        self,
        body: nn.Module,
        pool: nn.Module,
        last_conv_channels: int,
        feature_dim: int,
        num_classes: int,
    ) -> None:
        super().__init__()
        self.body = body
        self.last_conv = nn.Identity()
        self.pool = pool
        self.features = nn.Identity()
        self.logits = nn.Linear(feature_dim, num_classes)
        self.feature_dim = feature_dim
        self.last_conv_channels = last_conv_channels
        self.num_classes = num_classes
        # Filled in by simfunc.nets.build.
        self.architecture = ""
        self.width = 1.0
        self.in_channels = 0
        self.input_size = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.last_conv(self.body(x))
        x = self.features(self.pool(x))
        return self.logits(x)


def global_average_pool() -> nn.Sequential:
    """(n, C, H, W) -> (n, C) by the mean over H and W."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))


def global_max_pool() -> nn.Sequential:
    """(n, C, H, W) -> (n, C) by the maximum over H and W."""
    return nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(1))
