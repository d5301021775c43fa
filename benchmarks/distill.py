"""Benchmark the CKA penalty of distillation (simfunc.train.distill): the shared differentiable
CKA against the float32 formula the converse study used to carry inline.

Distils the converse quick profile's student (a width-0.5 CNN on digits at 8×8) from an
untrained teacher of the same shape for a few epochs with CKA penalty 1, once with
``representational.torch_linear_cka`` (float64, as ``distill`` calls it) and once with the
plain float32 formula ``‖Ycᵀ Xc‖²_F / (‖Xcᵀ Xc‖_F ‖Ycᵀ Yc‖_F + eps)`` swapped in; the same
student initialisation, batches and data in both. Prints the best of ``--repeats`` wall times
and their ratio, and the two students' largest weight difference (the rounding the formula
change carries through training).

Run:  python benchmarks/distill.py            (2 epochs, best of 3)
      python benchmarks/distill.py --epochs 1 --repeats 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import simfunc.train.distill as distill_module  # noqa: E402
from simfunc.data import load  # noqa: E402
from simfunc.extract import activations  # noqa: E402
from simfunc.nets import build  # noqa: E402


def float32_cka(X: torch.Tensor, Y: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """The reference: linear CKA in the features' own dtype (float32), no validation."""
    X, Y = X.reshape(X.shape[0], -1), Y.reshape(Y.shape[0], -1)
    Xc, Yc = X - X.mean(0, keepdim=True), Y - Y.mean(0, keepdim=True)
    return (Yc.T @ Xc).pow(2).sum() / (torch.linalg.matrix_norm(Xc.T @ Xc)
                                       * torch.linalg.matrix_norm(Yc.T @ Yc) + eps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train = load("digits", "train", image_size=8, channels=1)
    teacher = build("cnn", 10, width=0.5, in_channels=1, input_size=8, seed=0).eval()
    acts = activations(teacher, train, ["features", "logits"])
    logits, features = torch.from_numpy(acts["logits"]), torch.from_numpy(acts["features"])
    config = distill_module.DistillConfig(epochs=args.epochs, lr=3e-3, batch_size=64)
    shared = distill_module.torch_linear_cka
    variants = {"shared torch_linear_cka (float64)": shared, "float32 formula": float32_cka}
    times: dict[str, list[float]] = {name: [] for name in variants}
    students = {}
    try:
        for _ in range(args.repeats):
            for name, cka in variants.items():
                distill_module.torch_linear_cka = cka
                student = build("cnn", 10, width=0.5, in_channels=1, input_size=8, seed=1)
                start = time.perf_counter()
                distill_module.distill(student, train, logits, features, config=config,
                                       penalty=1.0, seed=1)
                times[name].append(time.perf_counter() - start)
                students[name] = student
    finally:
        distill_module.torch_linear_cka = shared
    best = {name: min(values) for name, values in times.items()}
    for name, seconds in best.items():
        print(f"{name:36s} {seconds:8.3f} s for {args.epochs} epoch(s)")
    first, second = students.values()
    difference = max(float((a - b).abs().max()) for a, b in
                     zip(first.state_dict().values(), second.state_dict().values())
                     if a.is_floating_point())
    print(f"ratio shared / float32: {best[next(iter(best))] / best['float32 formula']:.2f}; "
          f"largest weight difference after training: {difference:.2e}")


if __name__ == "__main__":
    main()
