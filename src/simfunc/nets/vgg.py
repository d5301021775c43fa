"""VGG-11/13/16 with batch norm for 32x32 inputs (Simonyan & Zisserman 2015, CIFAR variant).

The CIFAR variant keeps the five convolutional stages of the ImageNet network (configurations
A, B and D of the paper, each convolution followed by batch norm and ReLU) and replaces the
three fully connected layers by a single linear classifier on the 512 channels of the last
stage. The first four stages end in a 2x2 max-pool; the fifth stage's pool is the global max
pool that ``pool`` applies after the ``last_conv`` tap, so a 32x32 input gives a ``last_conv``
map of (512 * width, 2, 2) -- exactly the network whose fifth pool is a 2x2 max-pool, written
so it also accepts larger inputs. Inputs must be at least 16x16 (four 2x2 pools).
"""

from __future__ import annotations

from torch import nn

from simfunc.nets.common import Classifier, conv_bn_relu, global_max_pool, scaled

__all__ = ["VGG_STAGES", "vgg"]

# Channels of the convolutions in each of the five stages (configurations A, B and D).
VGG_STAGES: dict[str, tuple[tuple[int, ...], ...]] = {
    "vgg11": ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    "vgg13": ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    "vgg16": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
}


def vgg(
    depth_name: str, num_classes: int, width: float, in_channels: int, input_size: int
) -> Classifier:
    """A CIFAR VGG with batch norm; ``depth_name`` is one of ``VGG_STAGES``."""
    layers: list[nn.Module] = []
    channels = in_channels
    stages = VGG_STAGES[depth_name]
    for index, stage in enumerate(stages):
        for out in stage:
            layers.append(conv_bn_relu(channels, scaled(out, width)))
            channels = scaled(out, width)
        if index < len(stages) - 1:
            layers.append(nn.MaxPool2d(2))
    return Classifier(nn.Sequential(*layers), global_max_pool(), channels, channels, num_classes)
