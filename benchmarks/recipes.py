"""Test accuracy against CPU time of training recipes: the standard profile's quality trade-off.

    PYTHONPATH=src python benchmarks/recipes.py --archs vgg11,resnet18 \
        --recipe base --recipe 'wide:width=0.25' --out recipes.jsonl

A *recipe* is ``NAME:key=value,key=value`` -- TrainConfig fields laid over the standard
profile's current settings (``STANDARD`` below: 1/8 width, 5,000 CIFAR-10 training images, 10
epochs, cosine lr 0.05, batch 128, crop + flip). For every architecture x recipe x seed it
trains on the shared CIFAR-10 (``--data-root``, default ../shared/data) and records

* ``test_accuracy`` on the full 10,000-image test split (evaluated after training, untimed);
* ``cpu_seconds`` -- process CPU time (``time.process_time``) of ``train()``: data loading from
  the decoded-image cache, every epoch, the per-epoch evaluation on ``test_subset`` images as the
  studies do; one torch thread (``--threads``);
* ``images`` -- training images processed (the cost driver), and the wall time.

Rows are appended to ``--out`` (JSON lines), so a long sweep can be stopped and continued: a row
already there is not trained again. ``--summary`` prints the table (median accuracy and total
CPU minutes per recipe, over the architectures and seeds present, or the ``--seeds`` given)
without training anything.
CPU time on a shared machine still varies with what runs on the sibling core; every recipe's
cost is therefore also given as the ratio to the ``base`` recipe's, measured in the same file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from simfunc.data import load  # noqa: E402
from simfunc.train.supervised import TrainConfig, evaluate, load_model, train  # noqa: E402

#: The ``standard`` profile's image networks as the architectures study trains them today.
STANDARD: dict[str, Any] = {
    "dataset": "cifar10",
    "image_size": 32,
    "width": 0.125,
    "train_subset": 5_000,
    "test_subset": 1_000,
    "epochs": 10,
    "lr": 0.05,
    "schedule": "cosine",
    "batch_size": 128,
}

ARCHS = ("vgg11", "vgg13", "vgg16", "resnet18", "resnet34", "mobilenet", "mobilenetv2")


def parse_value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text in ("true", "false"):
        return text == "true"
    if text == "none":
        return None
    return text


def parse_recipe(text: str) -> tuple[str, dict[str, Any]]:
    name, _, body = text.partition(":")
    changes = {}
    for part in filter(None, body.split(",")):
        key, _, value = part.partition("=")
        changes[key.strip()] = parse_value(value.strip())
    return name, changes


def run_one(arch: str, seed: int, changes: dict[str, Any], data_root: Path, threads: int,
            work: Path, test_data: Any) -> dict[str, Any]:
    config = TrainConfig(arch=arch, seed=seed, data_root=str(data_root), **{**STANDARD, **changes})
    out = Path(tempfile.mkdtemp(dir=work))
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    metrics = train(config, out, progress=False, threads=threads)
    cpu = time.process_time() - started_cpu
    wall = time.perf_counter() - started_wall
    torch.set_num_threads(threads)
    _, accuracy = evaluate(load_model(out), test_data)
    resolved = TrainConfig.from_dict(metrics["resolved_config"])
    return {
        "arch": arch,
        "seed": seed,
        "changes": changes,
        "test_accuracy": accuracy,
        "subset_test_accuracy": metrics["test_accuracy"],
        "train_accuracy": metrics["train_accuracy"][-1] if metrics["train_accuracy"] else None,
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "images": metrics["train_examples"] * resolved.epochs,
        "load_average": os.getloadavg()[0],
    }


def summary(rows: list[dict[str, Any]]) -> None:
    by_recipe: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        dataset = row["changes"].get("dataset", STANDARD["dataset"])
        name = row["recipe"] if dataset == STANDARD["dataset"] else f"{row['recipe']} [{dataset}]"
        by_recipe.setdefault(name, []).append(row)
    base = {(r["arch"], r["seed"], r["changes"].get("dataset")): r["cpu_seconds"]
            for r in rows if r["recipe"] == "base"}
    print(f"{'recipe':<28}{'nets':>5}{'median acc':>11}{'min':>7}{'max':>7}"
          f"{'CPU min':>9}{'x base':>8}   per-architecture accuracy")
    for name, group in by_recipe.items():
        accuracies = [r["test_accuracy"] for r in group]
        cpu = sum(r["cpu_seconds"] for r in group) / 60
        keys = [(r["arch"], r["seed"], r["changes"].get("dataset")) for r in group]
        pairs = [(r["cpu_seconds"], base[key]) for r, key in zip(group, keys) if key in base]
        ratio = (f"{sum(a for a, _ in pairs) / sum(b for _, b in pairs):8.2f}"
                 if len(pairs) == len(group) else f"{'':>8}")
        per_arch: dict[str, list[float]] = {}
        for r in group:
            per_arch.setdefault(r["arch"], []).append(r["test_accuracy"])
        detail = " ".join(f"{a}={statistics.mean(v):.3f}" for a, v in per_arch.items())
        print(f"{name:<28}{len(group):>5}{statistics.median(accuracies):>11.3f}"
              f"{min(accuracies):>7.3f}{max(accuracies):>7.3f}{cpu:>9.1f}{ratio}   {detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", default=",".join(ARCHS), help="comma-separated architectures")
    parser.add_argument("--seeds", default=None,
                        help="comma-separated seeds (default 0; with --summary: only rows of "
                        "these seeds, default all)")
    parser.add_argument("--recipe", action="append", default=[],
                        help="NAME:key=value,... over the standard settings (repeatable); "
                        "'base' is the standard profile as it is")
    parser.add_argument("--dataset", default="cifar10",
                        help="train and test on this shared data set (default cifar10; e.g. "
                        "tiny-imagenet for the B networks of dataset-bias and cross-dataset)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    default_root = os.environ.get("SIMFUNC_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    parser.add_argument("--data-root", default=default_root, help="the shared data folder")
    parser.add_argument("--out", default="recipes.jsonl", help="JSON-lines results file")
    parser.add_argument("--summary", action="store_true", help="print the table and exit")
    args = parser.parse_args()
    args.seeds_given = args.seeds is not None
    args.seeds = args.seeds or "0"

    out = Path(args.out)
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.is_file() else []
    if args.summary:
        seeds = {int(s) for s in args.seeds.split(",")} if args.seeds_given else None
        summary([r for r in rows if seeds is None or r["seed"] in seeds])
        return
    data_root = Path(args.data_root)
    if not (data_root / args.dataset).is_dir():
        sys.exit(f"benchmarks/recipes.py: no {args.dataset}/ under {data_root} "
                 "(set SIMFUNC_SHARED_DATA)")
    recipes = [parse_recipe(text) for text in (args.recipe or ["base"])]
    if args.dataset != STANDARD["dataset"]:
        recipes = [(name, {"dataset": args.dataset, **changes}) for name, changes in recipes]
    done = {(r["recipe"], r["arch"], r["seed"], r["changes"].get("dataset")) for r in rows}
    torch.set_num_threads(args.threads)
    test_data = load(args.dataset, "test", data_root=data_root, image_size=32, channels=3)
    with tempfile.TemporaryDirectory() as work:
        for name, changes in recipes:
            for arch in args.archs.split(","):
                for seed in (int(s) for s in args.seeds.split(",")):
                    if (name, arch, seed, changes.get("dataset")) in done:
                        continue
                    row = {"recipe": name, **run_one(arch, seed, changes, data_root,
                                                     args.threads, Path(work), test_data)}
                    print(f"{name:<28}{arch:<12}s{seed} acc {row['test_accuracy']:.4f} "
                          f"cpu {row['cpu_seconds']:7.1f} s wall {row['wall_seconds']:7.1f} s "
                          f"load {row['load_average']:.1f}", flush=True)
                    with out.open("a") as handle:
                        handle.write(json.dumps(row) + "\n")
    summary([json.loads(line) for line in out.read_text().splitlines()])


if __name__ == "__main__":
    main()
