"""The pieces of the converse study: same function, dissimilar representations.

**Exact construction.** Take a trained classifier whose ``logits`` layer reads its ``features``
f (length D): ``logits = f Wᵀ + b``. Insert an invertible linear map A after the features and
fold its inverse into the next layer: ``f' = f A`` and ``W' = W A⁻ᵀ``, so
``f' W'ᵀ = f A A⁻¹ Wᵀ = f Wᵀ`` — the same outputs for every input. The map used here is

    A = I + (κ − 1) v vᵀ,     A⁻¹ = I + (1/κ − 1) v vᵀ,

a stretch by κ along one unit direction v, whose condition number is exactly κ. v is the
principal direction of the training features with the smallest non-negligible variance
(eigenvalue above 1e-8 times the largest), so the stretched direction, which carries almost none
of the features' variance, comes to dominate it: as κ grows, linear CKA between f and f' falls
to ``vᵀΣ²v / (‖Σ‖_F · vᵀΣv)`` (Σ the centred covariance; for v an eigenvector this is
``λ_v / ‖Σ‖_F``), the lowest a stretch of one direction can reach. Measures invariant to
invertible linear maps (R²_CCA, mean CCA) stay at 1. Everything runs in float64, so the outputs
agree to rounding error (their JSD is ~1e-20).

**Trained version.** A student network (same architecture, another seed) is trained from scratch
to match the teacher's outputs — ``KL(p_teacher ‖ p_student)`` on each batch — plus
``penalty × CKA(student features, teacher features)``, the linear CKA of the batch computed
differentiably in torch (:func:`torch_linear_cka`). ``penalty = 0`` is plain distillation.

Job functions: :func:`construct` (with :func:`record_construction`) and :func:`distill` (with
:func:`record_student`); the students write ``features.npz`` in the format of
:func:`simfunc.studies.classifier_jobs.extract_features`, so the generic compare job reads them.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simfunc.compare import Comparison, compare_pair, record_comparison
from simfunc.errors import InputError
from simfunc.io import atomic_save_npz, atomic_write_json, load_json
from simfunc.runner import Job
from simfunc.studies.classifier_jobs import FEATURES_FILE, ImageSet
from simfunc.validation import check_int, check_positive

__all__ = [
    "EIGEN_RTOL",
    "FeatureMap",
    "least_variance_direction",
    "stretch_map",
    "insert_feature_map",
    "cka_limit",
    "torch_linear_cka",
    "construct",
    "record_construction",
    "distill",
    "record_student",
]

EIGEN_RTOL = 1e-8  # eigenvalues below this times the largest count as no variance at all
CONSTRUCTION_FILE = "construction.json"
METRICS_FILE = "metrics.json"


# ------------------------------------------------------------------------ the construction


def least_variance_direction(features: Any) -> np.ndarray:
    """The unit principal direction of ``features`` (n, D) with the smallest variance above
    ``EIGEN_RTOL`` times the largest (directions of no variance, e.g. dead units, are skipped)."""
    data = np.asarray(features, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < 2 or not np.all(np.isfinite(data)):
        raise InputError(f"features must be a finite (n >= 2, D) array, got shape {data.shape}")
    centred = data - data.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    if values[-1] <= 0:
        raise InputError("features are constant: they have no principal direction")
    usable = np.flatnonzero(values > EIGEN_RTOL * values[-1])
    return vectors[:, usable[0]].copy()


def stretch_map(direction: Any, condition: float) -> tuple[np.ndarray, np.ndarray]:
    """``A = I + (κ − 1) v vᵀ`` and its exact inverse ``I + (1/κ − 1) v vᵀ`` (float64).

    ``v`` is normalised; ``condition`` κ >= 1 is A's condition number (κ = 1: the identity).
    """
    v = np.asarray(direction, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(v))
    if v.size == 0 or not math.isfinite(norm) or norm == 0:
        raise InputError("direction must be a non-zero finite vector")
    condition = check_positive(condition, "condition")
    if condition < 1:
        raise InputError(f"condition must be at least 1, got {condition}")
    v = v / norm
    outer = np.outer(v, v)
    identity = np.eye(v.size)
    return identity + (condition - 1.0) * outer, identity + (1.0 / condition - 1.0) * outer


class FeatureMap(nn.Module):
    """``x -> x @ A`` for a fixed matrix A (a buffer, not a parameter)."""

    def __init__(self, matrix: Any) -> None:
        super().__init__()
        self.register_buffer("matrix", torch.as_tensor(np.asarray(matrix)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.matrix.to(x.dtype)


def insert_feature_map(model: nn.Module, matrix: Any, inverse: Any) -> nn.Module:
    """A float64 copy of the simfunc classifier ``model`` whose ``features`` layer applies
    ``matrix`` (A) and whose ``logits`` layer reads through ``inverse`` (``W' = W A⁻ᵀ``).

    ``inverse`` must be A⁻¹; the outputs then equal the original's up to rounding."""
    out = copy.deepcopy(model).double()
    matrix = torch.as_tensor(np.asarray(matrix, dtype=np.float64))
    inverse = torch.as_tensor(np.asarray(inverse, dtype=np.float64))
    dim = out.logits.in_features
    if matrix.shape != (dim, dim) or inverse.shape != (dim, dim):
        raise InputError(f"matrix and inverse must be ({dim}, {dim}); got "
                         f"{tuple(matrix.shape)} and {tuple(inverse.shape)}")
    out.features = FeatureMap(matrix)
    with torch.no_grad():
        out.logits.weight.copy_(out.logits.weight @ inverse.T)
    return out.eval()


def cka_limit(features: Any, direction: Any) -> float:
    """Linear CKA between ``features`` and their projection on ``direction``: the value linear
    CKA(f, f A) tends to as the stretch κ of A along that direction grows without bound."""
    data = np.asarray(features, dtype=np.float64)
    centred = data - data.mean(axis=0)
    cov = centred.T @ centred
    v = np.asarray(direction, dtype=np.float64)
    v = v / np.linalg.norm(v)
    along = float(v @ cov @ v)
    if along <= 0:
        raise InputError("features have no variance along direction")
    return float(v @ cov @ cov @ v / (np.linalg.norm(cov) * along))


# ------------------------------------------------------------------------------ jobs


def _train_split(model: nn.Module) -> Any:
    """The training images the model was trained on (its configuration's subset), unaugmented."""
    from simfunc.data import load

    trained = model.training_config
    return load(trained.dataset, "train", data_root=trained.data_root,
                image_size=trained.image_size, channels=trained.in_channels,
                subset=trained.train_subset, seed=trained.subset_seed,
                classes=None if trained.classes is None else list(trained.classes))


def _compare(features_a: np.ndarray, features_b: np.ndarray, logits_a: np.ndarray,
             logits_b: np.ndarray, layer: str) -> Comparison:
    return compare_pair({layer: features_a}, {layer: features_b}, logits_a, logits_b,
                        from_logits=True)


def construct(ctx: Any) -> None:
    """The exact construction for each condition number, compared with the teacher (float64)."""
    from simfunc.extract import activations
    from simfunc.train.supervised import load_model

    config = ctx.config
    (train_id,) = ctx.job.deps
    teacher = load_model(ctx.input(train_id), device=ctx.device).double()
    batch = config["batch_size"]
    train = _train_split(teacher)
    train_features = activations(teacher, train, ["features"], batch_size=batch,
                                 device=ctx.device, dtype=np.float64)["features"]
    direction = least_variance_direction(train_features)
    test = ImageSet.from_json(config["test"]).load_for(teacher)
    reference = activations(teacher, test, ["features", "logits"], batch_size=batch,
                            device=ctx.device, dtype=np.float64)
    constructions = []
    for condition in config["conditions"]:
        matrix, inverse = stretch_map(direction, condition)
        model = insert_feature_map(teacher, matrix, inverse)
        acts = activations(model, test, ["features", "logits"], batch_size=batch,
                           device=ctx.device, dtype=np.float64)
        compared = _compare(reference["features"], acts["features"], reference["logits"],
                            acts["logits"], config["layer"])
        constructions.append({
            "condition": float(condition),
            "max_abs_logit_difference": float(np.max(np.abs(acts["logits"] - reference["logits"]))),
            "measured_condition": float(np.linalg.cond(matrix)),
            **compared.to_json(),
        })
    atomic_write_json(ctx.output_dir / CONSTRUCTION_FILE, {
        "constructions": constructions,
        "cka_limit": cka_limit(reference["features"], direction),
        "direction_variance_fraction": float(
            np.var(train_features @ direction) / np.var(train_features, axis=0).sum()),
    })


def construction_id(teacher_id: str, condition: float) -> str:
    return f"{teacher_id}-stretch{condition:g}"


def record_construction(entry: Path, db: Any, job: Job) -> None:
    result = load_json(Path(entry) / CONSTRUCTION_FILE)
    meta = job.meta
    teacher = meta["teacher_id"]
    for item in result["constructions"]:
        name = construction_id(teacher, item["condition"])
        db.add_model(name, kind="construction", arch=meta["arch"], dataset=meta["test_set"],
                     trained=True, parent=teacher,
                     artifact=f"{job.namespace}/{Path(entry).name}",
                     config={"condition": item["condition"]},
                     extra={"condition": item["condition"],
                            "max_abs_logit_difference": item["max_abs_logit_difference"],
                            "measured_condition": item["measured_condition"]})
        record_comparison(db, Comparison.from_json(item), model_a=teacher, model_b=name,
                          test_set=meta["test_set"])
    db.add_scalar(meta["study"], "cka_limit", result["cka_limit"])
    db.add_scalar(meta["study"], "stretched_direction_variance_fraction",
                  result["direction_variance_fraction"])


def torch_linear_cka(X: torch.Tensor, Y: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Linear CKA of two batches of features, differentiable (a training penalty).

    ``‖Ycᵀ Xc‖²_F / (‖Xcᵀ Xc‖_F ‖Ycᵀ Yc‖_F)`` with column-centred Xc, Yc (Kornblith et al.
    2019); ``eps`` keeps a constant batch from dividing by zero. For measurement use
    :func:`simfunc.representational.linear_cka` (float64, validated inputs).
    """
    X = X.reshape(X.shape[0], -1)
    Y = Y.reshape(Y.shape[0], -1)
    Xc = X - X.mean(dim=0, keepdim=True)
    Yc = Y - Y.mean(dim=0, keepdim=True)
    cross = (Yc.T @ Xc).pow(2).sum()
    return cross / (torch.linalg.matrix_norm(Xc.T @ Xc) * torch.linalg.matrix_norm(Yc.T @ Yc)
                    + eps)


def distill(ctx: Any) -> None:
    """Train a student to match the teacher's outputs with a CKA penalty on its features."""
    from simfunc.extract import activations
    from simfunc.nets import build
    from simfunc.train.modelfile import save_model_file
    from simfunc.train.supervised import TrainConfig, load_model, resolve_config

    config = ctx.config
    (train_id,) = ctx.job.deps
    teacher = load_model(ctx.input(train_id), device=ctx.device)
    trained = teacher.training_config
    penalty = float(config["penalty"])
    if not (math.isfinite(penalty) and penalty >= 0):
        raise InputError(f"penalty must be a finite number >= 0, got {penalty!r}")
    epochs = check_int(config["epochs"], "epochs", minimum=1)
    batch_size = check_int(config["batch_size"], "batch_size", minimum=2)
    train = _train_split(teacher)
    targets = activations(teacher, train, ["features", "logits"], device=ctx.device)
    teacher_features = torch.from_numpy(targets["features"]).to(ctx.device)
    teacher_log_probs = F.log_softmax(torch.from_numpy(targets["logits"]).to(ctx.device), dim=1)
    student_config = TrainConfig.from_dict({
        **trained.to_dict(), "seed": config["seed"], "epochs": epochs, "lr": config["lr"],
        "batch_size": batch_size, "checkpoint_epochs": [],
    })
    student = build(trained.arch, trained.num_classes, width=trained.width,
                    in_channels=trained.in_channels, input_size=trained.image_size,
                    seed=config["seed"]).to(ctx.device)
    captured: dict[str, torch.Tensor] = {}
    hook = student.features.register_forward_hook(lambda _m, _i, out: captured.update(f=out))
    optimizer = torch.optim.Adam(student.parameters(), lr=config["lr"])
    n = len(train)
    history = []
    start = time.perf_counter()
    try:
        for epoch in range(epochs):
            student.train()
            generator = torch.Generator().manual_seed(config["seed"] * 100_003 + epoch)
            order = torch.randperm(n, generator=generator)
            totals = {"kl": 0.0, "cka": 0.0, "batches": 0}
            for begin in range(0, n, batch_size):
                index = order[begin:begin + batch_size]
                if len(index) < 2:
                    continue
                images = train.normalized(index).to(ctx.device)
                log_probs = F.log_softmax(student(images), dim=1)
                kl = F.kl_div(log_probs, teacher_log_probs[index], log_target=True,
                              reduction="batchmean")
                cka = torch_linear_cka(captured["f"], teacher_features[index])
                loss = kl + penalty * cka
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                totals["kl"] += float(kl.detach())
                totals["cka"] += float(cka.detach())
                totals["batches"] += 1
            history.append({"epoch": epoch + 1, "kl": totals["kl"] / totals["batches"],
                            "batch_cka": totals["cka"] / totals["batches"]})
    finally:
        hook.remove()
    seconds = time.perf_counter() - start
    student.eval()
    save_model_file(ctx.output_dir / "model.pt", student, student_config,
                    resolve_config(student_config), epochs, teacher.classes)
    test = ImageSet.from_json(config["test"]).load_for(teacher)
    acts = activations(student, test, [config["layer"], "logits"], device=ctx.device)
    atomic_save_npz(ctx.output_dir / FEATURES_FILE, labels=test.labels.numpy(), **acts)
    accuracy = float(np.mean(acts["logits"].argmax(axis=1) == test.labels.numpy()))
    atomic_write_json(ctx.output_dir / METRICS_FILE, {
        "test_accuracy": accuracy, "penalty": penalty, "history": history,
        "train_seconds": seconds, "config": student_config.to_dict(),
    })


def record_student(entry: Path, db: Any, job: Job) -> None:
    metrics = load_json(Path(entry) / METRICS_FILE)
    meta = job.meta
    config = metrics["config"]
    db.add_model(
        meta["model_id"], kind="distilled", arch=config["arch"], dataset=config["dataset"],
        seed=config["seed"], epoch=config["epochs"], trained=True,
        accuracy=metrics["test_accuracy"], parent=meta["teacher_id"],
        artifact=f"{job.namespace}/{Path(entry).name}", config=config,
        extra={"penalty": metrics["penalty"], "final_kl": metrics["history"][-1]["kl"],
               "final_batch_cka": metrics["history"][-1]["batch_cka"]},
    )
