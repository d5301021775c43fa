"""``simfunc train``: train one classifier with checkpoints; rerun the same command to resume."""

from __future__ import annotations

import argparse
from pathlib import Path

from simfunc.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    from simfunc.data import DATASETS
    from simfunc.nets import ARCHITECTURES
    from simfunc.train.config import PRECISIONS, SCHEDULES, TrainConfig

    defaults = TrainConfig()
    parser = subparsers.add_parser(
        "train",
        help="train a classifier (SGD, checkpoints, resumable)",
        description="Train an image classifier with SGD (momentum, weight decay, a learning-rate "
        "schedule) and write OUT/model.pt (the weights with their configuration) and "
        "OUT/metrics.json (test_accuracy, per-epoch losses and accuracies, the configuration, "
        "timings), plus OUT/checkpoint-epoch-NNN.pt at the --checkpoint-epochs. Rerunning the "
        "same command on an interrupted run resumes it after its last finished epoch (the "
        "weights come out bit-identical to an uninterrupted run); on a finished run it prints "
        "the result without training; OUT holding another configuration is an error.",
    )
    parser.add_argument(
        "--arch",
        required=True,
        choices=list(ARCHITECTURES),
        metavar="ARCH",
        help=f"architecture: {', '.join(ARCHITECTURES)}",
    )
    parser.add_argument(
        "--dataset",
        required=True,
        metavar="NAME_OR_PATH",
        help=f"a dataset name ({', '.join(DATASETS)}) or an image folder "
        "PATH/{train,test}/CLASS/*.jpg",
    )
    parser.add_argument(
        "--classes",
        metavar="LIST",
        help="train and test on these classes only: comma-separated indices or names, "
        "relabelled 0..k-1 in the order given (default: all)",
    )
    parser.add_argument(
        "--data-root",
        metavar="DIR",
        help="where named datasets live (default: $SIMFUNC_DATA_ROOT or ~/.cache/simfunc/datasets)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=defaults.epochs,
        help=f"training epochs; 0 saves the untrained network (default {defaults.epochs})",
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=defaults.lr,
        help=f"base learning rate of SGD (default {defaults.lr})",
    )
    parser.add_argument(
        "--momentum",
        type=float,
        default=defaults.momentum,
        help=f"SGD momentum (default {defaults.momentum})",
    )
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=defaults.weight_decay,
        help=f"L2 weight decay (default {defaults.weight_decay})",
    )
    parser.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=defaults.schedule,
        help="learning-rate schedule: cosine annealing to zero, step (x0.1 at 50%% "
        "and 75%% of the epochs), constant, or onecycle (per batch: a cosine rise from lr/25 "
        "to lr over the --warmup fraction of the steps, then a cosine fall to lr/25e4) "
        f"(default {defaults.schedule})",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=defaults.warmup,
        metavar="FRACTION",
        help="with --schedule onecycle: the fraction of the steps spent rising to lr "
        f"(default {defaults.warmup})",
    )
    parser.add_argument(
        "--label-smoothing",
        type=float,
        default=defaults.label_smoothing,
        metavar="S",
        help="train towards 1-S on the label and S spread over all classes "
        f"(default {defaults.label_smoothing})",
    )
    parser.add_argument(
        "--nesterov",
        action=argparse.BooleanOptionalAction,
        default=defaults.nesterov,
        help="Nesterov momentum instead of heavy-ball (default off)",
    )
    parser.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=defaults.channels_last,
        help="channels-last (NHWC) memory order: faster convolutions on CPUs; the weights "
        "differ in the last bits, so it is part of the configuration (default off)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=defaults.precision,
        help="float32, or bfloat16 autocast for accelerators with bfloat16 units "
        f"(default {defaults.precision})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        help="seed of the initial weights, the shuffling and the augmentation "
        f"(default {defaults.seed})",
    )
    parser.add_argument(
        "--width",
        type=float,
        default=defaults.width,
        help="channel multiplier of the network, e.g. 0.25 for a cheap CPU run "
        f"(default {defaults.width})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=defaults.batch_size,
        help=f"examples per SGD step (default {defaults.batch_size})",
    )
    parser.add_argument(
        "--checkpoint-epochs",
        default="",
        metavar="LIST",
        help="epochs whose weights to save, comma-separated (0 = the initial "
        "weights), or 'thesis' for the thesis's 0,1,...,10,15,...,40,50,...,100 "
        "scaled to --epochs (default: none)",
    )
    parser.add_argument(
        "--subset",
        type=int,
        metavar="N",
        help="train on a class-stratified subset of N training images (default: all)",
    )
    parser.add_argument(
        "--test-subset",
        type=int,
        metavar="N",
        help="evaluate on a class-stratified subset of N test images (default: all)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        metavar="PIXELS",
        help="resize images to PIXELS x PIXELS (default: the dataset's own: 8 for "
        "digits, 32 otherwise)",
    )
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random crop and horizontal flip of the training images (default: on, "
        "except for digits)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="output directory (default: runs/train/ARCH-DATASET-wWIDTH-seedSEED)",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch CPU threads while training (default: torch's choice)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    parser.set_defaults(handler=run)


def parse_checkpoint_epochs(text: str, epochs: int) -> tuple[int, ...]:
    """``"0,1,5"`` -> (0, 1, 5); ``"thesis"``: the thesis list scaled to ``epochs``; ``""``: ()."""
    from simfunc.train.config import scale_checkpoint_epochs

    if text in ("", "none"):
        return ()
    if text == "thesis":
        return scale_checkpoint_epochs(epochs)
    values = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit():
            raise InputError(
                f"--checkpoint-epochs: {part!r} is not an epoch number; give a comma-separated "
                "list such as 0,1,5,10 or 'thesis'"
            )
        values.append(int(part))
    return tuple(values)


def parse_classes(text: str | None) -> tuple[int | str, ...] | None:
    """``"0,1,2"`` -> (0, 1, 2); ``"cat,dog"`` -> ("cat", "dog"); None -> None."""
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise InputError("--classes: give comma-separated class indices or names")
    return tuple(int(part) if part.isdigit() else part for part in parts)


def _default_out(config) -> Path:
    dataset = Path(config.dataset).name if config.dataset not in ("", ".") else "data"
    return Path("runs") / "train" / f"{config.arch}-{dataset}-w{config.width:g}-seed{config.seed}"


def run(args: argparse.Namespace) -> int:
    from simfunc.train.config import TrainConfig
    from simfunc.train.supervised import METRICS_FILE, MODEL_FILE, train

    if args.epochs < 0:
        raise InputError(f"--epochs must be at least 0, got {args.epochs}")
    config = TrainConfig(
        arch=args.arch,
        dataset=args.dataset,
        data_root=args.data_root,
        classes=parse_classes(args.classes),
        width=args.width,
        image_size=args.image_size,
        train_subset=args.subset,
        test_subset=args.test_subset,
        seed=args.seed,
        epochs=args.epochs,
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        batch_size=args.batch_size,
        augment=args.augment,
        warmup=args.warmup,
        label_smoothing=args.label_smoothing,
        nesterov=args.nesterov,
        channels_last=args.channels_last,
        precision=args.precision,
        checkpoint_epochs=parse_checkpoint_epochs(args.checkpoint_epochs.strip(), args.epochs),
    )
    out = Path(args.out) if args.out else _default_out(config)
    metrics = train(
        config,
        out,
        progress=not args.quiet,
        device=args.device,
        threads=args.threads,
        log=(lambda line: None) if args.quiet else None,
    )
    print(f"test accuracy: {metrics['test_accuracy']:.4f}")
    print(f"model: {out / MODEL_FILE}")
    print(f"metrics: {out / METRICS_FILE}")
    if config.checkpoint_epochs:
        print(f"checkpoints: {len(config.checkpoint_epochs)} in {out} (checkpoint-epoch-NNN.pt)")
    return 0
