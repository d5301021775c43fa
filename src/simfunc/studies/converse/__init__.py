"""The converse of thesis ch. 4 — the same function with dissimilar representations.

Chapter 4 shows two networks with identical representations and opposite outputs. The gap runs
the other way too (cf. Davari et al. 2023, "Reliability of CKA as a similarity measure in deep
learning", ICLR): networks with identical or near-identical outputs whose representations CKA
calls dissimilar.

(a) **Exact construction.** A trained classifier (the teacher) gets an invertible, badly
conditioned linear map ``A = I + (κ − 1) v vᵀ`` inserted after its feature layer and ``A⁻¹``
folded into its last layer (:mod:`simfunc.nets.surgery`; v and the limit of CKA in
:mod:`simfunc.studies.converse.jobs`): the outputs are the teacher's to float64 rounding
(JSD ~0), while linear CKA between the old and the new features falls, as κ grows, to the
lowest value a stretch of one direction allows. Measures invariant to invertible linear maps
(R²_CCA, mean CCA) stay at 1. Swept over κ (``conditions``).

(b) **Trained version.** Students (same architecture, seed ``student_seed``) are distilled from
the teacher's outputs with a penalty on the linear CKA between their features and the teacher's
(``penalties``; 0 is plain distillation; :mod:`simfunc.train.distill`); an independently trained
network (same architecture and recipe as the teacher, seed ``student_seed``: the students'
initialisation, trained on the true labels) is the reference. Reported: every measure, JSD and
disagreement to the teacher, and accuracy. The teacher and the independent network are trained
as ``training`` says; the students as ``distillation`` says. No network here is untrained.

Every pair is a network against the one teacher, and every construction value an exact
computation, so no relation across pairs is fitted (and none is tested): the report gives each
value, and judges the claims on the exact values (JSD ≈ 0, CKA falling with κ to a dissimilar
value, CCA = 1; the penalised student dissimilar yet matching the teacher). The claims are
simfunc's own, not the thesis's: scorecard ids ``converse.*`` with source "simfunc" and no
thesis value (:mod:`simfunc.studies.converse.prose`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from simfunc import figures
from simfunc.errors import InputError
from simfunc.report import FigureRef, Table
from simfunc.runner import Job, Plan
from simfunc.store import OUTPUT_LAYER, ResultsDB
from simfunc.studies.base import AnalysisContext, Study, StudyOutput
from simfunc.studies.classifier_jobs import (ClassifierTraining, ImageSet, ModelRecord,
                                             check_layers, compare_job, extract_job, train_job)
from simfunc.studies.converse import prose
from simfunc.studies.converse.result import Construction, ConverseResult, Student
from simfunc.train.distill import DistillConfig

__all__ = ["Settings", "PROFILES", "Converse", "STUDY", "TEACHER_ID", "INDEPENDENT_ID",
           "student_id", "pairs_frame", "ConverseResult"]

TEACHER_ID = "teacher"
INDEPENDENT_ID = "independent"
_JOBS = "simfunc.studies.converse.jobs"


@dataclass(frozen=True)
class Settings:
    """Settings of the converse study (nested ones by their dotted names: ``training.epochs``,
    ``distillation.lr``).

    dataset / data_root / classes / image_size, arch / width: the teacher (and the independent
    network), trained as ``training`` says from ``teacher_seed`` (``student_seed``);
    test_subset: a stratified subset of the test split. conditions: the condition numbers κ of
    the inserted map. penalties: the CKA-penalty weight of each distilled student, trained as
    ``distillation`` says (Adam). independent: also train the reference network. layer: the
    compared features.
    """

    dataset: str = "digits"
    data_root: str | None = None
    classes: tuple[int, ...] | None = None
    image_size: int | None = None
    arch: str = "cnn"
    width: float = 0.5
    training: ClassifierTraining = ClassifierTraining(epochs=10, lr=0.05, schedule="cosine",
                                                      batch_size=64,
                                                      channels_last=True)
    test_subset: int | None = None
    teacher_seed: int = 0
    student_seed: int = 1
    conditions: tuple[float, ...] = (1.0, 10.0, 100.0, 1e3, 1e4, 1e6)
    penalties: tuple[float, ...] = (0.0, 1.0, 10.0)
    distillation: DistillConfig = DistillConfig(epochs=20, lr=3e-3, batch_size=64)
    independent: bool = True
    layer: str = "features"


PROFILES = {
    # A small CNN (64-d features) on digits at 8×8; students distilled for 20 epochs.
    "quick": Settings(),
    # The small CNN at full width (128-d features) on a 5,000-image CIFAR-10 subset at 32×32.
    "standard": Settings(
        dataset="cifar10", image_size=32, width=1.0,
        training=ClassifierTraining(epochs=10, lr=0.05, batch_size=128, train_subset=5_000),
        test_subset=1_000, penalties=(0.0, 1.0),
        distillation=DistillConfig(epochs=10, lr=3e-3, batch_size=128),
    ),
    # ResNet18 on CIFAR-100 for 100 epochs; students distilled for 100 epochs.
    "paper": Settings(
        dataset="cifar100", image_size=32, arch="resnet18", width=1.0,
        training=ClassifierTraining(epochs=100, lr=0.1, schedule="step", batch_size=128),
        penalties=(0.0, 1.0, 10.0),
        distillation=DistillConfig(epochs=100, lr=1e-3, batch_size=128),
    ),
}


def student_id(penalty: float) -> str:
    """The study's name of the student distilled with ``penalty``: ``student-penalty1``."""
    return f"student-penalty{penalty:g}"


