"""The measure leaderboard on results databases written by hand, where the answer is known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from simfunc import InputError, representational
from simfunc.cli import main
from simfunc.leaderboard import (
    COLUMNS,
    POOLED,
    collect_pairs,
    leaderboard,
    overall_ranking,
    write_leaderboard,
)
from simfunc.runs import find_run_dirs
from simfunc.store import ResultsDB

N = 30


def write_study(run_dir: Path, study: str, pairs: pd.DataFrame, models: dict[str, dict],
                layer: str = "features", settings: dict | None = None,
                profile: str = "quick") -> Path:
    """A results database as a study run leaves it: one completed run, its models and pairs
    (``pairs`` has model_a, model_b and one column per measure; output measures go to the
    "output" layer, the others to ``layer``)."""
    from simfunc.functional import OUTPUT_MEASURES

    run_dir.mkdir(parents=True)
    rows = []
    for record in pairs.to_dict("records"):
        for measure, value in record.items():
            if measure in ("model_a", "model_b") or pd.isna(value):
                continue
            rows.append({"model_a": record["model_a"], "model_b": record["model_b"],
                         "test_set": "digits",
                         "layer": "output" if measure in OUTPUT_MEASURES else layer,
                         "measure": measure, "value": float(value)})
    with ResultsDB(run_dir / "results.sqlite") as db:
        run_id = db.start_run(study, profile, settings or {})
        for model_id, fields in models.items():
            db.add_model(model_id, **{"kind": "classifier", **fields})
        db.add_pairs(rows)
        db.finish_run(run_id, "completed")
    return run_dir


def with_measures(frame: pd.DataFrame, jsd: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Linear CKA and Procrustes follow JSD exactly (in their directions), RBF CKA is noise and
    mutual k-NN runs against function."""
    n = len(jsd)
    return frame.assign(
        jsd=jsd,
        spearman=1.0 - jsd,                     # a similarity of outputs
        disagreement=np.sqrt(jsd),              # a distance of outputs
        linear_cka=1.0 - jsd ** 2,              # similarity, monotone in JSD: tracks
        procrustes=1.5 * jsd,                   # distance, monotone in JSD: tracks
        rbf_cka=rng.uniform(0.0, 1.0, n),       # noise
        mutual_knn=jsd,                         # similarity that grows with output distance
    )


def known_pairs(seed: int = 0, n: int = N) -> tuple[pd.DataFrame, dict[str, dict]]:
    """A chain of n pairs (m0, m1), (m1, m2)… with the measures of :func:`with_measures`."""
    rng = np.random.default_rng(seed)
    jsd = rng.uniform(0.0, 0.9, n)
    frame = pd.DataFrame({"model_a": [f"m{i}" for i in range(n)],
                          "model_b": [f"m{i + 1}" for i in range(n)]})
    models = {f"m{i}": {} for i in range(n + 1)}
    return with_measures(frame, jsd, rng), models


def checkpoint_pairs(seed: int = 0, runs: int = 6, per_run: int = 5
                     ) -> tuple[pd.DataFrame, dict[str, dict]]:
    """As the checkpoints study records them: each run's checkpoints against its final model
    (runs × per_run = N pairs), the models' kind, architecture, epoch and run as the study
    stores them (the study's declared headline reads them)."""
    rng = np.random.default_rng(seed)
    names = [(f"r{r}-e{e}", f"r{r}-final") for r in range(runs) for e in range(per_run)]
    frame = pd.DataFrame(names, columns=["model_a", "model_b"])
    models = {}
    for r in range(runs):
        extra = {"run": f"r{r}", "lr": 0.01}
        models[f"r{r}-final"] = {"arch": "cnn", "epoch": per_run, "trained": True,
                                 "accuracy": 0.9, "extra": extra}
        models.update({f"r{r}-e{e}": {"kind": "checkpoint", "arch": "cnn", "epoch": e,
                                      "trained": e != 0, "parent": f"r{r}-final", "extra": extra}
                       for e in range(per_run)})
    return with_measures(frame, rng.uniform(0.0, 0.9, len(frame)), rng), models


@pytest.fixture
def checkpoints_run(tmp_path):
    frame, models = checkpoint_pairs()
    write_study(tmp_path / "runs" / "checkpoints-quick", "checkpoints", frame, models,
                settings={"layer": "features"})
    return tmp_path / "runs"


