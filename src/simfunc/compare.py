"""The one path that compares two models: their features layer by layer, and their outputs.

Every study, the command line's ``simfunc compare`` and anyone with two models' activations
compare them here::

    from simfunc.compare import compare_pair

    result = compare_pair({"features": X_a}, {"features": X_b}, logits_a, logits_b)
    result.values   # (Value(layer, measure, value), ...): every registered measure that is defined
    result.notes    # (Note(layer, measure, reason), ...): every one that is not, and why

**What is compared.** Every representational measure (``measures``; default: all of
:data:`simfunc.representational.MEASURES`) on each layer the two feature mappings name (both
must name the same layers), sharing each pair's preparation between the measures
(:func:`simfunc.representational.compare_each`); every output measure (``output_measures``;
default: all of :data:`simfunc.functional.OUTPUT_MEASURES`) on the outputs, which are recorded
under :data:`simfunc.store.OUTPUT_LAYER`. Outputs are logits (``from_logits=True``, the
default) or probabilities.

**One policy for what cannot be measured.** A value is recorded only when it is a finite
number. A measure that raises :class:`~simfunc.errors.InputError` on this pair (undefined on
this data: constant features, too few examples for its estimator, CCA when it is
uninformative, outputs of different class counts), or whose value is NaN or infinite, is left
out with a :class:`Note` naming the layer, the measure and the reason. Features that no
measure can read (NaN, different numbers of examples) leave out every measure of that layer,
one note each. A warning raised while measuring becomes a note too (the value, if finite, is
kept). Unknown measure names are a mistake in the call, not in the data: they raise.

**Models.** :func:`run_model` runs one model (any ``nn.Module``, TorchScript included, as
:mod:`simfunc.models` loads it) over the data once and keeps the compared layer and the
outputs, both recorded by :mod:`simfunc.extract`'s one recorder; ``simfunc compare`` and
``simfunc study`` compare what it returns.

Results travel as JSON between the process that compares and the driver that records
(:meth:`Comparison.to_json`, :meth:`Comparison.from_json`); :func:`record_comparison` puts a
comparison's values and notes into the results database it is handed, the one way every study
records them (this module does not import the store: comparing two models needs no database).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from simfunc.errors import InputError
from simfunc.measure import OUTPUT_LAYER

__all__ = [
    "ModelRun",
    "run_model",
    "Value",
    "Note",
    "Comparison",
    "compare_pair",
    "record_comparison",
    "pair_context",
]


@dataclass(frozen=True)
class Value:
    """One measured value: ``measure`` on ``layer`` (:data:`OUTPUT_LAYER` for the outputs)."""

    layer: str
    measure: str
    value: float


@dataclass(frozen=True)
class Note:
    """Why ``measure`` on ``layer`` has no value, or what warning measuring it raised
    (``measure`` is "" when the note concerns every measure of the layer)."""

    layer: str
    measure: str
    reason: str


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing two models: the values to store and the notes on the rest."""

    values: tuple[Value, ...] = ()
    notes: tuple[Note, ...] = ()

    def value(self, layer: str, measure: str) -> float | None:
        """The value of ``measure`` on ``layer``, or None when it was left out."""
        for item in self.values:
            if item.layer == layer and item.measure == measure:
                return item.value
        return None

    def to_json(self) -> dict[str, list[list[str | float]]]:
        """Plain JSON: ``{"values": [[layer, measure, value], ...], "notes": [[layer, measure,
        reason], ...]}``."""
        return {"values": [[v.layer, v.measure, v.value] for v in self.values],
                "notes": [[n.layer, n.measure, n.reason] for n in self.notes]}

    @classmethod
    def from_json(cls, data: Mapping[str, Sequence[Sequence[Any]]]) -> Comparison:
        """The inverse of :meth:`to_json`."""
        try:
            values = tuple(Value(str(layer), str(measure), float(value))
                           for layer, measure, value in data["values"])
            notes = tuple(Note(str(layer), str(measure), str(reason))
                          for layer, measure, reason in data["notes"])
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(f"not a stored comparison ({error!r}): {str(data)[:120]}") from None
        return cls(values, notes)


@dataclass(frozen=True)
class ModelRun:
    """One model's compared layer and outputs on the same n examples.

    ``layer``/``output``: the layer names recorded (see :mod:`simfunc.extract`: ``"NAME"``,
    ``"NAME:input"``, or ``""`` for the model's own output); ``features`` (n, p) float32,
    ``outputs`` (n, k) float32 logits.
    """

    layer: str
    output: str
    features: Any
    outputs: Any


def run_model(model: Any, data: Any, *, layer: str | None = None, output: str | None = None,
              batch_size: int = 256, device: str | None = None) -> ModelRun:
    """Run ``model`` over ``data`` once and keep ``layer`` (default: the input of its last
    ``nn.Linear``) and ``output`` (default: what its forward returns), flattened to rows.

    ``data``: anything :func:`simfunc.extract.activations` takes. An output that is not
    (n, k) with k >= 2, or a layer name that is not in the model, raises InputError (the
    latter listing the nearest names).
    """
    from simfunc.extract import MODEL_OUTPUT, activations, default_feature_layer

    layer = default_feature_layer(model) if layer is None else layer
    output = MODEL_OUTPUT if output is None else output
    names = [layer] if layer == output else [layer, output]
    recorded = activations(model, data, names, batch_size=batch_size, device=device)
    outputs = recorded[output]
    if outputs.shape[1] < 2:
        where = "the model's output" if output == MODEL_OUTPUT else f"layer {output!r}"
        raise InputError(f"{where} has {outputs.shape[1]} value(s) per example: the output "
                         "measures need logits over at least 2 classes")
    return ModelRun(layer, output, recorded[layer], outputs)


