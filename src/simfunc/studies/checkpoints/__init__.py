"""Thesis §3.4 — during training, do representations and outputs converge together?

Architectures × seeds × learning rates: one training run each, with checkpoints saved at the
thesis's epochs (0, 1, …, 10, 15, …, 40, 50, …, 100, scaled to the run's length). Every
checkpoint is compared with the final model of its own run on the test set: linear CKA (and
every other registered measure) of the penultimate features, JSD (and every other output
measure) of the outputs. The epoch-0 checkpoint is the run's initial weights: the image
studies' one rule for untrained networks (:mod:`simfunc.studies.classifier_jobs`), so the
first point of each run is its own untrained network against its final model. The final
model against itself (CKA 1, JSD 0 by definition) is not a point.

The thesis (ResNet18 and VGG16 on CIFAR-100; learning rates 0.01, 0.001, 0.0001; 100 epochs;
two seeds) found CKA rising and JSD falling together, in a roughly linear relation whose
slope depends on the architecture.

**Statistics.** A run's checkpoints are not independent points (they share the run's
initialisation and trajectory) and not exchangeable (they are ordered by training), so the
training run is the unit. The headline relations — ρ(epoch, CKA), ρ(epoch, JSD) and
ρ(CKA, JSD) — are each the mean over runs of the Spearman ρ within a run, with the interval
from a bootstrap that redraws runs (:func:`simfunc.stats.relate_networks` with one block per
run, ``combine="mean"``, runs as clusters); the p-value relabels checkpoints within each run
(an optimistic test, as the report says) and the pair-level values sit beside them. The slope
of the linear relation is fitted per architecture over all its checkpoints, its interval and
the difference between architectures from a bootstrap that redraws runs within each
(architecture, learning rate) cell (:func:`simfunc.stats.group_slopes`).

The study's jobs are the shared image-classifier jobs; its report's words are in
:mod:`simfunc.studies.checkpoints.prose`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from simfunc import figures, stats
from simfunc.errors import InputError
from simfunc.report import FigureRef, Section, Table
from simfunc.runner import Plan
from simfunc.settings import settings_dict
from simfunc.store import ResultsDB
from simfunc.studies.base import AnalysisContext, Headline, Selection, Study, StudyOutput
from simfunc.studies.checkpoints import prose
from simfunc.studies.checkpoints.result import (ArchitectureSlope, CheckpointsResult, RunResult,
                                                SlopeDifference, Slopes)
from simfunc.studies.classifier_jobs import (UNTRAINED_EPOCH, ClassifierTraining, ImageSet,
                                             ModelRecord, check_layers, compare_job,
                                             extract_job, train_job)
from simfunc.studies.common import pair_frame, relate_headline, stand_ins

__all__ = ["Settings", "PROFILES", "Checkpoints", "STUDY", "checkpoint_list", "run_id",
           "RELATIONS", "CheckpointsResult"]

# The thesis's finding as three relations within a run: (x, y, expected sign, result field).
RELATIONS = (("epoch", "linear_cka", 1, "epoch_vs_cka"),
             ("epoch", "jsd", -1, "epoch_vs_jsd"),
             ("linear_cka", "jsd", -1, "cka_vs_jsd"))
_DEFAULT_LR = ClassifierTraining().lr


@dataclass(frozen=True)
class Settings:
    """Settings of the checkpoints study (every one can be overridden).

    dataset / data_root / classes: the training and test set. image_size, width: network input
    size and channel multiplier. archs × seeds × lrs: the training runs, one per learning rate
    in ``lrs`` (the thesis's three). training: how each run is trained (``training.epochs``,
    ``training.schedule``…) except its learning rate, which comes from ``lrs``
    (``training.lr`` must stay at its default: setting it is refused rather than ignored).
    checkpoint_epochs: the epochs compared with the final model; None: the thesis's list
    scaled to ``training.epochs`` (the final epoch itself is the reference, not a point).
    test_subset: a stratified subset of the test split (None: all of it). layer: the compared
    representation. n_permutations / n_resamples: permutation test and bootstrap sizes.
    """

    dataset: str = "digits"
    data_root: str | None = None
    classes: tuple[int, ...] | None = None
    image_size: int | None = 16
    archs: tuple[str, ...] = ("cnn", "vgg11")
    width: float = 0.25
    seeds: tuple[int, ...] = (0, 1)
    lrs: tuple[float, ...] = (0.05, 0.01, 0.002)
    training: ClassifierTraining = ClassifierTraining(epochs=10, schedule="constant",
                                                      batch_size=64,
                                                      channels_last=True)
    checkpoint_epochs: tuple[int, ...] | None = None
    test_subset: int | None = None
    layer: str = "features"
    n_permutations: int = 2_000
    n_resamples: int = 2_000

    def __post_init__(self) -> None:
        if not self.lrs:
            raise InputError("lrs is empty: list the learning rates, one training run each")
        if self.training.lr != _DEFAULT_LR:
            raise InputError(
                f"training.lr: the checkpoints study trains one run at each learning rate in "
                f"lrs (the thesis's design); set lrs, not training.lr (got {self.training.lr})")


PROFILES = {
    # Digits at 16×16: a small CNN and VGG11 at 1/4 width, 10 epochs at a constant rate,
    # checkpoints at every epoch. Learning rates are higher than the thesis's: with 10 epochs
    # its 1e-4 would not move.
    "quick": Settings(),
    # CIFAR-10 subset, ResNet18 and VGG16 at 1/8 width, the thesis's learning rates scaled up
    # by 10 for a 15-epoch run (checkpoints: the thesis list scaled to 15 epochs).
    "standard": Settings(
        dataset="cifar10", image_size=32, archs=("resnet18", "vgg16"), width=0.125,
        lrs=(0.1, 0.01, 0.001), test_subset=1_000,
        training=ClassifierTraining(epochs=15, schedule="constant", batch_size=128,
                                    train_subset=5_000),
    ),
    # The thesis: ResNet18 and VGG16 on CIFAR-100, lr 0.01 / 0.001 / 0.0001, 100 epochs.
    "paper": Settings(
        dataset="cifar100", image_size=32, archs=("resnet18", "vgg16"), width=1.0,
        lrs=(0.01, 0.001, 0.0001),
        training=ClassifierTraining(epochs=100, schedule="constant", batch_size=128),
    ),
}


def checkpoint_list(settings: Settings) -> tuple[int, ...]:
    """The epochs whose checkpoints are compared with the final model (before the last)."""
    from simfunc.train.config import scale_checkpoint_epochs

    epochs = settings.training.epochs
    chosen = (scale_checkpoint_epochs(epochs) if settings.checkpoint_epochs is None
              else sorted(set(settings.checkpoint_epochs)))
    return tuple(e for e in chosen if e < epochs)


def run_id(arch: str, seed: int, lr: float) -> str:
    """The study's name of one training run: ``vgg11-lr0.01-s0``."""
    return f"{arch}-lr{lr:g}-s{seed}"


