"""``simfunc compare``: every measure for two saved feature (or output) matrices."""

from __future__ import annotations

import argparse
import warnings

from simfunc.cli._table import FORMATS, format_rows
from simfunc.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare two feature matrices (or two networks' outputs) with every measure",
        description="Print every representational measure for two saved feature matrices "
        "(.npy, .npz or .pt; rows are the same examples in both). With --outputs the files "
        "hold outputs (probabilities, or logits with --from-logits) and the output measures "
        "are printed instead.",
    )
    parser.add_argument("files", nargs=2, metavar="FILE", help="two .npy/.npz/.pt files")
    parser.add_argument("--key", help="array name inside .npz/.pt files that hold several")
    parser.add_argument("--measure", action="append", metavar="NAME",
                        help="only this measure (repeatable); default: all registered")
    parser.add_argument("--outputs", action="store_true",
                        help="the files hold outputs (n, classes): use the output measures")
    parser.add_argument("--from-logits", action="store_true",
                        help="with --outputs: the files hold logits, not probabilities")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.set_defaults(handler=run)


def _evaluate(registry: dict, names: list[str] | None, A, B, options: dict) -> list[dict]:
    unknown = [name for name in names or [] if name not in registry]
    if unknown:
        raise InputError(
            f"--measure: unknown {', '.join(map(repr, unknown))}; choose from {', '.join(registry)}"
        )
    rows = []
    for name in names or list(registry):
        measure = registry[name]
        row = {"measure": name,
               "direction": "similarity ↑" if measure.larger_is_more_similar else "distance ↓"}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row["value"] = float(measure(A, B, **options))
        except InputError as error:
            if names:  # the user asked for this measure: its failure is the answer
                raise
            row["value"], row["note"] = None, f"n/a: {error}"
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    from simfunc.arrayfile import load_array

    A, B = (load_array(path, args.key) for path in args.files)
    if args.outputs:
        from simfunc.functional import OUTPUT_MEASURES

        rows = _evaluate(OUTPUT_MEASURES, args.measure, A, B, {"from_logits": args.from_logits})
    else:
        if args.from_logits:
            raise InputError("--from-logits only applies with --outputs")
        from simfunc.representational import MEASURES

        rows = _evaluate(MEASURES, args.measure, A, B, {})
    print(format_rows(rows, ["measure", "value", "direction", "note"], args.format))
    return 0
