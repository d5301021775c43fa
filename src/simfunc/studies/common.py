"""Pieces the image-classifier studies share: naming, pair lists, relation summaries."""

from __future__ import annotations

from itertools import combinations
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from simfunc import stats
from simfunc.errors import InputError
from simfunc.store import OUTPUT_LAYER, ResultsDB

__all__ = [
    "all_pairs",
    "relation_summary",
    "INFERENCE",
    "discordant_fraction",
    "slug",
    "STAND_INS",
    "stand_ins",
]

# What each thesis data set is replaced by in the profiles that cannot use it.
STAND_INS = {
    "cifar100": "CIFAR-100",
    "cifar10": "CIFAR-10",
    "imagenet32": "ImageNet32 (downsampled ImageNet, 32×32)",
    "tiny-imagenet": "Tiny-ImageNet resized to 32×32",
    "voc": "Pascal VOC (images only)",
    "cats-vs-dogs": "Cats vs Dogs resized to 32×32",
    "digits": "scikit-learn digits",
    "photo-patches": "patches of scikit-learn's two sample photographs",
}


def slug(text: str) -> str:
    """A name safe in job ids and file names: ``digits[0-4]`` -> ``digits-0-4``."""
    out = "".join(c if c.isalnum() or c in "-_." else "-" for c in str(text))
    return "-".join(part for part in out.split("-") if part)


def describe_dataset(name: str, classes: Sequence[Any] | None = None) -> str:
    base = STAND_INS.get(name, name)
    if classes:
        return f"{base}, classes {', '.join(map(str, classes))}"
    return base


def stand_ins(mapping: dict[str, tuple[str, Sequence[Any] | None]]) -> dict[str, str]:
    """{thesis data set: (dataset, classes)} -> {thesis data set: description}."""
    return {thesis: describe_dataset(name, classes) for thesis, (name, classes) in mapping.items()}


def all_pairs(n: int) -> list[tuple[int, int]]:
    """Every unordered pair (i, j), i < j, of n items."""
    return list(combinations(range(n), 2))


def discordant_fraction(x: Iterable[float], y: Iterable[float], expected_sign: int) -> float:
    """The fraction of pairs of points that break the expected monotone trend.

    For points (x_i, y_i) and (x_j, y_j) with x_i != x_j, a pair "breaks the trend" when
    sign(y_i - y_j) is the opposite of ``expected_sign`` * sign(x_i - x_j) (ties in y count as
    half). With ``expected_sign = -1`` (more CKA, less JSD) this is the thesis's "violations":
    two model pairs where the one with the higher CKA also has the more different outputs.
    """
    x = np.asarray(list(x), dtype=float)
    y = np.asarray(list(y), dtype=float)
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    upper = np.triu(np.ones_like(dx, dtype=bool), k=1) & (dx != 0)
    if not upper.any():
        raise InputError("x is constant: no pair of points orders it")
    product = (dx * dy * expected_sign)[upper]
    return float(np.mean(np.where(product < 0, 1.0, np.where(product == 0, 0.5, 0.0))))


#: How the p-values and intervals of :func:`relation_summary` treat the points.
INFERENCE = "pair-level"


def relation_summary(x: Sequence[float], y: Sequence[float], expected_sign: int,
                     n_permutations: int, n_resamples: int, seed: int = 0, *,
                     networks: tuple[Sequence[str], Sequence[str]] | None = None) -> dict[str, Any]:
    """Spearman's rho with its permutation p-value and bootstrap CI, Kendall's tau, the
    least-squares line, and the fraction of discordant pairs — or the reason it is undefined.

    Every study relates a representational measure to an output measure through this one
    function. ``networks`` names the two networks behind each point (``(model_a, model_b)``
    columns) when the points are pairs of networks: pairs that share a network are not
    independent. Today the permutation test and the bootstrap resample the points
    (``inference: "pair-level"``, so the p-value and interval are optimistic when networks
    repeat); network-level inference (permuting and resampling networks) replaces them here,
    in one place, for every study that passes ``networks``.
    """
    try:
        relation = stats.relate(x, y, n_permutations=n_permutations, n_resamples=n_resamples,
                                seed=seed)
    except InputError as error:
        return {"n": len(x), "undefined": str(error)}
    out = relation.to_dict()
    out["discordant_fraction"] = discordant_fraction(x, y, expected_sign)
    out["inference"] = INFERENCE
    if networks is not None:
        out["n_networks"] = len(set(networks[0]) | set(networks[1]))
    return out


def pair_frame(db: ResultsDB, layer: str, test_set: str | None = None) -> pd.DataFrame:
    """One row per compared pair with one column per measure (representational measures at
    ``layer``, output measures), plus whether both models are trained."""
    filters: dict[str, Any] = {"layer": [layer, OUTPUT_LAYER]}
    if test_set is not None:
        filters["test_set"] = test_set
    wide = db.wide_pairs(**filters)
    models = db.models().set_index("model_id")
    trained = models["trained"].astype(bool)
    wide["trained_a"] = wide["model_a"].map(trained)
    wide["trained_b"] = wide["model_b"].map(trained)
    wide["both_trained"] = wide["trained_a"] & wide["trained_b"]
    wide["both_untrained"] = ~wide["trained_a"] & ~wide["trained_b"]
    return wide
