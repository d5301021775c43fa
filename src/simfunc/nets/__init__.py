"""Classifier architectures, built by name.

``build(name, num_classes, width=..., in_channels=..., input_size=..., seed=...)`` returns a
:class:`~simfunc.nets.common.Classifier`. Every classifier has the same three named
submodules, so forward hooks find them by dotted path in any architecture:

* ``last_conv`` -- the last convolutional block's output (n, C, H, W), before global pooling;
* ``features`` -- the penultimate representation (n, feature_dim) that feeds the classifier;
* ``logits`` -- the final ``nn.Linear`` (its output is the logits).

Architectures (``ARCHITECTURES``): ``vgg11``, ``vgg13``, ``vgg16`` (with batch norm),
``resnet18``, ``resnet34``, ``resnet110``, ``mobilenet``, ``mobilenetv2`` -- CIFAR-style, for
32x32 inputs (3x3 stride-1 stem, no early max-pool) -- and the small ``cnn`` and ``mlp`` for
8x8 digits (they accept any ``input_size`` and channel count). ``width`` multiplies every
layer's channel count (rounded half up, at least 1): ``width=0.25`` makes them cheap enough to
train on a CPU.

Seeding: with ``seed=None`` (the default) ``build`` draws the initial weights from torch's
global RNG, so ``torch.manual_seed(s)`` before ``build`` gives identical weights. With
``seed=s`` it builds under a forked RNG seeded with ``s``: the same weights as
``torch.manual_seed(s); build(...)``, and torch's global RNG state is left untouched.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from simfunc.errors import InputError
from simfunc.validation import check_int, check_positive

if TYPE_CHECKING:
    import torch

    from simfunc.nets.common import Classifier

__all__ = ["ARCHITECTURES", "Architecture", "Classifier", "build", "count_parameters", "scaled"]


@dataclass(frozen=True)
class Architecture:
    """A buildable network: where its constructor is, a one-line description, the smallest input.

    ``factory`` is ``"module:function"`` (with ``arguments`` bound first); the module, and
    torch with it, is imported when :attr:`constructor` is first read, so the registry's names
    and descriptions (``simfunc train --help``) cost no torch import.
    """

    name: str
    factory: str
    description: str
    min_input_size: int
    arguments: tuple[Any, ...] = field(default=())

    @property
    def constructor(self) -> Callable[..., Classifier]:
        module, _, function = self.factory.partition(":")
        built = getattr(importlib.import_module(module), function)
        return partial(built, *self.arguments) if self.arguments else built


def _registry() -> dict[str, Architecture]:
    entries = [
        ("vgg11", "vgg:vgg", ("vgg11",), "VGG-11 with batch norm (CIFAR variant)", 16),
        ("vgg13", "vgg:vgg", ("vgg13",), "VGG-13 with batch norm (CIFAR variant)", 16),
        ("vgg16", "vgg:vgg", ("vgg16",), "VGG-16 with batch norm (CIFAR variant)", 16),
        ("resnet18", "resnet:resnet", ("resnet18",),
         "ResNet-18, BasicBlocks 64-512, CIFAR stem", 1),
        ("resnet34", "resnet:resnet", ("resnet34",),
         "ResNet-34, BasicBlocks 64-512, CIFAR stem", 1),
        ("resnet110", "resnet:resnet110", (),
         "ResNet-110 of He et al. 2016 §4.2 (16/32/64, 18 blocks)", 1),
        ("mobilenet", "mobilenet:mobilenet", (),
         "MobileNet v1, depthwise-separable, CIFAR strides", 1),
        ("mobilenetv2", "mobilenet:mobilenetv2", (),
         "MobileNetV2, inverted residuals, CIFAR strides", 1),
        ("cnn", "small:cnn", (), "small CNN: 3 conv blocks, 2 max-pools, global average pool", 4),
        ("mlp", "small:mlp", (), "MLP with two hidden layers (256, 128)", 1),
    ]
    return {name: Architecture(name, f"simfunc.nets.{where}", text, size, arguments)
            for name, where, arguments, text, size in entries}


ARCHITECTURES: dict[str, Architecture] = _registry()


def build(
    name: str,
    num_classes: int = 10,
    *,
    width: float = 1.0,
    in_channels: int = 3,
    input_size: int = 32,
    seed: int | None = None,
) -> Classifier:
    """Construct the classifier ``name`` for ``num_classes`` classes.

    ``input_size`` is the height (= width) of the square input images: the ``mlp`` needs it to
    size its first layer, the others accept any size at least ``min_input_size`` (VGG: 16,
    ``cnn``: 4). See the module docstring for ``seed``. Unknown names and bad arguments raise
    InputError.
    """
    if not isinstance(name, str) or name not in ARCHITECTURES:
        raise InputError(
            f"architecture {name!r} is unknown; choose one of {', '.join(ARCHITECTURES)}"
        )
    spec = ARCHITECTURES[name]
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    width = check_positive(width, "width")
    in_channels = check_int(in_channels, "in_channels", minimum=1)
    input_size = check_int(input_size, "input_size", minimum=1)
    if input_size < spec.min_input_size:
        raise InputError(
            f"input_size {input_size} is too small for {name}: it needs at least "
            f"{spec.min_input_size}x{spec.min_input_size} inputs"
        )
    if seed is not None:
        import torch

        seed = check_int(seed, "seed", minimum=0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = spec.constructor(num_classes, width, in_channels, input_size)
    else:
        model = spec.constructor(num_classes, width, in_channels, input_size)
    model.architecture = name
    model.width = width
    model.in_channels = in_channels
    model.input_size = input_size
    return model


def count_parameters(model: torch.nn.Module) -> int:
    """The number of trainable parameters (weights and biases; BN running stats excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def __getattr__(name: str) -> Any:
    # Classifier and scaled need torch; the registry above does not.
    if name in ("Classifier", "scaled"):
        from simfunc.nets import common

        return getattr(common, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
