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
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from simfunc.io.atomic import atomic_write_text
from simfunc.machine import this_machine
from simfunc.scorecard import Judgement, Scorecard, ScoreRow

__all__ = [
    "FigureRef",
    "Table",
    "Section",
    "ThesisRow",
    "scorecard_rows",
    "scorecard_section",
    "RenderedSection",
    "section_html",
    "left_out_table",
    "render",
    "write_report",
]

MAX_NOTE_ROWS = 40  # kinds of note shown per section (all of them are in csv/notes.csv)


@dataclass(frozen=True)
class ThesisRow:
    """One of a study's numbers beside the thesis's, declared for the report to render.

    A row with an ``id`` is a claim of the scorecard (:mod:`simfunc.scorecard`): its
    ``judgement`` comes from the one verdict rule there. Rows without an id are context (a
    control, a range) and carry no verdict.

    Attributes:
        quantity: what is measured, e.g. "Spearman ρ(CKA, JSD) over trained pairs".
        thesis: the thesis's value, or its words ("many pairs"); None when it gives none.
        value: this run's value; None when it is undefined here (say why in ``remark``).
        claim: the finding in words; a row with a claim is also listed under Findings
            ("Thesis: <claim> … This run: … — <verdict>").
        ci: this run's 95% interval, if it has one.
        p_value: this run's p-value, if it has one.
        n: how many things the value is computed over, counted in ``n_of``.
        judgement: the verdict and its rule's words (:func:`simfunc.scorecard.judge_relation`,
            :func:`~simfunc.scorecard.judge_point`, :func:`~simfunc.scorecard.not_comparable`).
        remark: what the reader must know to read the value (how it is computed, why it is
            undefined).
        percent: show the value as a percentage (a fraction in [0, 1]).
        id: the claim's stable scorecard id (``architectures.cka_jsd``), or None.
        differs: how this run's experiment differs from the thesis's for this claim.
        source: "thesis" for the thesis's claims, "simfunc" for simfunc's own (never credited
            to the thesis).
    """

    quantity: str
    thesis: float | str | None
    value: float | None
    claim: str = ""
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    n: int | None = None
    n_of: str = "pairs"
    judgement: Judgement | None = None
    remark: str = ""
    percent: bool = False
    id: str | None = None
    differs: str = ""
    source: str = "thesis"

    def shown_thesis(self) -> str:
        """The thesis's value as the thesis writes it (-0.75, not -0.750)."""
        if self.source != "thesis":
            return "– (simfunc's own claim)"
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
        who = "Thesis" if self.source == "thesis" else "simfunc's own claim (not the thesis's)"
        thesis = ("" if self.thesis is None or self.source != "thesis"
                  else f" ({self.quantity}: {self.shown_thesis()})")
        verdict = ("" if self.judgement is None
                   else f" — {self.judgement.verdict.value}: {self.judgement.why}")
        remark = f" {self.remark}" if self.remark else ""
        return f"{who}: {self.claim}{thesis}. This run: {self.observed()}{verdict}.{remark}"

    def score_row(self, study: str, section: str | None) -> ScoreRow:
        """This row as a scorecard claim (it needs an ``id`` and a ``judgement``)."""
        if self.id is None or self.judgement is None:
            raise ValueError(f"row {self.quantity!r} is not a scorecard claim (no id or verdict)")
        thesis = self.thesis if isinstance(self.thesis, (int, float)) else None
        value = None if self.value is None else float(self.value)
        return ScoreRow(
            id=self.id, study=study, section=section if self.source == "thesis" else None,
            claim=self.claim or self.quantity,
            thesis=None if self.source != "thesis" or thesis is None else float(thesis),
            value=value, ci=None if self.ci is None else (float(self.ci[0]), float(self.ci[1])),
            p_value=None if self.p_value is None else float(self.p_value), n=self.n,
            n_of=self.n_of, verdict=self.judgement.verdict, why=self.judgement.why,
            differs=self.differs, source=self.source, thesis_inside=self.judgement.thesis_inside,
            rule=self.judgement.rule)


