"""Which similarity measure tracks function best? Every measure against every output measure.

Over every pair of networks the studies recorded — read from each study's ``results.sqlite``,
nothing recomputed — and for every registered representational measure against every output
measure (JSD, the Spearman rank coefficient, disagreement): Spearman's ρ across the pairs, its
p-value and its bootstrap 95 % interval, per study (per MiniGrid variant) and pooled over all
of them.

**Networks, not pairs, are the units.** Every network appears in many pairs, so the pairs are
not independent. ``p_value`` is a Mantel permutation test that relabels networks
(:func:`simfunc.stats.network_permutation_pvalue`) and ``ci_low``/``ci_high`` a bootstrap that
redraws networks and rebuilds their pairs (:func:`simfunc.stats.network_bootstrap_ci`), for
Spearman's ρ over all the pairs of the group (ρ itself is the same as before): the values
:func:`simfunc.stats.relate_networks` gives for the same pairs and design. Each study's
pairs on each test set form a block (one pair matrix: ``blocks`` = (study, test set)); a
network's id is prefixed by its study, so networks of different studies never merge; networks
are relabelled only within their study, and within the strata and bootstrap clusters its
``Selection`` declares (the checkpoints study: a run's checkpoints are relabelled among
themselves, and a training run is redrawn whole). The pair-level values — pairs shuffled and
redrawn as if independent, too small and too narrow — stay beside them as ``pair_p_value``,
``pair_ci_low``, ``pair_ci_high``. Where the network-level ones are undefined (fewer than four
networks, a design too sparse to relabel) they are empty and ``note`` says why.

**Orientation.** A measure "tracks function" when pairs it calls more similar also have more
similar outputs. Both kinds of measure declare their direction (``Measure.larger_is_more_similar``),
so the reported ρ is the raw ρ times ``s_rep · s_out`` with ``s = +1`` for a similarity and −1 for
a distance: linear CKA (similarity) against JSD (distance) tracks function when the raw ρ is
negative, and its oriented ρ is then positive. The p-value is two-sided (unchanged by the sign);
the interval is flipped with it. Larger oriented ρ is better, whatever the measures.

**Which pairs.** What each study's pairs mean differs, so each study declares which of its pairs
are comparable: its ``LEADERBOARD`` :class:`~simfunc.studies.base.Selection` (a layer, trained
pairs only, kinds of model left out, a grouping), or None when it contributes none. The
leaderboard reads the study's name from each run's database and asks the study; a study it does
not know contributes every pair that has output measures, at its ``layer`` setting (else
``features``). Pooled = every selected pair of every study.

Entry points: :func:`collect_pairs`, :func:`leaderboard` (the numbers), :func:`build` (numbers,
figure, report section), :func:`write_leaderboard` (and ``leaderboard.csv``); ``simfunc
leaderboard RUN_DIR`` on the command line. :func:`simfunc.runs.find_run_dirs` finds the runs.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from simfunc.errors import InputError
from simfunc.io import atomic_write_text
from simfunc.report import FigureRef, Section, Table
from simfunc.runs import RESULTS_FILE, find_run_dirs, latest_completed_run
from simfunc.store import OUTPUT_LAYER, ResultsDB
from simfunc.studies.base import Headline, Selection
from simfunc.studies.common import relate_headline

__all__ = [
    "OUTPUT_MEASURES",
    "POOLED",
    "Leaderboard",
    "selection_of",
    "collect_pairs",
    "headlines_of",
    "leaderboard",
    "overall_ranking",
    "build",
    "write_leaderboard",
    "CSV_FILE",
]

OUTPUT_MEASURES = ("jsd", "spearman", "disagreement")
OUTPUT_NAMES = {"jsd": "JSD", "spearman": "the rank coefficient", "disagreement": "disagreement"}
POOLED = "pooled"
CSV_FILE = "leaderboard.csv"
FIGURE_FILE = "leaderboard.png"
N_PERMUTATIONS = 2_000
N_RESAMPLES = 2_000
LEADERBOARD_THREADS = max(1, min(2, os.cpu_count() or 1))
COLUMNS = ["group", "measure", "output_measure", "n", "n_networks", "rho", "p_value", "ci_low",
           "ci_high", "pair_p_value", "pair_ci_low", "pair_ci_high", "raw_rho", "orientation",
           "rank", "note"]
# What identifies a pair's networks, their strata, bootstrap clusters and block (see _units).
UNIT_COLUMNS = ("network_a", "network_b", "stratum_a", "stratum_b", "cluster_a", "cluster_b",
                "block")


def selection_of(study: str) -> Selection | None:
    """The pairs ``study`` declares for the leaderboard (its ``LEADERBOARD``); every pair with
    output measures for a study simfunc does not know."""
    from simfunc.studies.framework import STUDIES, load_study

    return load_study(study).LEADERBOARD if study in STUDIES else Selection()


def describe(selection: Selection) -> str:
    """A selection in words, for the report."""
    parts = [f"the {selection.layer} layer" if selection.layer else "its compared layer"]
    if selection.trained_only:
        parts.append("pairs of trained models only")
    if selection.exclude_kinds:
        parts.append(f"without {', '.join(selection.exclude_kinds)} models")
    if selection.group_by:
        parts.append(f"one group per {selection.group_by}")
    if selection.strata:
        parts.append(f"networks relabelled only within the same {' and '.join(selection.strata)}")
    if selection.clusters:
        parts.append(f"each {selection.clusters} redrawn whole")
    return ", ".join(parts)


@dataclass
class Leaderboard:
    """The leaderboard's rows (:data:`COLUMNS`), its report section and headline numbers."""

    frame: pd.DataFrame
    section: Section
    summary: dict[str, Any]
    pairs: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)


