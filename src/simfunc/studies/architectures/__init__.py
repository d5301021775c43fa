"""Thesis §3.3 — across architectures, does CKA of the representations predict the outputs?

Several architectures, each trained from a few seeds on one data set, plus their untrained
twins (each network's own initial weights: the image studies' rule for untrained networks, see
:mod:`simfunc.studies.classifier_jobs`). For every unordered pair of distinct trained networks:
linear CKA (and every other registered representational measure) of the penultimate features,
and the Jensen–Shannon divergence and the Spearman rank coefficient (and every other output
measure) of their outputs on the test set. The untrained pairs form a second series.

The thesis (CIFAR-100, VGG11/13/16, ResNet18/34, MobileNet, MobileNetV2) found Spearman's rho
between CKA and JSD of −0.75 and between CKA and the rank coefficient of 0.703 (Table 3.1):
more similar representations go with more similar outputs — but many pairs break the trend,
and untrained pairs have JSD ≈ 0 at any CKA (their outputs are all near-uniform).

The study's jobs are the shared image-classifier jobs; its report's words are in
:mod:`simfunc.studies.architectures.prose`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from simfunc import figures
from simfunc.report import FigureRef, Table
from simfunc.runner import Plan
from simfunc.store import ResultsDB
from simfunc.studies.architectures import prose
from simfunc.studies.architectures.result import ArchitecturesResult, UntrainedPairs
from simfunc.studies.base import AnalysisContext, Headline, Selection, Study, StudyOutput
from simfunc.studies.classifier_jobs import (
    ClassifierTraining,
    ImageSet,
    check_layers,
    ModelRecord,
    compare_job,
    extract_job,
    train_job,
    untrained_twin,
    with_untrained,
)
from simfunc.studies.common import all_pairs, pair_frame, relate_headline

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Settings", "PROFILES", "Architectures", "STUDY", "model_id", "OUTPUTS",
           "ArchitecturesResult"]

# The two relations the thesis reports: output measure -> (expected sign, result field).
OUTPUTS = {"jsd": (-1, "spearman_cka_vs_jsd"), "spearman": (1, "spearman_cka_vs_rank")}


@dataclass(frozen=True)
class Settings:
    """Settings of the architectures study (every one can be overridden).

    dataset / data_root / classes: the training and test set. image_size, width: network input
    size and channel multiplier. archs × seeds: the trained networks; ``untrained`` adds each
    one's untrained twin as a second series. training: how each network is trained
    (``training.epochs``, ``training.lr``…). test_subset: a stratified subset of the test
    split (None: all of it). layer: the compared representation. n_permutations /
    n_resamples: permutation test and bootstrap sizes.
    """

    dataset: str = "digits"
    data_root: str | None = None
    classes: tuple[int, ...] | None = None
    image_size: int | None = 16
    archs: tuple[str, ...] = ("mlp", "cnn", "vgg11", "resnet18", "mobilenetv2")
    width: float = 0.125
    seeds: tuple[int, ...] = (0, 1)
    untrained: bool = True
    training: ClassifierTraining = ClassifierTraining(epochs=6, lr=0.05, schedule="cosine",
                                                      batch_size=64,
                                                      channels_last=True)
    test_subset: int | None = None
    layer: str = "features"
    n_permutations: int = 10_000
    n_resamples: int = 10_000


THESIS_ARCHS = prose.THESIS_ARCHS

PROFILES = {
    # Digits upsampled to 16×16 (the smallest input the CIFAR-style VGG accepts), five
    # architectures at 1/8 width, two seeds: ten trained networks, 45 + 45 pairs, about a minute.
    "quick": Settings(),
    # Real images: CIFAR-10 in place of CIFAR-100, all seven thesis architectures at 1/8 width,
    # two seeds. The recipe is the best point of the accuracy/CPU-time trade-off measured in
    # BENCHMARKS.md ("Stronger networks for the standard profile"): a 20,000-image training
    # subset for 5 epochs on a one-cycle schedule (peak lr 0.1, 25% warm-up) with Nesterov
    # momentum and channels-last: median test accuracy 63% (the old 10 epochs on 5,000 images
    # with cosine lr 0.05 gave 43%) for 1.5x its CPU time, about 50 CPU-minutes of training.
    "standard": Settings(
        dataset="cifar10", image_size=32, archs=THESIS_ARCHS, width=0.125, seeds=(0, 1),
        training=ClassifierTraining(epochs=5, lr=0.1, schedule="onecycle", batch_size=128,
                                    train_subset=20_000, warmup=0.25, nesterov=True,
                                    channels_last=True),
        test_subset=1_000,
    ),
    # The thesis: CIFAR-100, full-width networks, 100 epochs (for GPUs).
    "paper": Settings(
        dataset="cifar100", image_size=32, archs=THESIS_ARCHS, width=1.0, seeds=(0, 1),
        training=ClassifierTraining(epochs=100, lr=0.1, schedule="step", batch_size=128),
    ),
}


def model_id(arch: str, seed: int) -> str:
    """The study's name of the trained network: ``vgg11-s0`` (its twin: ``vgg11-s0-untrained``)."""
    return f"{arch}-s{seed}"