class Converse(Study[Settings]):
    NAME = "converse"
    TITLE = "Same function, dissimilar representations: the converse (cf. Davari et al. 2023)"
    SECTION = None  # simfunc's own addition, not a section of the thesis
    PROFILES = PROFILES
    RESULT = ConverseResult
    # No pairs for the leaderboard. Every pair is a network against the one teacher: the
    # constructions are the teacher itself under exact linear maps (outputs identical, JSD
    # rounding error), the students are built from the teacher's outputs, and the independent
    # network is one more network. They are constructions around one network, not a sample of
    # networks, so there is no relation across pairs to rank measures by (and four pairs with
    # one network in common leave network-level inference nothing to resample). The claims are
    # judged one by one in the scorecard instead.
    LEADERBOARD = None

    def plan(self, settings: Settings) -> Plan:
        _check(settings)
        check_layers((settings.layer,), (settings.arch,), width=settings.width)
        test = ImageSet(settings.dataset, "test", data_root=settings.data_root,
                        subset=settings.test_subset, classes=settings.classes)
        teacher_train, teacher_extract = f"train/{self.NAME}-teacher", f"extract/{self.NAME}-teacher"
        jobs = [train_job(teacher_train, self._training(settings, settings.teacher_seed),
                          [ModelRecord(TEACHER_ID)]),
                extract_job(teacher_extract, teacher_train, test, layers=(settings.layer,))]
        meta = {"teacher_id": TEACHER_ID, "arch": settings.arch, "test_set": settings.dataset,
                "study": self.NAME}
        if settings.conditions:
            jobs.append(Job(
                f"{self.NAME}/construction", f"{_JOBS}:construct",
                {"conditions": [float(c) for c in settings.conditions], "layer": settings.layer,
                 "test": test.to_json(), "batch_size": 256},
                deps=(teacher_train,), record=f"{_JOBS}:record_construction", meta=meta))
        inputs, names = [teacher_extract], [TEACHER_ID]
        for penalty in settings.penalties:
            job_id = f"{self.NAME}/distill-penalty{penalty:g}"
            jobs.append(Job(
                job_id, f"{_JOBS}:distill_student",
                {"penalty": float(penalty), "distillation": asdict(settings.distillation),
                 "seed": settings.student_seed, "layer": settings.layer, "test": test.to_json()},
                deps=(teacher_train,), record=f"{_JOBS}:record_student",
                meta={**meta, "model_id": student_id(penalty)}, label=f"distill penalty={penalty:g}"))
            inputs.append(job_id)
            names.append(student_id(penalty))
        if settings.independent:
            train_id = f"train/{self.NAME}-independent"
            jobs.append(train_job(train_id, self._training(settings, settings.student_seed),
                                  [ModelRecord(INDEPENDENT_ID)]))
            jobs.append(extract_job(f"extract/{self.NAME}-independent", train_id, test,
                                    layers=(settings.layer,)))
            inputs.append(f"extract/{self.NAME}-independent")
            names.append(INDEPENDENT_ID)
        if len(inputs) > 1:
            jobs.append(compare_job(f"compare/{self.NAME}", inputs, names,
                                    [(0, i) for i in range(1, len(inputs))],
                                    test_set=settings.dataset, layer=settings.layer))
        return Plan(jobs)

    @staticmethod
    def _training(settings: Settings, seed: int) -> Any:
        return settings.training.config(
            arch=settings.arch, dataset=settings.dataset, seed=seed, width=settings.width,
            image_size=settings.image_size, data_root=settings.data_root,
            classes=settings.classes, test_subset=settings.test_subset)

    def analyse(self, results: ResultsDB, context: AnalysisContext[Settings]) -> StudyOutput:
        frame = pairs_frame(results, context.settings.layer)
        empty = frame.empty or "kind" not in frame
        constructions = (frame[frame["kind"] == "construction"].sort_values("condition")
                         if not empty else frame)
        others = frame[frame["kind"] != "construction"] if not empty else frame
        scalars = results.scalars(study=self.NAME)
        by_name = dict(zip(scalars["name"], scalars["value"])) if len(scalars) else {}
        teacher = results.models(model_id=TEACHER_ID)
        result = ConverseResult(
            teacher_accuracy=_number(teacher["accuracy"].iloc[0]) if len(teacher) else None,
            cka_limit=_number(by_name.get("cka_limit")),
            constructions=tuple(Construction(
                model=str(row["model_b"]), measures=_measures(row),
                condition=float(row["condition"]),
                max_abs_logit_difference=_number(row.get("max_abs_logit_difference")))
                for _, row in constructions.iterrows()),
            students=tuple(Student(
                model=str(row["model_b"]), measures=_measures(row),
                penalty=_number(row.get("penalty")), accuracy=_number(row.get("accuracy")))
                for _, row in others.iterrows()))
        shown, tables = [], []
        if not empty:
            path = _figure(constructions, others, result.cka_limit,
                           context.figures_dir / "converse.png")
            shown.append(FigureRef(path, prose.FIGURE_CAPTION))
        if len(constructions):
            tables.append(Table(prose.CONSTRUCTION_TABLE,
                                _table(constructions, ["condition", "max_abs_logit_difference"]),
                                float_format="{:.4g}"))
        if len(others):
            tables.append(Table(prose.STUDENTS_TABLE, _table(others, ["penalty", "accuracy"]),
                                float_format="{:.4g}"))
        section = prose.section(self.NAME, self.TITLE, result, context.settings, shown, tables)
        return StudyOutput(result, section)