def test_a_monotone_measure_beats_noise(checkpoints_run):
    pairs, notes = collect_pairs(find_run_dirs(checkpoints_run))
    assert notes == [] and len(pairs) == N
    board = leaderboard(pairs, n_permutations=500, n_resamples=500)
    jsd = board[(board["group"] == "checkpoints") & (board["output_measure"] == "jsd")]
    jsd = jsd.set_index("measure")
    assert jsd.loc["linear_cka", "rho"] == pytest.approx(1.0)
    assert jsd.loc["linear_cka", "raw_rho"] == pytest.approx(-1.0)
    assert jsd.loc["linear_cka", "rank"] == 1
    assert jsd.loc["linear_cka", "p_value"] < 0.01 and jsd.loc["linear_cka", "n_networks"] == 36
    assert jsd.loc["linear_cka", "ci_low"] == pytest.approx(1.0)
    assert jsd.loc["linear_cka", "pair_ci_low"] == pytest.approx(1.0)
    assert abs(jsd.loc["rbf_cka", "rho"]) < 0.5 and jsd.loc["rbf_cka", "p_value"] > 0.01
    assert jsd.loc["rbf_cka", "rank"] > jsd.loc["linear_cka", "rank"]
    noise = jsd.loc["rbf_cka"]
    assert noise["ci_low"] <= noise["rho"] <= noise["ci_high"]
    assert noise["pair_ci_low"] <= noise["rho"] <= noise["pair_ci_high"]
    assert jsd.loc["mutual_knn", "rho"] == pytest.approx(-1.0)  # runs against function
    assert jsd.loc["mutual_knn", "rank"] == jsd["rank"].max()
    # measures that were not recorded are named, not silently NaN
    assert "not recorded" in jsd.loc["pwcca", "note"] and jsd.loc["pwcca", "n"] == 0
    ranking = overall_ranking(board, "checkpoints")
    assert list(ranking.index[:2]) == ["linear_cka", "procrustes"]
    assert ranking.loc["mutual_knn", "mean"] == pytest.approx(-1.0)


@pytest.mark.parametrize("measure, output", [("procrustes", "spearman"), ("linear_cka", "jsd"),
                                             ("procrustes", "jsd"),
                                             ("linear_cka", "spearman"),
                                             ("procrustes", "disagreement")])
def test_orientation_makes_tracking_positive(checkpoints_run, measure, output):
    """Each of these measures follows function exactly, so the oriented rho is +1 whatever the
    directions; the raw rho (checked against scipy) carries the sign of the directions."""
    from simfunc import functional

    pairs, _ = collect_pairs(find_run_dirs(checkpoints_run))
    board = leaderboard(pairs, measures=[measure], output_measures=[output],
                        n_permutations=200, n_resamples=200)
    row = board[board["group"] == "checkpoints"].iloc[0]
    raw = scipy_stats.spearmanr(pairs[measure], pairs[output]).statistic
    assert row["raw_rho"] == pytest.approx(raw)
    same_direction = (representational.MEASURES[measure].larger_is_more_similar
                      == functional.OUTPUT_MEASURES[output].larger_is_more_similar)
    assert np.sign(raw) == (1 if same_direction else -1)
    assert row["rho"] == pytest.approx(1.0)
    assert row["ci_low"] <= row["ci_high"]


def test_each_study_contributes_its_comparable_pairs(tmp_path):
    runs = tmp_path / "runs"
    frame, models = known_pairs(1, 12)
    # architectures: its declared headline, pairs of trained networks (untrained left out)
    models_arch = {m: {"trained": i < 8} for i, m in enumerate(models)}
    write_study(runs / "architectures-quick", "architectures", frame, models_arch,
                settings={"layer": "features"})
    # existence and converse: constructions from one network, declared none
    write_study(runs / "existence-quick", "existence", frame.head(6), models, layer="masked")
    write_study(runs / "converse-quick", "converse", frame.head(6), models)
    # cross-dataset: no output measures at all
    write_study(runs / "cross-dataset-quick", "cross-dataset",
                frame[["model_a", "model_b", "linear_cka"]], models)
    # a study simfunc does not know: every pair with output measures
    write_study(runs / "toy-quick", "toy", frame.head(5), models)
    pairs, notes = collect_pairs(find_run_dirs(runs))
    counts = pairs["group"].value_counts().to_dict()
    assert counts == {"architectures": 7, "toy": 5}
    for study in ("cross-dataset", "existence", "converse"):
        assert any(note.startswith(study) for note in notes), (study, notes)
    board = leaderboard(pairs, measures=["linear_cka"], output_measures=["jsd"],
                        n_permutations=100, n_resamples=100)
    pooled = board[board["group"] == POOLED].iloc[0]
    assert pooled["n"] == 12
    assert list(board["group"]) == ["architectures", "toy", POOLED]


