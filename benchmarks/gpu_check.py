"""A short check of the ``paper`` profile on one GPU: per-epoch seconds and CKA against a GEMM.

    PYTHONPATH=src python benchmarks/gpu_check.py [--data-root DIR] [--json OUT.json]

Prepared for a session that has a CUDA device (a few minutes of it); without CUDA it says so
and exits 0. It measures, on ``--device`` (default ``cuda``):

1. **Training** -- ``simfunc.train.supervised.train`` at the paper profile's settings
   (CIFAR-100, full width, batch 128, SGD lr 0.1 with momentum and weight decay, crop + flip)
   for two epochs of each ``--archs`` (default ResNet-18 and VGG-16, the two architectures of
   every study), in float32 (TF32 convolutions: torch's default) and in bfloat16 autocast with
   channels-last; the second epoch's seconds are the figure (the first includes cuDNN's
   start-up). CIFAR-100 comes from ``--data-root`` when it holds ``cifar-100-python/``;
   otherwise a synthetic set of the same shape (random pixels, 50,000 + 10,000 images, 100
   classes) is written to a temporary folder in the official format -- the timing is the same,
   the accuracy meaningless.
2. **Determinism** -- two one-epoch runs of the first architecture on a 5,000-image subset with
   the same seed, in both precisions: are the weights bit-identical? (simfunc switches on
   ``torch.use_deterministic_algorithms`` and cuDNN's deterministic mode on accelerators.)
3. **CKA on CUDA** -- ``simfunc.representational.linear_cka`` on float32 CUDA tensors of
   n = 10,000 examples (a CIFAR-100 test set) with p = q = 512 (ResNet-18's penultimate layer)
   and p = q = 4,096, with a +1e4 offset, against a plain torch CKA (centre, three products)
   and the plain CUDA GEMM ``X.T @ Y`` of the same size, in float64 (the arithmetic CKA uses)
   and float32 (``precision="float32"``): the same ratios ``benchmarks/measures.py`` prints
   on the CPU, and the float32 accuracy against float64. ``--cka-only`` measures just this
   (seconds of device time).

It then converts the measured epochs into the hours the paper profile's training would take on
this GPU for these architectures (``PAPER_EPOCHS`` below), the figure that replaces the FLOP-based
estimate in BENCHMARKS.md. Everything is printed; ``--json`` also writes it to a file.

A dry run of the script's logic on a CPU (tiny and meaningless as a measurement)::

    PYTHONPATH=src python benchmarks/gpu_check.py --device cpu --width 0.125 \
        --train-subset 512 --cka-examples 2000 --cka-features 64
    PYTHONPATH=src python benchmarks/gpu_check.py --cka-only   # only the CKA ratios
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from simfunc import representational as rep  # noqa: E402
from simfunc.train.supervised import MODEL_FILE, TrainConfig, train  # noqa: E402

#: Training epochs of 50,000 CIFAR-100 images in the paper profile, per architecture: the
#: architectures study (2 seeds x 100 epochs) plus the checkpoints study (ResNet-18 and VGG-16:
#: 3 learning rates x 2 seeds x 100 epochs). Cross-dataset and dataset-bias train ResNets on
#: ImageNet32 as well: see BENCHMARKS.md.
PAPER_EPOCHS = {
    "vgg11": 200, "vgg13": 200, "vgg16": 800, "resnet18": 800, "resnet34": 200,
    "mobilenet": 200, "mobilenetv2": 200, "resnet110": 0,
}  # fmt: skip

VARIANTS = {
    "float32": {},
    "bf16+channels_last": {"precision": "bfloat16", "channels_last": True},
}


def synthetic_cifar100(root: Path, train_images: int = 50_000, test_images: int = 10_000) -> None:
    """Random CIFAR-100 of the official shape, in the official python format, under ``root``."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in (("train", train_images), ("test", test_images)):
        batch = {
            "data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            "fine_labels": [int(v) for v in rng.integers(0, 100, size=n)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=4))
    meta = {"fine_label_names": [f"class{i:02d}" for i in range(100)]}
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=4))


def paper_config(arch: str, data_root: Path, **changes: Any) -> TrainConfig:
    settings = {
        "arch": arch, "dataset": "cifar100", "data_root": str(data_root), "width": 1.0,
        "image_size": 32, "epochs": 2, "lr": 0.1, "schedule": "step", "batch_size": 128,
        "test_subset": 1_000, "eval_each_epoch": False,
    }  # fmt: skip
    return TrainConfig(**{**settings, **changes})


