"""The MiniGrid study's claims: the thesis's findings of §3.5 and §3.5.1 beside this run's
numbers, each judged by the one verdict rule (:mod:`simfunc.scorecard`).

Claims (stable ids):

* ``minigrid.plain.cka_jsd`` / ``minigrid.plain.cka_rank``: Table 3.1, "MiniGrid (average)":
  the mean over cells of Spearman ρ(CKA, JSD) −0.721 and ρ(CKA, rank coefficient) 0.58;
* ``minigrid.bottleneck.cka_jsd`` / ``minigrid.bottleneck.cka_rank``: "MiniGrid with
  bottleneck", −0.781 and 0.602;
* ``minigrid.bottleneck_stronger``: "using the bottleneck improves the correlation" (§3.5.1):
  bottleneck − plain of the mean ρ(CKA, JSD) is negative (the thesis's −0.781 − (−0.721));
* ``minigrid.slopes_alike``: with the bottleneck "the best fit lines have more consistent
  slopes across plots" (Figure 3.8's caption; no number): bottleneck − plain of the spread
  (standard deviation over cells) of the cells' standardized CKA–JSD slopes is negative;
* ``minigrid.<variant>.discordant``: "many points violate the inverse linear relationship"
  (§3.5): the mean over cells of the fraction of discordant pairs of pairs is at least 10%.

Relations are judged from their network-level 95% interval only (runs redrawn); without one
the verdict is inconclusive and says why. ``differs`` says how this run's experiment differs
from the thesis's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simfunc.report import ThesisRow
from simfunc.scorecard import AtLeast, judge_point, judge_relation
from simfunc.studies.common import inference_remark
from simfunc.studies.minigrid.prose import VARIANT_TITLES
from simfunc.studies.minigrid.settings import THESIS_TRAIN_SIZES

if TYPE_CHECKING:
    from simfunc.studies.minigrid.result import Contrast, MeanRelation, MiniGridResult
    from simfunc.studies.minigrid.settings import Settings

__all__ = ["THESIS", "MANY_DISCORDANT", "differs", "thesis_rows"]

THESIS = {  # Table 3.1
    "plain": {"jsd": -0.721, "rank": 0.58},
    "bottleneck": {"jsd": -0.781, "rank": 0.602},
}
# "Many points violate the relationship": at least this fraction of pairs of pairs discordant.
MANY_DISCORDANT = 0.1
NETWORK_CI = "network-bootstrap 95% interval (runs redrawn within training sizes)"
CONTRAST_CI = "network-bootstrap 95% interval (each variant's runs redrawn independently)"


def differs(settings: Settings, profile: str) -> str:
    """How this run's experiment differs from the thesis's §3.5 (rl-starter-files PPO, 16
    rooms, agents trained to convergence on 5, 6, 8 and 16; seeds and save points unstated)."""
    schedule = settings.training.schedule(settings.train_sizes)
    steps = ", ".join(f"{size}×{size}: {'/'.join(map(str, points))}"
                      for size, points in schedule.items() if size in settings.train_sizes)
    out = [f"{len(settings.seeds)} run(s) per training size and variant, kept at steps {steps} "
           "(the thesis trains to convergence and gives neither seeds nor save points)",
           f"SB3 PPO with {settings.training.n_envs} parallel rooms (the thesis: rl-starter-files, "
           "16)"]
    missing = [s for s in THESIS_TRAIN_SIZES if s not in settings.train_sizes]
    if missing:
        out.append(f"no {', '.join(f'{s}×{s}' for s in missing)} training room: "
                   f"{len(settings.train_sizes) * len(settings.test_sizes)} cells, not the "
                   "thesis's 12")
    out.append(f"pairs compared on the states both agents visit in {settings.episodes} seeded "
               f"episode(s) of the test room, at most {settings.max_states} states an agent")
    out.append("population: simfunc's reading of 'we ignore the agents that follow sub-optimal "
               "paths' (runs that do not end optimal left out) and of pairs across runs")
    if profile == "quick":
        out.append("quick budget: runs stop once most of them solve their room, so agents are "
                   "less converged than the standard profile's (up to 491,520 steps on 16×16); "
                   "the size of a relation, and for the bottleneck its direction, can differ "
                   "between the two profiles")
    return "; ".join(out)


def _relation_row(variant: str, key: str, mean: MeanRelation, differ: str) -> ThesisRow:
    thesis = THESIS.get(variant, {}).get(key)
    label = "JSD" if key == "jsd" else "rank coefficient"
    claim = f"higher CKA goes with {'lower JSD' if key == 'jsd' else 'a higher rank coefficient'}"
    remark = (f"Mean over {mean.n_cells} cells ({mean.population}). "
              + inference_remark(mean.relation))
    is_claim = thesis is not None
    return ThesisRow(
        quantity=f"{VARIANT_TITLES[variant]}: mean over cells of ρ(CKA, {label})",
        thesis=thesis, value=mean.rho, claim=claim if is_claim else "", ci=mean.ci,
        p_value=mean.p_value, n=mean.n_pairs,
        judgement=judge_relation(mean.expected_sign, mean.ci, thesis=thesis, value=mean.rho,
                                 undefined=mean.ci_undefined, what=NETWORK_CI)
        if is_claim else None,
        remark=remark, id=f"minigrid.{variant}.cka_{key}" if is_claim else None,
        differs=differ if is_claim else "")


def _contrast_row(contrast: Contrast, claim_id: str, quantity: str, claim: str,
                  thesis: float | str, remark: str, differ: str, n_pairs: int) -> ThesisRow:
    undefined = contrast.undefined or contrast.ci_undefined
    number = thesis if isinstance(thesis, float) else None
    notes = " ".join(contrast.notes)
    return ThesisRow(
        quantity=quantity, thesis=thesis, value=contrast.difference, claim=claim, ci=contrast.ci,
        n=n_pairs, n_of="pairs (both variants)",
        judgement=judge_relation(-1, contrast.ci, thesis=number, value=contrast.difference,
                                 undefined=undefined, what=CONTRAST_CI),
        remark=remark + (f" {notes}" if notes else ""), id=claim_id, differs=differ)


def _value(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def thesis_rows(result: MiniGridResult, settings: Settings, profile: str) -> list[ThesisRow]:
    """The thesis's findings beside this run's numbers (headline population)."""
    differ = differs(settings, profile)
    both = sum(result.variants[v].jsd.n_pairs for v in ("plain", "bottleneck")
               if v in result.variants)
    rows: list[ThesisRow] = []
    for variant, variant_result in result.variants.items():
        rows += [_relation_row(variant, "jsd", variant_result.jsd, differ),
                 _relation_row(variant, "rank", variant_result.rank, differ)]
        fraction = variant_result.mean_discordant_fraction
        is_claim = variant in THESIS
        rows.append(ThesisRow(
            quantity=f"{VARIANT_TITLES[variant]}: pairs of pairs breaking the CKA–JSD trend",
            thesis="many", value=fraction, claim="many pairs break the trend" if is_claim else "",
            percent=True,
            judgement=judge_point(fraction, AtLeast(MANY_DISCORDANT, "many pairs of pairs "
                                                    "discordant (mean over cells)"),
                                  undefined="no cell with a defined relation")
            if is_claim else None,
            remark="Mean over cells of the fraction of pairs of pairs in which the one with "
                   "the higher CKA has the larger JSD.",
            id=f"minigrid.{variant}.discordant" if is_claim else None,
            differs=differ if is_claim else ""))
    if result.stronger is not None:
        thesis = round(THESIS["bottleneck"]["jsd"] - THESIS["plain"]["jsd"], 3)
        stronger = result.stronger
        rows.append(_contrast_row(
            stronger, "minigrid.bottleneck_stronger",
            "mean ρ(CKA, JSD): bottleneck minus plain", "the relation is stronger with the "
            "bottleneck", thesis,
            f"Negative: CKA tracks JSD more closely with the bottleneck (plain "
            f"{_value(stronger.plain)}, bottleneck {_value(stronger.bottleneck)}).", differ, both))
    if result.slopes_alike is not None:
        slopes = result.slopes_alike
        spreads = "; ".join(
            f"{name} slopes {s.min:.3f} to {s.max:.3f} over {s.n_cells} cells"
            for name, s in ((v, result.variants[v].slopes_jsd) for v in ("plain", "bottleneck"))
            if s is not None)
        cv = {v: result.variants[v].slopes_jsd for v in ("plain", "bottleneck")}
        rows.append(_contrast_row(
            slopes, "minigrid.slopes_alike",
            "spread of the cells' standardized CKA–JSD slopes: bottleneck minus plain",
            "with the bottleneck the slopes are more alike across grid sizes",
            "negative (no number given)",
            f"Negative: the slopes vary less with the bottleneck. Spread: the standard "
            f"deviation over cells of slope × s_CKA / s_JSD (s: standard deviation over the "
            f"variant's headline pairs; scale-free, as the two networks' CKA and JSD ranges "
            f"differ): plain {_value(slopes.plain)}, bottleneck {_value(slopes.bottleneck)}. "
            f"The coefficient of variation std / |mean| (unstable when the mean slope is near "
            f"0): plain {_value(cv['plain'] and cv['plain'].cv)}, bottleneck "
            f"{_value(cv['bottleneck'] and cv['bottleneck'].cv)} ({spreads}).", differ, both))
    return rows