def test_a_side_constant_to_numerical_precision_is_undefined_not_zero(tmp_path):
    """Linear CKA of identical features is 1 for every pair, up to a few ulp: a correlation
    with it is undefined (the existence study's base layer gave 0.00 before), with the reason."""
    frame, models = known_pairs(5, 10)
    frame = frame.assign(linear_cka=1.0 - np.random.default_rng(0).uniform(0, 4e-16, len(frame)))
    write_study(tmp_path / "toy-quick", "toy", frame, models)
    pairs, _ = collect_pairs([tmp_path / "toy-quick"])
    board = leaderboard(pairs, measures=["linear_cka", "procrustes"], output_measures=["jsd"],
                        n_permutations=100, n_resamples=100, pooled=False).set_index("measure")
    assert pd.isna(board.loc["linear_cka", "rho"]) and pd.isna(board.loc["linear_cka", "p_value"])
    assert "constant to numerical precision" in board.loc["linear_cka", "note"]
    assert board.loc["procrustes", "rho"] == pytest.approx(1.0)


def test_p_values_and_intervals_are_network_level(tmp_path):
    """Under a null with network effects (x = u_a + u_b + noise, y = v_a + v_b + noise, u and v
    independent: every pair of 10 networks, so pairs that share a network share its effect),
    shuffling pairs finds a "relation" that relabelling networks does not. This seed is one of
    four in the first twelve where the pair-level p falls below 0.01; the Mantel p of each of
    those is 0.15-0.22."""
    n = 10
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=n), rng.normal(size=n)
    first, second = np.triu_indices(n, k=1)
    frame = pd.DataFrame({
        "model_a": [f"m{i}" for i in first], "model_b": [f"m{j}" for j in second],
        "linear_cka": u[first] + u[second] + 0.3 * rng.normal(size=first.size),
        "jsd": v[first] + v[second] + 0.3 * rng.normal(size=first.size)})
    write_study(tmp_path / "architectures-quick", "architectures", frame,
                {f"m{i}": {"trained": True} for i in range(n)})
    pairs, _ = collect_pairs([tmp_path / "architectures-quick"])
    assert set(pairs["network_a"]) <= {f"architectures:m{i}" for i in range(n)}
    board = leaderboard(pairs, measures=["linear_cka"], output_measures=["jsd"],
                        n_permutations=2000, n_resamples=1000)
    row = board[board["group"] == "architectures"].iloc[0]
    assert row["n"] == 45 and row["n_networks"] == n
    assert row["pair_p_value"] < 0.01 and row["p_value"] > 0.1
    assert row["pair_p_value"] < row["p_value"] / 10
    # the pair bootstrap excludes 0; redrawing networks does not
    assert row["pair_ci_high"] < 0 or row["pair_ci_low"] > 0
    assert row["ci_low"] < 0 < row["ci_high"]
    assert row["ci_high"] - row["ci_low"] > row["pair_ci_high"] - row["pair_ci_low"]


