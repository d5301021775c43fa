"""``relate``: everything a study reports about how two measures move together."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from simfunc.stats._inputs import as_ranked_pair, check_confidence, check_count, check_seed
from simfunc.stats.correlation import kendall, spearman
from simfunc.stats.regression import linear_fit
from simfunc.stats.resampling import bootstrap_ci, permutation_pvalue

__all__ = ["Relation", "relate"]


@dataclass(frozen=True)
class Relation:
    """How y relates to x over n paired items (e.g. CKA and JSD over model pairs).

    Attributes:
        n: number of pairs.
        spearman: Spearman's rho; ``spearman_p`` its two-sided permutation p-value;
            ``spearman_ci`` its percentile bootstrap interval at ``confidence``.
        kendall: Kendall's tau-b; ``kendall_p`` its two-sided permutation p-value (None when
            the call asked for no Kendall test).
        slope, intercept: the least-squares line y ≈ slope x + intercept.
        confidence, n_permutations, n_resamples, seed: the settings that produced it.
    """

    n: int
    spearman: float
    spearman_p: float
    spearman_ci: tuple[float, float]
    kendall: float
    kendall_p: float | None
    slope: float
    intercept: float
    confidence: float
    n_permutations: int
    n_resamples: int
    seed: int | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (the interval as a two-element list)."""
        values = asdict(self)
        values["spearman_ci"] = list(self.spearman_ci)
        return values


def relate(
    x: Any,
    y: Any,
    n_permutations: int = 10_000,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int | None = 0,
    kendall_test: bool = True,
) -> Relation:
    """Spearman's rho with p-value and bootstrap CI, Kendall's tau-b with p-value, and the
    least-squares slope of y on x, in one call ("rho, p, CI, slope" of a study).

    The p-values are two-sided sequential permutation p-values (``permutation_pvalue``: at
    most ``n_permutations`` draws, fewer for a large p-value), the interval a
    percentile bootstrap over pairs (``bootstrap_ci``), all seeded by ``seed``. Each test has
    its own stream from ``seed``, so ``kendall_test=False`` (no Kendall p-value: ``kendall_p``
    None) leaves every Spearman number as it is.

    Raises:
        InputError: x and y of different lengths, fewer than 3 points, NaN or infinite
            values, a constant x or y, or invalid counts, confidence or seed.
    """
    n_permutations = check_count(n_permutations, "n_permutations")
    n_resamples = check_count(n_resamples, "n_resamples")
    confidence = check_confidence(confidence)
    seed = check_seed(seed)
    x_values, y_values = as_ranked_pair(x, y)
    slope, intercept = linear_fit(x_values, y_values)
    return Relation(
        n=int(x_values.size),
        spearman=spearman(x_values, y_values),
        spearman_p=permutation_pvalue(x_values, y_values, "spearman", n_permutations, seed),
        spearman_ci=bootstrap_ci(
            x_values, y_values, "spearman", n_resamples, confidence, seed
        ),
        kendall=kendall(x_values, y_values),
        kendall_p=(permutation_pvalue(x_values, y_values, "kendall", n_permutations, seed)
                   if kendall_test else None),
        slope=slope,
        intercept=intercept,
        confidence=confidence,
        n_permutations=n_permutations,
        n_resamples=n_resamples,
        seed=seed,
    )
