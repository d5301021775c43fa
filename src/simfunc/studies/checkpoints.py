"""Thesis §3.4 — during training, do representations and outputs converge together?

Two architectures × two seeds × three learning rates; checkpoints saved along the way at the
thesis's epochs (scaled to the profile's epoch count). Every checkpoint is compared with the
final model of its own run: CKA of the penultimate features (and every other registered
measure) and JSD of the outputs (and every other output measure) on the test set.

The thesis (ResNet18 and VGG16 on CIFAR-100; learning rates 0.01, 0.001, 0.0001; 100 epochs)
found CKA rising and JSD falling together, in a roughly linear relation whose slope depends on
the architecture.
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
from simfunc.studies.common import pair_frame, relation_summary, slug, stand_ins

NAME = "checkpoints"
TITLE = "Checkpoints against the final model (thesis §3.4)"
# The leaderboard compares every checkpoint against its final model.
LEADERBOARD = Selection()


@dataclass(frozen=True)
class Settings:
    """Settings of the checkpoints study.

    archs × seeds × lrs: the training runs. epochs: their length; checkpoint epochs are the
    thesis's list (0, 1, …, 10, 15, …, 40, 50, …, 100) scaled to ``epochs``, or
    ``checkpoint_epochs`` when given. The rest as in the other studies.
    """

    dataset: str = "digits"
    data_root: str | None = None
    classes: tuple[int, ...] | None = None
    image_size: int | None = 16
    archs: tuple[str, ...] = ("cnn", "vgg11")
    width: float = 0.25
    seeds: tuple[int, ...] = (0, 1)
    lrs: tuple[float, ...] = (0.05, 0.01, 0.002)
    epochs: int = 10
    checkpoint_epochs: tuple[int, ...] | None = None
    schedule: str = "constant"
    batch_size: int = 64
    train_subset: int | None = None
    test_subset: int | None = None
    layer: str = "features"
    n_permutations: int = 2_000
    n_resamples: int = 2_000


PROFILES = {
    # Digits at 16×16: a small CNN and VGG11 at 1/4 width, 10 epochs, checkpoints at every epoch.
    # Learning rates are higher than the thesis's: with 10 epochs its 1e-4 would not move.
    "quick": Settings(),
    # CIFAR-10 subset, ResNet18 and VGG16 at 1/8 width, the thesis's learning rates scaled up by
    # 10 for a 15-epoch run (checkpoints: the thesis list scaled to 15 epochs).
    "standard": Settings(
        dataset="cifar10", image_size=32, archs=("resnet18", "vgg16"), width=0.125,
        lrs=(0.1, 0.01, 0.001), epochs=15, batch_size=128, train_subset=5_000,
        test_subset=1_000,
    ),
    # The thesis: ResNet18 and VGG16 on CIFAR-100, lr 0.01 / 0.001 / 0.0001, 100 epochs.
    "paper": Settings(
        dataset="cifar100", image_size=32, archs=("resnet18", "vgg16"), width=1.0,
        lrs=(0.01, 0.001, 0.0001), epochs=100, batch_size=128,
    ),
}


def checkpoint_list(settings: Settings) -> tuple[int, ...]:
    from simfunc.train.supervised import scale_checkpoint_epochs

    if settings.checkpoint_epochs is not None:
        return tuple(sorted(set(settings.checkpoint_epochs)))
    return scale_checkpoint_epochs(settings.epochs)


def run_id(arch: str, seed: int, lr: float) -> str:
    return f"{arch}-lr{lr:g}-s{seed}"


def plan(settings: Settings) -> Plan:
    from simfunc.train.supervised import TrainConfig

    epochs = [e for e in checkpoint_list(settings) if e < settings.epochs]
    test = ImageSet(settings.dataset, "test", data_root=settings.data_root,
                    subset=settings.test_subset, classes=settings.classes)
    jobs = []
    for arch in settings.archs:
        for lr in settings.lrs:
            for seed in settings.seeds:
                name = run_id(arch, seed, lr)
                train_id = f"train/{NAME}-{name}"
                config = TrainConfig(
                    arch=arch, dataset=settings.dataset, data_root=settings.data_root,
                    classes=settings.classes, width=settings.width,
                    image_size=settings.image_size, train_subset=settings.train_subset,
                    test_subset=settings.test_subset, seed=seed, epochs=settings.epochs, lr=lr,
                    schedule=settings.schedule, batch_size=settings.batch_size,
                    checkpoint_epochs=tuple(epochs),
                )
                final = f"{name}-final"
                models = [ModelRecord(final, extra={"run": name, "lr": lr})] + [
                    ModelRecord(f"{name}-e{e}", epoch=e, kind="checkpoint", trained=e > 0,
                                parent=final, extra={"run": name, "lr": lr})
                    for e in epochs
                ]
                jobs.append(train_job(train_id, config, models))
                inputs = [f"extract/{NAME}-{final}"]
                jobs.append(extract_job(inputs[0], train_id, test, layers=(settings.layer,)))
                for e in epochs:
                    inputs.append(f"extract/{NAME}-{name}-e{e}")
                    jobs.append(extract_job(inputs[-1], train_id, test, epoch=e,
                                            layers=(settings.layer,)))
                ids = [final] + [f"{name}-e{e}" for e in epochs]
                jobs.append(compare_job(
                    f"compare/{NAME}-{name}", inputs, ids,
                    [(i, 0) for i in range(1, len(inputs))],  # checkpoint vs final
                    test_set=settings.dataset, layer=settings.layer,
                ))
    return Plan(jobs)


# --------------------------------------------------------------------------------- analysis


def _runs_frame(db: Any, layer: str) -> pd.DataFrame:
    frame = pair_frame(db, layer)
    models = db.models().set_index("model_id")
    frame["epoch"] = frame["model_a"].map(models["epoch"]).astype(int)
    frame["arch"] = frame["model_a"].map(models["arch"])
    frame["run"] = frame["model_b"].str.removesuffix("-final")
    frame["lr"] = frame["run"].str.extract(r"-lr([^-]+)-")[0].astype(float)
    return frame.sort_values(["run", "epoch"]).reset_index(drop=True)


def analyse(db: Any, settings: Settings, figures_dir: Path) -> tuple[dict[str, Any], Section]:
    frame = _runs_frame(db, settings.layer)
    runs = sorted(frame["run"].unique())
    # one colour per (architecture, learning rate); the seeds of a setting share it, with a
    # solid line for the first seed and dashed lines for the others
    settings_of = {run: run.rsplit("-s", 1)[0] for run in runs}
    colours = dict(zip(sorted(set(settings_of.values())),
                       figures.series_colors(len(set(settings_of.values())))))
    summary: dict[str, Any] = {"runs": {}}
    fig, axes = figures.new_figure(1, 3, panel_size=(4.6, 3.8))
    for run in runs:
        rows = frame[frame["run"] == run]
        first_seed = run.endswith(f"-s{settings.seeds[0]}")
        line = {"linestyle": "-" if first_seed else "--", "marker": "o", "ms": 3,
                "color": colours[settings_of[run]]}
        axes[0, 0].plot(rows["epoch"], rows["linear_cka"], label=run, **line)
        axes[0, 1].plot(rows["epoch"], rows["jsd"], **line)
        axes[0, 2].plot(rows["linear_cka"], rows["jsd"], **line)
        relation = relation_summary(rows["linear_cka"], rows["jsd"], -1,
                                    settings.n_permutations, settings.n_resamples)
        summary["runs"][run] = {
            "arch": rows["arch"].iloc[0], "lr": float(rows["lr"].iloc[0]),
            "rho_cka_jsd": relation.get("spearman"), "slope": relation.get("slope"),
            "p": relation.get("spearman_p"), "n_checkpoints": int(len(rows)),
            **({"undefined": relation["undefined"]} if "undefined" in relation else {}),
        }
    axes[0, 0].set(xlabel="epoch", ylabel="CKA with the final model", title="CKA vs epoch")
    axes[0, 1].set(xlabel="epoch", ylabel="JSD from the final model", title="JSD vs epoch")
    axes[0, 2].set(xlabel=figures.AXIS_LABELS["linear_cka"], ylabel=figures.AXIS_LABELS["jsd"],
                   title="CKA vs JSD along training")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right center", fontsize=7)
    path = figures.save_figure(fig, figures_dir / "checkpoints.png")

    per_arch = {}
    for arch in settings.archs:
        values = [r for r in summary["runs"].values() if r["arch"] == arch and r["slope"] is not None]
        if values:
            per_arch[arch] = {
                "mean_rho": float(np.mean([r["rho_cka_jsd"] for r in values])),
                "mean_slope": float(np.mean([r["slope"] for r in values])),
                "slopes": [r["slope"] for r in values],
            }
    summary["per_arch"] = per_arch
    rhos = [r["rho_cka_jsd"] for r in summary["runs"].values() if r["rho_cka_jsd"] is not None]
    summary["mean_rho"] = float(np.mean(rhos)) if rhos else None
    findings = []
    if rhos:
        negative = sum(r < 0 for r in rhos)
        findings.append(
            "Thesis: CKA rises and JSD falls together as training proceeds. This run: ρ(CKA, JSD) "
            f"along training is negative in {negative} of {len(rhos)} runs (mean {np.mean(rhos):.3f})."
        )
    if len(per_arch) >= 2:
        slopes = ", ".join(f"{arch} {v['mean_slope']:.3f}" for arch, v in per_arch.items())
        findings.append(f"Thesis: the slope depends on the architecture. Mean slope per "
                        f"architecture in this run: {slopes}.")
    table = pd.DataFrame([{"run": run, **{k: v for k, v in values.items() if k != "undefined"}}
                          for run, values in summary["runs"].items()])
    section = Section(
        id=slug(NAME), title=TITLE,
        summary=(
            "Each line is one training run (architecture, learning rate, seed); each point a "
            "checkpoint compared with that run's final model on the test set."
        ),
        figures=[FigureRef(path, "Left: CKA between each checkpoint and its final model; "
                           "middle: JSD between their outputs; right: the two against each "
                           "other. One colour per run.")],
        tables=[Table("Per run: Spearman ρ(CKA, JSD) over checkpoints and the least-squares "
                      "slope of JSD on CKA", table)],
        findings=findings,
        stand_ins=stand_ins({"CIFAR-100": (settings.dataset, settings.classes)}),
        settings=settings_dict(settings),
    )
    return summary, section
