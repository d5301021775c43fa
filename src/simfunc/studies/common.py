"""Pieces the studies share: naming, pair lists, and relating two measures (:class:`Relation`)."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from itertools import combinations
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from simfunc import stats
from simfunc.errors import InputError
from simfunc.store import OUTPUT_LAYER, ResultsDB
from simfunc.studies.relation import NETWORK_LEVEL, PAIR_LEVEL, Relation

__all__ = [
    "all_pairs",
    "relation_summary",
    "NETWORK_LEVEL",
    "inference_remark",
    "relation_interval",
    "relate_headline",
    "PAIR_LEVEL",
    "Relation",
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


def relation_summary(x: Sequence[float], y: Sequence[float], expected_sign: int,
                     n_permutations: int, n_resamples: int, seed: int = 0, *,
                     networks: tuple[Sequence[Any], Sequence[Any]] | None = None,
                     design: Mapping[str, Any] | None = None,
                     kendall_tests: bool = True) -> Relation:
    """Spearman's rho with its p-value and 95% CI, Kendall's tau, the least-squares line, and
    the fraction of discordant pairs — or the reason it is undefined — as a :class:`Relation`.

    Every study relates a representational measure to an output measure through this one
    function. When the points are pairs of networks, ``networks`` names the two networks
    behind each point (the ``model_a`` and ``model_b`` columns): pairs that share a network are
    not independent, so the headline p-value and interval are network-level
    (:func:`simfunc.stats.relate_networks`: a Mantel permutation test that relabels networks,
    and a bootstrap that redraws networks and rebuilds their pairs), with the pair-level ones
    beside them (``pair_p_value``, ``pair_ci``, ``pair_kendall_p``).
    ``design`` passes the study's structure on to ``relate_networks`` (``blocks``,
    ``combine``, ``strata``, ``clusters``, ``bootstrap_strata``): e.g. one block per cell, or
    training runs as the units redrawn. The result's ``inference`` says which kind the
    headline numbers are; without ``networks`` (points that are not pairs of networks), or
    when the network-level procedures are undefined (fewer than four networks), they are
    pair-level (``p_value`` and ``ci`` None) and ``network_level_undefined`` says why.
    ``kendall_tests=False`` skips Kendall's permutation tests (its p-values None); every test
    has its own stream of ``seed``, so the Spearman numbers do not change.
    """
    key = _relation_key(x, y, expected_sign, n_permutations, n_resamples, seed, networks,
                        design)
    with _RELATIONS_LOCK:
        known = _RELATIONS.get(key)
    if known is not None and (known.kendall_tests or not kendall_tests):
        return known.relation
    relation = _relation_summary(x, y, expected_sign, n_permutations, n_resamples, seed,
                                 networks, design, kendall_tests)
    with _RELATIONS_LOCK:
        if len(_RELATIONS) >= _MAX_RELATIONS:
            _RELATIONS.pop(next(iter(_RELATIONS)))
        _RELATIONS[key] = _KnownRelation(relation, kendall_tests)
    return relation


@dataclasses.dataclass(frozen=True)
class _KnownRelation:
    relation: Relation
    kendall_tests: bool


# relation_summary is a pure function of its arguments (every test seeded), so a relation
# asked for again — the factor table's rows that repeat the headline, the leaderboard's rows
# for a study's own headline — is answered from here; keyed by the values themselves.
_RELATIONS: dict[str, _KnownRelation] = {}
_RELATIONS_LOCK = threading.Lock()
_MAX_RELATIONS = 4096


def _relation_key(x: Any, y: Any, *settings: Any) -> str:
    digest = hashlib.sha256()
    for values in (x, y):
        array = np.ascontiguousarray(np.asarray(values, dtype=float))
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    *numbers, networks, design = settings
    digest.update(repr(numbers).encode())
    if networks is not None:
        for side in networks:
            digest.update(repr([str(v) for v in side]).encode())
    digest.update(repr(_canonical(design)).encode())
    return digest.hexdigest()


def _canonical(value: Any) -> Any:
    """A repr-stable form of a design mapping (blocks, strata, clusters, ...)."""
    if isinstance(value, Mapping):
        return sorted((str(k), _canonical(v)) for k, v in value.items())
    if isinstance(value, pd.Series):
        return sorted((str(k), str(v)) for k, v in value.items())
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_canonical(v) for v in value]
    return str(value)


def _relation_summary(x: Sequence[float], y: Sequence[float], expected_sign: int,
                      n_permutations: int, n_resamples: int, seed: int,
                      networks: tuple[Sequence[Any], Sequence[Any]] | None,
                      design: Mapping[str, Any] | None, kendall_tests: bool) -> Relation:
    try:
        stats.as_ranked_pair(x, y)  # the points relate() and relate_networks() both need
    except InputError as error:
        return Relation.undefined_because(len(x), str(error), expected_sign)
    discordant = discordant_fraction(x, y, expected_sign)
    network_level_undefined = n_networks = None
    if networks is not None:
        try:
            network = stats.relate_networks(
                x, y, a=list(networks[0]), b=list(networks[1]), n_permutations=n_permutations,
                n_resamples=n_resamples, seed=seed, kendall_tests=kendall_tests,
                **dict(design or {}))
        except InputError as error:
            network_level_undefined = str(error)
            n_networks = len(set(networks[0]) | set(networks[1]))
        else:  # its pair-level numbers are relate()'s, so relate() is not called again
            return Relation.from_network(network, expected_sign, discordant)
    try:
        relation = stats.relate(x, y, n_permutations=n_permutations, n_resamples=n_resamples,
                                seed=seed, kendall_test=kendall_tests)
    except InputError as error:
        return Relation.undefined_because(len(x), str(error), expected_sign)
    return Relation.pair_level(relation, expected_sign, discordant,
                               network_level_undefined=network_level_undefined,
                               n_networks=n_networks)


def relate_headline(headline: Any, measure: str, output: str, expected_sign: int,
                    kendall_tests: bool = True) -> Relation:
    """The relation of ``output`` to ``measure`` over a study's declared
    :class:`~simfunc.studies.base.Headline` (its pairs where both are defined, its blocks,
    strata, clusters and Monte Carlo settings): :func:`relation_summary` with network-level
    inference, its ``population`` the headline's. The study's headline and the leaderboard's
    row for its group both come from here, so they are the same numbers."""
    pairs = headline.pairs
    population = headline.population
    missing = [c for c in (measure, output) if c not in pairs]
    if missing:
        return Relation.undefined_because(0, f"{missing[0]} not recorded", expected_sign,
                                          population)
    both = pairs.dropna(subset=[measure, output])
    design: dict[str, Any] = {"combine": headline.combine}
    if headline.blocks is not None:
        design["blocks"] = list(both[headline.blocks])
    for key in ("strata", "clusters", "bootstrap_strata"):
        if getattr(headline, key) is not None:
            design[key] = getattr(headline, key)
    constant = [name for name, column in ((measure, both[measure]), (output, both[output]))
                if len(column) and stats.constant_reason(column.to_numpy(float)) is not None]
    if constant:
        return Relation.undefined_because(
            len(both), f"{constant[0]} is constant to numerical precision over the "
                       f"{len(both)} pairs: a correlation with it is undefined",
            expected_sign, population)
    if len(both) < 3:
        return Relation.undefined_because(
            len(both), f"{len(both)} pair(s) with both {measure} and {output}: a correlation "
                       "needs 3", expected_sign, population)
    relation = relation_summary(
        both[measure].to_numpy(float), both[output].to_numpy(float), expected_sign,
        headline.n_permutations, headline.n_resamples, headline.seed,
        networks=(both["model_a"], both["model_b"]), design=design, kendall_tests=kendall_tests)
    return dataclasses.replace(relation, population=population)


def relation_interval(relation: Relation) -> tuple[tuple[float, float] | None, str | None]:
    """The interval a :class:`Relation`'s verdict may use, or None and why.

    Only a network-level interval decides: when pairs share networks, the pair-level interval
    treats them as independent and is too narrow, so a relation whose network-level interval
    is undefined gets none (the reason names the pair-level interval it did not use).
    """
    if relation.undefined is not None:
        return None, relation.undefined
    if not relation.network_level:
        why = relation.network_level_undefined or "the relation has no network-level inference"
        ci = relation.pair_ci
        shown = "" if ci is None else f" (the pair-level interval {ci[0]:.3f} to {ci[1]:.3f} is " \
            "not used: pairs that share networks are not independent)"
        return None, f"network-level interval undefined: {why}{shown}"
    if relation.ci is None:
        notes = " ".join(relation.notes) or "too few defined bootstrap resamples"
        return None, f"network-level interval undefined: {notes}"
    return relation.ci, None


def inference_remark(relation: Relation) -> str:
    """What a report says about how a :class:`Relation`'s p-value and interval were
    obtained (or why the relation is undefined)."""
    if relation.undefined is not None:
        return relation.undefined
    if relation.network_level:
        pair_ci = relation.pair_ci
        pair = (f"pair-level p {relation.pair_p_value:.2g}"
                + (f", interval {pair_ci[0]:.3f} to {pair_ci[1]:.3f}" if pair_ci else ""))
        remark = (f"p and interval are network-level ({relation.n_networks} networks: "
                  "Mantel permutation test, network bootstrap); treating pairs as independent "
                  f"would give {pair}.")
        return remark + ("" if not relation.notes else " " + " ".join(relation.notes))
    why = relation.network_level_undefined
    return ("p and interval are pair-level, so optimistic when pairs share networks"
            + (f" (network-level undefined: {why})" if why else "") + ".")


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
