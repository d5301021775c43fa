"""Are two runs' results the same? Every study's ``pairs`` table, row by row.

    python benchmarks/compare_runs.py RUNS_A RUNS_B [--tolerance 1e-12] [--studies a,b]

RUNS_A and RUNS_B are folders of study run directories (``<study>-<profile>/results.sqlite``,
as ``simfunc reproduce --out RUNS`` leaves them) or single run directories. For every study
found in either, the rows (model_a, model_b, test_set, layer, measure, value) of its ``pairs``
table are sorted and compared: the same keys on both sides, and every value equal (exactly, or
within ``--tolerance`` absolute). Notes, scalars and models are not compared. Prints a line
per study and exits 0 only when every study's pairs are identical.

Reads the SQLite files directly (no simfunc import), so it compares runs made by any version.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

KEY = ("model_a", "model_b", "test_set", "layer", "measure")


def study_dirs(root: Path) -> dict[str, Path]:
    """``{run directory name: directory}`` under ``root`` (or ``root`` itself)."""
    if (root / "results.sqlite").is_file():
        return {root.name: root}
    return {p.parent.name: p.parent for p in sorted(root.glob("*/results.sqlite"))}


def pairs(run_dir: Path) -> dict[tuple[str, ...], float]:
    connection = sqlite3.connect(f"file:{run_dir / 'results.sqlite'}?mode=ro", uri=True)
    try:
        rows = connection.execute(f"SELECT {', '.join(KEY)}, value FROM pairs").fetchall()
    finally:
        connection.close()
    table = {tuple(row[:-1]): float(row[-1]) for row in rows}
    if len(table) != len(rows):
        raise SystemExit(f"{run_dir}: pairs repeat a key")
    return dict(sorted(table.items()))


def compare(a: dict[tuple[str, ...], float], b: dict[tuple[str, ...], float],
            tolerance: float) -> tuple[bool, str]:
    missing, extra = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    shared = sorted(set(a) & set(b))
    differences = [abs(a[k] - b[k]) for k in shared if a[k] != b[k]]
    worst = max(differences, default=0.0)
    over = [d for d in differences if d > tolerance]
    same = not missing and not extra and not over
    words = (f"{len(a)} vs {len(b)} rows; {len(shared) - len(differences)} bit-identical, "
             f"{len(differences)} differ (max |diff| {worst:.3g}, {len(over)} above tolerance)")
    if missing:
        words += f"; {len(missing)} only in A, e.g. {missing[0]}"
    if extra:
        words += f"; {len(extra)} only in B, e.g. {extra[0]}"
    return same, words


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs_a", type=Path)
    parser.add_argument("runs_b", type=Path)
    parser.add_argument("--tolerance", type=float, default=1e-12,
                        help="largest absolute difference that counts as equal (default 1e-12)")
    parser.add_argument("--studies", help="only these run directories (comma-separated names, "
                        "e.g. architectures-quick)")
    args = parser.parse_args(argv)
    a, b = study_dirs(args.runs_a), study_dirs(args.runs_b)
    names = sorted(set(a) | set(b))
    if args.studies:
        names = [n for n in names if n in args.studies.split(",")]
    if not names:
        print("no run directories found")
        return 1
    all_same = True
    for name in names:
        if name not in a or name not in b:
            print(f"{name}: only in {'A' if name in a else 'B'}")
            all_same = False
            continue
        same, words = compare(pairs(a[name]), pairs(b[name]), args.tolerance)
        all_same &= same
        print(f"{name}: {'IDENTICAL' if same else 'DIFFERENT'} — {words}")
    print("all pairs tables identical" if all_same else "pairs tables differ")
    return 0 if all_same else 1


if __name__ == "__main__":
    sys.exit(main())