# ------------------------------------------------------------------------------ the pairs


def _declared_headlines(db: ResultsDB, latest: dict[str, Any]) -> list[Headline]:
    """The headline relations the run's study declares (none for a study simfunc does not know)."""
    from simfunc.studies.framework import STUDIES, load_study

    if latest["study"] not in STUDIES:
        return []
    study = load_study(latest["study"])
    settings = study.settings(latest["profile"], latest["settings"], "the run's settings")
    return study.headlines(db, settings)


def headlines_of(run_dirs: Sequence[str | os.PathLike]) -> dict[str, Headline]:
    """The headline relations the studies of ``run_dirs`` declare, by group."""
    out: dict[str, Headline] = {}
    for run_dir in run_dirs:
        with ResultsDB(Path(run_dir) / RESULTS_FILE) as db:
            latest = latest_completed_run(db)
            if latest is not None and selection_of(latest["study"]) is not None:
                out.update({h.group: h for h in _declared_headlines(db, latest)})
    return out


def _headline_pairs(study: str, headline: Headline, run_dir: Path) -> pd.DataFrame:
    """A declared headline's pairs with the leaderboard's columns: its group, and its design
    as :data:`UNIT_COLUMNS` (network ids prefixed by the study)."""
    wide = headline.pairs.copy()
    wide["group"] = headline.group
    for side in ("a", "b"):
        ids = wide[f"model_{side}"]
        wide[f"network_{side}"] = study + ":" + ids
        wide[f"stratum_{side}"] = [
            f"{study}|{(headline.strata or {}).get(m)}" for m in ids]
        wide[f"cluster_{side}"] = [
            f"{study}|{headline.clusters[m]}" if headline.clusters and m in headline.clusters
            else f"{study}:{m}" for m in ids]
    block = (wide[headline.blocks].astype(str) if headline.blocks is not None
             else wide["test_set"].astype(str) if "test_set" in wide
             else pd.Series("", index=wide.index))
    wide["block"] = headline.group + "|" + block
    wide.insert(0, "study", study)
    wide["run_dir"] = str(run_dir)
    return wide


def _describe_headline(headline: Headline) -> str:
    parts = [headline.population]
    if headline.blocks is not None:
        parts.append(f"the {'mean over' if headline.combine == 'mean' else 'pooled'} "
                     f"{headline.blocks} blocks")
    if headline.strata:
        parts.append("networks relabelled within strata")
    if headline.clusters:
        parts.append("clusters redrawn whole")
    return ", ".join(parts) + " (the study's own headline relation)"


