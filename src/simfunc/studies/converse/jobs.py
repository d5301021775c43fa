"""The converse study's jobs: the exact construction, and the distilled students.

**Exact construction.** The teacher's features f get a stretch ``A = I + (κ − 1) v vᵀ`` folded
in (:func:`simfunc.nets.surgery.insert_feature_map`, :func:`simfunc.nets.surgery.stretch_map`):
the outputs are the teacher's to float64 rounding, the features become ``f A``. v is the
principal direction of the teacher's training features with the smallest variance above
``EIGEN_RTOL`` times the largest (:func:`least_variance_direction`), so the stretched
direction, which carries almost none of the variance, comes to dominate it: as κ grows, linear
CKA between f and f A falls to ``vᵀΣ²v / (‖Σ‖_F · vᵀΣv)`` (:func:`cka_limit`; Σ the centred
covariance; for an eigenvector ``λ_v / ‖Σ‖_F``), the lowest a stretch of one direction can
reach. Measures invariant to invertible linear maps (R²_CCA, mean CCA) stay at 1.

**Trained version.** A student (same architecture, its own seed) is trained from its
initialisation to match the teacher's outputs on the teacher's training images, with a penalty
on the linear CKA of its features to the teacher's (:func:`simfunc.train.distill.distill`);
penalty 0 is plain distillation.

Job functions: :func:`construct` (recorded by :func:`record_construction`) and
:func:`distill_student` (:func:`record_student`); a student writes ``features.npz`` as
:func:`simfunc.studies.classifier_jobs.extract_features` does, so the shared compare job reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from simfunc.compare import Comparison, compare_pair, record_comparison
from simfunc.errors import InputError
from simfunc.io import atomic_save_npz, atomic_write_json, load_json
from simfunc.runner import Job, JobContext
from simfunc.store import ResultsDB
from simfunc.studies.classifier_jobs import FEATURES_FILE, ImageSet

__all__ = ["EIGEN_RTOL", "least_variance_direction", "cka_limit", "construction_id",
           "construct", "record_construction", "distill_student", "record_student"]

EIGEN_RTOL = 1e-8  # eigenvalues below this times the largest count as no variance at all
CONSTRUCTION_FILE = "construction.json"
METRICS_FILE = "metrics.json"


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


def _training_images(model: Any) -> Any:
    """The images ``model`` was trained on (its configuration's subset), unaugmented."""
    trained = model.training_config
    return ImageSet(trained.dataset, "train", data_root=trained.data_root,
                    subset=trained.train_subset, subset_seed=trained.subset_seed,
                    classes=trained.classes).load_for(model)


def construct(ctx: JobContext) -> None:
    """The exact construction for each condition number, compared with the teacher (float64)."""
    from simfunc.extract import activations
    from simfunc.nets.surgery import insert_feature_map, stretch_map
    from simfunc.train.supervised import load_model

    config = ctx.config
    (train_id,) = ctx.job.deps
    teacher = load_model(ctx.input(train_id), device=ctx.device).double()
    batch, layer = config["batch_size"], config["layer"]
    train_features = activations(teacher, _training_images(teacher), ["features"],
                                 batch_size=batch, device=ctx.device,
                                 dtype=np.float64)["features"]
    direction = least_variance_direction(train_features)
    test = ImageSet.from_json(config["test"]).load_for(teacher)
    reference = activations(teacher, test, ["features", "logits"], batch_size=batch,
                            device=ctx.device, dtype=np.float64)
    constructions = []
    for condition in config["conditions"]:
        matrix, inverse = stretch_map(direction, condition)
        acts = activations(insert_feature_map(teacher, matrix, inverse), test,
                           ["features", "logits"], batch_size=batch, device=ctx.device,
                           dtype=np.float64)
        compared = compare_pair({layer: reference["features"]}, {layer: acts["features"]},
                                reference["logits"], acts["logits"], from_logits=True)
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
    """The study's name of the teacher with the stretch κ folded in: ``teacher-stretch1000``."""
    return f"{teacher_id}-stretch{condition:g}"


def record_construction(entry: Path, db: ResultsDB, job: Job) -> None:
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


def distill_student(ctx: JobContext) -> None:
    """Distil a student from the teacher with a CKA penalty; save it and its test activations."""
    import torch

    from simfunc.extract import activations
    from simfunc.nets import build
    from simfunc.train.distill import DistillConfig, distill
    from simfunc.train.modelfile import save_model_file
    from simfunc.train.supervised import TrainConfig, load_model, resolve_config

    config = ctx.config
    (train_id,) = ctx.job.deps
    teacher = load_model(ctx.input(train_id), device=ctx.device)
    trained = teacher.training_config
    recipe = DistillConfig(**config["distillation"])
    layer = config["layer"]
    train = _training_images(teacher)
    targets = activations(teacher, train, [layer, "logits"], device=ctx.device)
    student = build(trained.arch, trained.num_classes, width=trained.width,
                    in_channels=trained.in_channels, input_size=trained.image_size,
                    seed=config["seed"]).to(ctx.device)
    history = distill(student, train, torch.from_numpy(targets["logits"]).to(ctx.device),
                      torch.from_numpy(targets[layer]).to(ctx.device), config=recipe,
                      penalty=float(config["penalty"]), seed=config["seed"], layer=layer,
                      device=ctx.device)
    student_config = TrainConfig.from_dict({
        **trained.to_dict(), "seed": config["seed"], "epochs": recipe.epochs, "lr": recipe.lr,
        "batch_size": recipe.batch_size, "checkpoint_epochs": [],
    })
    save_model_file(ctx.output_dir / "model.pt", student, student_config,
                    resolve_config(student_config), recipe.epochs, teacher.classes)
    test = ImageSet.from_json(config["test"]).load_for(teacher)
    acts = activations(student, test, [layer, "logits"], device=ctx.device)
    atomic_save_npz(ctx.output_dir / FEATURES_FILE, labels=test.labels.numpy(), **acts)
    atomic_write_json(ctx.output_dir / METRICS_FILE, {
        "test_accuracy": float(np.mean(acts["logits"].argmax(axis=1) == test.labels.numpy())),
        "penalty": float(config["penalty"]), "history": history,
        "config": student_config.to_dict(),
    })


def record_student(entry: Path, db: ResultsDB, job: Job) -> None:
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
