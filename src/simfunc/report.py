"""The HTML report: one self-contained file, figures embedded, one section per study.

A section carries its figures (PNG files, embedded as base64 so the report can be mailed or
archived alone), its tables (pandas DataFrames), a table that puts this run's numbers beside the
thesis's, the dataset stand-ins used, and the exact settings that produced it. Nothing in the
output depends on the time it is rendered, so rebuilding the report from the same results
database gives the same bytes.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from simfunc.io.atomic import atomic_write_text

__all__ = ["FigureRef", "Table", "Section", "render", "write_report"]


@dataclass(frozen=True)
class FigureRef:
    """A PNG on disk and the caption that says what to look for in it."""

    path: Path
    caption: str


@dataclass(frozen=True)
class Table:
    caption: str
    frame: pd.DataFrame
    float_format: str = "{:.3f}"


@dataclass
class Section:
    """One study's part of the report."""

    id: str
    title: str
    summary: str  # plain text; paragraphs separated by blank lines
    figures: list[FigureRef] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    comparison: pd.DataFrame | None = None  # this run beside the thesis
    findings: list[str] = field(default_factory=list)  # the thesis's findings in words, with this run's verdict
    stand_ins: dict[str, str] = field(default_factory=dict)  # thesis data set -> what this run used
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # warnings: degenerate cells, skipped measures


_CSS = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;
max-width:1180px;margin:2em auto;padding:0 1.2em;color:#1d1d1f;line-height:1.5}
h1{font-size:1.7em;margin-bottom:.2em}h2{margin-top:2.2em;border-bottom:2px solid #0072B2;
padding-bottom:.2em}h3{margin-top:1.4em;color:#333}
.meta{color:#666;font-size:.92em}nav ul{columns:2;font-size:.95em}
figure{margin:1.2em 0;text-align:center}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#444;max-width:900px;margin:.4em auto;text-align:left}
table{border-collapse:collapse;margin:.8em 0;font-size:.88em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f3f6fa}td:first-child,th:first-child{text-align:left}
.caption{font-weight:600;margin-top:1em}.notes{background:#fff8e6;border-left:4px solid #E69F00;
padding:.5em 1em}.findings li{margin:.3em 0}
details{margin:1em 0}pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}
"""


def _paragraphs(text: str) -> str:
    return "".join(
        f"<p>{html.escape(part.strip())}</p>" for part in text.split("\n\n") if part.strip()
    )


def _image(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(Path(path).stem)}">'


def _table_html(frame: pd.DataFrame, float_format: str = "{:.3f}") -> str:
    def fmt(value: Any) -> str:
        if isinstance(value, float):
            return float_format.format(value)
        return str(value)

    return frame.to_html(
        index=not isinstance(frame.index, pd.RangeIndex),
        formatters={col: fmt for col in frame.columns},
        escape=True,
        border=0,
        na_rep="–",
    )


def _section_html(section: Section) -> str:
    parts = [f'<section id="{html.escape(section.id)}"><h2>{html.escape(section.title)}</h2>']
    parts.append(_paragraphs(section.summary))
    if section.findings:
        items = "".join(f"<li>{html.escape(item)}</li>" for item in section.findings)
        parts.append(f'<h3>Findings</h3><ul class="findings">{items}</ul>')
    if section.comparison is not None and not section.comparison.empty:
        parts.append("<h3>This run beside the thesis</h3>")
        parts.append(_table_html(section.comparison))
    if section.notes:
        items = "".join(f"<li>{html.escape(note)}</li>" for note in section.notes)
        parts.append(f'<div class="notes"><ul>{items}</ul></div>')
    for figure in section.figures:
        parts.append(
            f"<figure>{_image(figure.path)}"
            f"<figcaption>{html.escape(figure.caption)}</figcaption></figure>"
        )
    for table in section.tables:
        parts.append(f'<div class="caption">{html.escape(table.caption)}</div>')
        parts.append(_table_html(table.frame, table.float_format))
    if section.stand_ins:
        rows = pd.DataFrame(
            {"thesis": list(section.stand_ins), "this run": list(section.stand_ins.values())}
        )
        parts.append("<h3>Data sets</h3>" + _table_html(rows))
    if section.settings:
        settings = html.escape(json.dumps(section.settings, indent=2, sort_keys=True))
        parts.append(f"<details><summary>Settings that produced this section</summary><pre>{settings}</pre></details>")
    parts.append("</section>")
    return "\n".join(parts)


def render(title: str, sections: Sequence[Section], meta: dict[str, Any] | None = None,
           intro: str = "") -> str:
    """The whole report as one HTML string."""
    meta = meta or {}
    meta_line = " · ".join(f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in meta.items())
    nav = "".join(
        f'<li><a href="#{html.escape(s.id)}">{html.escape(s.title)}</a></li>' for s in sections
    )
    body = "\n".join(_section_html(section) for section in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><div class=\"meta\">{meta_line}</div>"
        f"{_paragraphs(intro)}<nav><ul>{nav}</ul></nav>{body}</body></html>\n"
    )


def write_report(path: str | Path, title: str, sections: Sequence[Section],
                 meta: dict[str, Any] | None = None, intro: str = "") -> Path:
    """Render and write the report atomically."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, render(title, sections, meta, intro))
