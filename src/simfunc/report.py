"""The HTML report: one self-contained file, figures embedded, one section per study.

A section carries its figures (PNG files, embedded as base64 so the report can be mailed or
archived alone), its tables (pandas DataFrames), the dataset stand-ins used, and the exact
settings that produced it. Nothing in the output depends on the time it is rendered, so
rebuilding the report from the same results database gives the same bytes.

The prose every study shares is declared, not written: a study lists :class:`ThesisRow` s — a
quantity, the thesis's value (and its finding in words), this run's value with its interval,
p-value and count, and a :class:`Verdict` — and this module renders them, the same way in every
section, as the findings list and the "this run beside the thesis" table. The notes of what a
run left out (the results database's ``notes``) are rendered likewise (:func:`left_out_table`).
"""

from __future__ import annotations

import base64
import enum
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from simfunc.io.atomic import atomic_write_text

__all__ = [
    "FigureRef",
    "Table",
    "Section",
    "Verdict",
    "ThesisRow",
    "same_sign",
    "holds",
    "left_out_table",
    "render",
    "write_report",
]

MAX_NOTE_ROWS = 40  # kinds of note shown per section (all of them are in csv/notes.csv)


class Verdict(enum.Enum):
    """How this run's value stands to the thesis's finding."""

    AGREES = "as in the thesis"
    DIFFERS = "NOT as in the thesis"
    UNDEFINED = "undefined in this run"


def same_sign(thesis: float, value: float | None) -> Verdict:
    """AGREES when ``value`` has the sign of ``thesis``; UNDEFINED when there is no value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Verdict.UNDEFINED
    return Verdict.AGREES if (value > 0) == (thesis > 0) and value != 0 else Verdict.DIFFERS


def holds(condition: bool | None) -> Verdict:
    """AGREES when the thesis's claim holds in this run; UNDEFINED when it cannot be judged."""
    if condition is None:
        return Verdict.UNDEFINED
    return Verdict.AGREES if condition else Verdict.DIFFERS