def _check(settings: Settings) -> None:
    if any(not (c >= 1) for c in settings.conditions):
        raise InputError(f"conditions must all be at least 1, got {list(settings.conditions)}")
    if any(not (p >= 0) for p in settings.penalties):
        raise InputError(f"penalties must all be >= 0, got {list(settings.penalties)}")
    for name in ("conditions", "penalties"):
        values = getattr(settings, name)
        if len(set(values)) != len(values):
            raise InputError(f"{name} lists a value twice: {list(values)}")


def pairs_frame(db: ResultsDB, layer: str) -> pd.DataFrame:
    """One row per pair with the teacher: the other model's kind, condition / penalty and
    accuracy, one column per measure."""
    wide = db.wide_pairs(layer=[layer, OUTPUT_LAYER])
    if wide.empty:
        return wide
    models = db.models().set_index("model_id")
    wide = wide[wide["model_a"] == TEACHER_ID].copy()
    wide["kind"] = wide["model_b"].map(models["kind"])
    wide["accuracy"] = wide["model_b"].map(models["accuracy"])
    extra = [e if isinstance(e, dict) else {} for e in wide["model_b"].map(models["extra"])]
    for key in ("condition", "penalty", "max_abs_logit_difference"):
        wide[key] = [e.get(key) for e in extra]
    return wide.reset_index(drop=True)


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _measures(row: pd.Series) -> dict[str, float | None]:
    """The measures of :data:`prose.SHOWN` and every output measure recorded for the pair."""
    from simfunc import functional

    return {name: _number(row[name]) for name in (*prose.SHOWN, *functional.OUTPUT_MEASURES)
            if name in row}


