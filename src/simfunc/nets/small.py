"""Small networks for the quick profile: a three-layer CNN and an MLP.

Both are sized from ``in_channels`` and ``input_size`` at construction (no lazy modules), so
they read scikit-learn's 8x8 single-channel digits natively and 32x32 images of any channel
count alike.

* ``cnn``: conv(32)-BN-ReLU, 2x2 max-pool, conv(64)-BN-ReLU, 2x2 max-pool, conv(128)-BN-ReLU
  (channels times ``width``), global average pooling, linear classifier. ``last_conv`` is the
  third conv block's output: (128 * width, input_size // 4, input_size // 4). Inputs must be
  at least 4x4.
* ``mlp``: flatten, linear(256)-ReLU, linear(128)-ReLU (units times ``width``), linear
  classifier. An MLP has no convolution; so that every classifier exposes the same taps, its
  ``last_conv`` is the last hidden layer viewed as a (128 * width, 1, 1) map, and
  ``features`` is that same vector (n, 128 * width).
"""

from __future__ import annotations

from torch import nn

from simfunc.nets.common import Classifier, conv_bn_relu, global_average_pool, scaled

__all__ = ["cnn", "mlp"]


def cnn(num_classes: int, width: float, in_channels: int, input_size: int) -> Classifier:
    """Three conv blocks, two max-pools, global average pooling."""
    c1, c2, c3 = scaled(32, width), scaled(64, width), scaled(128, width)
    body = nn.Sequential(
        conv_bn_relu(in_channels, c1),
        nn.MaxPool2d(2),
        conv_bn_relu(c1, c2),
        nn.MaxPool2d(2),
        conv_bn_relu(c2, c3),
    )
    return Classifier(body, global_average_pool(), c3, c3, num_classes)


def mlp(num_classes: int, width: float, in_channels: int, input_size: int) -> Classifier:
    """Two hidden ReLU layers on the flattened image."""
    h1, h2 = scaled(256, width), scaled(128, width)
    body = nn.Sequential(
        nn.Flatten(1),
        nn.Linear(in_channels * input_size * input_size, h1),
        nn.ReLU(inplace=True),
        nn.Linear(h1, h2),
        nn.ReLU(inplace=True),
        nn.Unflatten(1, (h2, 1, 1)),
    )
    return Classifier(body, nn.Flatten(1), h2, h2, num_classes)