def _study_pairs(run_dir: Path, notes: list[str], selections: dict[str, str],
                 headlines: dict[str, Headline] | None = None) -> pd.DataFrame | None:
    """The selected pairs of one study run: one row per pair, one column per measure. A
    study that declares headline relations contributes exactly their pairs (recorded in
    ``headlines`` by group, so that :func:`leaderboard` relates them the study's way)."""
    with ResultsDB(run_dir / RESULTS_FILE) as db:
        latest = latest_completed_run(db)
        if latest is None:
            notes.append(f"{run_dir.name}: no completed run; left out")
            return None
        study = latest["study"]
        settings = dict(latest["settings"])
        selection = selection_of(study)
        if selection is None:
            notes.append(f"{study}: declares no pairs for the leaderboard; left out")
            return None
        declared = _declared_headlines(db, latest)
    if declared:
        frames = [_headline_pairs(study, h, run_dir) for h in declared if len(h.pairs)]
        if not frames:
            notes.append(f"{study}: its headline has no pairs; left out")
            return None
        for h in declared:
            if headlines is not None:
                headlines[h.group] = h
        selections[study] = "; ".join(_describe_headline(h) for h in declared)
        return pd.concat(frames, ignore_index=True, sort=False)
    with ResultsDB(run_dir / RESULTS_FILE) as db:
        layer = selection.layer or settings.get("layer") or "features"
        wide = db.wide_pairs(layer=[layer, OUTPUT_LAYER])
        models = db.models()
    measures = set(wide.columns) - {"model_a", "model_b", "test_set"}
    if wide.empty or not measures & set(OUTPUT_MEASURES):
        notes.append(f"{study}: records no pairs with output measures; left out")
        return None
    by_id = models.set_index("model_id")
    keep = np.ones(len(wide), dtype=bool)
    for side in ("model_a", "model_b"):
        known = wide[side].isin(by_id.index).to_numpy()
        keep &= known
        if selection.trained_only:
            keep &= wide[side].map(by_id["trained"]).fillna(False).astype(bool).to_numpy()
        if selection.exclude_kinds:
            keep &= ~wide[side].map(by_id["kind"]).isin(selection.exclude_kinds).to_numpy()
    wide = wide[keep].copy()
    if selection.group_by:
        values = wide["model_a"].map(
            lambda m: (by_id.loc[m, "extra"] or {}).get(selection.group_by, "?"))
        wide["group"] = [f"{study}/{v}" for v in values]
    else:
        wide["group"] = study
    _add_units(wide, study, selection, by_id)
    wide.insert(0, "study", study)
    wide["run_dir"] = str(run_dir)
    selections[study] = describe(selection)
    return wide


def _model_value(models: pd.DataFrame, model: str, key: str) -> Any:
    """A column of the models table (``kind``, ``arch``…) or else a key of the model's extra."""
    if key in models.columns and key not in ("extra", "config"):
        value = models.at[model, key]
        return None if pd.isna(value) else value
    return (models.at[model, "extra"] or {}).get(key)


def _add_units(wide: pd.DataFrame, study: str, selection: Selection,
               models: pd.DataFrame) -> None:
    """The network-level design of a study's pairs as columns (:data:`UNIT_COLUMNS`): network
    ids prefixed by the study, each network's stratum (the study and the selection's strata
    values) and bootstrap cluster (the selection's clusters value, else the network), and the
    block (study and test set)."""
    for side in ("a", "b"):
        ids = wide[f"model_{side}"]
        wide[f"network_{side}"] = study + ":" + ids
        wide[f"stratum_{side}"] = [
            "|".join([study, *(str(_model_value(models, m, key)) for key in selection.strata)])
            for m in ids]
        clusters = [None if selection.clusters is None
                    else _model_value(models, m, selection.clusters) for m in ids]
        wide[f"cluster_{side}"] = [f"{study}|{selection.clusters}={c}" if c is not None
                                   else f"{study}:{m}" for m, c in zip(ids, clusters)]
    wide["block"] = study + "|" + wide["test_set"].astype(str)


def collect_pairs(run_dirs: Sequence[str | os.PathLike],
                  selections: dict[str, str] | None = None,
                  headlines: dict[str, Headline] | None = None,
                  ) -> tuple[pd.DataFrame, list[str]]:
    """Every selected pair of every study run: columns ``study``, ``group``, ``model_a``,
    ``model_b``, ``test_set``, ``run_dir``, the network-level design (:data:`UNIT_COLUMNS`:
    network ids prefixed by the study, strata, bootstrap clusters, block) and one column per
    measure; and notes on what was left out. ``selections``, when given, receives each
    contributing study's selection in words; ``headlines`` the headline relations the studies
    declare, by group (pass them on to :func:`leaderboard`)."""
    notes: list[str] = []
    chosen = {} if selections is None else selections
    frames = [f for f in (_study_pairs(Path(d), notes, chosen, headlines) for d in run_dirs)
              if f is not None]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["study", "group", "model_a", "model_b", "test_set"]), notes
    return pd.concat(frames, ignore_index=True, sort=False), notes


# ----------------------------------------------------------------------------- the numbers


def _orientation(measure: str, output: str) -> int:
    from simfunc import functional, representational

    rep_sign = 1 if representational.MEASURES[measure].larger_is_more_similar else -1
    out_sign = 1 if functional.OUTPUT_MEASURES[output].larger_is_more_similar else -1
    return rep_sign * out_sign


