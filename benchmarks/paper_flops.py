"""Counted FLOPs of the ``paper`` profile's training, and the GPU time they imply (an estimate).

    PYTHONPATH=src python benchmarks/paper_flops.py [--tflops-float32 30] [--tflops-bf16 60]

For every architecture at full width on 32x32 inputs, ``torch.utils.flop_counter`` counts the
FLOPs of one forward pass of the real network (convolutions and matrix products; a multiply-add
is 2 FLOPs; batch norm, activations and the optimizer are not counted). A training step is taken
as 3x the forward pass (the backward pass computes two products per forward product: input and
weight gradients). ``FlopCounterMode`` also counts the backward pass, and agrees to 1 % for the
dense networks, but its formula for grouped (depthwise) convolutions ignores the groups in the
backward pass, so it overstates MobileNet's 10x and MobileNetV2's 22x -- the 3x rule is used
for all.

The paper profile's training workload (``WORKLOAD`` below, from the four image studies'
``paper`` settings: CIFAR-100 = 50,000 training images, ImageNet32 = 1,281,167, 100 epochs,
plus one evaluation pass over the test split per epoch) times these FLOPs, divided by an
*assumed* sustained throughput, gives hours. The throughputs are assumptions, not
measurements: ``benchmarks/gpu_check.py`` measures the real per-epoch seconds on a GPU and
replaces them. MobileNets (depthwise convolutions, bound by memory bandwidth) and ResNet-110
(110 thin layers, bound by kernel launches) are not FLOP-bound on a GPU; they are charged
ResNet-18's time per image (``--slow-as resnet18``), a further assumption.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from simfunc.nets import build  # noqa: E402

CIFAR100_TRAIN, CIFAR100_TEST = 50_000, 10_000
IMAGENET32_TRAIN, IMAGENET32_VAL = 1_281_167, 50_000

#: (study, architecture, classes, runs, epochs, training images, test images per epoch):
#: architectures -- 7 architectures x 2 seeds; checkpoints -- ResNet-18 and VGG-16 x 3
#: learning rates x 2 seeds; cross-dataset -- ResNet-18 x 3 seeds on CIFAR-100 and on
#: ImageNet32. dataset-bias trains ResNet-18 with seeds 1 and 2 on the same two sets with the
#: same configuration as cross-dataset, so the runner shares those runs (0 extra); the row
#: "dataset-bias (ResNet-110)" is what the thesis's own network (issue 11 §2) would add.
WORKLOAD = [
    *[("architectures", arch, 100, 2, 100, CIFAR100_TRAIN, CIFAR100_TEST)
      for arch in ("vgg11", "vgg13", "vgg16", "resnet18", "resnet34", "mobilenet",
                   "mobilenetv2")],
    ("checkpoints", "resnet18", 100, 6, 100, CIFAR100_TRAIN, CIFAR100_TEST),
    ("checkpoints", "vgg16", 100, 6, 100, CIFAR100_TRAIN, CIFAR100_TEST),
    ("cross-dataset", "resnet18", 100, 3, 100, CIFAR100_TRAIN, 5_800),
    ("cross-dataset", "resnet18", 1000, 3, 100, IMAGENET32_TRAIN, 5_800),
    ("dataset-bias (ResNet-110)", "resnet110", 100, 2, 100, CIFAR100_TRAIN, 5_800),
    ("dataset-bias (ResNet-110)", "resnet110", 1000, 2, 100, IMAGENET32_TRAIN, 5_800),
]  # fmt: skip


def forward_flops(arch: str, classes: int) -> float:
    """FLOPs of one forward pass of one 32x32 image (counted on a batch of 2, in eval mode)."""
    model = build(arch, classes, width=1.0, seed=0).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(2, 3, 32, 32))
    return counter.get_total_flops() / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tflops-float32", type=float, default=30.0,
                        help="assumed sustained TFLOP/s in float32/TF32 with deterministic "
                        "cuDNN (default 30)")
    parser.add_argument("--tflops-bf16", type=float, default=60.0,
                        help="assumed sustained TFLOP/s in bfloat16 autocast, channels-last "
                        "(default 60)")
    parser.add_argument("--slow-as", default="resnet18",
                        help="charge MobileNets and ResNet-110 this architecture's time per "
                        "image (default resnet18)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    per_image: dict[tuple[str, int], float] = {}
    for _, arch, classes, *_ in WORKLOAD:
        for name in (arch, args.slow_as):
            if (name, classes) not in per_image:
                per_image[name, classes] = forward_flops(name, classes)
    print(f"{'architecture':<13}{'classes':>8}{'forward GFLOP/image':>21}{'train GFLOP/image':>19}")
    for (arch, classes), flops in sorted(per_image.items()):
        print(f"{arch:<13}{classes:>8}{flops / 1e9:>21.3f}{3 * flops / 1e9:>19.3f}")

    print(f"\n{'study':<27}{'arch':<12}{'runs x epochs':>14}{'images/epoch':>13}"
          f"{'PFLOP':>9}{'h f32':>8}{'h bf16':>8}")
    totals = {"float32": 0.0, "bf16": 0.0}
    for study, arch, classes, runs, epochs, train_images, test_images in WORKLOAD:
        charged = args.slow_as if arch.startswith("mobilenet") or arch == "resnet110" else arch
        forward = per_image[charged, classes]
        flops = runs * epochs * (3 * forward * train_images + forward * test_images)
        hours = {
            "float32": flops / (args.tflops_float32 * 1e12) / 3600,
            "bf16": flops / (args.tflops_bf16 * 1e12) / 3600,
        }
        if not study.startswith("dataset-bias"):
            for key in totals:
                totals[key] += hours[key]
        print(f"{study:<27}{arch:<12}{f'{runs} x {epochs}':>14}{train_images:>13,}"
              f"{flops / 1e15:>9.1f}{hours['float32']:>8.2f}{hours['bf16']:>8.2f}")
    print(f"\nfour image studies (dataset-bias sharing cross-dataset's ResNet-18 runs): "
          f"{totals['float32']:.1f} h float32 at {args.tflops_float32:g} TFLOP/s, "
          f"{totals['bf16']:.1f} h bfloat16 at {args.tflops_bf16:g} TFLOP/s (ESTIMATES)")


if __name__ == "__main__":
    main()
