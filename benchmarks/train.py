"""Training and extraction throughput of every architecture on this CPU.

    PYTHONPATH=src python benchmarks/train.py [--quick] [--threads 1,2] [--images N]

For each architecture at the widths the CPU profiles would use (width 0.125 and 0.25 on
32x32 RGB CIFAR-10 images from the shared data; ``cnn`` and ``mlp`` at width 1 and 0.5 on 8x8
greyscale digits), with batch 128, it prints images per second for

* ``train`` -- ``simfunc.train.supervised.train``: a full epoch (batched uint8 indexing, batched
  crop/flip augmentation, normalisation, forward, backward, SGD step with momentum and weight
  decay), the second of two epochs so that one-time setup is not counted;
* ``ref`` -- the textbook loop on the same data and network: a ``DataLoader`` (no worker
  processes) over the ``ImageDataset`` with per-image augmentation and default collation,
  then the same step; ``x`` is train / ref;
* ``extract`` -- ``simfunc.extract.activations`` of ``features`` and ``logits`` (hooks, eval
  mode, inference, copies to numpy), batch 256;
* ``fwd`` -- a bare ``model(x)`` loop under ``torch.inference_mode`` on pre-normalised
  tensors (the floor of any extraction), and ``x`` = extract / fwd;
* with ``--channels-last``: ``cl`` -- ``train`` again with ``TrainConfig(channels_last=True)``
  (NHWC tensors and weights), and ``x`` = cl / train (the speed-up; ``--skip-reference``
  leaves out ``ref``, extraction and ``fwd``).

Every number is the best of ``--repeats`` timings, at each thread count in ``--threads``.
The shared data folder is $SIMFUNC_SHARED_DATA, else the ``shared/data`` folder next to the
repository (it needs ``cifar10/``). Decoded images go to a temporary cache.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from simfunc.data import ImageDataset, load  # noqa: E402
from simfunc.extract import activations  # noqa: E402
from simfunc.nets import ARCHITECTURES, build, count_parameters  # noqa: E402
from simfunc.train.supervised import TrainConfig, train  # noqa: E402

BATCH = 128


def cases(quick: bool) -> list[tuple[str, float, str]]:
    """(architecture, width, dataset) rows."""
    if quick:
        return [("cnn", 1.0, "digits"), ("mlp", 1.0, "digits"), ("resnet18", 0.125, "cifar10")]
    rows = [(arch, width, "digits") for arch in ("cnn", "mlp") for width in (1.0, 0.5)]
    for arch in ARCHITECTURES:
        if arch in ("cnn", "mlp"):
            continue
        rows += [(arch, width, "cifar10") for width in (0.125, 0.25)]
    return rows


def dataset(name: str, split: str, n: int, shared: Path) -> ImageDataset:
    if name == "digits":
        return load("digits", split, image_size=8, channels=1)
    return load("cifar10", split, data_root=shared, subset=n)


def simfunc_train_rate(
    arch: str, width: float, name: str, n: int, shared: Path, work: Path,
    channels_last: bool = False,
    cpu_time: bool = False,
) -> float:
    is_digits = name == "digits"
    config = TrainConfig(
        arch=arch,
        width=width,
        dataset=name,
        data_root=None if is_digits else str(shared),
        train_subset=None if is_digits else n,
        test_subset=None if is_digits else 128,
        epochs=2,
        batch_size=BATCH,
        augment=True,
        eval_each_epoch=False,
        channels_last=channels_last,
    )
    out = Path(tempfile.mkdtemp(dir=work))
    metrics = train(config, out, progress=False)
    last = metrics["history"][-1]
    if cpu_time:
        return metrics["train_examples"] / last["cpu_seconds"]
    return float(last["images_per_second"])


def reference_train_rate(arch: str, width: float, data: ImageDataset) -> float:
    model = build(
        arch,
        data.num_classes,
        width=width,
        in_channels=data.channels,
        input_size=data.image_size,
        seed=0,
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loader = torch.utils.data.DataLoader(
        data.with_augment(True), batch_size=BATCH, shuffle=True, num_workers=0, drop_last=True
    )
    model.train()
    best = 0.0
    for epoch in range(2):
        started, seen = time.perf_counter(), 0
        for images, labels in loader:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(labels)
        best = max(best, seen / (time.perf_counter() - started)) if epoch else best
    return best


def extraction_rates(
    arch: str, width: float, data: ImageDataset, repeats: int
) -> tuple[float, float]:
    model = build(
        arch,
        data.num_classes,
        width=width,
        in_channels=data.channels,
        input_size=data.image_size,
        seed=0,
    ).eval()
    inputs = data.normalized()
    n = len(data)
    simfunc_best = reference_best = float("inf")
    activations(model, data, ("features", "logits"))  # warm-up
    for _ in range(repeats):
        started = time.perf_counter()
        activations(model, data, ("features", "logits"), batch_size=256)
        simfunc_best = min(simfunc_best, time.perf_counter() - started)
        started = time.perf_counter()
        with torch.inference_mode():
            for s in range(0, n, 256):
                model(inputs[s : s + 256])
        reference_best = min(reference_best, time.perf_counter() - started)
    return n / simfunc_best, n / reference_best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="three networks, few images")
    parser.add_argument(
        "--threads", default="1", help="comma-separated torch thread counts (default 1)"
    )
    parser.add_argument(
        "--images",
        type=int,
        default=None,
        help="training images per epoch at 32x32 (default 512; --quick 256)",
    )
    parser.add_argument("--repeats", type=int, default=2, help="timings per number (best kept)")
    parser.add_argument("--channels-last", action="store_true",
                        help="also time training with channels_last=True")
    parser.add_argument("--skip-reference", action="store_true",
                        help="time simfunc's training only (no DataLoader reference, "
                        "no extraction)")
    parser.add_argument("--archs", help="only these architectures (comma-separated)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="simfunc's training rates per second of process CPU time, not wall "
                        "time (steadier on a shared machine; the reference stays wall time)")
    default_root = os.environ.get("SIMFUNC_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    parser.add_argument("--data-root", default=default_root, help="the shared data folder")
    args = parser.parse_args()
    n = args.images or (256 if args.quick else 512)
    shared = Path(args.data_root)
    threads = [int(t) for t in args.threads.split(",")]
    if not (shared / "cifar10").is_dir():
        sys.exit(
            f"benchmarks/train.py: no cifar10/ folder under {shared} (set SIMFUNC_SHARED_DATA)"
        )

    with tempfile.TemporaryDirectory() as work:
        os.environ["SIMFUNC_CACHE"] = str(Path(work) / "cache")
        print(
            f"torch {torch.__version__}, {os.cpu_count()} CPUs, batch {BATCH}, {n} images/epoch at "
            f"32x32 CIFAR-10 from {shared} (digits: all 1,437)"
        )
        header = (
            f"{'arch':<12}{'width':>6}{'input':>9}{'params':>10}{'thr':>4}"
            f"{'train':>9}{'ref':>9}{'x':>6}{'extract':>9}{'fwd':>9}{'x':>6}"
            + (f"{'cl':>9}{'x':>6}" if args.channels_last else "")
            + "   (images/s)"
        )
        print(header)
        print("-" * len(header))
        chosen = set(args.archs.split(",")) if args.archs else None
        for arch, width, name in cases(args.quick):
            if chosen is not None and arch not in chosen:
                continue
            train_data = dataset(name, "train", n, shared)
            test_data = dataset(name, "test", n, shared)
            params = count_parameters(
                build(
                    arch,
                    10,
                    width=width,
                    in_channels=train_data.channels,
                    input_size=train_data.image_size,
                )
            )
            shape = f"{train_data.channels}x{train_data.image_size}x{train_data.image_size}"
            for count in threads:
                torch.set_num_threads(count)
                rates: dict[bool, list[float]] = {False: [], True: []}
                for _ in range(args.repeats):  # alternated, so both see the same load
                    for layout in (False, True) if args.channels_last else (False,):
                        rates[layout].append(simfunc_train_rate(
                            arch, width, name, n, shared, Path(work), layout, args.cpu_time))
                ours = max(rates[False])
                reference = extract = forward = float("nan")
                if not args.skip_reference:
                    reference = max(
                        reference_train_rate(arch, width, train_data) for _ in range(args.repeats)
                    )
                    extract, forward = extraction_rates(arch, width, test_data, args.repeats)
                extra = ""
                if args.channels_last:
                    nhwc = max(rates[True])
                    extra = f"{nhwc:>9.0f}{nhwc / ours:>6.2f}"
                print(
                    f"{arch:<12}{width:>6g}{shape:>9}{params:>10,}{count:>4}{ours:>9.0f}"
                    f"{reference:>9.0f}{ours / reference:>6.2f}{extract:>9.0f}{forward:>9.0f}"
                    f"{extract / forward:>6.2f}{extra}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
