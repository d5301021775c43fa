"""Thesis §3.1 — is a representation a property of the network or of the data it is shown?

One architecture trained on data set A (two seeds) and on data set B (two seeds), plus two
untrained networks: six networks. Each is shown the test images of A, B and a third set C, and
its last-convolution features (the ``last_conv`` map, flattened) are taken: 18 representation
sets (test set × network). A linear SVM (one-vs-rest) learns to tell the 18 sets apart from
the features of held-out examples. If representations were dominated by the input data, the
SVM would confuse networks shown the same test set; if by the network, it would confuse the
same network shown different test sets.

The thesis (ResNet-110; CIFAR-100 / ImageNet32 / VOC, 5,800 images each, last-convolution
features of 64×8×8 = 4,096 dimensions, standardised) found the SVM confused about the test
set, never about the model, and t-SNE clusters that follow the model. The ``paper`` profile
runs that network; ``quick`` (a small CNN: 128×4×4 = 2,048-d on 16×16 digits) and
``standard`` (ResNet-18 at 1/8 width: 64×4×4 = 1,024-d) use smaller ones on CPU.

The two untrained networks follow the image studies' one rule (see
:mod:`simfunc.studies.classifier_jobs`): the untrained network of seed ``s`` is the initial
weights of the training run of seed ``s``, with no seed offset. The thesis's design wants
two untrained networks *unrelated* to the four trained ones, so they have seeds of their own
(``untrained_seeds``, disjoint from ``seeds``), not the trained networks' twins.

The SVM job is in :mod:`simfunc.studies.dataset_bias.jobs`; the report's words in
:mod:`simfunc.studies.dataset_bias.prose`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simfunc import figures, stats
from simfunc.errors import InputError
from simfunc.report import FigureRef, Table
from simfunc.runner import Job, Plan
from simfunc.store import ResultsDB
from simfunc.studies.base import AnalysisContext, Selection, Study, StudyOutput
from simfunc.studies.classifier_jobs import (
    ClassifierTraining,
    ImageSet,
    ModelRecord,
    check_layers,
    extract_job,
    train_job,
)
from simfunc.studies.dataset_bias import prose
from simfunc.studies.dataset_bias.jobs import confusion_shares, error_kinds
from simfunc.studies.dataset_bias.result import Confusions, DatasetBiasResult
from simfunc.studies.training_sets import network_config

__all__ = ["Settings", "PROFILES", "DatasetBias", "STUDY", "networks", "image_sets",
           "DatasetBiasResult"]


@dataclass(frozen=True)
class Settings:
    """Settings of the dataset-bias study (every one can be overridden).

    dataset_a / dataset_b (with classes_a / classes_b) train the networks; dataset_c is a third
    test set. name_a / name_b / name_c are the short names in labels such as ``a_b_s1`` (test
    set _ training set _ seed). arch, width, image_size: the network (3 input channels, so that
    every test set fits it). seeds: seeds per training set; untrained_seeds: the untrained
    networks' seeds (disjoint from ``seeds``: a seed in both gives the initial weights of the
    network trained on A). training: how each network is trained (``training.epochs``…).
    layer: the features (``last_conv``: the last convolutional block, flattened).
    test_subset: examples per test set; holdout: the fraction of them the SVM is tested on.
    svm_c: the SVM's regularisation. tsne_points: examples per network in each t-SNE plot.
    seed: the held-out rows, the t-SNE. n_resamples: bootstrap resamples of the intervals.
    """

    dataset_a: str = "digits"
    classes_a: tuple[int, ...] | None = (0, 1, 2, 3, 4)
    name_a: str = "lo"
    dataset_b: str = "digits"
    classes_b: tuple[int, ...] | None = (5, 6, 7, 8, 9)
    name_b: str = "hi"
    dataset_c: str = "photo-patches"
    name_c: str = "photo"
    data_root: str | None = None
    arch: str = "cnn"
    width: float = 1.0
    image_size: int | None = 16
    seeds: tuple[int, ...] = (1, 2)
    untrained_seeds: tuple[int, ...] = (3, 4)
    training: ClassifierTraining = ClassifierTraining(epochs=8, lr=0.05, schedule="cosine",
                                                      batch_size=64,
                                                      channels_last=True)
    test_subset: int | None = 180
    layer: str = "last_conv"
    holdout: float = 0.5
    svm_c: float = 0.1
    tsne_points: int = 120
    seed: int = 0
    n_resamples: int = 10_000


PROFILES = {
    # Digits 0–4 and 5–9 as the two training sets, natural-photo patches as the third test set;
    # a small CNN (last_conv 128×4×4 = 2,048-d).
    "quick": Settings(),
    # CIFAR-10 / Tiny-ImageNet@32 / Cats-vs-Dogs@32 standing in for CIFAR-100 / ImageNet32 /
    # VOC; ResNet-18 at 1/8 width (last_conv 64×4×4 = 1,024-d) in place of ResNet-110.
    "standard": Settings(
        dataset_a="cifar10", classes_a=None, name_a="cifar", dataset_b="tiny-imagenet",
        classes_b=None, name_b="imagenet", dataset_c="cats-vs-dogs", name_c="catsdogs",
        arch="resnet18", width=0.125, image_size=32,
        training=ClassifierTraining(epochs=15, lr=0.05, batch_size=128, train_subset=5_000),
        test_subset=400, tsne_points=150,
    ),
    # The thesis: ResNet-110 (last_conv 64×8×8 = 4,096-d) on CIFAR-100 / ImageNet32 / VOC.
    "paper": Settings(
        dataset_a="cifar100", classes_a=None, name_a="cifar", dataset_b="imagenet32",
        classes_b=None, name_b="imagenet", dataset_c="voc", name_c="voc", arch="resnet110",
        width=1.0, image_size=32,
        training=ClassifierTraining(epochs=100, lr=0.1, schedule="step", batch_size=128),
        test_subset=5_800, tsne_points=500,
    ),
}


def networks(settings: Settings) -> list[tuple[str, str, int]]:
    """(network name, training role A/B/untrained, seed) for the six networks."""
    out = [(f"{settings.name_a}_s{s}", "A", s) for s in settings.seeds]
    out += [(f"{settings.name_b}_s{s}", "B", s) for s in settings.seeds]
    out += [(f"untrained_s{s}", "untrained", s) for s in settings.untrained_seeds]
    return out


def image_sets(settings: Settings) -> list[tuple[str, str, tuple[int, ...] | None]]:
    """(short name, dataset, classes) of the three test sets: A's, B's and C."""
    return [(settings.name_a, settings.dataset_a, settings.classes_a),
            (settings.name_b, settings.dataset_b, settings.classes_b),
            (settings.name_c, settings.dataset_c, None)]


class DatasetBias(Study[Settings]):
    NAME = "dataset-bias"
    TITLE = "Dataset bias of representations (thesis §3.1)"
    SECTION = "3.1"
    PROFILES = PROFILES
    RESULT = DatasetBiasResult
    # It compares no pairs (a classifier reads the features), so the leaderboard finds
    # nothing here and says so.
    LEADERBOARD = Selection()

    def plan(self, settings: Settings) -> Plan:
        if not 0 < settings.holdout < 1:
            raise InputError(f"holdout must lie strictly between 0 and 1, got {settings.holdout}")
        check_layers((settings.layer,), (settings.arch,), width=settings.width)
        jobs: list[Job] = []
        extract_ids, labels = [], []
        for network, role, seed in networks(settings):
            train_id = f"train/{self.NAME}-{network}"
            jobs.append(train_job(train_id, network_config(settings, role, seed), [ModelRecord(
                network, trained=role != "untrained", extra={"role": role})]))
            for test_name, dataset, classes in image_sets(settings):
                extract_id = f"extract/{self.NAME}-{network}-on-{test_name}"
                jobs.append(extract_job(extract_id, train_id, ImageSet(
                    dataset, "test", data_root=settings.data_root, subset=settings.test_subset,
                    classes=classes), layers=(settings.layer,)))
                extract_ids.append(extract_id)
                labels.append({"label": f"{test_name}_{network}", "test_set": test_name,
                               "network": network})
        jobs.append(Job(
            f"svm/{self.NAME}", "simfunc.studies.dataset_bias.jobs:classify_representations",
            {"layer": settings.layer, "holdout": settings.holdout, "svm_c": settings.svm_c,
             "tsne_points": settings.tsne_points, "seed": settings.seed,
             "groups": [[i for i, item in enumerate(labels) if item["test_set"] == name]
                        for name, _, _ in image_sets(settings)]},
            deps=tuple(extract_ids), record="simfunc.studies.dataset_bias.jobs:record_svm",
            meta={"study": self.NAME, "sets": labels},
            label=f"SVM and t-SNE over the {len(labels)} representation sets",
        ))
        return Plan(jobs)

    def analyse(self, results: ResultsDB, context: AnalysisContext[Settings]) -> StudyOutput:
        settings = context.settings
        scalars = results.scalars(study=self.NAME).set_index("name")

        def extra(name: str) -> dict[str, Any]:
            value = scalars.loc[name, "extra"]
            return json.loads(value) if isinstance(value, str) else value

        svm = extra("svm_accuracy")
        kinds = error_kinds(svm["predicted"], svm["test_sets"], svm["networks"])
        result = _result(svm, kinds, settings)
        confusion_path = _confusion_figure(svm, context.figures_dir / "svm_confusion.png")
        tsne_path = _tsne_figure(settings, extra, context.figures_dir / "tsne.png")
        shares = result.confusions
        section = prose.section(self.NAME, self.TITLE, result, settings, figures=[
            FigureRef(confusion_path, prose.CONFUSION_CAPTION),
            FigureRef(tsne_path, prose.TSNE_CAPTION),
        ], tables=[Table(prose.ERRORS_TABLE, pd.DataFrame([{
            prose.KIND_NAMES[kind]: getattr(shares, kind) for kind in (
                "same_network", "same_test_set", "neither")}]))])
        return StudyOutput(result, section)


def _interval(numerators: np.ndarray, denominators: np.ndarray, settings: Settings
              ) -> tuple[float, float] | None:
    """The bootstrap interval over held-out rows, or None when there is no ratio to bound."""
    try:
        low, high = stats.ratio_bootstrap_ci(numerators, denominators,
                                             n_resamples=settings.n_resamples,
                                             seed=settings.seed)
    except InputError:
        return None
    return float(low), float(high)


def _result(svm: dict[str, Any], kinds: dict[str, np.ndarray], settings: Settings
            ) -> DatasetBiasResult:
    """The headline numbers, each share with its interval from resampling held-out rows."""
    n_sets = len(svm["labels"])
    per_row = np.full(len(kinds["errors"]), float(n_sets))
    other_network = kinds["same_test_set"] + kinds["neither"]
    shares = confusion_shares(kinds)
    return DatasetBiasResult(
        svm_accuracy=float(1 - kinds["errors"].sum() / per_row.sum()),
        svm_accuracy_ci=_interval(n_sets - kinds["errors"], per_row, settings),
        chance=1 / n_sets,
        confusions=Confusions(**{kind: float(shares[kind]) for kind in (
            "same_network", "same_test_set", "neither")}),
        same_network_share_ci=_interval(kinds["same_network"], kinds["errors"], settings),
        n_errors=int(shares["errors"]),
        other_network_rate=float(other_network.sum() / per_row.sum()),
        other_network_rate_ci=_interval(other_network, per_row, settings),
        representation_sets=tuple(svm["labels"]),
        features=int(svm["features"]),
        n_test_per_set=int(svm["n_test_per_set"]),
    )


def _confusion_figure(svm: dict[str, Any], path: Any) -> Any:
    counts = np.asarray(svm["counts"], dtype=float)
    confusion = counts / counts.sum(axis=1, keepdims=True)
    labels = svm["labels"]
    fig, axes = figures.new_figure(1, 1, panel_size=(9.0, 8.0))
    figures.heatmap(axes[0, 0], confusion, labels, labels, annotate=True, fmt="{:.2f}",
                    title=prose.CONFUSION_TITLE, colorbar_label="fraction of the row")
    axes[0, 0].set_xlabel("predicted representation set (test set _ network)")
    axes[0, 0].set_ylabel("true representation set (test set _ network)")
    return figures.save_figure(fig, path)


def _tsne_figure(settings: Settings, extra: Any, path: Any) -> Any:
    nets = [name for name, _, _ in networks(settings)]
    colours = dict(zip(nets, figures.series_colors(len(nets))))
    names = [name for name, _, _ in image_sets(settings)]
    fig, axes = figures.new_figure(1, len(names), panel_size=(4.6, 4.2))
    for column, test_name in enumerate(names):
        tsne = extra(f"tsne_{test_name}")
        per_set = len(tsne["x"]) // len(tsne["networks"])
        ax = axes[0, column]
        for k, network in enumerate(tsne["networks"]):
            rows = slice(k * per_set, (k + 1) * per_set)
            ax.scatter(tsne["x"][rows], tsne["y"][rows], s=8, alpha=0.75,
                       color=colours[network], label=network)
        ax.set_title(f"t-SNE, test set {test_name}")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, -1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=2)
    return figures.save_figure(fig, path)


STUDY = DatasetBias()