def test_p_and_interval_are_the_checkpoints_studys_own_headline(checkpoints_run):
    """For a study that declares its headline, the leaderboard's rho, p_value and ci_* are
    exactly the study's: stats.relate_networks on the same pairs with the study's design (one
    block per run, the mean over runs of the within-run rho, a run's checkpoints relabelled
    among themselves, a run redrawn whole) and its Monte Carlo settings (the quick profile's
    2,000, whatever the leaderboard's own), oriented; pair_* are its pair-level ones. Checked
    for a measure that tracks and for noise."""
    from simfunc import stats
    from simfunc.studies.checkpoints import PROFILES

    pairs, _ = collect_pairs(find_run_dirs(checkpoints_run))
    board = leaderboard(pairs, measures=["linear_cka", "rbf_cka"], output_measures=["jsd"],
                        n_permutations=300, n_resamples=300, pooled=False).set_index("measure")
    role = {**dict(zip(pairs["model_a"], pairs["model_a"].str.split("-").str[0] + "|checkpoint")),
            **dict(zip(pairs["model_b"], pairs["model_b"].str.split("-").str[0] + "|final"))}
    run = {m: m.split("-")[0] for m in role}
    settings = PROFILES["quick"]
    for measure in ("linear_cka", "rbf_cka"):
        row = board.loc[measure]
        sign = row["orientation"]
        assert sign == -1  # a similarity against a distance
        expected = stats.relate_networks(
            pairs[measure], pairs["jsd"], a=pairs["model_a"], b=pairs["model_b"],
            blocks=[run[m] for m in pairs["model_b"]], combine="mean", strata=role, clusters=run,
            n_permutations=settings.n_permutations, n_resamples=settings.n_resamples, seed=0)
        assert row["n_networks"] == expected.n_networks == 36
        assert row["rho"] == pytest.approx(sign * expected.spearman, abs=1e-12)
        assert row["p_value"] == pytest.approx(expected.spearman_p, abs=1e-12)
        assert [row["ci_low"], row["ci_high"]] == pytest.approx(
            sorted(sign * v for v in expected.spearman_ci), abs=1e-12)
        assert row["pair_p_value"] == pytest.approx(expected.pair_spearman_p, abs=1e-12)
        assert [row["pair_ci_low"], row["pair_ci_high"]] == pytest.approx(
            sorted(sign * v for v in expected.pair_spearman_ci), abs=1e-12)
    # and not the values of the pooled design the leaderboard used before (one correlation
    # over every checkpoint of every run)
    pooled = stats.relate_networks(
        pairs["rbf_cka"], pairs["jsd"], a=pairs["model_a"], b=pairs["model_b"],
        strata=role, clusters=run, n_permutations=settings.n_permutations,
        n_resamples=settings.n_resamples, seed=0)
    assert board.loc["rbf_cka", "rho"] != pytest.approx(-pooled.spearman, abs=1e-6)


def test_networks_of_different_studies_never_merge(tmp_path):
    """The same model ids in two studies are different networks in the pooled group; each
    study's pairs form their own block and networks are relabelled only within their study,
    and a checkpoint run is one bootstrap unit."""
    runs = tmp_path / "runs"
    frame, models = checkpoint_pairs(1, runs=4, per_run=4)
    write_study(runs / "checkpoints-quick", "checkpoints", frame, models)
    write_study(runs / "toy-quick", "toy", frame, models)
    pairs, _ = collect_pairs(find_run_dirs(runs))
    checkpoints = pairs[pairs["study"] == "checkpoints"]
    assert set(checkpoints["block"]) == {f"checkpoints|r{r}" for r in range(4)}  # one per run
    row = checkpoints.iloc[0]  # r0-e0 against r0-final
    assert (row["network_a"], row["network_b"]) == ("checkpoints:r0-e0", "checkpoints:r0-final")
    assert row["stratum_a"] == "checkpoints|r0|checkpoint"
    assert row["stratum_b"] == "checkpoints|r0|final"
    assert row["cluster_a"] == row["cluster_b"] == "checkpoints|r0"
    toy = pairs[pairs["study"] == "toy"].iloc[0]  # declares no strata or clusters
    assert toy["stratum_a"] == toy["stratum_b"] == "toy"
    assert toy["cluster_a"] == "toy:r0-e0"
    board = leaderboard(pairs, measures=["linear_cka"], output_measures=["jsd"],
                        n_permutations=200, n_resamples=200)
    pooled = board[board["group"] == POOLED].iloc[0]
    assert pooled["n"] == 32 and pooled["n_networks"] == 2 * 20


def test_too_few_pairs_is_said_not_hidden(tmp_path):
    frame, models = known_pairs(2, 2)
    write_study(tmp_path / "toy-quick", "toy", frame, models)
    pairs, _ = collect_pairs([tmp_path / "toy-quick"])
    board = leaderboard(pairs, measures=["linear_cka"], output_measures=["jsd"])
    row = board[board["group"] == "toy"].iloc[0]
    assert pd.isna(row["rho"]) and "3" in row["note"]


