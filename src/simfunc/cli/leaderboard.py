"""``simfunc leaderboard RUN_DIR``: which similarity measure tracks function best."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from simfunc.leaderboard import N_PERMUTATIONS, N_RESAMPLES

    parser = subparsers.add_parser(
        "leaderboard", help="rank every similarity measure by how well it tracks function",
        description="Read the results databases of the study runs under RUN_DIR (a reproduce "
        "folder, a folder of <study>-<profile>/ run directories, or one study's run directory) "
        "and compute, for every representational measure against every output measure, "
        "Spearman's rho over the compared pairs (oriented: positive = tracks function) with a "
        "permutation p-value and a bootstrap 95%% interval, per study and pooled. Writes "
        "RUN_DIR/leaderboard.csv, RUN_DIR/figures/leaderboard.png and RUN_DIR/leaderboard.html.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--profile", choices=("quick", "standard", "paper"),
                        help="when RUN_DIR holds runs of several profiles, use this one's")
    parser.add_argument("--out", metavar="DIR", help="write there instead of RUN_DIR")
    parser.add_argument("--permutations", type=int, default=N_PERMUTATIONS, metavar="N",
                        help=f"permutations of the p-values (default {N_PERMUTATIONS})")
    parser.add_argument("--resamples", type=int, default=N_RESAMPLES, metavar="N",
                        help=f"bootstrap resamples of the intervals (default {N_RESAMPLES})")
    parser.add_argument("--seed", type=int, default=0, help="seed of both (default 0)")
    parser.set_defaults(handler=run_leaderboard)


def run_leaderboard(args: argparse.Namespace) -> int:
    import pandas as pd

    from simfunc import __version__
    from simfunc.report import write_report
    from simfunc.leaderboard import CSV_FILE, overall_ranking, write_leaderboard

    out = Path(args.out) if args.out else Path(args.run_dir)
    board = write_leaderboard(args.run_dir, out, profile=args.profile,
                              n_permutations=args.permutations, n_resamples=args.resamples,
                              seed=args.seed)
    write_report(out / "leaderboard.html", "simfunc · which measure tracks function best",
                 [board.section], {"simfunc": __version__, "source": str(args.run_dir)})
    counts = ", ".join(f"{g} {n}" for g, n in board.summary["n_pairs"].items()) or "none"
    print(f"pairs: {counts}")
    if len(board.frame) and board.frame["rho"].notna().any():
        with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 120):
            print("pooled oriented Spearman rho (positive = tracks function):")
            print(overall_ranking(board.frame).to_string())
    print(f"wrote {out / CSV_FILE}, {out / 'figures' / 'leaderboard.png'}, "
          f"{out / 'leaderboard.html'}")
    return 0
