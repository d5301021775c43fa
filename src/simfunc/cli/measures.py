"""``simfunc measures``: the registered measures and what each declares about itself."""

from __future__ import annotations

import argparse

from simfunc.cli._table import FORMATS, format_rows


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "measures",
        help="list every similarity measure with its declared properties",
        description="List the representational and output (functional) measures, their "
        "direction, symmetry, invariances and bounds.",
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.set_defaults(handler=run)


def rows() -> list[dict]:
    from simfunc import functional, representational

    out = []
    for kind, registry in (("representational", representational.MEASURES),
                           ("output", functional.OUTPUT_MEASURES)):
        for name, measure in registry.items():
            low, high = measure.bounds
            out.append({
                "name": name,
                "kind": kind,
                "direction": "similarity ↑" if measure.larger_is_more_similar else "distance ↓",
                "symmetric": "yes" if measure.symmetric else "no",
                "bounds": f"[{low:g}, {high:g}]",
                "invariances": ", ".join(sorted(measure.invariances)) or "-",
                "summary": measure.summary,
            })
    return out


def run(args: argparse.Namespace) -> int:
    columns = ["name", "kind", "direction", "symmetric", "bounds", "invariances", "summary"]
    print(format_rows(rows(), columns, args.format))
    return 0
