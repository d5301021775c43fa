"""The converse of thesis ch. 4 — the same function with dissimilar representations.

Chapter 4 shows two networks with identical representations and opposite outputs. The gap runs
the other way too (cf. Davari et al. 2023, "Reliability of CKA as a similarity measure in deep
learning", ICLR): networks with identical or near-identical outputs whose representations CKA
calls dissimilar.

(a) **Exact construction.** A trained classifier (the teacher) gets an invertible, badly
conditioned linear map ``A = I + (κ − 1) v vᵀ`` inserted after its feature layer and ``A⁻¹``
folded into its last layer (see :mod:`simfunc.studies.converse_jobs`): the outputs are the
teacher's to float64 rounding (JSD ~0), while linear CKA between the old and the new features
falls, as κ grows, to the lowest value a stretch of one direction allows. Measures invariant to
invertible linear maps (R²_CCA, mean CCA) stay at 1. Swept over κ.

(b) **Trained version.** Students (same architecture, another seed) are distilled from the
teacher's outputs with a penalty on the linear CKA between their features and the teacher's
(penalty 0 is plain distillation); an independently trained network (same architecture, the
students' seed, true labels) is the reference. Reported: every measure, JSD and disagreement to
the teacher, and accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from simfunc import figures
from simfunc.errors import InputError
from simfunc.report import FigureRef, Section, Table
from simfunc.runner import Job, Plan
from simfunc.settings import settings_dict
from simfunc.store import OUTPUT_LAYER
from simfunc.studies.base import Selection
from simfunc.studies.classifier_jobs import (
    ImageSet,
    ModelRecord,
    compare_job,
    extract_job,
    train_job,
)
from simfunc.studies.common import slug, stand_ins

NAME = "converse"
TITLE = "Same function, dissimilar representations: the converse (cf. Davari et al. 2023)"
# The leaderboard compares the students and the independent network against the teacher; the
# exact constructions are left out (their outputs are identical, so JSD is rounding error).
LEADERBOARD = Selection(exclude_kinds=("construction",))
TEACHER_ID = "teacher"
INDEPENDENT_ID = "independent"
SHOWN = ("linear_cka", "debiased_cka", "rbf_cka", "cca", "mean_cca", "svcca", "pwcca",
         "procrustes", "angular_shape", "mutual_knn", "rsa")


@dataclass(frozen=True)
class Settings:
    """Settings of the converse study.

    dataset / data_root / classes / image_size, arch / width, epochs / lr / schedule /
    batch_size, train_subset / test_subset: the teacher, trained with SGD from
    ``teacher_seed`` (and the independent network, from ``student_seed``). conditions: the
    condition numbers κ of the inserted map. penalties: the CKA-penalty weight of each
    distilled student; distill_epochs / distill_lr / distill_batch_size: their Adam training.
    independent: also train the reference network. layer: the compared features.
    """

    dataset: str = "digits"
    data_root: str | None = None
    classes: tuple[int, ...] | None = None
    image_size: int | None = None
    arch: str = "cnn"
    width: float = 0.5
    epochs: int = 10
    lr: float = 0.05
    schedule: str = "cosine"
    batch_size: int = 64
    train_subset: int | None = None
    test_subset: int | None = None
    teacher_seed: int = 0
    student_seed: int = 1
    conditions: tuple[float, ...] = (1.0, 10.0, 100.0, 1e3, 1e4, 1e6)
    penalties: tuple[float, ...] = (0.0, 1.0, 10.0)
    distill_epochs: int = 20
    distill_lr: float = 3e-3
    distill_batch_size: int = 64
    independent: bool = True
    layer: str = "features"


PROFILES = {
    # A small CNN (64-d features) on digits at 8×8; students distilled for 20 epochs.
    "quick": Settings(),
    # The small CNN at full width (128-d features) on a 5,000-image CIFAR-10 subset at 32×32.
    "standard": Settings(
        dataset="cifar10", image_size=32, width=1.0, epochs=10, lr=0.05, batch_size=128,
        train_subset=5_000, test_subset=1_000, penalties=(0.0, 1.0), distill_epochs=10,
        distill_batch_size=128,
    ),
    # ResNet18 on CIFAR-100 for 100 epochs; students distilled for 100 epochs.
    "paper": Settings(
        dataset="cifar100", image_size=32, arch="resnet18", width=1.0, epochs=100, lr=0.1,
        schedule="step", batch_size=128, penalties=(0.0, 1.0, 10.0), distill_epochs=100,
        distill_lr=1e-3, distill_batch_size=128,
    ),
}


def _train_config(settings: Settings, seed: int) -> Any:
    from simfunc.train.supervised import TrainConfig

    return TrainConfig(
        arch=settings.arch, dataset=settings.dataset, data_root=settings.data_root,
        classes=settings.classes, width=settings.width, image_size=settings.image_size,
        train_subset=settings.train_subset, test_subset=settings.test_subset, seed=seed,
        epochs=settings.epochs, lr=settings.lr, schedule=settings.schedule,
        batch_size=settings.batch_size,
    )


def student_id(penalty: float) -> str:
    return f"student-penalty{penalty:g}"


def plan(settings: Settings) -> Plan:
    if any(not (c >= 1) for c in settings.conditions):
        raise InputError(f"conditions must all be at least 1, got {list(settings.conditions)}")
    if any(not (p >= 0) for p in settings.penalties):
        raise InputError(f"penalties must all be >= 0, got {list(settings.penalties)}")
    for name in ("conditions", "penalties"):
        values = getattr(settings, name)
        if len(set(values)) != len(values):
            raise InputError(f"{name} lists a value twice: {list(values)}")
    test = ImageSet(settings.dataset, "test", data_root=settings.data_root,
                    subset=settings.test_subset, classes=settings.classes)
    teacher_train = f"train/{NAME}-teacher"
    teacher_extract = f"extract/{NAME}-teacher"
    jobs = [
        train_job(teacher_train, _train_config(settings, settings.teacher_seed),
                  [ModelRecord(TEACHER_ID)]),
        extract_job(teacher_extract, teacher_train, test, layers=(settings.layer,)),
    ]
    meta = {"teacher_id": TEACHER_ID, "arch": settings.arch, "test_set": settings.dataset,
            "study": NAME}
    if settings.conditions:
        jobs.append(Job(
            f"{NAME}/construction", "simfunc.studies.converse_jobs:construct",
            {"conditions": [float(c) for c in settings.conditions], "layer": settings.layer,
             "test": test.to_json(), "batch_size": 256},
            deps=(teacher_train,), record="simfunc.studies.converse_jobs:record_construction",
            meta=meta,
        ))
    inputs, names = [teacher_extract], [TEACHER_ID]
    for penalty in settings.penalties:
        job_id = f"{NAME}/distill-penalty{penalty:g}"
        jobs.append(Job(
            job_id, "simfunc.studies.converse_jobs:distill",
            {"penalty": float(penalty), "epochs": settings.distill_epochs,
             "lr": settings.distill_lr, "batch_size": settings.distill_batch_size,
             "seed": settings.student_seed, "layer": settings.layer,
             "test": test.to_json()},
            deps=(teacher_train,), record="simfunc.studies.converse_jobs:record_student",
            meta={**meta, "model_id": student_id(penalty)}, label=f"distill penalty={penalty:g}",
        ))
        inputs.append(job_id)
        names.append(student_id(penalty))
    if settings.independent:
        train_id = f"train/{NAME}-independent"
        jobs.append(train_job(train_id, _train_config(settings, settings.student_seed),
                              [ModelRecord(INDEPENDENT_ID)]))
        jobs.append(extract_job(f"extract/{NAME}-independent", train_id, test,
                                layers=(settings.layer,)))
        inputs.append(f"extract/{NAME}-independent")
        names.append(INDEPENDENT_ID)
    if len(inputs) > 1:
        jobs.append(compare_job(f"compare/{NAME}", inputs, names,
                                [(0, i) for i in range(1, len(inputs))],
                                test_set=settings.dataset, layer=settings.layer))
    return Plan(jobs)


# --------------------------------------------------------------------------------- analysis


def pairs_frame(db: Any, layer: str) -> pd.DataFrame:
    """One row per pair with the teacher: the other model's kind, condition / penalty and
    accuracy, one column per measure."""
    wide = db.wide_pairs(layer=[layer, OUTPUT_LAYER])
    if wide.empty:
        return wide
    models = db.models().set_index("model_id")
    wide = wide[wide["model_a"] == TEACHER_ID].copy()
    wide["kind"] = wide["model_b"].map(models["kind"])
    wide["accuracy"] = wide["model_b"].map(models["accuracy"])
    extra = wide["model_b"].map(models["extra"])
    wide["condition"] = [e.get("condition") if isinstance(e, dict) else None for e in extra]
    wide["penalty"] = [e.get("penalty") if isinstance(e, dict) else None for e in extra]
    wide["max_abs_logit_difference"] = [
        e.get("max_abs_logit_difference") if isinstance(e, dict) else None for e in extra]
    return wide.reset_index(drop=True)


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _rows(frame: pd.DataFrame, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    from simfunc import functional

    out = []
    for _, row in frame.iterrows():
        item = {key: _number(row.get(key)) for key in keys}
        item["model"] = row["model_b"]
        for name in (*SHOWN, *functional.OUTPUT_MEASURES):
            if name in row:
                item[name] = _number(row[name])
        out.append(item)
    return out


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
    groups = [("exact construction", constructions, figures.PALETTE["grey"], "o")]
    students = others[others["kind"] == "distilled"] if len(others) else others
    reference = others[others["kind"] != "distilled"] if len(others) else others
    groups += [("distilled students", students, figures.PALETTE["vermillion"], "s"),
               ("independently trained", reference, figures.PALETTE["blue"], "^")]
    for label, rows, colour, marker in groups:
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


def analyse(db: Any, settings: Settings, figures_dir: Path) -> tuple[dict[str, Any], Section]:
    frame = pairs_frame(db, settings.layer)
    empty = frame.empty or "kind" not in frame
    constructions = (frame[frame["kind"] == "construction"].sort_values("condition")
                     if not empty else frame)
    others = frame[frame["kind"] != "construction"] if not empty else frame
    scalars = db.scalars(study=NAME)
    by_name = dict(zip(scalars["name"], scalars["value"])) if len(scalars) else {}
    limit = by_name.get("cka_limit")
    teacher = db.models(model_id=TEACHER_ID)
    summary: dict[str, Any] = {
        "teacher_accuracy": _number(teacher["accuracy"].iloc[0]) if len(teacher) else None,
        "cka_limit": limit,
        "constructions": _rows(constructions, ("condition", "max_abs_logit_difference")),
        "students": _rows(others, ("penalty", "accuracy")),
    }
    section_figures = []
    if not empty:
        path = _figure(constructions, others, limit, figures_dir / "converse.png")
        section_figures.append(FigureRef(
            path, "Left: the exact construction — similarity between the teacher's features and "
            "the features after the inserted map, against the map's condition number (the "
            "outputs are identical throughout). Right: linear CKA against JSD of the outputs for "
            "every network compared with the teacher: constructions, distilled students "
            "(labelled with their CKA penalty) and an independently trained network."))
    tables = []
    if len(constructions):
        tables.append(Table("Exact construction: every measure between the teacher and the "
                            "network with the inserted map, per condition number κ",
                            _table(constructions, ["condition", "max_abs_logit_difference"]),
                            float_format="{:.4g}"))
    if len(others):
        tables.append(Table("Trained version: the students (and the independent network) "
                            "against the teacher; accuracy on the test set",
                            _table(others, ["penalty", "accuracy"]), float_format="{:.4g}"))
    section = Section(
        id=slug(NAME), title=TITLE,
        summary=(
            "The thesis's chapter 4 builds two networks with identical representations and "
            "opposite functions. This section shows the reverse gap: networks computing the same "
            "function whose representations the measures call dissimilar.\n\n"
            "(a) Exact: an invertible map A = I + (κ − 1)·v·vᵀ (condition number κ, v the "
            "least-variance principal direction of the teacher's training features) is inserted "
            "after the feature layer and A⁻¹ folded into the last layer, so the outputs are "
            "unchanged. (b) Trained: students distilled from the teacher's outputs with a "
            "penalty on the linear CKA between their features and the teacher's."
        ),
        figures=section_figures, tables=tables, findings=_findings(summary),
        stand_ins=stand_ins({"training set": (settings.dataset, settings.classes)}),
        settings=settings_dict(settings),
    )
    return summary, section


def _table(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    from simfunc import functional

    columns = ["model_b", *keys, *[m for m in SHOWN if m in frame],
               *[m for m in functional.OUTPUT_MEASURES if m in frame]]
    table = frame[columns].rename(columns={"model_b": "model"})
    return table.reset_index(drop=True)  # NaN (undefined) prints as a dash


def _fmt(value: float | None, spec: str = ".3f") -> str:
    """A number for the findings, or "n/a" where the measure was undefined."""
    return "n/a" if value is None else format(value, spec)


def _findings(summary: dict[str, Any]) -> list[str]:
    out = []
    constructions = summary["constructions"]
    defined = [r for r in constructions if r.get("linear_cka") is not None]
    if defined:
        worst = min(defined, key=lambda r: r["linear_cka"])
        jsd = [r["jsd"] for r in constructions if r.get("jsd") is not None]
        cca = [r["cca"] for r in constructions if r.get("cca") is not None]
        logits = max(r["max_abs_logit_difference"] for r in constructions)
        out.append(
            f"Exact construction: at κ = {worst['condition']:g} linear CKA to the teacher is "
            f"{worst['linear_cka']:.4f} while the outputs agree (largest JSD over all κ "
            f"{_fmt(max(jsd) if jsd else None, '.2e')}, largest logit difference "
            f"{logits:.2e})."
            + (f" R²_CCA stays within {max(abs(1 - c) for c in cca):.1e} of 1." if cca else "")
        )
        if summary["cka_limit"] is not None:
            out.append(f"As κ → ∞ linear CKA tends to {summary['cka_limit']:.4f}, the lowest a "
                       "stretch of one direction can reach.")
    students = [s for s in summary["students"] if s.get("penalty") is not None]
    if students:
        text = "; ".join(
            f"penalty {s['penalty']:g}: CKA {_fmt(s.get('linear_cka'))}, JSD "
            f"{_fmt(s.get('jsd'), '.4f')}, accuracy {_fmt(s.get('accuracy'))}"
            for s in students)
        out.append(f"Trained version — students distilled from the teacher: {text}.")
    for s in (s for s in summary["students"] if s.get("penalty") is None):
        out.append(f"Reference — an independently trained network: CKA "
                   f"{_fmt(s.get('linear_cka'))}, JSD {_fmt(s.get('jsd'), '.4f')}, accuracy "
                   f"{_fmt(s.get('accuracy'))}.")
    if summary["teacher_accuracy"] is not None:
        out.append(f"Teacher accuracy: {summary['teacher_accuracy']:.3f}.")
    return out