def scorecard_rows(rows: Sequence[ThesisRow], study: str, section: str | None) -> list[ScoreRow]:
    """The scorecard claims among a section's declared rows."""
    return [row.score_row(study, section) for row in rows if row.id is not None]


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
        "verdict": "–" if row.judgement is None else row.judgement.verdict.value,
        "remark": "" if row.claim else row.remark,
    } for row in rows])
    if not table["remark"].astype(bool).any():
        table = table.drop(columns="remark")
    return table


SCORECARD_SUMMARY = (
    "Every claim this run tests, with one verdict rule. A relation (a signed correlation or "
    "difference) is reproduced when its 95% interval excludes 0 on the claim's side, "
    "contradicted when it excludes 0 on the other side, and inconclusive when it contains 0 or "
    "has no interval (a p-value alone does not decide). A value without sampling (Table 4.1's "
    "cells) is judged by the rule its row states. Not comparable: this run cannot measure the "
    "claim. 'why' gives the rule with the numbers it used, and whether the thesis's own value "
    "lies inside the interval (a run can reproduce a direction and differ in size); 'differs' "
    "how this run's experiment differs from the thesis's. Claims marked 'simfunc' are simfunc's "
    "own, not the thesis's. scorecard.json holds every field."
)


def scorecard_section(card: Scorecard) -> Section:
    """The report's Scorecard section: one row a claim, and the count of each verdict."""
    counts = card.counts()
    table = pd.DataFrame([{
        "claim": row.id, "§": row.section or ("simfunc" if row.source != "thesis" else "–"),
        "thesis": "–" if row.thesis is None else f"{row.thesis:g}",
        "this run": "n/a" if row.value is None else f"{row.value:.3f}",
        "95% CI": "–" if row.ci is None else f"{row.ci[0]:.3f} to {row.ci[1]:.3f}",
        "p": "–" if row.p_value is None else f"{row.p_value:.2g}",
        "n": "–" if row.n is None else f"{row.n} {row.n_of}",
        "verdict": row.verdict.value, "why": row.why, "differs": row.differs or "–",
    } for row in card.rows])
    findings = [" · ".join(f"{n} {verdict}" for verdict, n in counts.items())]
    return Section(id="scorecard", title="Scorecard", summary=SCORECARD_SUMMARY,
                   tables=[Table(f"{len(card.rows)} claims", table)] if len(table) else [],
                   findings=findings)


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


@dataclass(frozen=True)
class RenderedSection:
    """A section already rendered to HTML (:func:`section_html`): what a run directory keeps of
    its analysis, so that a report combining it need not redo the analysis."""

    id: str
    title: str
    html: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "html": self.html}

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> RenderedSection:
        return cls(str(values["id"]), str(values["title"]), str(values["html"]))


def section_html(section: Section | RenderedSection) -> str:
    """One section as HTML (figures embedded)."""
    return section.html if isinstance(section, RenderedSection) else _section_html(section)


def render(title: str, sections: Sequence[Section | RenderedSection],
           meta: dict[str, Any] | None = None, intro: str = "") -> str:
    """The whole report as one HTML string."""
    meta = meta or {}
    meta_line = " · ".join(f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in meta.items())
    nav = "".join(
        f'<li><a href="#{html.escape(s.id)}">{html.escape(s.title)}</a></li>' for s in sections
    )
    body = "\n".join(section_html(section) for section in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><div class=\"meta\">{meta_line}</div>"
        f"{_paragraphs(intro)}<nav><ul>{nav}</ul></nav>{body}</body></html>\n"
    )


def write_report(path: str | Path, title: str, sections: Sequence[Section | RenderedSection],
                 meta: dict[str, Any] | None = None, intro: str = "") -> Path:
    """Render and write the report atomically; its header ends with the machine that wrote it
    (float32 results move a little from one CPU to another: :mod:`simfunc.machine`)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    meta = {**(meta or {}), "machine": this_machine().describe()}
    return atomic_write_text(path, render(title, sections, meta, intro))
