"""Thesis §3.2 — do networks trained on the same data stay similar on every test set?

Networks of one architecture trained from several seeds on data set A, several on B, and a few
untrained ones. Linear CKA (and every other registered measure) for every pair of networks, on
each of three test sets: A's, B's and a third set C that neither saw. The thesis compares the
last convolutional map, flattened (``last_conv``); that is the headline layer here. The pooled
penultimate features (``features``) are compared too and shown beside it, so a reader sees how
much the choice of layer moves the finding.

The thesis (ResNet; CIFAR-100, ImageNet32, Pascal VOC) found that networks trained on the same
set are more similar to each other than to networks trained on the other set — on every test
set, including the one neither was trained on. Here that is the contrast "mean CKA of pairs
within a training set minus across training sets" on each test set, with networks (not pairs)
as the units: a Mantel test of CKA against the 0/1 "same training set" matrix and a network
bootstrap interval (:func:`simfunc.stats.network_group_contrast`).

Untrained networks follow the image studies' one rule (:mod:`simfunc.studies.classifier_jobs`):
the untrained network of seed ``s`` is the initial weights of the run of seed ``s`` (on A), no
seed offset; their seeds (``untrained_seeds``) are disjoint from the trained ones', so they are
unrelated to the trained networks. The study's jobs are the shared image-classifier jobs; its
report's words are in :mod:`simfunc.studies.cross_dataset.prose`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simfunc import figures, stats
from simfunc.errors import InputError
from simfunc.report import FigureRef, Table
from simfunc.runner import Plan
from simfunc.store import ResultsDB
from simfunc.studies.base import AnalysisContext, Selection, Study, StudyOutput
from simfunc.studies.classifier_jobs import (
    ClassifierTraining,
    ImageSet,
    ModelRecord,
    check_layers,
    compare_job,
    extract_job,
    train_job,
)
from simfunc.studies.common import all_pairs
from simfunc.studies.cross_dataset import prose
from simfunc.studies.cross_dataset.result import (
    CrossDatasetResult,
    GroupMeans,
    LayerResult,
    TestSetResult,
    TrainingSetContrast,
)
from simfunc.studies.training_sets import network_config

__all__ = [
    "PROFILES",
    "STUDY",
    "CrossDataset",
    "CrossDatasetResult",
    "Settings",
    "group_means",
    "models",
]

ROLES = ("A", "B", "C")  # the test sets: A's, B's and the third set C


@dataclass(frozen=True)
class Settings:
    """Settings of the cross-dataset study (every one can be overridden).

    dataset_a / dataset_b: the two training sets (with optional class selections classes_a /
    classes_b), dataset_c: a third test set neither is trained on. arch, width, image_size: the
    network (3 input channels, so that every test set fits it). seeds: seeds per training
    set; untrained_seeds: the untrained networks' seeds (disjoint from ``seeds``). training:
    how each network is trained (``training.epochs``…). test_subset: examples per test set.
    layers: the compared representations, the first the headline (the thesis's ``last_conv``).
    measures: the representational measures compared (None: every registered one; the
    finding needs only ``linear_cka``). n_permutations / n_resamples: the Mantel test's relabellings and the bootstrap's resamples.
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
    training: ClassifierTraining = ClassifierTraining(epochs=8, lr=0.05, schedule="cosine",
                                                      batch_size=64,
                                                      channels_last=True)
    test_subset: int | None = 180
    layers: tuple[str, ...] = ("last_conv", "features")
    measures: tuple[str, ...] | None = None
    n_permutations: int = 10_000
    n_resamples: int = 10_000


PROFILES = {
    # Digits 0–4 (A) vs digits 5–9 (B), tested also on patches of natural photographs (C).
    "quick": Settings(),
    # CIFAR-10 (for CIFAR-100), Tiny-ImageNet at 32×32 (for ImageNet32), Cats vs Dogs at 32×32
    # (for Pascal VOC); ResNet-18 at 1/8 width.
    "standard": Settings(
        dataset_a="cifar10", classes_a=None, dataset_b="tiny-imagenet", classes_b=None,
        dataset_c="cats-vs-dogs", arch="resnet18", width=0.125, image_size=32, seeds=(0, 1, 2),
        untrained_seeds=(100, 101, 102),
        training=ClassifierTraining(epochs=15, lr=0.05, batch_size=128, train_subset=5_000),
        test_subset=400,
    ),
    "paper": Settings(
        dataset_a="cifar100", classes_a=None, dataset_b="imagenet32", classes_b=None,
        dataset_c="voc", arch="resnet18", width=1.0, image_size=32, seeds=(0, 1, 2),
        untrained_seeds=(100, 101, 102),
        training=ClassifierTraining(epochs=100, lr=0.1, schedule="step", batch_size=128),
        test_subset=5_800,
    ),
}


def _sets(settings: Settings) -> dict[str, tuple[str, tuple[int, ...] | None]]:
    """The three test sets by role: A, B, C -> (dataset, classes)."""
    return {"A": (settings.dataset_a, settings.classes_a),
            "B": (settings.dataset_b, settings.classes_b),
            "C": (settings.dataset_c, None)}


def models(settings: Settings) -> list[tuple[str, str, int]]:
    """(model id, role, seed) for every network, in display order: A, B, untrained."""
    out = [(f"A-s{s}", "A", s) for s in settings.seeds]
    out += [(f"B-s{s}", "B", s) for s in settings.seeds]
    out += [(f"untrained-s{s}", "untrained", s) for s in settings.untrained_seeds]
    return out


class CrossDataset(Study[Settings]):
    NAME = "cross-dataset"
    TITLE = "Models across training and test sets (thesis §3.2)"
    SECTION = "3.2"
    PROFILES = PROFILES
    RESULT = CrossDatasetResult
    # It records no output measures (the two training sets' classes do not correspond), so
    # the leaderboard finds nothing here and says so.
    LEADERBOARD = Selection()

    def plan(self, settings: Settings) -> Plan:
        if not settings.layers:
            raise InputError("layers must name at least one layer (the first is the headline)")
        check_layers(settings.layers, (settings.arch,), width=settings.width, setting="layers")
        if settings.measures is not None and "linear_cka" not in settings.measures:
            raise InputError("measures must include linear_cka: the study's finding is read "
                             "from it")
        jobs = []
        extracts: dict[str, list[str]] = {role: [] for role in ROLES}
        ids = [model for model, _, _ in models(settings)]
        for model, role, seed in models(settings):
            train_id = f"train/{self.NAME}-{model}"
            dataset = _sets(settings)["B" if role == "B" else "A"][0]
            jobs.append(train_job(train_id, network_config(settings, role, seed), [ModelRecord(
                model, trained=role != "untrained",
                dataset=dataset if role != "untrained" else "untrained", extra={"role": role})]))
            for test_role, (dataset, classes) in _sets(settings).items():
                extract_id = f"extract/{self.NAME}-{model}-on-{test_role}"
                jobs.append(extract_job(extract_id, train_id, ImageSet(
                    dataset, "test", data_root=settings.data_root, subset=settings.test_subset,
                    classes=classes), layers=settings.layers))
                extracts[test_role].append(extract_id)
        for test_role, inputs in extracts.items():
            for layer in settings.layers:
                # outputs of models trained on different label sets do not correspond class
                # by class: compare representations only
                jobs.append(compare_job(f"compare/{self.NAME}-{layer}-on-{test_role}", inputs,
                                        ids, all_pairs(len(ids)), test_set=test_role,
                                        layer=layer, measures=settings.measures,
                                        output_measures=()))
        return Plan(jobs)

    def analyse(self, results: ResultsDB, context: AnalysisContext[Settings]) -> StudyOutput:
        settings = context.settings
        listed = models(settings)
        names = [model for model, _, _ in listed]
        roles = {model: role for model, role, _ in listed}
        sets = _sets(settings)
        by_layer: dict[str, LayerResult] = {}
        figure_refs, rows = [], []
        for rank, layer in enumerate(settings.layers):
            pairs = results.pairs(measure="linear_cka", layer=layer)
            per_test_set: dict[str, TestSetResult] = {}
            fig, axes = figures.new_figure(1, len(ROLES), panel_size=(5.0, 4.4))
            for column, role in enumerate(ROLES):
                on_role = pairs[pairs["test_set"] == role]
                matrix = _matrix(on_role, names)
                means = group_means(matrix, [roles[name] for name in names])
                contrast = _contrast(on_role, roles, settings)
                per_test_set[role] = TestSetResult(sets[role][0], means, contrast)
                label = prose.set_label(*sets[role])
                figures.heatmap(axes[0, column], matrix, names, names,
                                title=f"test set {role}: {label}", colorbar_label="linear CKA")
                rows.append(prose.table_row(layer, f"{role} ({label})", means, contrast))
            fig.suptitle(prose.heatmap_title(layer))
            stem = "cka_heatmaps" if rank == 0 else f"cka_heatmaps_{layer}"
            path = figures.save_figure(fig, context.figures_dir / f"{stem}.png")
            figure_refs.append(FigureRef(path, prose.heatmap_caption(layer, rank == 0)))
            by_layer[layer] = LayerResult(per_test_set,
                                          _contrast(pairs, roles, settings, blocks=True))
        headline = by_layer[settings.layers[0]]
        result = CrossDatasetResult(
            models=tuple(names), layer=settings.layers[0], test_sets=headline.test_sets,
            pooled=headline.pooled, by_layer=by_layer,
            same_training_set_more_similar_on_every_test_set=_holds_everywhere(headline))
        section = prose.section(self.NAME, self.TITLE, result, settings, sets, figure_refs,
                                [Table(prose.MEANS_TABLE, pd.DataFrame(rows))])
        return StudyOutput(result, section)


def _matrix(pairs: pd.DataFrame, names: list[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(names)}
    matrix = np.eye(len(names))
    for row in pairs.itertuples():
        i, j = index[row.model_a], index[row.model_b]
        matrix[i, j] = matrix[j, i] = row.value
    return matrix


def group_means(matrix: np.ndarray, roles: list[str]) -> GroupMeans:
    """Mean CKA of each kind of pair in a symmetric matrix over networks of ``roles``."""
    roles_array = np.array(roles)
    upper = np.triu(np.ones_like(matrix, dtype=bool), k=1)

    def mean(mask: np.ndarray) -> float | None:
        values = matrix[mask & upper]
        return float(values.mean()) if values.size else None

    a, b, u = (roles_array == r for r in ("A", "B", "untrained"))
    same = np.outer(a, a) | np.outer(b, b)
    across = np.outer(a, b) | np.outer(b, a)
    return GroupMeans(
        within_A=mean(np.outer(a, a)),
        within_B=mean(np.outer(b, b)),
        within_training_set=mean(same),
        across_training_sets=mean(across),
        within_untrained=mean(np.outer(u, u)),
        trained_vs_untrained=mean(np.outer(a | b, u) | np.outer(u, a | b)),
    )


def _contrast(pairs: pd.DataFrame, roles: dict[str, str], settings: Settings,
              blocks: bool = False) -> TrainingSetContrast:
    """Within minus across training sets over the trained networks' pairs (one-sided: the
    thesis expects within above across), or why it is undefined."""
    trained = pairs[pairs["model_a"].map(roles).isin(["A", "B"])
                    & pairs["model_b"].map(roles).isin(["A", "B"])]
    try:
        contrast = stats.network_group_contrast(
            trained["value"], trained["model_a"], trained["model_b"],
            {name: role for name, role in roles.items() if role in ("A", "B")},
            blocks=trained["test_set"] if blocks else None, alternative="greater",
            n_permutations=settings.n_permutations, n_resamples=settings.n_resamples, seed=0)
    except InputError as error:
        return TrainingSetContrast(undefined=str(error))
    return TrainingSetContrast.of(contrast)


def _holds_everywhere(headline: LayerResult) -> bool:
    differences = [values.contrast.difference for values in headline.test_sets.values()]
    return all(d is not None and d > 0 for d in differences)


STUDY = CrossDataset()
