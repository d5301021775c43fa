"""The bottleneck factor table's words: its two report tables and what the evidence says.

Read from the typed :class:`~simfunc.studies.minigrid.result.FactorTable` only. The reading
is mechanical: a factor explains the bottleneck's weaker relation when changing it alone
narrows bottleneck − plain of ρ(CKA, JSD) to half the headline's gap or less.
"""

from __future__ import annotations

import pandas as pd

from simfunc.report import Table
from simfunc.studies.minigrid.factors import supported
from simfunc.studies.minigrid.result import FactorTable, MeanRelation

__all__ = ["factor_tables", "reading"]


def _shown(mean: MeanRelation | None) -> str:
    if mean is None or mean.rho is None:
        return "undefined" if mean is None else f"undefined ({mean.relation.undefined or ''})"
    interval = ("no interval" if mean.ci is None
                else f"[{mean.ci[0]:.3f}, {mean.ci[1]:.3f}]")
    return f"{mean.rho:+.3f} {interval}"


def factor_tables(table: FactorTable) -> list[Table]:
    variants = list(table.equal_policies)
    rows = []
    for level in table.levels:
        row = {"factor": level.factor, "level": level.level + (" (headline)"
                                                               if level.is_headline else "")}
        for variant in variants:
            row[f"{variant}: ρ(CKA, JSD) [95% CI]"] = (
                _shown(level.jsd.get(variant)) if level.jsd else "—")
            row[f"{variant}: pairs"] = level.n_pairs.get(variant, 0)
        row["bottleneck − plain"] = level.difference
        if level.qualities:
            row["agents optimal/mediocre/poor"] = "; ".join(
                f"{variant} {q['optimal']}/{q['mediocre']}/{q['poor']}"
                for variant, q in level.qualities.items())
        row["note"] = level.note or ""
        rows.append(row)
    factors = Table(
        "The bottleneck factor table: one thing of the headline's design changed at a time; "
        "mean over cells of Spearman ρ(CKA, JSD) with its network-level 95% interval (runs "
        "redrawn within each training size), and bottleneck − plain of the two means "
        "(negative: the bottleneck's relation is the stronger, as §3.5.1 says)",
        pd.DataFrame(rows))
    equal = Table(
        "Pairs of two optimal agents (R > 0.8; headline population): how often their greedy "
        "paths from the start differ, and their mean JSD when the paths agree and when they "
        "differ. No view of an Empty room has two shortest-path actions (a turn costs a "
        "step), so two agents that both act on a shortest path never disagree: equally good "
        "agents (by the thesis's return criterion) differ where one of them leaves it",
        pd.DataFrame([{"variant": variant, "pairs": e.n_pairs,
                       "greedy paths differ": e.share_paths_differ,
                       "mean JSD, paths agree": e.mean_jsd_paths_agree,
                       "mean JSD, paths differ": e.mean_jsd_paths_differ}
                      for variant, e in table.equal_policies.items()]))
    return [factors, equal]


def reading(table: FactorTable) -> str:
    """What the table supports, in one paragraph."""
    base = next((level for level in table.levels if level.is_headline), None)
    if base is None or base.difference is None:
        return ("Bottleneck factor table: the headline has no ρ(CKA, JSD) for both variants, so "
                "no factor can be read against it.")
    if base.difference <= 0:
        return (f"Bottleneck factor table: in the headline design the bottleneck's ρ(CKA, JSD) "
                f"is already at least as strong as plain's (bottleneck − plain "
                f"{base.difference:+.3f}), as §3.5.1 says.")
    narrows, stays = supported(table)
    words = "; ".join(
        f"{level.factor}: {level.level} ({level.difference:+.3f}"
        + (", reversed" if level.difference <= 0 else "") + ")" for level in narrows) or "none"
    return (f"Bottleneck factor table: in the headline design the bottleneck's ρ(CKA, JSD) is "
            f"weaker than plain's (bottleneck − plain {base.difference:+.3f}, against §3.5.1). "
            f"Changing one factor narrows the gap to half or less under: {words}; it stays "
            f"wider under the other {len(stays)} rows. Each row's intervals (in the table) say "
            "whether its two relations are decided.")
