"""Thesis §3.3 — across architectures, does CKA of the representations predict the outputs?

Several architectures, each trained from a few seeds on one data set, plus their untrained
twins (each network's initial weights, before any training). For every unordered pair of
distinct trained networks: linear CKA (and every other registered representational measure) of
the penultimate features, and the Jensen–Shannon divergence and the Spearman rank coefficient
(and every other output measure) of their outputs on the test set. The untrained pairs form a
second series.

The thesis (CIFAR-100, VGG11/13/16, ResNet18/34, MobileNet, MobileNetV2) found Spearman's rho
between CKA and JSD of −0.75 and between CKA and the rank coefficient of 0.703 (Table 3.1):
more similar representations go with more similar outputs — but many pairs break the trend,
and untrained pairs have JSD ≈ 0 at any CKA (their outputs are all near-uniform).
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
from simfunc.studies.common import all_pairs, pair_frame, relation_summary, stand_ins
from simfunc.studies.classifier_jobs import (
    ImageSet,
    ModelRecord,
    compare_job,
    extract_job,
    train_job,
    untrained_twin,
)

NAME = "architectures"
TITLE = "Architectures (thesis §3.3)"
THESIS = {"spearman_cka_vs_jsd": -0.75, "spearman_cka_vs_rank": 0.703}


@dataclass(frozen=True)
class Settings:
    """Settings of the architectures study (every one can be overridden).

    dataset / data_root / classes: the training and test set. image_size, width: network input
    size and channel multiplier. archs × seeds: the trained networks; ``untrained`` adds each
    one's initial weights as a second series. epochs, lr, schedule, batch_size: SGD.
    train_subset / test_subset: stratified subsets (None: the whole split). layer: the compared
    representation. n_permutations / n_resamples: permutation test and bootstrap sizes.
    """

    dataset: str = "digits"
    data_root: str | None = None
    classes: tuple[int, ...] | None = None
    image_size: int | None = 16
    archs: tuple[str, ...] = ("mlp", "cnn", "vgg11", "resnet18", "mobilenetv2")
    width: float = 0.125
    seeds: tuple[int, ...] = (0, 1)
    untrained: bool = True
    epochs: int = 6
    lr: float = 0.05
    schedule: str = "cosine"
    batch_size: int = 64
    train_subset: int | None = None
    test_subset: int | None = None
    layer: str = "features"
    n_permutations: int = 10_000
    n_resamples: int = 10_000


PROFILES = {
    # Digits upsampled to 16×16 (the smallest input the CIFAR-style VGG accepts), five
    # architectures at 1/8 width, two seeds: ten trained networks, 45 + 45 pairs, about a minute.
    "quick": Settings(),
    # Real images: CIFAR-10 in place of CIFAR-100, all seven thesis architectures at 1/8 width,
    # two seeds, a 5,000-image training subset for 10 epochs (benchmarks/train.py: about 15
    # CPU-minutes of training in all).
    "standard": Settings(
        dataset="cifar10", image_size=32, archs=("vgg11", "vgg13", "vgg16", "resnet18",
        "resnet34", "mobilenet", "mobilenetv2"), width=0.125, seeds=(0, 1), epochs=10,
        lr=0.05, batch_size=128, train_subset=5_000, test_subset=1_000,
    ),
    # The thesis: CIFAR-100, full-width networks, 100 epochs (for GPUs).
    "paper": Settings(
        dataset="cifar100", image_size=32, archs=("vgg11", "vgg13", "vgg16", "resnet18",
        "resnet34", "mobilenet", "mobilenetv2"), width=1.0, seeds=(0, 1), epochs=100, lr=0.1,
        schedule="step", batch_size=128, train_subset=None, test_subset=None,
    ),
}


def _train_config(settings: Settings, arch: str, seed: int) -> Any:
    from simfunc.train.supervised import TrainConfig

    return TrainConfig(
        arch=arch, dataset=settings.dataset, data_root=settings.data_root, width=settings.width,
        image_size=settings.image_size, classes=settings.classes,
        train_subset=settings.train_subset, test_subset=settings.test_subset, seed=seed,
        epochs=settings.epochs, lr=settings.lr, schedule=settings.schedule,
        batch_size=settings.batch_size, checkpoint_epochs=(0,) if settings.untrained else (),
    )


def model_id(arch: str, seed: int, trained: bool = True) -> str:
    return f"{arch}-s{seed}" + ("" if trained else "-untrained")


def plan(settings: Settings) -> Plan:
    jobs = []
    test = ImageSet(settings.dataset, "test", data_root=settings.data_root,
                    subset=settings.test_subset, classes=settings.classes)
    series = {True: ([], []), False: ([], [])}  # trained? -> (extract ids, model ids)
    for arch in settings.archs:
        for seed in settings.seeds:
            train_id = f"train/{NAME}-{arch}-s{seed}"
            models = [ModelRecord(model_id(arch, seed))]
            if settings.untrained:
                models.append(untrained_twin(model_id(arch, seed)))
            jobs.append(train_job(train_id, _train_config(settings, arch, seed), models))
            for trained in (True, False) if settings.untrained else (True,):
                extract_id = f"extract/{NAME}-{model_id(arch, seed, trained)}"
                jobs.append(extract_job(extract_id, train_id, test, epoch=None if trained else 0,
                                        layers=(settings.layer,)))
                series[trained][0].append(extract_id)
                series[trained][1].append(model_id(arch, seed, trained))
    for trained, (inputs, names) in series.items():
        if len(inputs) >= 2:
            jobs.append(compare_job(
                f"compare/{NAME}-{'trained' if trained else 'untrained'}", inputs, names,
                all_pairs(len(inputs)), test_set=settings.dataset, layer=settings.layer,
            ))
    return Plan(jobs)


# --------------------------------------------------------------------------------- analysis


def _scatter(frame: pd.DataFrame, output_measure: str, ax: Any) -> dict[str, Any]:
    groups = [("trained pairs", frame["both_trained"].to_numpy(), figures.PALETTE["blue"]),
              ("untrained pairs", frame["both_untrained"].to_numpy(), figures.PALETTE["vermillion"])]
    return figures.relation_panel(
        ax, frame["linear_cka"], frame[output_measure], groups=groups,
        fit_mask=frame["both_trained"].to_numpy(), xlabel=figures.AXIS_LABELS["linear_cka"],
        ylabel=figures.AXIS_LABELS[output_measure],
        title=f"CKA vs {'JSD' if output_measure == 'jsd' else 'rank coefficient'}",
    )


def analyse(db: Any, settings: Settings, figures_dir: Path) -> tuple[dict[str, Any], Section]:
    frame = pair_frame(db, settings.layer)
    trained = frame[frame["both_trained"]]
    untrained = frame[frame["both_untrained"]]
    summary: dict[str, Any] = {"n_pairs": int(len(trained)), "n_untrained_pairs": int(len(untrained))}
    for output, expected_sign, key in (("jsd", -1, "spearman_cka_vs_jsd"),
                                       ("spearman", 1, "spearman_cka_vs_rank")):
        summary[key] = relation_summary(trained["linear_cka"], trained[output], expected_sign,
                                        settings.n_permutations, settings.n_resamples)
    if len(untrained):
        summary["untrained"] = {
            "mean_jsd": float(untrained["jsd"].mean()),
            "cka_range": [float(untrained["linear_cka"].min()), float(untrained["linear_cka"].max())],
            "mean_jsd_trained": float(trained["jsd"].mean()) if len(trained) else None,
        }
    models = db.models()
    summary["models"] = {row.model_id: row.accuracy for row in models.itertuples()
                         if row.trained}

    fig, axes = figures.new_figure(1, 2)
    _scatter(frame, "jsd", axes[0, 0])
    _scatter(frame, "spearman", axes[0, 1])
    fig.suptitle(f"{len(trained)} pairs of trained networks on {settings.dataset}, "
                 "penultimate features")
    scatter_path = figures.save_figure(fig, figures_dir / "cka_vs_outputs.png")

    def value(key: str) -> float | None:
        return summary[key].get("spearman")

    comparison = pd.DataFrame({
        "quantity": ["Spearman ρ(CKA, JSD)", "Spearman ρ(CKA, rank coefficient)", "pairs"],
        "thesis (CIFAR-100)": [THESIS["spearman_cka_vs_jsd"], THESIS["spearman_cka_vs_rank"], "–"],
        "this run": [value("spearman_cka_vs_jsd"), value("spearman_cka_vs_rank"), len(trained)],
    })
    findings = _findings(summary)
    table = pd.DataFrame([
        {"model": row.model_id, "architecture": row.arch, "seed": row.seed,
         "test accuracy": row.accuracy}
        for row in models.itertuples() if row.trained
    ])
    section = Section(
        id=NAME, title=TITLE,
        summary=(
            "Each point is a pair of networks compared on the same test images: the linear CKA "
            "of their penultimate features against the Jensen–Shannon divergence (left) and "
            "the Spearman rank coefficient (right) of their outputs. Blue: pairs of trained "
            "networks (the line is fitted to these); red: pairs of untrained networks."
        ),
        figures=[FigureRef(scatter_path, "CKA vs JSD and vs the rank coefficient of the outputs, "
                           "trained pairs in blue, untrained in red; title: least-squares "
                           "slope and Spearman's ρ over the trained pairs.")],
        tables=[Table("Trained networks", table)] if len(table) else [],
        comparison=comparison, findings=findings,
        stand_ins=stand_ins({"CIFAR-100": (settings.dataset, settings.classes)}),
        settings=settings_dict(settings),
    )
    return summary, section


def _findings(summary: dict[str, Any]) -> list[str]:
    out = []
    jsd = summary["spearman_cka_vs_jsd"]
    rank = summary["spearman_cka_vs_rank"]
    if "undefined" in jsd:
        out.append(f"ρ(CKA, JSD) is undefined here: {jsd['undefined']}")
    else:
        low, high = jsd["spearman_ci"]
        out.append(
            f"Thesis: higher CKA goes with lower JSD, ρ = −0.75. This run: ρ = {jsd['spearman']:.3f} "
            f"(95% CI {low:.3f} to {high:.3f}, permutation p = {jsd['spearman_p']:.2g}) over "
            f"{jsd['n']} pairs — {'the same direction' if jsd['spearman'] < 0 else 'NOT the same direction'}."
        )
        out.append(
            f"Thesis: many pairs break the trend. Here {100 * jsd['discordant_fraction']:.0f}% of "
            "the pairs of pairs are discordant (the one with the higher CKA has the larger JSD)."
        )
    if "undefined" not in rank:
        out.append(f"Thesis: ρ(CKA, rank coefficient) = 0.703. This run: ρ = {rank['spearman']:.3f}.")
    untrained = summary.get("untrained")
    if untrained:
        low, high = untrained["cka_range"]
        out.append(
            f"Thesis: untrained pairs have JSD ≈ 0 at any CKA. This run: mean JSD of untrained "
            f"pairs {untrained['mean_jsd']:.3f} (trained pairs {untrained['mean_jsd_trained']:.3f}) "
            f"while their CKA spans {low:.2f}–{high:.2f}."
        )
    return out