class Checkpoints(Study[Settings]):
    NAME = "checkpoints"
    TITLE = "Checkpoints against the final model (thesis §3.4)"
    SECTION = "3.4"
    PROFILES = PROFILES
    RESULT = CheckpointsResult
    # Every checkpoint against its final model; a run's checkpoints are relabelled among
    # themselves and a run is redrawn whole (the runs are the independent units).
    LEADERBOARD = Selection(strata=("run", "kind"), clusters="run")

    def plan(self, settings: Settings) -> Plan:
        check_layers((settings.layer,), settings.archs, width=settings.width)
        epochs = checkpoint_list(settings)
        test = ImageSet(settings.dataset, "test", data_root=settings.data_root,
                        subset=settings.test_subset, classes=settings.classes)
        jobs = []
        for arch in settings.archs:
            for lr in settings.lrs:
                for seed in settings.seeds:
                    name = run_id(arch, seed, lr)
                    train_id = f"train/{self.NAME}-{name}"
                    config = replace(settings.training, lr=lr).config(
                        arch=arch, dataset=settings.dataset, seed=seed, width=settings.width,
                        image_size=settings.image_size, data_root=settings.data_root,
                        classes=settings.classes, test_subset=settings.test_subset,
                        checkpoint_epochs=epochs)
                    final = f"{name}-final"
                    extra = {"run": name, "lr": lr}
                    models = [ModelRecord(final, extra=extra)] + [
                        ModelRecord(f"{name}-e{e}", epoch=e, kind="checkpoint",
                                    trained=e != UNTRAINED_EPOCH, parent=final, extra=extra)
                        for e in epochs]
                    jobs.append(train_job(train_id, config, models))
                    inputs = []
                    for model in models:
                        inputs.append(f"extract/{self.NAME}-{model.model_id}")
                        jobs.append(extract_job(inputs[-1], train_id, test, epoch=model.epoch,
                                                layers=(settings.layer,)))
                    jobs.append(compare_job(
                        f"compare/{self.NAME}-{name}", inputs, [m.model_id for m in models],
                        [(i, 0) for i in range(1, len(inputs))],  # checkpoint vs final
                        test_set=settings.dataset, layer=settings.layer))
        return Plan(jobs)

    def headlines(self, results: ResultsDB, settings: Settings) -> list[Headline]:
        """Every checkpoint against its run's final model; one block per run (the mean over
        runs of the ρ within each), a run's checkpoints relabelled among themselves, runs
        redrawn whole."""
        frame = checkpoint_frame(results, settings.layer)
        design = run_design(frame)
        return [Headline(self.NAME, frame, population="each checkpoint against its run's final "
                         "model", blocks="run", combine="mean", strata=design["strata"],
                         clusters=design["clusters"], n_permutations=settings.n_permutations,
                         n_resamples=settings.n_resamples)]

    def analyse(self, results: ResultsDB, context: AnalysisContext[Settings]) -> StudyOutput:
        settings = context.settings
        (headline,) = self.headlines(results, settings)
        frame = headline.pairs
        relations = {key: relate_headline(headline, x, y, sign) for x, y, sign, key in RELATIONS}
        runs = per_run(frame)
        result = CheckpointsResult(
            n_runs=int(frame["run"].nunique()), n_pairs=len(frame), **relations,
            slopes=architecture_slopes(frame, settings.n_resamples),
            runs={run.run: run for run in runs})
        path = _figure(frame, result.slopes, context.figures_dir / "checkpoints.png")
        tables = ([Table(prose.RUNS_TABLE, pd.DataFrame([asdict(run) for run in runs])
                         .rename(columns=prose.RUN_COLUMNS))] if runs else [])
        return StudyOutput(result, Section(
            id=self.NAME, title=self.TITLE, summary=prose.SUMMARY,
            figures=[FigureRef(path, prose.FIGURE_CAPTION)], tables=tables,
            thesis_rows=prose.thesis_rows(result, prose.differs(settings)),
            settings=settings_dict(settings),
            stand_ins=stand_ins({"CIFAR-100": (settings.dataset, settings.classes)})))


