"""``OUTPUT_MEASURES``: every output measure by name, with the properties it declares."""

from __future__ import annotations

import math

from simfunc.functional.agreement import disagreement
from simfunc.functional.divergence import jsd, kl
from simfunc.functional.rank import spearman
from simfunc.measure import CLASS_PERMUTATION, Measure

__all__ = ["OUTPUT_MEASURES"]

_CLASSES = frozenset({CLASS_PERMUTATION})

OUTPUT_MEASURES: dict[str, Measure] = {
    measure.name: measure
    for measure in (
        Measure(
            name="jsd",
            fn=jsd,
            larger_is_more_similar=False,
            symmetric=True,
            invariances=_CLASSES,
            bounds=(0.0, 1.0),
            summary="Jensen-Shannon divergence of the output distributions, base 2 (Lin 1991)",
            min_examples=1,
        ),
        Measure(
            name="kl",
            fn=kl,
            larger_is_more_similar=False,
            symmetric=False,
            invariances=_CLASSES,
            bounds=(0.0, math.inf),
            summary="KL divergence KL(P || Q) in nats; +inf where Q misses the support of P",
            min_examples=1,
        ),
        Measure(
            name="spearman",
            fn=spearman,
            larger_is_more_similar=True,
            symmetric=True,
            invariances=_CLASSES,
            bounds=(-1.0, 1.0),
            summary="mean Spearman rank correlation of the two output vectors (rank coefficient)",
            min_examples=1,
        ),
        Measure(
            name="disagreement",
            fn=disagreement,
            larger_is_more_similar=False,
            symmetric=True,
            invariances=_CLASSES,
            bounds=(0.0, 1.0),
            summary="fraction of examples whose top-1 predictions differ",
            min_examples=1,
        ),
    )
}
