"""Thesis §3.2 — do models trained on the same data stay similar on every test set?

Networks of one architecture trained from several seeds on data set A, several on B, and a few
untrained ones. Linear CKA of the penultimate features (and every other registered measure) for
every pair of networks, on each of three test sets: A's, B's and a third set C that neither saw.

The thesis (ResNet; CIFAR-100, ImageNet32, Pascal VOC) found that models trained on the same set
are more similar to each other than to models trained on the other set — on every test set,
including the one neither was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simfunc import figures
from simfunc.report import FigureRef, Section, Table
from simfunc.runner import Plan
from simfunc.settings import settings_dict
from simfunc.studies.base import Selection
from simfunc.studies.classifier_jobs import (
    ImageSet,
    ModelRecord,
    compare_job,
    extract_job,
    train_job,
)
from simfunc.studies.common import all_pairs, slug, stand_ins

NAME = "cross-dataset"
TITLE = "Models across training and test sets (thesis §3.2)"
# Every pair with output measures; it records none (the two training sets' classes do not
# correspond), so the leaderboard finds nothing here and says so.
LEADERBOARD = Selection()


@dataclass(frozen=True)
class Settings:
    """Settings of the cross-dataset study.

    dataset_a / dataset_b: the two training sets (with optional class selections classes_a /
    classes_b), dataset_c: a third test set neither is trained on. arch, width, image_size: the
    network. seeds: seeds per training set; untrained_seeds: untrained networks. epochs, lr,
    schedule, batch_size, train_subset: SGD. test_subset: examples per test set.
    """

    dataset_a: str = "digits"
    classes_a: tuple[int, ...] | None = (0, 1, 2, 3, 4)
    dataset_b: str = "digits"
    classes_b: tuple[int, ...] | None = (5, 6, 7, 8, 9)
    dataset_c: str = "photo-patches"
    data_root: str | None = None
    arch: str = "cnn"
    width: float = 1.0
    image_size: int | None = 16
    seeds: tuple[int, ...] = (0, 1, 2)
    untrained_seeds: tuple[int, ...] = (100, 101)
    epochs: int = 8
    lr: float = 0.05
    schedule: str = "cosine"
    batch_size: int = 64
    train_subset: int | None = None
    test_subset: int | None = 180
    layer: str = "features"


PROFILES = {
    # Digits 0–4 (A) vs digits 5–9 (B), tested also on patches of natural photographs (C).
    "quick": Settings(),
    # CIFAR-10 (for CIFAR-100), Tiny-ImageNet at 32×32 (for ImageNet32), Cats vs Dogs at 32×32
    # (for Pascal VOC); ResNet18 at 1/4 width.
    "standard": Settings(
        dataset_a="cifar10", classes_a=None, dataset_b="tiny-imagenet", classes_b=None,
        dataset_c="cats-vs-dogs", arch="resnet18", width=0.125, image_size=32, seeds=(0, 1, 2),
        untrained_seeds=(100, 101, 102), epochs=15, lr=0.05, batch_size=128,
        train_subset=5_000, test_subset=400,
    ),
    "paper": Settings(
        dataset_a="cifar100", classes_a=None, dataset_b="imagenet32", classes_b=None,
        dataset_c="voc", arch="resnet18", width=1.0, image_size=32, seeds=(0, 1, 2),
        untrained_seeds=(100, 101, 102), epochs=100, lr=0.1, schedule="step", batch_size=128,
        train_subset=None, test_subset=5_800,
    ),
}


def _sets(settings: Settings) -> dict[str, tuple[str, tuple[int, ...] | None]]:
    """The three test sets by role: A, B, C -> (dataset, classes)."""
    return {"A": (settings.dataset_a, settings.classes_a),
            "B": (settings.dataset_b, settings.classes_b),
            "C": (settings.dataset_c, None)}


def _train_config(settings: Settings, role: str, seed: int) -> Any:
    from simfunc.train.supervised import TrainConfig

    dataset, classes = _sets(settings)["B" if role == "B" else "A"]
    return TrainConfig(
        arch=settings.arch, dataset=dataset, data_root=settings.data_root, classes=classes,
        width=settings.width, image_size=settings.image_size, in_channels=3,
        train_subset=settings.train_subset, seed=seed,
        epochs=0 if role == "untrained" else settings.epochs, lr=settings.lr,
        schedule=settings.schedule, batch_size=settings.batch_size,
    )


def models(settings: Settings) -> list[tuple[str, str, int]]:
    """(model id, role, seed) for every network, in display order: A, B, untrained."""
    out = [(f"A-s{s}", "A", s) for s in settings.seeds]
    out += [(f"B-s{s}", "B", s) for s in settings.seeds]
    out += [(f"untrained-s{s}", "untrained", s) for s in settings.untrained_seeds]
    return out


def plan(settings: Settings) -> Plan:
    jobs = []
    extracts: dict[str, list[str]] = {role: [] for role in "ABC"}
    ids = [model for model, _, _ in models(settings)]
    for model, role, seed in models(settings):
        train_id = f"train/{NAME}-{model}"
        dataset = _sets(settings)["B" if role == "B" else "A"][0]
        jobs.append(train_job(train_id, _train_config(settings, role, seed), [ModelRecord(
            model, trained=role != "untrained",
            dataset=dataset if role != "untrained" else "untrained", extra={"role": role})]))
        for test_role, (dataset, classes) in _sets(settings).items():
            extract_id = f"extract/{NAME}-{model}-on-{test_role}"
            jobs.append(extract_job(extract_id, train_id, ImageSet(
                dataset, "test", data_root=settings.data_root, subset=settings.test_subset,
                classes=classes), layers=(settings.layer,)))
            extracts[test_role].append(extract_id)
    for test_role, inputs in extracts.items():
        jobs.append(compare_job(f"compare/{NAME}-on-{test_role}", inputs, ids,
                                all_pairs(len(ids)), test_set=test_role, layer=settings.layer,
                                # outputs of models trained on different label sets do not
                                # correspond class by class: compare representations only
                                output_measures=()))
    return Plan(jobs)


# --------------------------------------------------------------------------------- analysis


def _matrix(pairs: pd.DataFrame, names: list[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(names)}
    matrix = np.eye(len(names))
    for row in pairs.itertuples():
        i, j = index[row.model_a], index[row.model_b]
        matrix[i, j] = matrix[j, i] = row.value
    return matrix


def _group_means(matrix: np.ndarray, roles: list[str]) -> dict[str, float | None]:
    roles_array = np.array(roles)
    upper = np.triu(np.ones_like(matrix, dtype=bool), k=1)

    def mean(mask: np.ndarray) -> float | None:
        values = matrix[mask & upper]
        return float(values.mean()) if values.size else None

    a, b, u = (roles_array == r for r in ("A", "B", "untrained"))
    same = np.outer(a, a) | np.outer(b, b)
    across = np.outer(a, b) | np.outer(b, a)
    return {
        "within_A": mean(np.outer(a, a)),
        "within_B": mean(np.outer(b, b)),
        "within_training_set": mean(same),
        "across_training_sets": mean(across),
        "within_untrained": mean(np.outer(u, u)),
        "trained_vs_untrained": mean(np.outer(a | b, u) | np.outer(u, a | b)),
    }


def analyse(db: Any, settings: Settings, figures_dir: Path) -> tuple[dict[str, Any], Section]:
    listed = models(settings)
    names = [model for model, _, _ in listed]
    roles = [role for _, role, _ in listed]
    sets = _sets(settings)
    summary: dict[str, Any] = {"models": names, "test_sets": {}}
    fig, axes = figures.new_figure(1, 3, panel_size=(5.0, 4.4))
    rows = []
    for column, role in enumerate("ABC"):
        pairs = db.pairs(measure="linear_cka", test_set=role, layer=settings.layer)
        matrix = _matrix(pairs, names)
        means = _group_means(matrix, roles)
        summary["test_sets"][role] = {"dataset": sets[role][0], **means}
        dataset, classes = sets[role]
        label = dataset + (f" {classes[0]}–{classes[-1]}" if classes else "")
        figures.heatmap(axes[0, column], matrix, names, names,
                        title=f"test set {role}: {label}", colorbar_label="linear CKA")
        rows.append({"test set": f"{role} ({label})", **{k: v for k, v in means.items()}})
    fig.suptitle("Linear CKA of penultimate features for every pair of networks "
                 "(A-s*: trained on A, B-s*: trained on B)")
    heatmaps = figures.save_figure(fig, figures_dir / "cka_heatmaps.png")

    holds = [
        t["within_training_set"] is not None and t["across_training_sets"] is not None
        and t["within_training_set"] > t["across_training_sets"]
        for t in summary["test_sets"].values()
    ]
    summary["same_training_set_more_similar_on_every_test_set"] = bool(all(holds))
    findings = [
        "Thesis: models trained on the same set stay more similar to each other than to models "
        "trained on the other set, on every test set. This run: "
        + ("holds on all three test sets." if all(holds) else
           f"holds on {sum(holds)} of 3 test sets."),
    ]
    for role, values in summary["test_sets"].items():
        if values["within_training_set"] is not None and values["across_training_sets"] is not None:
            findings.append(
                f"Test set {role}: mean CKA within a training set {values['within_training_set']:.3f}, "
                f"across training sets {values['across_training_sets']:.3f}"
                + (f", among untrained networks {values['within_untrained']:.3f}"
                   if values["within_untrained"] is not None else "") + "."
            )
    section = Section(
        id=slug(NAME), title=TITLE,
        summary=(
            "One heatmap per test set: linear CKA of the penultimate features for every pair of "
            "networks. Networks trained on A come first, then those trained on B, then "
            "untrained ones; blocks along the diagonal are pairs with the same training set."
        ),
        figures=[FigureRef(heatmaps, "Pairwise linear CKA on the test sets of A, B and the third "
                           "set C; annotated values are CKA.")],
        tables=[Table("Mean CKA by kind of pair, per test set", pd.DataFrame(rows))],
        findings=findings,
        stand_ins=stand_ins({"CIFAR-100 (A)": sets["A"], "ImageNet32 (B)": sets["B"],
                             "Pascal VOC (C)": sets["C"]}),
        settings=settings_dict(settings),
    )
    return summary, section
