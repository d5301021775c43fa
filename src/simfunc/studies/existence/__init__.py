"""Thesis ch. 4 — similar representations need not mean similar functions: an existence proof.

Two networks on one frozen pretrained base. The base (``base``: a simfunc architecture,
pretrained as ``training`` says on its data set, then frozen) never changes; each network is
``base -> mask -> linear head`` (:class:`simfunc.nets.masked.MaskedHeadNet`). Net1 is trained
on the true labels of a binary task (``task``), Net2 on the flipped labels, so their outputs
disagree on almost every image although at d_ratio = 0 they read the very same features.

**d_ratio** is the fraction of the base's D feature dimensions that each net's mask zeroes:
``k = D - floor(d_ratio * D + 1/2)`` dimensions are kept, Net1 keeping the first k and Net2 the
last k. At d_ratio = 0 both see every feature; from 0.5 on the kept sets are disjoint (up to
rounding); at 0.9 each sees its own 10 %. Swept over d_ratio ∈ {0, 0.25, 0.5, 0.8, 0.9}. The
thesis's words define d_ratio as "the number of unmasked nodes over the total" (Net1 keeping the
first N dimensions, Net2 the last 512 − N), but its Table 4.1 has Net1's accuracy fall from
97.7 % at d_ratio 0 to 89.5 % at 0.9, which fits only the fraction *masked*: the reading this
study implements (the report says so).

Table 4.1, re-made, per d_ratio: linear CKA and R²_CCA of the base features (before masking,
as the thesis computes them: identical inputs through the same frozen base, so CKA is exactly
1), CKA and CCA of the masked features (the stronger claim), the Jensen–Shannon divergence (in
bits) and the Spearman rank coefficient of the two nets' outputs on the task's test images, and
each net's accuracy (Net2's against the flipped labels). Every registered representational
measure (both layers) and every output measure is recorded per d_ratio, for the pair (Net1,
Net2) and for the control pair (Net1, a net trained on the true labels with Net2's mask). The
report and the scorecard set all 25 cells of Table 4.1 (ids ``existence.d<r>.<column>``) beside
the thesis's, each judged by the rule its row states (:mod:`simfunc.studies.existence.prose`),
and the trend of JSD and of the rank coefficient over d_ratio.

The thesis (ResNet18 pretrained on ImageNet32, 512-d features, Cats vs Dogs at 224×224), Table
4.1 as its text prints it: CKA and CCA 0.99 at every d_ratio; as d_ratio goes 0, 0.25, 0.5, 0.8,
0.9, JSD 0.59, 0.57, 0.53, 0.41, 0.29, the rank coefficient −0.95, −0.93, −0.91, −0.81, −0.70
and the validation accuracy 97.7, 97.1, 96.4, 93.5, 89.5 %. No profile runs at 224×224 (see
:mod:`simfunc.studies.existence.prose`, which says why in the report). The jobs are in
:mod:`simfunc.studies.existence.jobs`; no network in this study is untrained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from simfunc import figures
from simfunc.errors import InputError
from simfunc.report import FigureRef, Table
from simfunc.runner import Job, Plan
from simfunc.store import OUTPUT_LAYER, ResultsDB
from simfunc.studies.base import AnalysisContext, Study, StudyOutput
from simfunc.studies.classifier_jobs import ClassifierTraining, ImageSet, ModelRecord, train_job
from simfunc.studies.existence import prose
from simfunc.studies.existence.jobs import kept_ranges
from simfunc.studies.existence.result import ControlRow, ExistenceResult, SweepRow

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["BaseNetwork", "BinaryTask", "HeadFit", "Settings", "PROFILES", "Existence", "STUDY",
           "BASE_ID", "sweep_frame", "ExistenceResult"]

BASE_ID = "base"
_JOBS = "simfunc.studies.existence.jobs"


@dataclass(frozen=True)
class BaseNetwork:
    """The pretrained base: ``arch`` at ``width`` from ``seed`` on ``dataset`` (optionally only
    ``classes``, relabelled 0..k-1) at ``image_size`` (None: the data set's); ``test_subset``:
    the stratified subset of its test split its accuracy is measured on."""

    arch: str = "cnn"
    width: float = 1.0
    dataset: str = "digits"
    classes: tuple[int, ...] | None = (0, 1, 2, 3, 4)
    image_size: int | None = None
    seed: int = 0
    test_subset: int | None = None


@dataclass(frozen=True)
class BinaryTask:
    """The binary task: ``dataset`` (optionally only ``classes``, relabelled 0..k-1 in the order
    given), label 1 for the ``positive`` classes and 0 for the rest; stratified subsets of its
    training and test splits; ``name`` is its name in the results."""

    name: str = "digits-odd-vs-even"
    dataset: str = "digits"
    classes: tuple[int, ...] | None = None
    positive: tuple[int, ...] = (1, 3, 5, 7, 9)
    train_subset: int | None = None
    test_subset: int | None = None

    def images(self, split: str, data_root: str | None) -> ImageSet:
        return ImageSet(self.dataset, split, data_root=data_root, classes=self.classes,
                        subset=self.train_subset if split == "train" else self.test_subset)


@dataclass(frozen=True)
class HeadFit:
    """The heads' L2 strength (``weight_decay / 2 * ||W||²``) and L-BFGS iteration cap."""

    weight_decay: float = 1e-3
    max_iter: int = 500


@dataclass(frozen=True)
class Settings:
    """Settings of the existence study (every one can be overridden, nested ones by their dotted
    names: ``base.arch``, ``training.epochs``, ``task.positive``, ``heads.weight_decay``).

    base: the pretrained network; training: how it is pretrained (SGD, see
    :class:`~simfunc.studies.classifier_jobs.ClassifierTraining`); task: the binary task the
    heads learn, at the base's input size; d_ratios: the sweep; heads: the convex head fit;
    controls: also fit the control net (true labels, Net2's mask); batch_size: of inference.
    """

    data_root: str | None = None
    base: BaseNetwork = BaseNetwork()
    training: ClassifierTraining = ClassifierTraining(epochs=10, lr=0.05, schedule="cosine",
                                                      batch_size=64,
                                                      channels_last=True)
    task: BinaryTask = BinaryTask()
    d_ratios: tuple[float, ...] = (0.0, 0.25, 0.5, 0.8, 0.9)
    heads: HeadFit = HeadFit()
    controls: bool = True
    batch_size: int = 256


PROFILES = {
    # A small CNN (128-d features) pretrained on digits 0-4 only (the 'part of digits' it
    # knows); the binary task is odd vs even over all ten digits at 8×8 — half of its images
    # are of digits the base never saw. Seconds.
    "quick": Settings(),
    # ResNet18 at 1/4 width (128-d features) pretrained on a 10,000-image subset of
    # Tiny-ImageNet (50 per class) at 32×32 for 6 epochs (about 7 % top-1 on 200 classes);
    # Cats vs Dogs at 32×32 (dog = 1; about 65 % with a linear head). 3-4 minutes on 2 cores.
    "standard": Settings(
        base=BaseNetwork(arch="resnet18", width=0.25, dataset="tiny-imagenet", classes=None,
                         image_size=32, test_subset=1_000),
        training=ClassifierTraining(epochs=6, lr=0.1, batch_size=128, train_subset=10_000),
        task=BinaryTask(name="cats-vs-dogs", dataset="cats-vs-dogs", positive=(1,)),
    ),
    # The thesis: ResNet18 (512-d features) pretrained on ImageNet32, Cats vs Dogs — at 32×32,
    # not the thesis's 224×224 (the report says why).
    "paper": Settings(
        base=BaseNetwork(arch="resnet18", width=1.0, dataset="imagenet32", classes=None,
                         image_size=32, test_subset=10_000),
        training=ClassifierTraining(epochs=40, lr=0.1, schedule="step", batch_size=256),
        task=BinaryTask(name="cats-vs-dogs", dataset="cats-vs-dogs", positive=(1,)),
    ),
}


class Existence(Study[Settings]):
    NAME = "existence"
    TITLE = "Same representation, different function: an existence proof (thesis ch. 4)"
    SECTION = "4"
    PROFILES = PROFILES
    RESULT = ExistenceResult
    # No pairs for the leaderboard. Every pair here is a construction from the one frozen base
    # network (Net1 vs Net2 and vs the control, one pair of heads per d_ratio): not a sample of
    # networks, so there is no relation across pairs to rank measures by and nothing for
    # network-level inference to resample; and on the base features every measure is constant
    # (CKA 1), which makes any correlation undefined. The study's claims are Table 4.1's cells,
    # each judged on its own in the scorecard.
    LEADERBOARD = None

    def plan(self, settings: Settings) -> Plan:
        for d_ratio in settings.d_ratios:  # bad ratios fail here, before anything trains
            kept_ranges(1_000_000, d_ratio)
        if len(set(settings.d_ratios)) != len(settings.d_ratios):
            raise InputError(f"d_ratios lists a value twice: {list(settings.d_ratios)}")
        base, task, root = settings.base, settings.task, settings.data_root
        train_id, features_id = f"train/{self.NAME}-base", f"{self.NAME}/base-features"
        config = settings.training.config(
            arch=base.arch, dataset=base.dataset, seed=base.seed, width=base.width,
            image_size=base.image_size, data_root=root, classes=base.classes,
            test_subset=base.test_subset)
        positive = [int(c) for c in task.positive]
        jobs = [
            train_job(train_id, config, [ModelRecord(BASE_ID, kind="base",
                                                     extra={"role": "frozen base"})]),
            Job(features_id, f"{_JOBS}:base_features",
                {"train_images": task.images("train", root).to_json(), "positive": positive,
                 "batch_size": settings.batch_size}, deps=(train_id,)),
        ]
        for d_ratio in settings.d_ratios:
            jobs.append(Job(
                f"{self.NAME}/heads-d{d_ratio:g}", f"{_JOBS}:train_heads",
                {"d_ratio": float(d_ratio), "test_images": task.images("test", root).to_json(),
                 "positive": positive, "weight_decay": settings.heads.weight_decay,
                 "max_iter": settings.heads.max_iter, "controls": settings.controls,
                 "batch_size": settings.batch_size},
                deps=(train_id, features_id), record=f"{_JOBS}:record_heads",
                meta={"test_set": task.name, "base_id": BASE_ID, "base_arch": base.arch,
                      "study": self.NAME},
                label=f"heads d_ratio={d_ratio:g}",
            ))
        return Plan(jobs)

    def analyse(self, results: ResultsDB, context: AnalysisContext[Settings]) -> StudyOutput:
        frame = sweep_frame(results)
        flipped = frame[frame["pair"] == "flipped"] if len(frame) else frame
        control = frame[frame["pair"] == "control"] if len(frame) else frame
        base = results.models(model_id=BASE_ID)
        result = ExistenceResult(
            base_accuracy=(float(base["accuracy"].iloc[0])
                           if len(base) and pd.notna(base["accuracy"].iloc[0]) else None),
            input_size=_input_size(base),
            feature_dim=int(flipped["dim"].iloc[0]) if len(flipped) else None,
            rows=tuple(SweepRow(d_ratio=float(row["d_ratio"]), kept=int(row["kept"]),
                                **{key: _value(row, column) for key, column in RESULT_FIELDS.items()})
                       for _, row in flipped.iterrows()),
            controls=tuple(ControlRow(d_ratio=float(row["d_ratio"]),
                                      **{key: _value(row, column)
                                         for key, column in RESULT_FIELDS.items()
                                         if not key.startswith("accuracy")},
                                      accuracy_control=_value(row, "accuracy_b"))
                           for _, row in control.iterrows()),
        )
        shown, tables = [], []
        if len(frame):
            path = _figure(frame, context.figures_dir / "existence.png")
            shown.append(FigureRef(path, prose.FIGURE_CAPTION))
            tables.append(Table(prose.SWEEP_TABLE, _sweep_table(flipped, control)))
            tables.append(Table(prose.MEASURES_TABLE, _measures_table(frame)))
        section = prose.section(self.NAME, self.TITLE, result, context.settings, shown, tables)
        return StudyOutput(result, section)


# SweepRow field -> sweep_frame column
RESULT_FIELDS = {"cka_base": "linear_cka_base", "cca_base": "cca_base",
                "cka_masked": "linear_cka_masked", "cca_masked": "cca_masked", "jsd": "jsd",
                "rank": "spearman", "disagreement": "disagreement", "accuracy_net1": "accuracy_a",
                "accuracy_net2": "accuracy_b"}


def sweep_frame(db: ResultsDB) -> pd.DataFrame:
    """One row per (d_ratio, pair): ``pair`` is "flipped" (Net1 vs Net2) or "control";
    columns ``<measure>_masked`` and ``<measure>_base`` for the representational measures, the
    output measures by name, and the nets' accuracies."""
    models = db.models(kind="masked-head")
    if models.empty:
        return pd.DataFrame()
    by_id = models.set_index("model_id")
    long = db.pairs()
    long = long[long["model_a"].isin(by_id.index)]
    long = long.assign(column=np.where(long["layer"] == OUTPUT_LAYER, long["measure"],
                                       long["measure"] + "_" + long["layer"]))
    wide = long.pivot_table(index=["model_a", "model_b"], columns="column", values="value",
                            aggfunc="first").reset_index()
    wide.columns.name = None
    extra = by_id["extra"]
    wide["d_ratio"] = wide["model_a"].map(lambda m: float(extra[m]["d_ratio"]))
    wide["pair"] = wide["model_b"].map(
        lambda m: "flipped" if extra[m]["role"] == "net2" else "control")
    wide["accuracy_a"] = wide["model_a"].map(by_id["accuracy"])
    wide["accuracy_b"] = wide["model_b"].map(by_id["accuracy"])
    wide["kept"] = wide["model_a"].map(lambda m: int(np.diff(extra[m]["kept"])[0]))
    wide["dim"] = wide["model_a"].map(lambda m: int(extra[m]["dim"]))
    wide["control_pair"] = wide["pair"] == "control"  # the thesis's pair first
    return (wide.sort_values(["control_pair", "d_ratio"]).drop(columns="control_pair")
            .reset_index(drop=True))


def _input_size(base: pd.DataFrame) -> int | None:
    """The side in pixels of the images the base was trained on and the heads run on."""
    config = base["config"].iloc[0] if len(base) else None
    size = config.get("image_size") if isinstance(config, dict) else None
    return None if size is None else int(size)


def _value(row: pd.Series, column: str) -> float | None:
    value = row.get(column)
    return None if value is None or pd.isna(value) else float(value)


def _sweep_table(flipped: pd.DataFrame, control: pd.DataFrame) -> pd.DataFrame:
    control_by_ratio = control.set_index("d_ratio") if len(control) else None
    rows = []
    for _, row in flipped.iterrows():
        other = (control_by_ratio.loc[row["d_ratio"]]
                 if control_by_ratio is not None and row["d_ratio"] in control_by_ratio.index
                 else pd.Series(dtype=float))
        rows.append({
            "d_ratio": f"{row['d_ratio']:g}", "kept dims": f"{row['kept']} of {row['dim']}",
            "CKA base": _value(row, "linear_cka_base"), "CCA base": _value(row, "cca_base"),
            "CKA masked": _value(row, "linear_cka_masked"),
            "CCA masked": _value(row, "cca_masked"), "JSD": _value(row, "jsd"),
            "rank": _value(row, "spearman"), "disagreement": _value(row, "disagreement"),
            "JSD control": _value(other, "jsd"), "acc. Net1": _value(row, "accuracy_a"),
            "acc. Net2": _value(row, "accuracy_b"), "acc. control": _value(other, "accuracy_b"),
        })
    return pd.DataFrame(rows)


def _measures_table(frame: pd.DataFrame) -> pd.DataFrame:
    from simfunc import functional, representational

    rows = []
    for _, row in frame.iterrows():
        out: dict[str, Any] = {"pair": row["pair"], "d_ratio": f"{row['d_ratio']:g}"}
        out.update({name: _value(row, f"{name}_masked") for name in representational.MEASURES})
        out.update({name: _value(row, name) for name in functional.OUTPUT_MEASURES})
        rows.append(out)
    return pd.DataFrame(rows)


def _figure(frame: pd.DataFrame, path: Any) -> Any:
    flipped = frame[frame["pair"] == "flipped"]
    control = frame[frame["pair"] == "control"]
    fig, axes = figures.new_figure(1, 2, panel_size=(5.0, 3.8))
    _representations_panel(flipped, axes[0, 0])
    _outputs_panel(flipped, control, axes[0, 1])
    return figures.save_figure(fig, path)


def _representations_panel(flipped: pd.DataFrame, ax: Axes) -> None:
    shown = [m for m in ("linear_cka", "cca", "svcca", "pwcca", "rbf_cka", "mutual_knn", "rsa")
             if f"{m}_masked" in flipped]
    for name, colour in zip(shown, figures.series_colors(len(shown) + 1)):
        ax.plot(flipped["d_ratio"], flipped[f"{name}_masked"], marker="o", ms=4, color=colour,
                label=f"{name} (masked)")
    if "linear_cka_base" in flipped:
        ax.plot(flipped["d_ratio"], flipped["linear_cka_base"], color=figures.PALETTE["black"],
                linestyle=":", marker="s", ms=3, label="linear_cka (base, before masking)")
    ax.set(xlabel="d_ratio (fraction of features masked in each net)",
           ylabel="similarity (higher = more similar)",
           title="Representations of Net1 and Net2 (flipped labels)")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=7, loc="lower left")