@dataclass(frozen=True)
class ThesisRow:
    """One of a study's numbers beside the thesis's, declared for the report to render.

    Attributes:
        quantity: what is measured, e.g. "Spearman ρ(CKA, JSD) over trained pairs".
        thesis: the thesis's value, or its words ("many pairs"); None when it gives none.
        value: this run's value; None when it is undefined here (say why in ``remark``).
        claim: the thesis's finding in words; a row with a claim is also listed under
            Findings ("Thesis: <claim> … This run: … — <verdict>").
        ci: this run's 95% interval, if it has one.
        p_value: this run's p-value, if it has one.
        n: how many things the value is computed over, counted in ``n_of``.
        verdict: how the value stands to the thesis (:func:`same_sign`, :func:`holds`).
        remark: what the reader must know to read the value (how it is computed, why it is
            undefined).
        percent: show the value as a percentage (a fraction in [0, 1]).
    """

    quantity: str
    thesis: float | str | None
    value: float | None
    claim: str = ""
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    n: int | None = None
    n_of: str = "pairs"
    verdict: Verdict | None = None
    remark: str = ""
    percent: bool = False

    def shown_thesis(self) -> str:
        """The thesis's value as the thesis writes it (-0.75, not -0.750)."""
        if self.thesis is None:
            return "–"
        return self.thesis if isinstance(self.thesis, str) else f"{self.thesis:g}"

    def shown(self, value: float | None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        if self.percent:
            return f"{100 * value:.0f}%"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    def observed(self) -> str:
        """This run's value in words: the value, its interval, p-value and count."""
        text = self.shown(self.value)
        details = []
        if self.ci is not None:
            details.append(f"95% CI {self.shown(self.ci[0])} to {self.shown(self.ci[1])}")
        if self.p_value is not None:
            details.append(f"p = {self.p_value:.2g}")
        if self.n is not None:
            details.append(f"{self.n} {self.n_of}")
        return text + (f" ({', '.join(details)})" if details else "")

    def finding(self) -> str:
        thesis = "" if self.thesis is None else f" ({self.quantity}: {self.shown_thesis()})"
        verdict = f" — {self.verdict.value}" if self.verdict is not None else ""
        remark = f" {self.remark}" if self.remark else ""
        return f"Thesis: {self.claim}{thesis}. This run: {self.observed()}{verdict}.{remark}"


def _thesis_table(rows: Sequence[ThesisRow]) -> pd.DataFrame:
    """The "this run beside the thesis" table. A row with a claim has its remark under
    Findings; the remark of a row without one is shown here, in a last column (present only
    when some row needs it), so no declared remark goes unseen."""
    table = pd.DataFrame([{
        "quantity": row.quantity,
        "thesis": row.shown_thesis(),
        "this run": row.shown(row.value),
        "95% CI": "–" if row.ci is None else f"{row.shown(row.ci[0])} to {row.shown(row.ci[1])}",
        "p": "–" if row.p_value is None else f"{row.p_value:.2g}",
        "n": "–" if row.n is None else f"{row.n} {row.n_of}",
        "verdict": "–" if row.verdict is None else row.verdict.value,
        "remark": "" if row.claim else row.remark,
    } for row in rows])
    if not table["remark"].astype(bool).any():
        table = table.drop(columns="remark")
    return table


def left_out_table(notes: pd.DataFrame) -> pd.DataFrame:
    """The results database's notes, one row per kind (layer, measure, reason): how many
    times it was noted and one place where (``context``); most frequent first."""
    columns = ["layer", "measure", "reason", "times", "for example"]
    if notes is None or notes.empty:
        return pd.DataFrame(columns=columns)
    grouped = (notes.groupby(["layer", "measure", "reason"], sort=False)
               .agg(times=("context", "size"), example=("context", "first")).reset_index()
               .rename(columns={"example": "for example"}))
    return grouped.sort_values("times", ascending=False, kind="stable")[columns].reset_index(drop=True)


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
    """One study's part of the report.

    A study declares ``thesis_rows`` (rendered as the findings and the "this run beside the
    thesis" table); ``findings`` are further findings as written sentences, for sections that
    have no thesis to stand beside (the leaderboard). ``left_out`` is filled by the framework
    from the run's notes.
    """

    id: str
    title: str
    summary: str  # plain text; paragraphs separated by blank lines
    figures: list[FigureRef] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    thesis_rows: list[ThesisRow] = field(default_factory=list)  # this run beside the thesis
    stand_ins: dict[str, str] = field(default_factory=dict)  # thesis data set -> what this run used
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the analysis left out (degenerate cells)
    left_out: pd.DataFrame | None = None  # left_out_table of the run's notes (framework-filled)
    findings: list[str] = field(default_factory=list)  # findings not declared as thesis rows


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
    findings = [row.finding() for row in section.thesis_rows if row.claim] + section.findings
    if findings:
        items = "".join(f"<li>{html.escape(item)}</li>" for item in findings)
        parts.append(f'<h3>Findings</h3><ul class="findings">{items}</ul>')
    if section.thesis_rows:
        parts.append("<h3>This run beside the thesis</h3>")
        parts.append(_table_html(_thesis_table(section.thesis_rows)))
    if section.notes:
        items = "".join(f"<li>{html.escape(note)}</li>" for note in section.notes)
        parts.append(f'<div class="notes"><ul>{items}</ul></div>')
    if section.left_out is not None and not section.left_out.empty:
        total = int(section.left_out["times"].sum())
        shown = section.left_out.head(MAX_NOTE_ROWS)
        more = len(section.left_out) - len(shown)
        parts.append(
            f'<h3>Left out</h3><div class="notes"><p>{total} measure value(s) were not recorded '
            "or came with a warning; each kind once, with how often and one pair it happened to"
            + (f" ({more} more kinds in csv/notes.csv)" if more else "") + ".</p></div>")
        parts.append(_table_html(shown))
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
