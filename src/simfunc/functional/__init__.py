"""Functional similarity: measures on the outputs of two models for the same examples.

Every measure takes ``P, Q`` of shape (examples, classes), probabilities or (with
``from_logits=True``) logits, as numpy arrays or torch tensors on any device; computes in
float64 in row chunks (bounded memory for millions of examples); and returns the mean over
examples as a Python float, or the per-example float64 values with ``reduction="none"``.

    jsd(P, Q, base=2.0)      Jensen-Shannon divergence, in [0, 1] with base 2
    kl(P, Q, base=math.e)    KL(P || Q), +inf where Q lacks P's support
    spearman(P, Q)           rank correlation of the two output vectors (rank coefficient)
    disagreement(P, Q)       fraction of examples whose argmax differs
    OUTPUT_MEASURES          name -> Measure (direction, symmetry, invariances, bounds)
"""

from __future__ import annotations

from simfunc.functional.agreement import disagreement
from simfunc.functional.divergence import jsd, kl
from simfunc.functional.rank import spearman
from simfunc.functional.registry import OUTPUT_MEASURES

__all__ = ["OUTPUT_MEASURES", "disagreement", "jsd", "kl", "spearman"]
