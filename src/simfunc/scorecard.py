"""The reproduction scorecard: every claim a run tests, with one verdict rule.

A claim is a finding of the thesis (or, marked so, one of simfunc's own) that a study tests.
Each claim gets one of four verdicts, decided here and nowhere else:

* **reproduced** — a relation (a signed correlation or difference) whose 95% interval excludes 0
  on the claim's side; or a point value (no sampling: Table 4.1's cells) that meets the rule the
  row declares (e.g. "the same representation: CKA ≥ 0.9").
* **contradicted** — a relation whose interval excludes 0 on the other side; a point value that
  fails its rule.
* **inconclusive** — a relation whose interval contains 0, or that has no interval (the reason is
  said: e.g. two runs per cell leave no network-level interval). A p-value alone never decides;
  it is shown beside.
* **not comparable** — this run cannot measure the claim (the reason is said).

Beside a relation's verdict the rule says whether the thesis's own value lies inside the
interval: a run can reproduce the direction of a finding and still differ in its size.

:func:`judge_relation`, :func:`judge_point` and :func:`not_comparable` return a
:class:`Judgement` (the verdict and the words of the rule with the numbers it used). A study
declares its claims as :class:`~simfunc.report.ThesisRow` s carrying an id and a judgement; the
framework collects them into a :class:`Scorecard`, which ``scorecard.json``, the report's
Scorecard table and the terminal all render.

``scorecard.json`` (schema :data:`SCHEMA`)::

    {"schema": 1, "profile": "quick", "simfunc": "0.1.0", "rows": [
        {"id": "architectures.cka_jsd", "study": "architectures", "section": "3.3",
         "claim": "...", "thesis": -0.75, "value": -0.62, "ci": [-0.8, -0.4], "p_value": 0.001,
         "n": 45, "n_of": "pairs", "verdict": "reproduced", "why": "...", "differs": "..."}]}
"""

from __future__ import annotations

import enum
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from simfunc.errors import InputError
from simfunc.io.atomic import atomic_write_text

__all__ = [
    "SCHEMA",
    "SCORECARD_FILE",
    "Verdict",
    "Judgement",
    "judge_relation",
    "judge_point",
    "not_comparable",
    "judge_all",
    "AtLeast",
    "AtMost",
    "Within",
    "PointRule",
    "ScoreRow",
    "Scorecard",
]

SCHEMA = 1
SCORECARD_FILE = "scorecard.json"


class Verdict(enum.Enum):
    """The four verdicts (the module docstring gives the rule)."""

    REPRODUCED = "reproduced"
    CONTRADICTED = "contradicted"
    INCONCLUSIVE = "inconclusive"
    NOT_COMPARABLE = "not comparable"


@dataclass(frozen=True)
class Judgement:
    """A verdict and the rule that gave it, in words, with the numbers it used.

    thesis_inside: for a relation with an interval and a thesis value, whether the thesis's
    value lies inside the interval (None otherwise). rule: which rule judged it: "interval"
    (:func:`judge_relation`), "point" (:func:`judge_point`) or "none" (:func:`not_comparable`).
    """

    verdict: Verdict
    why: str
    thesis_inside: bool | None = None
    rule: str = "interval"  # "interval", "point", "every part" (judge_all), "none"


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.3f}"


def judge_relation(expected_sign: int, ci: Sequence[float] | None, *,
                   thesis: float | None = None, value: float | None = None,
                   undefined: str | None = None, what: str = "95% interval",
                   reference: float = 0.0) -> Judgement:
    """The verdict of a signed relation from its interval.

    ``expected_sign``: +1 when the claim says the quantity is above ``reference`` (0 for a
    correlation or a difference; 0.5 for "most of"), −1 below it.
    ``ci``: the 95% interval (low, high), or None when there is none (``undefined`` says why).
    ``thesis``: the thesis's value, to say whether it lies inside the interval. ``value``:
    this run's estimate (only to say that no interval exists for it). ``what``: the
    interval's name in the words (e.g. "network-bootstrap 95% interval").
    """
    if expected_sign not in (1, -1):
        raise InputError(f"expected_sign must be +1 or -1, got {expected_sign!r}")
    side = "above" if expected_sign > 0 else "below"
    ref = f"{reference:g}"
    if ci is None or any(_number(v) is None for v in ci):
        reason = undefined or "no interval was computed"
        if _number(value) is None:
            return Judgement(Verdict.INCONCLUSIVE, f"undefined in this run: {reason}")
        return Judgement(Verdict.INCONCLUSIVE,
                         f"no {what}, so the direction is not decided: {reason}")
    low, high = sorted(float(v) - reference for v in ci)
    shown = f"{what} [{_fmt(low + reference)}, {_fmt(high + reference)}]"
    inside = None
    size = ""
    if _number(thesis) is not None:
        inside = low + reference <= float(thesis) <= high + reference
        size = (f"; the thesis's {float(thesis):g} lies inside it" if inside else
                f"; the thesis's {float(thesis):g} lies outside it, so the size differs")
    if expected_sign * low > 0 and expected_sign * high > 0:
        return Judgement(Verdict.REPRODUCED, f"{shown} lies {side} {ref}, as claimed{size}",
                         inside)
    if expected_sign * low < 0 and expected_sign * high < 0:
        other = "below" if expected_sign > 0 else "above"
        return Judgement(Verdict.CONTRADICTED,
                         f"{shown} lies {other} {ref}, against the claim{size}", inside)
    return Judgement(Verdict.INCONCLUSIVE, f"{shown} contains {ref}{size}", inside)