def _units(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s :data:`UNIT_COLUMNS`; a frame made without them (not by
    :func:`collect_pairs`) gets the defaults: networks by model id (prefixed by the study when
    there is a ``study`` column), one stratum per study, each network its own cluster, one
    block per (study, test set)."""
    if all(column in frame for column in UNIT_COLUMNS):
        return frame
    study = (frame["study"].astype(str) if "study" in frame
             else pd.Series("", index=frame.index))
    test_set = (frame["test_set"].astype(str) if "test_set" in frame
                else pd.Series("", index=frame.index))
    out = frame.copy()
    for side in ("a", "b"):
        network = study + ":" + frame[f"model_{side}"].astype(str)
        out[f"network_{side}"] = network
        out[f"stratum_{side}"] = study
        out[f"cluster_{side}"] = network
    out["block"] = study + "|" + test_set
    return out


def _by_network(frame: pd.DataFrame, what: str) -> dict[str, str]:
    """network id -> its stratum or cluster (``what``), from both sides of the pairs."""
    return {**dict(zip(frame["network_a"], frame[f"{what}_a"])),
            **dict(zip(frame["network_b"], frame[f"{what}_b"]))}


def _oriented_interval(low: float, high: float, sign: int) -> list[float]:
    return sorted((sign * low + 0.0, sign * high + 0.0))  # + 0.0: no -0.0


# _relation is a pure function of the pairs' values, their design and the settings (every
# test seeded), so a row asked for again -- the pooled rows that reproduce computes while the
# studies without leaderboard pairs still run, then asks for in the final leaderboard -- is
# answered from here, keyed by the values themselves (at most _MAX_ROWS rows, oldest dropped).
_ROWS: dict[str, dict[str, Any]] = {}
_ROWS_LOCK = threading.Lock()
_MAX_ROWS = 4096


def _row_key(frame: pd.DataFrame, measure: str, output: str, *settings: Any) -> str:
    digest = hashlib.sha256()
    for column in (measure, output):
        values = np.ascontiguousarray(frame[column].to_numpy(float))
        digest.update(str(values.shape).encode())
        digest.update(values.tobytes())
    for column in UNIT_COLUMNS:
        digest.update(repr(frame[column].astype(str).tolist()).encode())
    digest.update(repr(settings).encode())
    return digest.hexdigest()


def _relation(frame: pd.DataFrame, measure: str, output: str, sign: int, n_permutations: int,
              n_resamples: int, seed: int) -> dict[str, Any]:
    """Spearman's ρ of ``output`` on ``measure`` over the pairs of ``frame`` (with its
    :data:`UNIT_COLUMNS`), oriented by ``sign``; network-level p and interval, pair-level
    beside them. Remembered by value (``_ROWS``)."""
    key = _row_key(frame, measure, output, sign, n_permutations, n_resamples, seed)
    with _ROWS_LOCK:
        known = _ROWS.get(key)
    if known is not None:
        return dict(known)
    row = _compute_relation(frame, measure, output, sign, n_permutations, n_resamples, seed)
    with _ROWS_LOCK:
        if len(_ROWS) >= _MAX_ROWS:
            _ROWS.pop(next(iter(_ROWS)))
        _ROWS[key] = dict(row)
    return row


def _compute_relation(frame: pd.DataFrame, measure: str, output: str, sign: int,
                      n_permutations: int, n_resamples: int, seed: int) -> dict[str, Any]:
    from simfunc import stats

    x = frame[measure].to_numpy(float)
    y = frame[output].to_numpy(float)
    networks = set(frame["network_a"]) | set(frame["network_b"])
    out: dict[str, Any] = {"n": int(len(x)), "n_networks": len(networks), "orientation": sign}
    constant = [f"{name}: {reason}" for name, values in ((measure, x), (output, y))
                if len(values) and (reason := stats.constant_reason(values)) is not None]
    if constant:
        out["note"] = f"undefined: {constant[0]}"
        return out
    try:
        raw = stats.spearman(x, y)
        out["pair_p_value"] = stats.permutation_pvalue(x, y, "spearman", n_permutations, seed)
    except InputError as error:
        out["note"] = str(error)
        return out
    out["raw_rho"], out["rho"] = raw, sign * raw + 0.0
    notes = []
    try:
        low, high = stats.bootstrap_ci(x, y, "spearman", n_resamples, 0.95, seed)
        out["pair_ci_low"], out["pair_ci_high"] = _oriented_interval(low, high, sign)
    except InputError as error:
        notes.append(f"no pair-level interval: {error}")
    design = {"a": frame["network_a"].tolist(), "b": frame["network_b"].tolist(),
              "blocks": frame["block"].tolist()}
    try:
        out["p_value"] = stats.network_permutation_pvalue(
            x, y, **design, strata=_by_network(frame, "stratum"), statistic="spearman",
            n_permutations=n_permutations, seed=seed)
    except InputError as error:
        notes.append(f"no network-level p-value: {error}")
    try:
        low, high = stats.network_bootstrap_ci(
            x, y, **design, clusters=_by_network(frame, "cluster"), statistic="spearman",
            n_resamples=n_resamples, seed=seed)
        out["ci_low"], out["ci_high"] = _oriented_interval(low, high, sign)
    except InputError as error:
        notes.append(f"no network-level interval: {error}")
    if notes:
        out["note"] = "; ".join(notes)
    return out


def _headline_relation(headline: Headline, measure: str, output: str,
                       sign: int) -> dict[str, Any]:
    """A leaderboard row's numbers for a group whose study declares its headline: exactly the
    study's relation (:func:`simfunc.studies.common.relate_headline`), oriented by ``sign``."""
    # the board shows Spearman's numbers only: Kendall's tests are skipped, which leaves every
    # Spearman number equal to the study's (each test has its own seeded stream)
    relation = relate_headline(headline, measure, output, sign, kendall_tests=False)
    out: dict[str, Any] = {"n": relation.n, "orientation": sign,
                           "n_networks": relation.n_networks}
    if relation.undefined is not None:
        out["note"] = relation.undefined
        return out
    out["raw_rho"] = relation.rho
    out["rho"] = sign * relation.rho + 0.0
    notes = list(relation.notes)
    if relation.network_level:
        out["p_value"] = relation.p_value
        if relation.ci is not None:
            out["ci_low"], out["ci_high"] = _oriented_interval(*relation.ci, sign)
        else:
            notes.append("no network-level interval")
    else:
        notes.append(f"no network-level inference: {relation.network_level_undefined}")
    out["pair_p_value"] = relation.pair_p_value
    if relation.pair_ci is not None:
        out["pair_ci_low"], out["pair_ci_high"] = _oriented_interval(*relation.pair_ci, sign)
    if notes:
        out["note"] = "; ".join(str(n) for n in notes)
    return out