def test_find_run_dirs(tmp_path):
    frame, models = known_pairs(3, 5)
    a = write_study(tmp_path / "runs" / "checkpoints-quick", "checkpoints", frame, models)
    b = write_study(tmp_path / "runs" / "existence-quick", "existence", frame, models,
                    layer="masked")
    assert find_run_dirs(tmp_path / "runs") == [a, b]
    assert find_run_dirs(a) == [a]
    reproduce = tmp_path / "runs" / "reproduce-quick"
    reproduce.mkdir()
    (reproduce / "reproduce.json").write_text(json.dumps(
        {"profile": "quick", "studies": ["../existence-quick"]}))
    assert find_run_dirs(reproduce) == [b.resolve()]
    write_study(tmp_path / "runs" / "checkpoints-standard", "checkpoints", frame, models,
                profile="standard")
    with pytest.raises(InputError, match="several profiles"):
        find_run_dirs(tmp_path / "runs")
    assert find_run_dirs(tmp_path / "runs", profile="quick") == [a, b]
    with pytest.raises(InputError, match="no reproduce.json"):
        find_run_dirs(tmp_path / "runs" / "reproduce-quick" / "..", profile="paper")


def test_bad_names_are_refused(checkpoints_run):
    pairs, _ = collect_pairs(find_run_dirs(checkpoints_run))
    with pytest.raises(InputError, match="registered"):
        leaderboard(pairs, measures=["cosine"])
    with pytest.raises(InputError, match="output"):
        leaderboard(pairs, output_measures=["accuracy"])
    with pytest.raises(InputError, match="out_dir"):
        write_leaderboard([checkpoints_run / "checkpoints-quick"])


def test_cli_writes_the_leaderboard(checkpoints_run, capsys):
    status = main(["leaderboard", str(checkpoints_run), "--permutations", "200",
                   "--resamples", "200"])
    assert status == 0
    frame = pd.read_csv(checkpoints_run / "leaderboard.csv")
    assert list(frame.columns) == COLUMNS
    assert len(frame) == 2 * len(representational.MEASURES) * 3  # the study and pooled
    best = frame[(frame["group"] == POOLED) & (frame["output_measure"] == "jsd")]
    assert best.sort_values("rank").iloc[0]["measure"] in ("linear_cka", "procrustes")
    assert (checkpoints_run / "figures" / "leaderboard.png").is_file()
    assert "Which similarity measure" in (checkpoints_run / "leaderboard.html").read_text()
    assert "linear_cka" in capsys.readouterr().out
    # a second run rebuilds the same file
    before = (checkpoints_run / "leaderboard.csv").read_bytes()
    assert main(["leaderboard", str(checkpoints_run), "--permutations", "200",
                 "--resamples", "200"]) == 0
    assert (checkpoints_run / "leaderboard.csv").read_bytes() == before


def test_cli_reports_a_folder_without_runs(tmp_path, capsys):
    assert main(["leaderboard", str(tmp_path)]) == 2
    assert "no reproduce.json" in capsys.readouterr().err


def test_runs_without_outputs_give_an_empty_leaderboard_that_says_why(tmp_path):
    frame, models = known_pairs(4, 6)
    run = write_study(tmp_path / "cross-dataset-quick", "cross-dataset",
                      frame[["model_a", "model_b", "linear_cka"]], models)
    board = write_leaderboard([run], tmp_path / "out")
    assert board.frame.empty and board.summary["n_pairs"] == {}
    assert any("no pairs with output measures" in note for note in board.section.notes)
    assert list(pd.read_csv(tmp_path / "out" / "leaderboard.csv").columns) == COLUMNS