class Architectures(Study[Settings]):
    NAME = "architectures"
    TITLE = "Architectures (thesis §3.3)"
    SECTION = "3.3"
    PROFILES = PROFILES
    RESULT = ArchitecturesResult
    # Untrained pairs have JSD ≈ 0 at any CKA: a separate series, not the relation the
    # leaderboard ranks measures by.
    LEADERBOARD = Selection(trained_only=True)

    def plan(self, settings: Settings) -> Plan:
        check_layers((settings.layer,), settings.archs, width=settings.width)
        test = ImageSet(settings.dataset, "test", data_root=settings.data_root,
                        subset=settings.test_subset, classes=settings.classes)
        jobs = []
        series: dict[bool, tuple[list[str], list[str]]] = {True: ([], []), False: ([], [])}
        for arch in settings.archs:
            for seed in settings.seeds:
                trained = model_id(arch, seed)
                train_id = f"train/{self.NAME}-{trained}"
                config = settings.training.config(
                    arch=arch, dataset=settings.dataset, seed=seed, width=settings.width,
                    image_size=settings.image_size, data_root=settings.data_root,
                    classes=settings.classes, test_subset=settings.test_subset)
                models = [ModelRecord(trained)]
                if settings.untrained:
                    config = with_untrained(config)
                    models.append(untrained_twin(trained))
                jobs.append(train_job(train_id, config, models))
                for model in models:
                    extract_id = f"extract/{self.NAME}-{model.model_id}"
                    jobs.append(extract_job(extract_id, train_id, test, epoch=model.epoch,
                                            layers=(settings.layer,)))
                    inputs, names = series[model.trained is not False]
                    inputs.append(extract_id)
                    names.append(model.model_id)
        for is_trained, (inputs, names) in series.items():
            if len(inputs) >= 2:
                jobs.append(compare_job(
                    f"compare/{self.NAME}-{'trained' if is_trained else 'untrained'}", inputs,
                    names, all_pairs(len(inputs)), test_set=settings.dataset,
                    layer=settings.layer,
                ))
        return Plan(jobs)

    def headlines(self, results: ResultsDB, settings: Settings) -> list[Headline]:
        """Every pair of distinct trained networks, penultimate features, networks as units."""
        frame = pair_frame(results, settings.layer)
        return [Headline(self.NAME, frame[frame["both_trained"]].reset_index(drop=True),
                         population="pairs of trained networks",
                         n_permutations=settings.n_permutations,
                         n_resamples=settings.n_resamples)]

    def analyse(self, results: ResultsDB, context: AnalysisContext[Settings]) -> StudyOutput:
        settings = context.settings
        frame = pair_frame(results, settings.layer)
        (headline,) = self.headlines(results, settings)
        trained = headline.pairs
        untrained = frame[frame["both_untrained"]]
        relations = {output: relate_headline(headline, "linear_cka", output, sign)
                     for output, (sign, _) in OUTPUTS.items()}
        models = results.models()
        networks = models[models["trained"]]
        result = ArchitecturesResult(
            n_pairs=int(len(trained)), n_untrained_pairs=int(len(untrained)),
            spearman_cka_vs_jsd=relations["jsd"], spearman_cka_vs_rank=relations["spearman"],
            untrained=UntrainedPairs(
                mean_jsd=float(untrained["jsd"].mean()),
                cka_range=(float(untrained["linear_cka"].min()),
                           float(untrained["linear_cka"].max())),
                mean_jsd_trained=float(trained["jsd"].mean()) if len(trained) else None,
            ) if len(untrained) else None,
            models={row.model_id: None if pd.isna(row.accuracy) else float(row.accuracy)
                    for row in networks.itertuples()})

        fig, axes = figures.new_figure(1, 2)
        for column, output in enumerate(OUTPUTS):
            _scatter(frame, output, axes[0, column])
        fig.suptitle(prose.figure_title(len(trained), settings.dataset))
        scatter = figures.save_figure(fig, context.figures_dir / "cka_vs_outputs.png")

        accuracy = networks.set_index("model_id")["accuracy"]
        tables = []
        if len(networks):
            tables.append(Table(prose.NETWORKS_TABLE, pd.DataFrame({
                "model": networks["model_id"], "architecture": networks["arch"],
                "seed": networks["seed"], "test accuracy": networks["accuracy"]})))
        if len(trained):
            tables.append(Table(prose.PAIRS_TABLE, pd.DataFrame({
                "model A": trained["model_a"], "model B": trained["model_b"],
                "accuracy A": trained["model_a"].map(accuracy),
                "accuracy B": trained["model_b"].map(accuracy),
                "linear CKA": trained["linear_cka"], "JSD": trained["jsd"],
                "rank coefficient": trained["spearman"],
            }).sort_values("linear CKA", ascending=False, kind="stable").reset_index(drop=True)))
        section = prose.section(self.NAME, self.TITLE, result, settings,
                                [FigureRef(scatter, prose.SCATTER_CAPTION)], tables)
        return StudyOutput(result, section)


def _scatter(frame: pd.DataFrame, output: str, ax: Axes) -> None:
    groups = [("trained pairs", frame["both_trained"].to_numpy(), figures.PALETTE["blue"]),
              ("untrained pairs", frame["both_untrained"].to_numpy(),
               figures.PALETTE["vermillion"])]
    figures.relation_panel(
        ax, frame["linear_cka"], frame[output], groups=groups,
        fit_mask=frame["both_trained"].to_numpy(), xlabel=figures.AXIS_LABELS["linear_cka"],
        ylabel=figures.AXIS_LABELS[output], title=prose.panel_title(output),
    )


STUDY = Architectures()
