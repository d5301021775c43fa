"""simfunc.nets: every architecture builds, forwards, exposes its taps, scales, reproduces."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from simfunc import InputError
from simfunc.nets import ARCHITECTURES, build, count_parameters
from simfunc.nets.mobilenet import InvertedResidual

TAPS = ("last_conv", "features", "logits")

# Expected (C, H, W) of last_conv for a 32x32 input at width 0.25, worked out by hand from the
# papers' channel counts and the CIFAR strides (see each module's docstring).
LAST_CONV_AT_QUARTER_WIDTH = {
    "vgg11": (128, 2, 2),  # 512/4 channels, four 2x2 pools: 32 -> 2
    "vgg13": (128, 2, 2),
    "vgg16": (128, 2, 2),
    "resnet18": (128, 4, 4),  # 512/4, strides 1-2-2-2: 32 -> 4
    "resnet34": (128, 4, 4),
    "resnet110": (16, 8, 8),  # 64/4, strides 1-2-2: 32 -> 8
    "mobilenet": (256, 2, 2),  # 1024/4, four stride-2 blocks
    "mobilenetv2": (320, 4, 4),  # 1280/4, three stride-2 stages
    "cnn": (32, 8, 8),  # 128/4, two 2x2 pools
    "mlp": (32, 1, 1),  # last hidden layer, 128/4 units
}


def run_with_taps(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Forward ``x`` and capture the outputs of the three taps by dotted module path."""
    modules = dict(model.named_modules())
    captured: dict[str, torch.Tensor] = {}
    handles = [
        modules[tap].register_forward_hook(
            lambda _m, _i, out, tap=tap: captured.__setitem__(tap, out.detach().clone())
        )
        for tap in TAPS
    ]
    captured["output"] = model(x)
    for handle in handles:
        handle.remove()
    return captured


def test_every_architecture_is_listed_and_expected():
    assert set(ARCHITECTURES) == set(LAST_CONV_AT_QUARTER_WIDTH)


@pytest.mark.parametrize("name", sorted(LAST_CONV_AT_QUARTER_WIDTH))
def test_forward_shapes_and_taps_on_32x32(name):
    torch.manual_seed(0)
    model = build(name, num_classes=7, width=0.25, in_channels=3, input_size=32)
    x = torch.randn(2, 3, 32, 32)
    out = run_with_taps(model, x)
    channels, height, width = LAST_CONV_AT_QUARTER_WIDTH[name]
    assert out["last_conv"].shape == (2, channels, height, width)
    assert out["features"].shape == (2, channels)
    assert model.feature_dim == model.last_conv_channels == channels
    assert isinstance(model.logits, nn.Linear) and model.logits.out_features == 7
    assert out["logits"].shape == (2, 7)
    torch.testing.assert_close(out["logits"], out["output"].detach())
    # The logits layer is the only thing between features and the output.
    torch.testing.assert_close(model.logits(out["features"]), out["output"])
    out["output"].sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    assert model.architecture == name and model.width == 0.25
    assert count_parameters(model) < 2_500_000


@pytest.mark.parametrize("name", ["cnn", "mlp"])
def test_small_nets_read_8x8_single_channel_digits(name):
    model = build(name, num_classes=10, width=0.25, in_channels=1, input_size=8)
    out = run_with_taps(model, torch.randn(3, 1, 8, 8))
    expected = (3, 32, 2, 2) if name == "cnn" else (3, 32, 1, 1)
    assert out["last_conv"].shape == expected
    assert out["features"].shape == (3, 32) and out["output"].shape == (3, 10)


@pytest.mark.parametrize("name", ["cnn", "mlp"])
@pytest.mark.parametrize("in_channels", [1, 3, 5])
def test_small_nets_read_32x32_with_any_channel_count(name, in_channels):
    model = build(name, num_classes=3, width=0.5, in_channels=in_channels, input_size=32)
    assert model(torch.randn(2, in_channels, 32, 32)).shape == (2, 3)


@pytest.mark.parametrize("name", ["resnet18", "vgg11", "mobilenetv2"])
def test_cifar_nets_accept_single_channel_input(name):
    model = build(name, num_classes=4, width=0.125, in_channels=1)
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 4)


