"""Print small result tables for the command line: aligned text, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Sequence

FORMATS = ("table", "json", "csv")


def format_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps([{c: row.get(c) for c in columns} for row in rows], indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.6f}"
        return "" if value is None else str(value)

    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)