def _names(requested: Sequence[str] | None, registry: Mapping[str, object], what: str) -> list[str]:
    if isinstance(requested, str):
        requested = [requested]
    names = list(registry) if requested is None else list(requested)
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise InputError(f"{what}: unknown {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(registry)}")
    return names


@contextmanager
def _warnings_as_notes(notes: list[Note], layer: str, measure: str) -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    notes.extend(Note(layer, measure, f"{w.category.__name__}: {w.message}") for w in caught)


def _keep(values: list[Value], notes: list[Note], layer: str, measure: str,
          value: float | InputError) -> None:
    if isinstance(value, InputError):
        notes.append(Note(layer, measure, str(value)))
    elif not math.isfinite(value):
        notes.append(Note(layer, measure, f"the value is {value}: not recorded"))
    else:
        values.append(Value(layer, measure, float(value)))


def _representational(layer: str, X: Any, Y: Any, names: list[str], values: list[Value],
                      notes: list[Note]) -> None:
    from simfunc import representational

    if not names:
        return
    with _warnings_as_notes(notes, layer, ""):
        try:
            measured: Mapping[str, float | InputError] = representational.compare_each(X, Y, names)
        except InputError as error:  # features no measure can read: every measure noted
            measured = {name: error for name in names}
    for name in names:
        _keep(values, notes, layer, name, measured[name])


def _outputs(P: Any, Q: Any, names: list[str], from_logits: bool, values: list[Value],
             notes: list[Note]) -> None:
    from simfunc import functional

    for name in names:
        measure: Callable[..., float] = functional.OUTPUT_MEASURES[name]
        with _warnings_as_notes(notes, OUTPUT_LAYER, name):
            try:
                value: float | InputError = float(measure(P, Q, from_logits=from_logits))
            except InputError as error:
                value = error
        _keep(values, notes, OUTPUT_LAYER, name, value)


def compare_pair(
    features_a: Mapping[str, Any],
    features_b: Mapping[str, Any],
    outputs_a: Any = None,
    outputs_b: Any = None,
    *,
    measures: Sequence[str] | None = None,
    output_measures: Sequence[str] | None = None,
    from_logits: bool = True,
) -> Comparison:
    """Compare two models (see the module docstring for what is compared and the policy).

    Args:
        features_a, features_b: ``{layer name: (n, p) array}`` of each model on the same n
            examples; both name the same layers (an empty mapping compares outputs only).
        outputs_a, outputs_b: the models' (n, k) outputs on those examples, or None to compare
            features only.
        measures: representational measure names (default: every registered one).
        output_measures: output measure names (default: every registered one).
        from_logits: the outputs are logits (softmax is applied), not probabilities.

    Returns:
        A :class:`Comparison`: the finite values, layer by layer in the order given and then
        the outputs, each layer's measures in registry (or the given) order; and the notes.
    """
    from simfunc import functional, representational

    if set(features_a) != set(features_b):
        raise InputError(f"features_a and features_b must name the same layers, got "
                         f"{sorted(features_a)} and {sorted(features_b)}")
    if OUTPUT_LAYER in features_a:
        raise InputError(f"{OUTPUT_LAYER!r} names the outputs' layer: give the outputs as "
                         "outputs_a and outputs_b")
    if (outputs_a is None) != (outputs_b is None):
        raise InputError("give both outputs_a and outputs_b, or neither")
    rep_names = _names(measures, representational.MEASURES, "measures")
    out_names = _names(output_measures, functional.OUTPUT_MEASURES, "output_measures")
    values: list[Value] = []
    notes: list[Note] = []
    for layer in features_a:
        _representational(layer, features_a[layer], features_b[layer], rep_names, values, notes)
    if outputs_a is not None:
        _outputs(outputs_a, outputs_b, out_names, from_logits, values, notes)
    return Comparison(tuple(values), tuple(notes))


def pair_context(model_a: str, model_b: str, test_set: str) -> str:
    """How a note names the pair it is about: ``"cnn-s0 vs mlp-s1 on digits"``."""
    return f"{model_a} vs {model_b}" + (f" on {test_set}" if test_set else "")


def record_comparison(db: Any, comparison: Comparison, *, model_a: str, model_b: str,
                      test_set: str, context: str | None = None) -> None:
    """Put one comparison into the results database ``db`` (a :class:`simfunc.store.ResultsDB`,
    handed in: comparing needs no database): a ``pairs`` row per value, a ``notes``
    row per note (``context`` defaults to :func:`pair_context`). Every study records its
    comparisons through this function."""
    db.add_pairs([
        {"model_a": model_a, "model_b": model_b, "test_set": test_set, "layer": item.layer,
         "measure": item.measure, "value": item.value}
        for item in comparison.values
    ])
    if comparison.notes:
        where = context if context is not None else pair_context(model_a, model_b, test_set)
        db.add_notes([{"context": where, "layer": note.layer, "measure": note.measure,
                       "reason": note.reason} for note in comparison.notes])