def leaderboard(pairs: pd.DataFrame, *, measures: Sequence[str] | None = None,
                output_measures: Sequence[str] = OUTPUT_MEASURES,
                n_permutations: int = N_PERMUTATIONS, n_resamples: int = N_RESAMPLES,
                seed: int = 0, pooled: bool = True,
                headlines: dict[str, Headline] | None = None) -> pd.DataFrame:
    """Oriented Spearman ρ of every measure against every output measure, per group and pooled.

    ``pairs``: one row per pair with a ``group`` column and one column per measure (NaN where
    missing), as :func:`collect_pairs` returns. ``measures``: representational measures (default
    every registered one). Returns one row per (group, measure, output measure) with the columns
    :data:`COLUMNS`; ``rho`` and the intervals are oriented so that larger means "tracks
    function better"; ``p_value``, ``ci_low``, ``ci_high`` are network-level and
    ``pair_p_value``, ``pair_ci_low``, ``pair_ci_high`` pair-level (see the module docstring;
    the network-level design comes from the :data:`UNIT_COLUMNS` that :func:`collect_pairs`
    adds, with defaults for a frame without them); ``rank`` ranks the measures within (group,
    output measure) by ``rho`` (1 = best), and ``note`` says why a value is missing (fewer
    than 3 pairs, a constant side, a measure not recorded, too few networks).

    ``headlines``: the headline relations studies declare, by group (from
    :func:`collect_pairs`; by default read again from the studies' run directories named in
    ``pairs["run_dir"]``): a group that has one is related exactly as its study relates it
    (its population, blocks, strata, clusters and Monte Carlo settings, whatever
    ``n_permutations`` and ``n_resamples`` say), so its row for the study's own measures equals
    the study's headline.
    """
    from simfunc import functional, representational

    measures = list(representational.MEASURES if measures is None else measures)
    for name in measures:
        if name not in representational.MEASURES:
            raise InputError(f"measures: {name!r} is not a registered representational measure")
    for name in output_measures:
        if name not in functional.OUTPUT_MEASURES:
            raise InputError(f"output_measures: {name!r} is not a registered output measure")
    if "group" not in pairs:
        raise InputError("pairs needs a 'group' column")
    if headlines is None and "run_dir" in pairs:
        headlines = headlines_of(list(dict.fromkeys(pairs["run_dir"].dropna())))
    pairs = _units(pairs)
    groups = [(g, pairs[pairs["group"] == g]) for g in dict.fromkeys(pairs["group"])]
    if pooled and len(pairs):
        groups.append((POOLED, pairs))
    def row_of(group: str, frame: pd.DataFrame, output: str, measure: str) -> dict[str, Any]:
        row = {"group": group, "measure": measure, "output_measure": output}
        if measure not in frame or output not in frame:
            missing = measure if measure not in frame else output
            return {**row, "n": 0, "orientation": _orientation(measure, output),
                    "note": f"{missing} not recorded"}
        sign = _orientation(measure, output)
        if headlines and group in headlines:
            return {**row, **_headline_relation(headlines[group], measure, output, sign)}
        both = frame.dropna(subset=[measure, output])
        return {**row, **_relation(both, measure, output, sign, n_permutations, n_resamples,
                                   seed)}

    tasks = [(group, frame, output, measure) for group, frame in groups
             for output in output_measures for measure in measures]
    # Rows are independent and seeded; much of their time is in numpy, which releases the
    # GIL, so two threads take about 0.7 of the time of one (the same rows, in order).
    with concurrent.futures.ThreadPoolExecutor(max_workers=LEADERBOARD_THREADS) as pool:
        rows = list(pool.map(lambda task: row_of(*task), tasks))
    board = pd.DataFrame(rows, columns=COLUMNS)
    board["rank"] = (board.groupby(["group", "output_measure"])["rho"]
                     .rank(ascending=False, method="min"))
    return board