# --------------------------------------------------------------------------------- analysis


def checkpoint_frame(results: ResultsDB, layer: str) -> pd.DataFrame:
    """One row per checkpoint compared with its final model (``model_a`` the checkpoint,
    ``model_b`` the final model), with its run, architecture, learning rate and epoch, and the
    final model's test accuracy; ordered by run and epoch."""
    frame = pair_frame(results, layer)
    models = results.models().set_index("model_id")
    extra = models["extra"].map(lambda e: e or {})
    frame["run"] = frame["model_b"].map(extra.map(lambda e: e.get("run")))
    frame["lr"] = frame["model_b"].map(extra.map(lambda e: e.get("lr"))).astype(float)
    frame["arch"] = frame["model_b"].map(models["arch"])
    frame["epoch"] = frame["model_a"].map(models["epoch"]).astype(int)
    frame["final_accuracy"] = frame["model_b"].map(models["accuracy"])
    return frame.sort_values(["arch", "lr", "run", "epoch"], kind="stable").reset_index(drop=True)


def run_design(frame: pd.DataFrame) -> dict[str, Any]:
    """The network-level design of the checkpoint pairs: one block per run (the statistic is
    the mean over runs of the correlation within each), a run's checkpoints relabelled only
    among themselves (never with its final model, never across runs), runs redrawn whole."""
    role = {**{m: f"{r}|checkpoint" for m, r in zip(frame["model_a"], frame["run"])},
            **{m: f"{r}|final" for m, r in zip(frame["model_b"], frame["run"])}}
    run = {**dict(zip(frame["model_a"], frame["run"])), **dict(zip(frame["model_b"], frame["run"]))}
    return {"blocks": list(frame["run"]), "combine": "mean", "strata": role, "clusters": run}