@dataclass(frozen=True)
class AtLeast:
    """The claim holds when the value is at least ``bound``; ``meaning`` says what that
    stands for ("the same representation")."""

    bound: float
    meaning: str

    def holds(self, value: float) -> bool:
        return value >= self.bound

    def words(self) -> str:
        return f"{self.meaning}: ≥ {self.bound:g}"


@dataclass(frozen=True)
class AtMost:
    """The claim holds when the value is at most ``bound``."""

    bound: float
    meaning: str

    def holds(self, value: float) -> bool:
        return value <= self.bound

    def words(self) -> str:
        return f"{self.meaning}: ≤ {self.bound:g}"


@dataclass(frozen=True)
class Within:
    """The claim holds when the value is within ``tolerance`` of ``target`` (the thesis's)."""

    target: float
    tolerance: float
    meaning: str = "as in the thesis"

    def holds(self, value: float) -> bool:
        return abs(value - self.target) <= self.tolerance

    def words(self) -> str:
        return f"{self.meaning}: within {self.tolerance:g} of {self.target:g}"


PointRule = AtLeast | AtMost | Within


def judge_point(value: float | None, rule: PointRule, *, undefined: str | None = None,
                thesis: float | None = None) -> Judgement:
    """The verdict of a point value (no sampling distribution) by the rule the row declares:
    reproduced when it holds, contradicted when it does not, inconclusive when there is no
    value (``undefined`` says why). With ``thesis``, the words also say whether the thesis's
    own value meets the rule (``thesis_inside``)."""
    judged = _judge_point(value, rule, undefined)
    if _number(thesis) is None:
        return judged
    meets = rule.holds(float(thesis))
    words = (f"; the thesis's {float(thesis):g} meets it too" if meets else
             f"; the thesis's own {float(thesis):g} does not meet it")
    return Judgement(judged.verdict, judged.why + words, meets, judged.rule)


def _judge_point(value: float | None, rule: PointRule, undefined: str | None) -> Judgement:
    number = _number(value)
    if number is None:
        return Judgement(Verdict.INCONCLUSIVE,
                         f"undefined in this run: {undefined or 'no value'} (rule: {rule.words()})",
                         rule="point")
    if rule.holds(number):
        return Judgement(Verdict.REPRODUCED, f"{_fmt(number)} meets the rule ({rule.words()})",
                         rule="point")
    return Judgement(Verdict.CONTRADICTED, f"{_fmt(number)} fails the rule ({rule.words()})",
                     rule="point")


def judge_all(parts: Sequence[tuple[str, Judgement]]) -> Judgement:
    """The verdict of a claim that holds for every part ("on every test set"): reproduced
    when every part is, contradicted when any part is, else inconclusive (naming the parts
    not decided)."""
    if not parts:
        return Judgement(Verdict.INCONCLUSIVE, "undefined in this run: no part to judge",
                         rule="every part")
    verdicts = {name: judged.verdict for name, judged in parts}
    against = [name for name, v in verdicts.items() if v is Verdict.CONTRADICTED]
    if against:
        return Judgement(Verdict.CONTRADICTED, f"contradicted on {', '.join(against)}",
                         rule="every part")
    if all(v is Verdict.REPRODUCED for v in verdicts.values()):
        return Judgement(Verdict.REPRODUCED, f"reproduced on each of {', '.join(verdicts)}",
                         rule="every part")
    open_ = [f"{name} ({v.value})" for name, v in verdicts.items() if v is not Verdict.REPRODUCED]
    return Judgement(Verdict.INCONCLUSIVE, f"not decided on {', '.join(open_)}",
                     rule="every part")