def overall_ranking(board: pd.DataFrame, group: str = POOLED) -> pd.DataFrame:
    """One row per measure of ``group``: its oriented ρ against each output measure, their mean
    and the rank by that mean (measures with an undefined ρ anywhere rank last)."""
    rows = board[board["group"] == group]
    table = rows.pivot(index="measure", columns="output_measure", values="rho")
    outputs = [o for o in dict.fromkeys(rows["output_measure"])]
    table = table[outputs]
    table["mean"] = table.mean(axis=1, skipna=False)
    table["rank"] = table["mean"].rank(ascending=False, method="min").astype("Int64")
    return table.sort_values(["mean"], ascending=False, na_position="last")


# ---------------------------------------------------------------------------- the report


def _shown(matrix: np.ndarray) -> np.ndarray:
    """Values as the annotations print them (two decimals, no "-0.00")."""
    return np.round(matrix, 2) + 0.0


def _heatmap(board: pd.DataFrame, path: Path) -> Path:
    from simfunc import figures  # matplotlib: not for ``simfunc leaderboard --help``

    pooled = overall_ranking(board)
    groups = [g for g in dict.fromkeys(board["group"]) if g != POOLED]
    order = list(pooled.index)
    outputs = [c for c in pooled.columns if c not in ("mean", "rank")]
    # inches: 0.42 per (square) cell plus room for the row labels and the colour bar
    widths = [0.42 * len(outputs) + 2.4, 0.42 * max(len(groups), 1) + 2.4]
    fig, axes = figures.new_figure(1, 2, panel_size=(sum(widths) / 2, 0.42 * len(order) + 1.8),
                                   gridspec_kw={"width_ratios": widths})
    figures.heatmap(axes[0, 0], _shown(pooled[outputs].to_numpy(float)), order, outputs,
                    vmin=-1.0, vmax=1.0,
                    title="Pooled: oriented ρ\n(larger = tracks function better)",
                    colorbar_label="oriented Spearman ρ")
    rows = board[board["output_measure"] == "jsd"]
    jsd = rows.pivot(index="measure", columns="group", values="rho")
    columns = [g for g in groups if g in jsd.columns]
    if columns:
        matrix = _shown(jsd.reindex(order)[columns].to_numpy(float))
        figures.heatmap(axes[0, 1], matrix, order, [_group_label(rows, g) for g in columns],
                        vmin=-1.0, vmax=1.0, colorbar_label="oriented Spearman ρ",
                        labels=_cell_labels(rows, order, columns),
                        title="Per study: oriented ρ against JSD\n(n pairs; † no p-value; "
                              "– undefined)")
    else:
        axes[0, 1].set_axis_off()
    return figures.save_figure(fig, path)


def _group_label(rows: pd.DataFrame, group: str) -> str:
    """A study's column label with the number of pairs its relations rest on."""
    counts = rows.loc[rows["group"] == group, "n"].dropna()
    return f"{group} (n={int(counts.max()) if len(counts) else 0})"


def _cell_labels(rows: pd.DataFrame, order: Sequence[str],
                 columns: Sequence[str]) -> np.ndarray:
    """Each cell's text: ρ, a dagger when it has no network-level p-value, a dash when the
    relation is undefined (a constant side, too few pairs), so no cell reads as a number it
    is not."""
    indexed = rows.set_index(["measure", "group"])
    labels = np.full((len(order), len(columns)), "–", dtype=object)
    for i, measure in enumerate(order):
        for j, group in enumerate(columns):
            if (measure, group) not in indexed.index:
                continue
            row = indexed.loc[(measure, group)]
            if pd.isna(row["rho"]):
                continue
            labels[i, j] = f"{row['rho']:.2f}" + ("" if pd.notna(row["p_value"]) else "†")
    return labels