@pytest.mark.parametrize("name", sorted(LAST_CONV_AT_QUARTER_WIDTH))
def test_width_scales_channels(name):
    quarter = build(name, width=0.25, seed=0)
    half = build(name, width=0.5, seed=0)
    # last_conv_channels is checked against the real tap output in the forward test above.
    assert quarter.last_conv_channels == LAST_CONV_AT_QUARTER_WIDTH[name][0]
    assert half.last_conv_channels == 2 * quarter.last_conv_channels
    assert half.feature_dim == 2 * quarter.feature_dim
    assert count_parameters(half) > 2 * count_parameters(quarter)


def test_tiny_width_keeps_at_least_one_channel():
    model = build("resnet18", width=0.001)
    assert model.feature_dim == 1
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_published_parameter_counts_at_full_width():
    # CIFAR ResNet-18 / ResNet-34 (10 classes), the counts every CIFAR implementation prints.
    assert count_parameters(build("resnet18", 10)) == 11_173_962
    assert count_parameters(build("resnet34", 10)) == 21_282_122
    # He et al. 2016, Table 6: ResNet-110 has 1.7M parameters.
    assert count_parameters(build("resnet110", 10)) == pytest.approx(1.7e6, rel=0.03)


def _convs(model: nn.Module, kernel: int) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] == kernel]


def test_depths_match_the_papers():
    # VGG configurations A, B, D: 8, 10, 13 convolutions (3 FC layers -> 11, 13, 16).
    for name, convs in (("vgg11", 8), ("vgg13", 10), ("vgg16", 13)):
        assert len(_convs(build(name, width=0.125), 3)) == convs
    # ResNets: 3x3 convs + the linear layer = the depth in the name.
    for name, depth in (("resnet18", 18), ("resnet34", 34), ("resnet110", 110)):
        assert len(_convs(build(name, width=0.125), 3)) + 1 == depth
    # ResNet-110 uses option A (parameter-free) shortcuts: no 1x1 convolutions at all.
    assert _convs(build("resnet110", width=0.125), 1) == []
    # MobileNet v1: 13 depthwise convolutions (groups == channels).
    v1 = build("mobilenet", width=0.25)
    assert sum(1 for c in _convs(v1, 3) if c.groups == c.in_channels > 1) == 13
    # MobileNetV2: 17 bottlenecks (1+2+3+4+3+3+1), 10 with an identity residual.
    blocks = [
        m for m in build("mobilenetv2", width=0.25).modules() if isinstance(m, InvertedResidual)
    ]
    assert len(blocks) == 17 and sum(b.residual for b in blocks) == 10


@pytest.mark.parametrize("name", ["resnet18", "mobilenet", "mlp"])
def test_construction_is_reproducible(name):
    first = build(name, width=0.25, seed=11).state_dict()
    second = build(name, width=0.25, seed=11).state_dict()
    torch.manual_seed(11)
    third = build(name, width=0.25).state_dict()
    other = build(name, width=0.25, seed=12).state_dict()
    for key, value in first.items():
        torch.testing.assert_close(second[key], value)
        torch.testing.assert_close(third[key], value)
    assert any(
        not torch.equal(other[key], value)
        for key, value in first.items()
        if value.is_floating_point()
    )


def test_seed_argument_leaves_global_rng_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    build("cnn", seed=123)
    torch.testing.assert_close(torch.rand(3), expected)


def test_unseeded_builds_differ():
    torch.manual_seed(0)
    a, b = build("cnn"), build("cnn")
    assert not torch.equal(a.logits.weight, b.logits.weight)


def test_unknown_architecture_lists_the_choices():
    with pytest.raises(InputError, match="resnet18") as info:
        build("resnet19")
    assert "mobilenetv2" in str(info.value) and "mlp" in str(info.value)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"width": 0}, "width"),
        ({"width": -1.0}, "width"),
        ({"width": math.nan}, "width"),
        ({"num_classes": 0}, "num_classes"),
        ({"num_classes": 2.5}, "num_classes"),
        ({"in_channels": 0}, "in_channels"),
        ({"input_size": 0}, "input_size"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_raise_input_error(kwargs, word):
    with pytest.raises(InputError, match=word):
        build("cnn", **kwargs)


def test_vgg_refuses_inputs_smaller_than_its_pools():
    with pytest.raises(InputError, match="at least 16"):
        build("vgg11", input_size=8)
    assert build("vgg11", width=0.125, input_size=16)(torch.randn(2, 3, 16, 16)).shape == (2, 10)
