"""What a similarity measure declares about itself, shared by the representational and
functional registries.

A ``Measure`` wraps a function ``fn(A, B, **options) -> float`` with the properties a user (and
the property tests) rely on: its direction, whether it is symmetric, what it is invariant to,
and the range its values lie in. The registries in ``simfunc.representational`` and
``simfunc.functional`` map names to ``Measure`` objects; the tests iterate over them, so a
declared property is a tested property.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

# The invariance vocabulary. A measure m is invariant to a family of maps T when
# m(T(X), Y) == m(X, Y) for every T in the family (applied to the features, i.e. columns).
TRANSLATION = "translation"  # X -> X + 1 b^T (a constant added to every example)
ISOTROPIC_SCALING = "isotropic scaling"  # X -> c X, c > 0
ORTHOGONAL = "orthogonal"  # X -> X Q, Q^T Q = I
PERMUTATION = "permutation"  # X -> X P, P a permutation of the features
INVERTIBLE_LINEAR = "invertible linear"  # X -> X A, A invertible
# For output (functional) measures: the same permutation of the classes applied to both inputs.
CLASS_PERMUTATION = "class permutation"

#: The layer name output measures (jsd, spearman, ...) are recorded under, in every comparison
#: and every results database (``simfunc.store`` re-exports it).
OUTPUT_LAYER = "output"

INVARIANCES = frozenset(
    {TRANSLATION, ISOTROPIC_SCALING, ORTHOGONAL, PERMUTATION, INVERTIBLE_LINEAR, CLASS_PERMUTATION}
)


@dataclass(frozen=True)
class Measure:
    """A named similarity (or distance) measure and the properties it declares.

    Attributes:
        name: registry key, e.g. ``"linear_cka"``.
        fn: ``fn(A, B, **options) -> float``.
        larger_is_more_similar: True for similarities (CKA), False for distances (Procrustes,
            JSD). ``oriented(value)`` turns any value into "larger is more similar".
        symmetric: ``fn(A, B) == fn(B, A)``.
        invariances: a subset of ``INVARIANCES``.
        bounds: the closed interval every value lies in.
        summary: one line for ``simfunc measures``.
        options: keyword arguments bound to ``fn`` (so ``debiased_cka`` can be
            ``linear_cka`` with ``debiased=True``).
        min_examples: the fewest examples (rows) the estimator accepts.
        min_features: the fewest features (columns) each input needs.
        exact_on_identical: whether ``fn(A, A)`` is exactly the most-similar value (1 for a
            similarity, 0 for a distance). False for estimators that shrink (a cross-validated
            ridge regression predicts even its own input slightly imperfectly).
    """

    name: str
    fn: Callable[..., float]
    larger_is_more_similar: bool
    symmetric: bool
    invariances: frozenset[str]
    bounds: tuple[float, float]
    summary: str
    options: dict[str, Any] = field(default_factory=dict)
    min_examples: int = 2
    min_features: int = 1
    exact_on_identical: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.invariances) - INVARIANCES
        if unknown:
            raise ValueError(f"{self.name}: unknown invariances {sorted(unknown)}")

    def __call__(self, A: Any, B: Any, **options: Any) -> float:
        return self.fn(A, B, **{**self.options, **options})

    def oriented(self, value: float) -> float:
        """The value with its sign flipped for distances, so larger always means more similar."""
        return value if self.larger_is_more_similar else -value