def not_comparable(why: str) -> Judgement:
    """This run cannot measure the claim; ``why`` says why."""
    return Judgement(Verdict.NOT_COMPARABLE, why, rule="none")


@dataclass(frozen=True)
class ScoreRow:
    """One claim of the scorecard (the fields of ``scorecard.json``'s rows).

    id: stable across versions and profiles (``architectures.cka_jsd``). study, section: the
    study and the thesis section ("3.3"; None for simfunc's own claims). claim: the finding in
    words. thesis: the thesis's number (None where it gives none, or the claim is not the
    thesis's). value, ci, p_value, n, n_of: this run's value, 95% interval, p-value and what n
    counts. verdict, why: the verdict and the rule's words. differs: how this run's experiment
    differs from the thesis's. source: "thesis" or "simfunc" (a claim of simfunc's own).
    thesis_inside: whether the thesis's value lies inside the interval. rule: "interval",
    "point" or "none" (which rule judged it).
    """

    id: str
    study: str
    section: str | None
    claim: str
    thesis: float | None
    value: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    n: int | None
    n_of: str
    verdict: Verdict
    why: str
    differs: str = ""
    source: str = "thesis"
    thesis_inside: bool | None = None
    rule: str = "interval"

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["verdict"] = self.verdict.value
        values["ci"] = None if self.ci is None else [float(v) for v in self.ci]
        for key in ("thesis", "value", "p_value"):
            values[key] = _number(values[key])
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ScoreRow:
        data = dict(values)
        data["verdict"] = Verdict(data["verdict"])
        data["ci"] = None if data.get("ci") is None else tuple(data["ci"])
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Scorecard:
    """The claims of one run (a study's, or a reproduce run's: every study's)."""

    profile: str
    version: str
    rows: list[ScoreRow] = field(default_factory=list)

    def __post_init__(self) -> None:
        ids = [row.id for row in self.rows]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise InputError(f"scorecard rows: ids must be unique, {', '.join(twice)} repeat")

    def counts(self) -> dict[str, int]:
        """How many claims have each verdict (every verdict, zeros included)."""
        return {v.value: sum(1 for r in self.rows if r.verdict is v) for v in Verdict}

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "profile": self.profile, "simfunc": self.version,
                "counts": self.counts(), "rows": [row.to_dict() for row in self.rows]}

    def write(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``directory/scorecard.json`` atomically."""
        path = Path(directory) / SCORECARD_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
        return path

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Scorecard:
        """A scorecard from ``scorecard.json`` (or the folder holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / SCORECARD_FILE
        if not path.is_file():
            raise InputError(f"{path} does not exist: no scorecard there")
        values = json.loads(path.read_text(encoding="utf-8"))
        if values.get("schema") != SCHEMA:
            raise InputError(f"{path}: scorecard schema {values.get('schema')!r}, this simfunc "
                             f"reads schema {SCHEMA}")
        return cls(values["profile"], values["simfunc"],
                   [ScoreRow.from_dict(row) for row in values["rows"]])

    @classmethod
    def combine(cls, profile: str, version: str, cards: Iterable[Scorecard]) -> Scorecard:
        return cls(profile, version, [row for card in cards for row in card.rows])

    def table_rows(self) -> list[dict[str, str]]:
        """One dict per claim, as the report's and the terminal's tables show it."""
        return [{"claim": row.id, "thesis": _shown(row.thesis), "this run": _shown(row.value),
                 "95% CI": "–" if row.ci is None else f"[{_fmt(row.ci[0])}, {_fmt(row.ci[1])}]",
                 "verdict": row.verdict.value, "why": row.why}
                for row in self.rows]

    def terminal(self, width: int = 100) -> str:
        """The scorecard in short: one line a claim, then the count of each verdict."""
        lines = [f"Scorecard ({self.profile} profile): {len(self.rows)} claims"]
        if self.rows:
            id_width = min(max(len(r.id) for r in self.rows), 40)
            for row in self.rows:
                ci = "" if row.ci is None else f" [{_fmt(row.ci[0])}, {_fmt(row.ci[1])}]"
                thesis = "" if row.thesis is None else f"  thesis {row.thesis:g}"
                line = (f"  {row.id:<{id_width}}  {row.verdict.value:<14}  "
                        f"{_shown(row.value)}{ci}{thesis}")
                lines.append(line[:width] if len(line) > width else line)
        counts = self.counts()
        lines.append("  " + " · ".join(f"{n} {v}" for v, n in counts.items()))
        return "\n".join(lines)


def _shown(value: float | None) -> str:
    number = _number(value)
    return "–" if number is None else _fmt(number)