def _cell(row: pd.Series) -> str:
    if pd.isna(row["rho"]):
        return "–"
    text = f"{row['rho']:.3f}"
    if pd.notna(row["ci_low"]):
        text += f" [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
    p = "–" if pd.isna(row["p_value"]) else f"{row['p_value']:.2g}"
    return text + f" (p={p}; pair-level {row['pair_p_value']:.2g})"


def _pooled_table(board: pd.DataFrame) -> pd.DataFrame:
    ranking = overall_ranking(board)
    pooled = board[board["group"] == POOLED].set_index(["measure", "output_measure"])
    outputs = [c for c in ranking.columns if c not in ("mean", "rank")]
    rows = []
    for measure, values in ranking.iterrows():
        row: dict[str, Any] = {"rank": "–" if pd.isna(values["rank"]) else int(values["rank"]),
                               "measure": measure,
                               "pairs": int(pooled.loc[(measure, outputs[0]), "n"])}
        for output in outputs:
            row[f"ρ vs {output} [95% CI] (p)"] = _cell(pooled.loc[(measure, output)])
        row["mean ρ"] = values["mean"] if pd.notna(values["mean"]) else None
        rows.append(row)
    return pd.DataFrame(rows)


def _group_table(board: pd.DataFrame, output: str) -> pd.DataFrame:
    rows = board[board["output_measure"] == output]
    table = rows.pivot(index="measure", columns="group", values="rho")
    ordered = [g for g in dict.fromkeys(rows["group"])]
    table = table[ordered].sort_values(POOLED if POOLED in ordered else ordered[-1],
                                       ascending=False, na_position="last")
    table.columns.name = None
    return table  # NaN (undefined) prints as a dash


def _number(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)


def _summary(board: pd.DataFrame, pairs: pd.DataFrame) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "n_pairs": {g: int((pairs["group"] == g).sum()) for g in dict.fromkeys(pairs["group"])},
        "best": {},
    }
    pooled = board[(board["group"] == POOLED) & board["rho"].notna()]
    for output, rows in pooled.groupby("output_measure", sort=False):
        best = rows.sort_values(["rho", "measure"], ascending=[False, True])
        top = best.iloc[0]
        tied = best[np.isclose(best["rho"], top["rho"], rtol=0, atol=1e-12)]["measure"]
        summary["best"][output] = {"measure": top["measure"], "rho": float(top["rho"]),
                                   "p_value": _number(top["p_value"]),
                                   "pair_p_value": _number(top["pair_p_value"]),
                                   "tied_with": [m for m in tied if m != top["measure"]]}
    if len(pooled):
        ranking = overall_ranking(board)
        summary["ranking"] = [m for m, v in ranking["mean"].items() if pd.notna(v)]
    return summary


def warm(run_dirs: str | os.PathLike | Sequence[str | os.PathLike], *,
         n_permutations: int = N_PERMUTATIONS, n_resamples: int = N_RESAMPLES, seed: int = 0,
         pooled: bool = False) -> None:
    """Compute leaderboard rows ahead of the leaderboard (nothing is written).

    ``run_dirs``: one study run directory, or several. Every row of their groups is computed
    and remembered by its values and settings (a group whose study declares a headline
    through :func:`simfunc.studies.common.relation_summary`, the others here), and with
    ``pooled`` the rows pooled over them too, which equal the final leaderboard's pooled rows
    when ``run_dirs`` are every study that contributes pairs.
    :func:`simfunc.reproduce.reproduce` calls this after each study's analysis, and for the
    pooled rows once every contributing study is analysed, while other studies' jobs still
    run, so that the final leaderboard finds its rows computed."""
    if isinstance(run_dirs, (str, os.PathLike)):
        run_dirs = [run_dirs]
    headlines: dict[str, Headline] = {}
    pairs, _ = collect_pairs(list(run_dirs), None, headlines)
    if not pairs.empty:
        leaderboard(pairs, n_permutations=n_permutations, n_resamples=n_resamples, seed=seed,
                    headlines=headlines, pooled=pooled)