def _table(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    from simfunc import functional

    columns = ["model_b", *keys, *[m for m in prose.SHOWN if m in frame],
               *[m for m in functional.OUTPUT_MEASURES if m in frame]]
    return frame[columns].rename(columns={"model_b": "model"}).reset_index(drop=True)


def _figure(constructions: pd.DataFrame, others: pd.DataFrame, limit: float | None,
            path: Path) -> Path:
    fig, axes = figures.new_figure(1, 2, panel_size=(5.0, 3.8))
    left, right = axes[0, 0], axes[0, 1]
    if len(constructions):
        shown = [m for m in ("linear_cka", "rbf_cka", "cca", "svcca", "pwcca", "mutual_knn",
                             "rsa") if m in constructions]
        for name, colour in zip(shown, figures.series_colors(len(shown))):
            dashed = name == "cca"  # lies on top of pwcca at 1
            left.plot(constructions["condition"], constructions[name], marker="o", ms=4,
                      color=colour, label=name, linestyle="--" if dashed else "-",
                      linewidth=2.2 if dashed else 1.4, zorder=3 if dashed else 2)
        if limit is not None:
            left.axhline(limit, color=figures.PALETTE["grey"], linestyle="--", linewidth=1,
                         label=f"CKA limit as κ → ∞ ({limit:.3f})")
        left.set_xscale("log")
        left.set_ylim(-0.05, 1.05)
        left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    left.set(xlabel="condition number κ of the inserted map",
             ylabel="similarity to the teacher's features",
             title="Exact construction: outputs identical")
    students = others[others["kind"] == "distilled"] if len(others) else others
    reference = others[others["kind"] != "distilled"] if len(others) else others
    for label, rows, colour, marker in (
            ("exact construction", constructions, figures.PALETTE["grey"], "o"),
            ("distilled students", students, figures.PALETTE["vermillion"], "s"),
            ("independently trained", reference, figures.PALETTE["blue"], "^")):
        if len(rows) and "linear_cka" in rows and "jsd" in rows:
            right.scatter(rows["linear_cka"], rows["jsd"], color=colour, marker=marker, s=40,
                          edgecolor="white", linewidth=0.5, label=label)
    for _, row in students.iterrows() if len(students) else []:
        if pd.notna(row.get("linear_cka")) and pd.notna(row.get("jsd")):
            right.annotate(f"penalty {row['penalty']:g}", (row["linear_cka"], row["jsd"]),
                           fontsize=7, xytext=(4, 4), textcoords="offset points")
    right.set(xlabel=figures.AXIS_LABELS["linear_cka"], ylabel=figures.AXIS_LABELS["jsd"],
              title="Every pair with the teacher")
    right.set_xlim(-0.05, 1.05)
    right.legend(fontsize=7, loc="upper right")
    return figures.save_figure(fig, path)


STUDY = Converse()
