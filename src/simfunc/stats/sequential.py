"""Sequential Monte Carlo p-values: stop drawing once the p-value is settled.

A Monte Carlo permutation test with a fixed number B of draws spends all B draws whatever the
data. Besag and Clifford (1991) showed that the test can stop early and stay exact. Draw the
null statistics one at a time, in the fixed order of the seeded stream, and count those at
least as extreme as the observed one. With a stopping number h:

* if the count reaches h at draw L (L <= B), stop there and report ``p = h / L``;
* otherwise, after all B draws with g < h extreme ones, report ``p = (g + 1) / (B + 1)``,
  exactly the fixed-size p-value (Phipson & Smyth 2010) of the same draws.

The reported p is a valid p-value (``P(p <= u) <= u`` under the null for every u, Besag &
Clifford 1991, section 2): a decision "p <= alpha" is a test of level alpha. Large p-values
stop early (about h / p draws), which is where the fixed test wastes its draws; small ones
(p below about h / B) are computed from all B draws, with the same value as before. The early
stopping costs precision only where precision does not matter: the relative standard error
of ``h / L`` is about ``sqrt((1 - p) / h)``, 10 % for h = 100 — the first significant digit
of a p-value reported to two (e.g. 0.43 against 0.4, never 0.43 against 0.04). The decision
"p <= alpha" is the fixed-size test's for every alpha below ``h / (B + 1)`` (0.01 at h = 100,
B = 10,000): a test that stops early has seen h extreme draws, so both p-values exceed it.

The rule is evaluated draw by draw over batches of draws: the stopping draw, and so the
p-value, do not depend on the batch sizes, only on the seed.

Reference:
    J. Besag, P. Clifford, "Sequential Monte Carlo p-values", Biometrika 78(2):301-304, 1991.
    B. Phipson, G. K. Smyth, "Permutation p-values should never be zero", Stat. Appl. Genet.
    Mol. Biol. 9(1), 2010.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from simfunc.errors import InputError

__all__ = ["DEFAULT_STOP_AFTER", "SequentialCount", "check_stop_after", "batch_schedule",
           "extreme_indicator", "sequential_count"]

# Besag and Clifford's h: draws at least as extreme as the observed statistic after which the
# test stops (a relative standard error of about 10 % for the p-value it then reports).
DEFAULT_STOP_AFTER = 100
# Draws in the first batch of a Monte Carlo test (later batches double).
FIRST_BATCH = 256
# Statistics within this of the observed one count as "at least as extreme": permutations
# that reproduce the observed ordering must not be lost to rounding.
TIE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class SequentialCount:
    """Where a sequential Monte Carlo test stopped.

    ``draws``: null draws used (with a defined statistic); ``extreme``: how many of them were
    at least as extreme as the observed statistic; ``stopped``: whether it stopped early
    (``extreme`` reached the stopping number); ``attempted``: draws made, defined or not.
    """

    draws: int
    extreme: int
    stopped: bool
    attempted: int

    @property
    def p(self) -> float:
        """``extreme / draws`` when stopped early, else ``(extreme + 1) / (draws + 1)``."""
        if self.stopped:
            return self.extreme / self.draws
        return (self.extreme + 1) / (self.draws + 1)


def extreme_indicator(values: np.ndarray, observed: float, alternative: str) -> np.ndarray:
    """1.0 where a null value is at least as extreme as ``observed`` (within 1e-12) for
    ``alternative`` (``|v| >= |obs|``, ``v >= obs`` or ``v <= obs``), 0.0 where it is not,
    NaN where it is NaN (an undefined statistic)."""
    if alternative == "two-sided":
        extreme = np.abs(values) >= abs(observed) - TIE_TOLERANCE
    elif alternative == "greater":
        extreme = values >= observed - TIE_TOLERANCE
    else:
        extreme = values <= observed + TIE_TOLERANCE
    return np.where(np.isnan(values), np.nan, extreme.astype(np.float64))


def check_stop_after(value: object) -> int | None:
    """``stop_after``: None (never stop early) or an integer >= 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"stop_after must be None or an integer >= 1, got {value!r}")
    return int(value)


def batch_schedule(total: int, cap: int, stop_after: int | None = None) -> Iterator[int]:
    """Sizes of consecutive batches of draws summing to ``total``, each at most ``cap``.

    A first batch of :data:`FIRST_BATCH` draws (enough to stop a p-value above about 0.4),
    then doubling up to ``cap``: a test that stops at draw L has drawn fewer than about
    ``2 L + FIRST_BATCH``. The schedule is the same with and without early stopping
    (``stop_after`` is not used), so the two draw exactly the same relabellings even where
    a batch's draws depend on its size (several strata or blocks are shuffled stratum by
    stratum within a batch): a test that does not stop early gives the fixed-size p-value.
    """
    cap = max(1, cap)
    size = min(cap, FIRST_BATCH)
    done = 0
    while done < total:
        step = min(size, total - done)
        yield step
        done += step
        size = min(cap, 2 * size)


def sequential_count(extreme_batches: Iterable[np.ndarray], stop_after: int | None
                     ) -> SequentialCount:
    """Run the Besag-Clifford rule over batches of draws (see the module docstring).

    ``extreme_batches`` yields, batch after batch in draw order, a float array per draw:
    1.0 where the draw is at least as extreme as the observed statistic, 0.0 where it is not,
    NaN where its statistic is undefined (it is not a draw of the test). Iteration stops as
    soon as the rule stops, so later batches are never computed.
    """
    draws = extreme = attempted = 0
    for batch in extreme_batches:
        batch = np.asarray(batch, dtype=np.float64)
        defined = batch[~np.isnan(batch)]
        if stop_after is not None and extreme + defined.sum() >= stop_after:
            running = extreme + np.cumsum(defined)
            at = int(np.argmax(running >= stop_after))  # the draw that reaches stop_after
            position = np.flatnonzero(~np.isnan(batch))[at]
            return SequentialCount(draws + at + 1, stop_after, True,
                                   attempted + position + 1)
        draws += defined.size
        extreme += int(defined.sum())
        attempted += batch.size
    return SequentialCount(draws, extreme, False, attempted)