def build(run_dirs: Sequence[str | os.PathLike], figures_dir: str | os.PathLike, *,
          n_permutations: int = N_PERMUTATIONS, n_resamples: int = N_RESAMPLES,
          seed: int = 0) -> Leaderboard:
    """The leaderboard over ``run_dirs`` (study run directories): numbers, heatmap, section."""
    selections: dict[str, str] = {}
    headlines: dict[str, Headline] = {}
    pairs, notes = collect_pairs(run_dirs, selections, headlines)
    if pairs.empty:
        board = pd.DataFrame(columns=COLUMNS)
    else:
        board = leaderboard(pairs, n_permutations=n_permutations, n_resamples=n_resamples,
                            seed=seed, headlines=headlines)
    summary = _summary(board, pairs) if len(board) else {"n_pairs": {}, "best": {}}
    section_figures, tables, findings = [], [], []
    if len(board) and board["rho"].notna().any():
        path = _heatmap(board, Path(figures_dir) / FIGURE_FILE)
        section_figures.append(FigureRef(
            path, "Left: Spearman's ρ between each representational measure and each output "
            "measure over all selected pairs of all studies, oriented so that a positive value "
            "means the measure tracks function (pairs it calls more similar have more similar "
            "outputs). Right: the same against JSD, per study. Rows ordered by the mean pooled "
            "ρ. Right: each study's column names the pairs its relations rest on (n); † marks a "
            "ρ without a network-level p-value (too few networks), – an undefined relation (too "
            "few pairs or a side constant to numerical precision), never drawn as a number."))
        tables.append(Table("Pooled leaderboard: oriented Spearman ρ of each measure against "
                            "each output measure, with the network-level bootstrap 95% "
                            "interval and Mantel permutation p-value (networks redrawn and "
                            "relabelled) and, for comparison, the pair-level p-value (pairs "
                            "treated as independent); ranked by the mean ρ",
                            _pooled_table(board)))
        for output in OUTPUT_MEASURES:
            if output in set(board["output_measure"]):
                tables.append(Table(f"Oriented ρ against {OUTPUT_NAMES[output]} ({output}), "
                                    "per study and pooled",
                                    _group_table(board, output)))
        best = summary["best"]
        for output, item in best.items():
            names = ", ".join([item["measure"], *item["tied_with"]])
            tie = " (tied)" if item["tied_with"] else ""
            p = "undefined" if item["p_value"] is None else f"{item['p_value']:.2g}"
            findings.append(f"Best tracker of {OUTPUT_NAMES.get(output, output)} over all "
                            f"pairs: {names}{tie}, oriented ρ = {item['rho']:.3f} "
                            f"(network-level p = {p}).")
        if summary.get("ranking"):
            findings.append("Ranking by the mean oriented ρ over the output measures: "
                            + ", ".join(summary["ranking"]) + ".")
    counts = pd.DataFrame([{"group": g, "pairs": n} for g, n in summary["n_pairs"].items()])
    if len(counts):
        tables.append(Table("Pairs compared, per study", counts))
    section = Section(
        id="leaderboard", title="Which similarity measure tracks function best?",
        summary=(
            "Every pair of networks the studies compared, every representational measure against "
            "every output measure: Spearman's ρ across pairs, per study and pooled. ρ is "
            "oriented so that positive means the measure tracks function, whatever the "
            "directions of the two measures (a similarity against a distance has a negative raw "
            "ρ when it tracks; that ρ is flipped).\n\n"
            "p-values and intervals are network-level: a network appears in many pairs, so the "
            "Mantel test relabels networks and the bootstrap redraws them (rebuilding their "
            "pairs), each study's pairs on each test set one block, never across studies; the "
            "pair-level values, which treat pairs as independent and so are too small and too "
            "narrow, are in leaderboard.csv beside them (pair_p_value, pair_ci_low, "
            "pair_ci_high).\n\n"
            "Pairs: each study declares which of its pairs are comparable — "
            + ("; ".join(f"{study}: {words}" for study, words in selections.items()) or "none")
            + ". leaderboard.csv holds every number."
        ),
        figures=section_figures, tables=tables, findings=findings, notes=notes,
        settings={"n_permutations": n_permutations, "n_resamples": n_resamples, "seed": seed,
                  "output_measures": list(OUTPUT_MEASURES),
                  "run_dirs": [Path(d).name for d in run_dirs]},
    )
    return Leaderboard(board, section, summary, pairs)


def write_leaderboard(source: str | os.PathLike | Sequence[str | os.PathLike],
                      out_dir: str | os.PathLike | None = None, *, profile: str | None = None,
                      n_permutations: int = N_PERMUTATIONS, n_resamples: int = N_RESAMPLES,
                      seed: int = 0) -> Leaderboard:
    """Build the leaderboard and write ``out_dir/leaderboard.csv`` and
    ``out_dir/figures/leaderboard.png``.

    ``source``: a folder (see :func:`find_run_dirs`; ``out_dir`` defaults to it) or a list of
    study run directories (then ``out_dir`` is required).
    """
    if isinstance(source, (str, os.PathLike)):
        run_dirs = find_run_dirs(source, profile)
        out = Path(out_dir) if out_dir is not None else Path(source)
    else:
        run_dirs = [Path(d) for d in source]
        if out_dir is None:
            raise InputError("out_dir is required when source is a list of run directories")
        out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    board = build(run_dirs, out / "figures", n_permutations=n_permutations,
                  n_resamples=n_resamples, seed=seed)
    atomic_write_text(out / CSV_FILE, board.frame.to_csv(index=False, float_format="%.6g"))
    return board