def _outputs_panel(flipped: pd.DataFrame, control: pd.DataFrame, ax: Axes) -> None:
    colours = {"jsd": figures.PALETTE["vermillion"], "spearman": figures.PALETTE["blue"],
               "disagreement": figures.PALETTE["green"]}
    for name, colour in colours.items():
        if name in flipped:
            ax.plot(flipped["d_ratio"], flipped[name], marker="o", ms=4, color=colour,
                    label=f"{name}: Net1 vs Net2 (flipped)")
        if name in control and len(control):
            ax.plot(control["d_ratio"], control[name], marker="^", ms=4, color=colour,
                    linestyle="--", alpha=0.7, label=f"{name}: Net1 vs control (same labels)")
    for name, key in (("jsd", "jsd"), ("spearman", "rank")):
        ax.scatter(list(prose.THESIS), [getattr(row, key) for row in prose.THESIS.values()],
                   marker="*", s=90, color=colours[name], edgecolor="black", linewidth=0.5,
                   zorder=5)
    ax.axhline(0, color=figures.PALETTE["grey"], linewidth=0.8)
    ax.set(xlabel="d_ratio", ylabel="output measure",
           title="Outputs (stars: the thesis's Table 4.1)")
    ax.set_ylim(-1.05, 1.05)
    ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)


STUDY = Existence()
