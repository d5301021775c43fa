"""The converse study's typed result: what its analysis computes, and what its prose,
scorecard rows and tests read. ``summary.json`` is its JSON form
(:func:`~simfunc.studies.serialise.to_json`; the framework adds ``"schema"``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Comparison", "Construction", "ConverseResult", "Student"]


@dataclass(frozen=True)
class Comparison:
    """One network against the teacher: its model id, and every measure recorded for the pair
    (the representational ones at the compared layer, the output ones) by name, None where
    undefined."""

    model: str
    measures: dict[str, float | None]

    @property
    def linear_cka(self) -> float | None:
        return self.measures.get("linear_cka")

    @property
    def cca(self) -> float | None:
        return self.measures.get("cca")

    @property
    def jsd(self) -> float | None:
        return self.measures.get("jsd")

    @property
    def disagreement(self) -> float | None:
        return self.measures.get("disagreement")


@dataclass(frozen=True)
class Construction(Comparison):
    """The teacher with the map of condition number κ (``condition``) inserted, and the largest
    |logit difference| from the teacher's outputs (float64 rounding)."""

    condition: float
    max_abs_logit_difference: float | None


@dataclass(frozen=True)
class Student(Comparison):
    """A distilled student (``penalty``: its CKA-penalty weight) or the independently trained
    reference (``penalty`` None), with its test accuracy."""

    penalty: float | None
    accuracy: float | None


@dataclass(frozen=True)
class ConverseResult:
    """Everything the converse analysis computes: the teacher's test accuracy, the limit of
    linear CKA as κ → ∞ (None when not recorded), the constructions in κ order, and the
    students and the reference."""

    teacher_accuracy: float | None
    cka_limit: float | None
    constructions: tuple[Construction, ...]
    students: tuple[Student, ...]