def architecture_slopes(frame: pd.DataFrame, n_resamples: int) -> Slopes:
    """The least-squares slope of JSD on CKA over each architecture's checkpoints, and each
    architecture's difference from the first, with intervals from redrawing runs within
    each (architecture, learning rate) cell (the learning rates are a fixed design factor);
    beside them (``any_lr_ci``) the difference's interval when runs are redrawn regardless of
    their learning rate. Or why it is undefined."""
    def fit(strata: Any) -> stats.GroupSlopes:
        return stats.group_slopes(frame["linear_cka"], frame["jsd"], groups=frame["arch"],
                                  clusters=frame["run"], strata=strata,
                                  n_resamples=n_resamples, seed=0)

    try:
        fitted, any_lr = fit(frame["lr"]), fit(None)
    except InputError as error:
        return Slopes(undefined=str(error))

    def r_squared(group: Any) -> float:
        rows = frame[frame["arch"] == group]
        return float(np.corrcoef(rows["linear_cka"], rows["jsd"])[0, 1] ** 2)

    return Slopes(
        slopes=tuple(ArchitectureSlope(
            group=str(item.group), slope=float(item.slope), intercept=float(item.intercept),
            ci=_interval(item.ci), n_points=int(item.n_points), n_clusters=int(item.n_clusters),
            r_squared=r_squared(item.group)) for item in fitted.slopes),
        differences=tuple(SlopeDifference(
            group=str(item.group), reference=str(item.reference),
            difference=float(item.difference), ci=_interval(item.ci),
            any_lr_ci=_interval(other.ci))
            for item, other in zip(fitted.differences, any_lr.differences)),
        confidence=fitted.confidence, n_resamples=fitted.n_resamples, seed=fitted.seed,
        notes=tuple(fitted.notes))


def _interval(ci: Any) -> tuple[float, float] | None:
    return None if ci is None else (float(ci[0]), float(ci[1]))


def per_run(frame: pd.DataFrame) -> list[RunResult]:
    """One record per run: its final accuracy, the untrained network's (epoch 0) CKA and JSD
    against the final model, the three within-run Spearman ρs and the slope of JSD on CKA
    (None where undefined)."""
    rows = []
    for run, points in frame.groupby("run", sort=False):
        first = points.iloc[0]
        untrained = points[points["epoch"] == UNTRAINED_EPOCH]
        accuracy = first["final_accuracy"]
        rhos = {f"rho_{key}": _defined(stats.spearman, points[x], points[y])
                for x, y, _, key in RELATIONS}
        slope = _defined(stats.linear_fit, points["linear_cka"], points["jsd"])
        rows.append(RunResult(
            run=str(run), arch=str(first["arch"]), lr=float(first["lr"]),
            final_accuracy=None if pd.isna(accuracy) else float(accuracy),
            n_checkpoints=len(points),
            cka_epoch0=float(untrained["linear_cka"].iloc[0]) if len(untrained) else None,
            jsd_epoch0=float(untrained["jsd"].iloc[0]) if len(untrained) else None,
            **rhos, slope=None if slope is None else float(slope[0])))
    return rows


def _defined(function: Any, x: pd.Series, y: pd.Series) -> Any:
    try:
        return function(x, y)
    except InputError:
        return None


def _figure(frame: pd.DataFrame, slopes: Slopes, path: Any) -> Any:
    """CKA and JSD against the epoch, and against each other with each architecture's line:
    one colour per (architecture, learning rate), solid for the first seed, dashed after."""
    cells = list(dict.fromkeys(zip(frame["arch"], frame["lr"])))
    colours = dict(zip(cells, figures.series_colors(len(cells))))
    fig, axes = figures.new_figure(1, 3, panel_size=(4.6, 3.8))
    seen: set[tuple[str, float]] = set()
    for run, points in frame.groupby("run", sort=False):
        cell = (points["arch"].iloc[0], points["lr"].iloc[0])
        line = {"linestyle": "--" if cell in seen else "-", "marker": "o", "ms": 3,
                "color": colours[cell]}
        seen.add(cell)
        axes[0, 0].plot(points["epoch"], points["linear_cka"], label=run, **line)
        axes[0, 1].plot(points["epoch"], points["jsd"], **line)
        axes[0, 2].plot(points["linear_cka"], points["jsd"], **line)
    for item in slopes.slopes:
        rows = frame[frame["arch"] == item.group]
        xs = np.linspace(rows["linear_cka"].min(), rows["linear_cka"].max(), 20)
        axes[0, 2].plot(xs, item.slope * xs + item.intercept, color="black", lw=1.2,
                        alpha=0.7, linestyle=":")
        axes[0, 2].annotate(f"{item.group}: slope {item.slope:.2f}",
                            (xs[0], item.slope * xs[0] + item.intercept), fontsize=7)
    axes[0, 0].set(xlabel="epoch", ylabel="CKA with the final model", title="CKA vs epoch")
    axes[0, 1].set(xlabel="epoch", ylabel="JSD from the final model", title="JSD vs epoch")
    axes[0, 2].set(xlabel=figures.AXIS_LABELS["linear_cka"], ylabel=figures.AXIS_LABELS["jsd"],
                   title="JSD vs CKA along training")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right center", fontsize=7)
    return figures.save_figure(fig, path)


STUDY = Checkpoints()