def synchronized(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function: Any, device: torch.device, repeats: int = 5) -> float:
    """Median seconds of ``function()`` after one warm-up call."""
    function()
    synchronized(device)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        synchronized(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def training_epochs(archs: list[str], root: Path, device: torch.device, work: Path,
                    width: float, subset: int | None) -> list[dict[str, Any]]:
    rows = []
    for arch in archs:
        for variant, changes in VARIANTS.items():
            config = paper_config(arch, root, width=width, train_subset=subset, **changes)
            metrics = train(config, work / f"{arch}-{variant}", progress=False, device=device)
            seconds = [row["seconds"] for row in metrics["history"]]
            images = metrics["train_examples"]
            row = {
                "arch": arch, "variant": variant, "train_images": images,
                "epoch_seconds": seconds, "images_per_second": images / seconds[-1],
                "paper_epochs": PAPER_EPOCHS.get(arch, 0),
                # epochs of all 50,000 CIFAR-100 images, whatever --train-subset timed
                "paper_hours": seconds[-1] * (50_000 / images) * PAPER_EPOCHS.get(arch, 0) / 3600,
            }  # fmt: skip
            rows.append(row)
            print(f"{arch:<12}{variant:<20}epochs {', '.join(f'{s:.2f}' for s in seconds)} s "
                  f"({row['images_per_second']:,.0f} images/s); paper profile "
                  f"{row['paper_epochs']} epochs = {row['paper_hours']:.2f} h", flush=True)
    return rows


def determinism(arch: str, root: Path, device: torch.device, work: Path,
                width: float, subset: int) -> dict[str, bool]:
    result = {}
    for variant, changes in VARIANTS.items():
        config = paper_config(arch, root, width=width, epochs=1, train_subset=subset, **changes)
        outs = [work / f"det-{variant}-{i}" for i in range(2)]
        for out in outs:
            train(config, out, progress=False, device=device)
        a, b = (torch.load(out / MODEL_FILE, map_location="cpu", weights_only=True)["state_dict"]
                for out in outs)
        same = all(torch.equal(a[k], b[k]) for k in a)
        result[variant] = same
        print(f"determinism  {arch} {variant}: two runs bit-identical: {same}", flush=True)
    return result


def plain_torch_cka(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """The plain torch CKA in the inputs' dtype: centre, three products, Frobenius norms."""
    Xc, Yc = X - X.mean(dim=0), Y - Y.mean(dim=0)
    return (torch.linalg.matrix_norm(Xc.T @ Yc) ** 2
            / (torch.linalg.matrix_norm(Xc.T @ Xc) * torch.linalg.matrix_norm(Yc.T @ Yc)))


def cka_against_gemm(device: torch.device, n: int, widths: list[int]) -> list[dict[str, Any]]:
    """simfunc's linear CKA on ``device`` against a plain torch GEMM and a plain torch CKA of
    the same size, in float64 and float32 (the ratios ``benchmarks/measures.py`` prints for
    CPU: simfunc / the plain implementation, same run, same data with a +1e4 offset)."""
    rows = []
    generator = torch.Generator(device=device).manual_seed(0)
    previous_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # full float32 for the plain references too
    try:
        for p in widths:
            X = torch.randn(n, p, device=device, generator=generator)
            Y = X @ torch.randn(p, p, device=device, generator=generator) / p**0.5
            Y = Y + torch.randn(n, p, device=device, generator=generator)
            X, Y = X + 1e4, Y + 1e4
            X64, Y64 = X.double(), Y.double()
            cka = timed(lambda: rep.linear_cka(X, Y), device)
            cka32 = timed(lambda: rep.linear_cka(X, Y, precision="float32"), device)
            plain64 = timed(lambda: plain_torch_cka(X64, Y64), device)
            plain32 = timed(lambda: plain_torch_cka(X, Y), device)
            gemm64 = timed(lambda: X64.T @ Y64, device)
            gemm32 = timed(lambda: X.T @ Y, device)
            value = rep.linear_cka(X, Y)
            value32 = rep.linear_cka(X, Y, precision="float32")
            plain_value32 = float(plain_torch_cka(X, Y))
            row = {"n": n, "p": p, "cka_seconds": cka, "gemm_float64_seconds": gemm64,
                   "gemm_float32_seconds": gemm32, "ratio_to_float64_gemm": cka / gemm64,
                   "cka_float32_seconds": cka32, "float32_ratio_to_float32_gemm": cka32 / gemm32,
                   "plain_cka_float64_seconds": plain64, "plain_cka_float32_seconds": plain32,
                   "ratio_to_plain_float64_cka": cka / plain64,
                   "float32_ratio_to_plain_float32_cka": cka32 / plain32,
                   "cka": value, "float32_error": abs(value32 - value),
                   "plain_float32_error": abs(plain_value32 - value)}  # fmt: skip
            rows.append(row)
            print(f"CKA n={n:,} p=q={p:,} (+1e4 offset): float64 {cka * 1e3:.2f} ms, ratio "
                  f"{cka / plain64:.2f} to a plain torch float64 CKA ({plain64 * 1e3:.2f} ms) "
                  f"and {cka / gemm64:.2f} to one float64 GEMM X.T@Y ({gemm64 * 1e3:.2f} ms); "
                  f"float32 path {cka32 * 1e3:.2f} ms, ratio {cka32 / plain32:.2f} to a plain "
                  f"torch float32 CKA ({plain32 * 1e3:.2f} ms) and {cka32 / gemm32:.2f} to one "
                  f"float32 GEMM; |Δ| vs float64: float32 path {abs(value32 - value):.1e}, "
                  f"plain float32 {abs(plain_value32 - value):.1e}; CKA = {value:.4f}",
                  flush=True)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous_tf32
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="torch device (default cuda)")
    parser.add_argument("--archs", default="resnet18,vgg16", help="architectures to time")
    parser.add_argument("--data-root", help="a folder with cifar-100-python/ (default: synthetic)")
    parser.add_argument("--width", type=float, default=1.0,
                        help="channel multiplier (default 1, the paper's; less for a dry run)")
    parser.add_argument("--train-subset", type=int,
                        help="train on this many images (default: all 50,000; for a dry run)")
    parser.add_argument("--skip-determinism", action="store_true")
    parser.add_argument("--cka-only", action="store_true",
                        help="only the CKA ratios (seconds of device time, no training)")
    parser.add_argument("--cka-examples", type=int, default=10_000,
                        help="examples n of the CKA benchmark (default 10,000)")
    parser.add_argument("--cka-features", default="512,4096",
                        help="feature counts p = q of the CKA benchmark (default 512,4096)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available on this machine; nothing to measure. Run it on "
              "a machine with a GPU (see BENCHMARKS.md, 'Paper profile on a GPU').")
        return 0
    about = {"torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        about.update(name=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                     cudnn=torch.backends.cudnn.version(),
                     memory_gib=torch.cuda.get_device_properties(device).total_memory / 2**30)
    print("gpu_check:", ", ".join(f"{k} {v}" for k, v in about.items()), flush=True)

    report: dict[str, Any] = {"about": about}
    widths = [int(p) for p in args.cka_features.split(",")]
    if args.cka_only:
        report["cka"] = cka_against_gemm(device, args.cka_examples, widths)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        if args.data_root and (Path(args.data_root) / "cifar-100-python").is_dir():
            root = Path(args.data_root)
            print(f"CIFAR-100 from {root}")
        else:
            root = work / "data"
            started = time.perf_counter()
            synthetic_cifar100(root)
            print(f"synthetic CIFAR-100 (random pixels) written in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
        report["data"] = str(root)
        archs = [a.strip() for a in args.archs.split(",") if a.strip()]
        report["training"] = training_epochs(archs, root, device, work, args.width,
                                             args.train_subset)
        if not args.skip_determinism:
            subset = min(5_000, args.train_subset or 5_000)
            report["determinism"] = determinism(archs[0], root, device, work, args.width, subset)
        report["cka"] = cka_against_gemm(device, args.cka_examples, widths)
    total = {}
    for row in report["training"]:
        total[row["variant"]] = total.get(row["variant"], 0.0) + row["paper_hours"]
    for variant, hours in total.items():
        print(f"paper profile, CIFAR-100 training of {', '.join(archs)} in {variant}: "
              f"{hours:.1f} GPU-hours at the measured rate")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