def test_the_figure_marks_undefined_cells_and_cells_without_a_p_value(tmp_path):
    """The per-study panel never draws an undefined relation as a number, marks a ρ without
    a network-level p-value, and names each study's number of pairs."""
    from simfunc.leaderboard import _cell_labels, _group_label

    board = pd.DataFrame([
        {"group": "a", "measure": "linear_cka", "output_measure": "jsd", "n": 45, "rho": 0.8,
         "p_value": 0.001},
        {"group": "a", "measure": "rsa", "output_measure": "jsd", "n": 45, "rho": np.nan,
         "p_value": np.nan},
        {"group": "b", "measure": "linear_cka", "output_measure": "jsd", "n": 4, "rho": 1.0,
         "p_value": np.nan},
    ])
    labels = _cell_labels(board, ["linear_cka", "rsa"], ["a", "b"])
    assert labels.tolist() == [["0.80", "1.00†"], ["–", "–"]]
    assert _group_label(board, "a") == "a (n=45)" and _group_label(board, "b") == "b (n=4)"
    frame, models = known_pairs(6, 12)
    write_study(tmp_path / "toy-quick", "toy", frame, models)
    board = write_leaderboard([tmp_path / "toy-quick"], tmp_path / "out",
                              n_permutations=100, n_resamples=100)
    assert (tmp_path / "out" / "figures" / "leaderboard.png").stat().st_size > 10_000
    assert "never drawn as a number" in board.section.figures[0].caption


@pytest.fixture
def counted_rows(monkeypatch):
    """The (group size, measure, output) of every leaderboard row really computed."""
    import simfunc.leaderboard as board_module

    calls = []
    real = board_module._compute_relation

    def spy(frame, measure, output, *args):
        calls.append((len(frame), measure, output))
        return real(frame, measure, output, *args)

    monkeypatch.setattr(board_module, "_compute_relation", spy)
    monkeypatch.setattr(board_module, "_ROWS", {})
    return calls


def _two_studies(runs: Path) -> list[Path]:
    frame, models = known_pairs(2, 14)
    toy = write_study(runs / "toy-quick", "toy", frame, models)
    other = write_study(runs / "other-quick", "other", frame.head(9), models)
    existence = write_study(runs / "existence-quick", "existence", frame.head(6), models,
                            layer="masked")
    return [toy, existence, other]


def test_a_row_asked_for_again_is_remembered_by_value(tmp_path, counted_rows):
    pairs, _ = collect_pairs(_two_studies(tmp_path / "runs"))
    settings = dict(measures=["linear_cka", "rbf_cka"], output_measures=["jsd"],
                    n_permutations=100, n_resamples=100)
    first = leaderboard(pairs, **settings)
    computed = len(counted_rows)
    assert computed == 6  # two groups and the pooled one, two measures each
    again = leaderboard(pairs.copy(), **settings)
    assert len(counted_rows) == computed
    pd.testing.assert_frame_equal(first, again)
    # any change of the values, the design or a setting is computed afresh
    nudged = pairs.copy()
    nudged.loc[0, "linear_cka"] += 1e-9
    leaderboard(nudged, **settings)
    assert len(counted_rows) == computed + 2  # the first study's row and the pooled one
    leaderboard(pairs, **{**settings, "n_permutations": 101})
    assert len(counted_rows) == computed + 8
    relabelled = pairs.copy()
    relabelled["block"] = "one block"
    leaderboard(relabelled, **settings)
    assert len(counted_rows) == computed + 14


def test_warming_the_pooled_rows_leaves_the_final_leaderboard_nothing_to_compute(
        tmp_path, counted_rows):
    """What reproduce does: each study's rows as it is analysed, then the pooled rows over the
    studies with leaderboard pairs while the others (existence) still run; the final
    leaderboard over every study computes nothing and equals a cold one."""
    from simfunc.leaderboard import build, warm

    toy, existence, other = _two_studies(tmp_path / "runs")
    warm(toy, n_permutations=100, n_resamples=100)
    warm(other, n_permutations=100, n_resamples=100)
    before_pooled = len(counted_rows)
    warm([toy, other], n_permutations=100, n_resamples=100, pooled=True)
    assert len(counted_rows) > before_pooled  # the pooled rows, computed here
    warmed = len(counted_rows)
    board = build([toy, existence, other], tmp_path / "figures", n_permutations=100,
                  n_resamples=100)
    assert len(counted_rows) == warmed
    import simfunc.leaderboard as board_module

    board_module._ROWS.clear()
    cold = build([toy, existence, other], tmp_path / "cold", n_permutations=100,
                 n_resamples=100)
    assert len(counted_rows) == 2 * warmed  # every row computed again, cold
    pd.testing.assert_frame_equal(board.frame, cold.frame)
