"""Exact streaming linear CKA between every layer of one model and every layer of another.

The feature-space statistics of :class:`~simfunc.representational.LinearCKA`, kept for a whole
grid at once: for A's layers ``X_1..X_La`` (widths p_l) and B's ``Y_1..Y_Lb`` (widths q_m),
over all the examples seen,

* per layer, ``Σ u uᵀ`` (p_l × p_l) and ``Σ u`` of the rows shifted by the first batch's mean;
* for all pairs at once, ``Σ u vᵀ`` of the concatenated rows, P × Q with ``P = Σ p_l``,
  ``Q = Σ q_m`` (one product per batch gives every cross block);
* for the debiased estimator, with weights ``w = (1, ‖u^(1)‖², …, ‖v^(Lb)‖²)`` per example,
  ``Σ w wᵀ`` and ``Σ w [u | v]ᵀ`` ((1 + La + Lb) × (P + Q)).

``compute()`` then gives, for every pair, exactly ``linear_cka(X_l, Y_m)`` of all the examples
(``debiased=True``: the unbiased HSIC of Song et al. 2012), to float64 rounding: the
feature-space form ``‖XcᵀYc‖_F² / (‖XcᵀXc‖_F ‖YcᵀYc‖_F)`` of Kornblith et al. (2019, eq. 4),
with ``XcᵀYc = Σ u vᵀ − n ū v̄ᵀ``. Shifting by the first batch's mean keeps that final
correction small when features have a large common mean (see ``streaming``).

The statistics are accumulated by ``_moments.ShiftedAccumulator``, the same loop that
:class:`~simfunc.representational.LinearCKA` runs with one layer on each side, and turned into
HSIC terms by the one kernel ``_hsic.moment_hsic``.

Memory: ``8 (Σ p_l² + Σ q_m² + P·Q + (1 + La + Lb)(P + Q))`` bytes, whatever the number of
examples -- use it when the layers are narrow (:func:`grid_statistics_bytes` says how much);
for wide layers use :class:`~simfunc.representational.MinibatchCKA`. Arithmetic and
accumulators are float64 on the device of the first batch (numpy or torch inputs).

Invariances: those of linear CKA (translation, isotropic scaling, orthogonal transforms and
permutations of each layer's features).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simfunc.errors import InputError

from ._moments import ShiftedAccumulator
from .minibatch_cka import _as_tensor, _torch, layer_names

__all__ = ["LinearCKAGrid", "grid_statistics_bytes"]


def grid_statistics_bytes(widths_a: Sequence[int], widths_b: Sequence[int]) -> int:
    """Bytes :class:`LinearCKAGrid` keeps for layers of these widths (float64)."""
    p, q = sum(widths_a), sum(widths_b)
    squares = sum(w * w for w in widths_a) + sum(w * w for w in widths_b)
    layers = 1 + len(widths_a) + len(widths_b)
    return 8 * (squares + p * q + layers * (p + q))


class LinearCKAGrid:
    """Exact linear CKA (plain or debiased) of every (A layer, B layer) pair, batch by batch.

    ``update(features_a, features_b)``: lists of La and Lb arrays/tensors (b, ...) holding the
    same b examples (a single array counts as a list of one); extra axes are flattened.
    ``compute(debiased=False)``: the (La, Lb) array; ``reset()`` starts over.

    Args:
        names_a, names_b: layer names, used in error messages (default: indices).
    """

    def __init__(
        self, names_a: Sequence[str] | None = None, names_b: Sequence[str] | None = None
    ) -> None:
        self.names_a, self.names_b = layer_names(names_a), layer_names(names_b)
        self.reset()

    def reset(self) -> None:
        """Forget every batch seen so far."""
        self._widths: tuple[list[int], list[int]] | None = None
        self._moments: ShiftedAccumulator | None = None  # the loop shared with LinearCKA

    @property
    def n_examples(self) -> int:
        """How many examples (rows) have been accumulated."""
        return 0 if self._moments is None else self._moments.n

    def _rows(self, features: Any, name: str, device: Any) -> list:
        items = list(features) if isinstance(features, (list, tuple)) else [features]
        if not items:
            raise InputError(f"{name} is empty: give one (b, ...) array per layer")
        rows = []
        torch = _torch()
        for index, item in enumerate(items):
            tensor = _as_tensor(item, f"{name}[{index}]", device)
            if tensor.ndim < 2 or tensor.shape[0] == 0 or tensor.numel() == 0:
                raise InputError(
                    f"{name}[{index}] has shape {tuple(tensor.shape)}: expected (examples, "
                    "features...)"
                )
            tensor = tensor.reshape(tensor.shape[0], -1)
            if not bool(torch.isfinite(tensor).all()):
                raise InputError(f"{name}[{index}] contains NaN or infinite values")
            rows.append(tensor)
        return rows

    def update(self, features_a: Any, features_b: Any) -> None:
        """Add one batch: every layer's features of the same b examples."""
        torch = _torch()
        device = self._moments.shift[0].device if self._moments is not None else None
        if device is None:
            first = features_a[0] if isinstance(features_a, (list, tuple)) and features_a else (
                features_a
            )
            device = first.device if isinstance(first, torch.Tensor) else torch.device("cpu")
        rows_a = self._rows(features_a, "features_a", device)
        rows_b = self._rows(features_b, "features_b", device)
        count = rows_a[0].shape[0]
        for rows, name in ((rows_a, "features_a"), (rows_b, "features_b")):
            for index, tensor in enumerate(rows):
                if tensor.shape[0] != count:
                    raise InputError(
                        f"{name}[{index}] has {tensor.shape[0]} rows but features_a[0] has "
                        f"{count}: every layer must hold the same examples"
                    )
        widths = ([t.shape[1] for t in rows_a], [t.shape[1] for t in rows_b])
        left, right = torch.cat(rows_a, dim=1), torch.cat(rows_b, dim=1)  # (b, P), (b, Q)
        if self._moments is None:
            self._widths = widths
            self._moments = ShiftedAccumulator(left, right, widths[0], widths[1])
        elif widths != self._widths:
            raise InputError(
                f"this batch has layer widths {widths[0]} / {widths[1]}, earlier batches "
                f"{self._widths[0]} / {self._widths[1]}: every batch must have the same layers"
            )
        self._moments.add(left, right, owned=(True, True))  # fresh concatenations

    def compute(self, debiased: bool = False) -> np.ndarray:
        """The (La, Lb) linear CKA values of all examples seen (``debiased``: n >= 4)."""
        if not isinstance(debiased, (bool, np.bool_)):
            raise InputError(f"debiased must be True or False, got {debiased!r}")
        moments = self._moments
        if moments is None or self._widths is None:
            raise InputError("LinearCKAGrid has no data: call update(...) first")
        n = moments.n
        minimum = 4 if debiased else 2
        if n < minimum:
            what = "debiased CKA" if debiased else "CKA"
            raise InputError(f"LinearCKAGrid has seen {n} example(s): {what} needs {minimum}")
        count_a = len(self._widths[0])
        labels = [
            f"{self.names_a[i]!r} of model A" if self.names_a else f"A[{i}]"
            for i in range(count_a)
        ] + [
            f"{self.names_b[j]!r} of model B" if self.names_b else f"B[{j}]"
            for j in range(len(self._widths[1]))
        ]
        constant = [labels[i] for i, varies in enumerate(moments.varies) if not varies]
        if constant:
            raise InputError(
                f"layer(s) {', '.join(constant)} took the same value on every example, so "
                "CKA is undefined; leave them out"
            )
        if not moments.finite():
            raise InputError(
                "the accumulated statistics overflow float64 (feature values too large): "
                "rescale the features"
            )
        self_values = [moments.hsic(i, i, debiased) for i in range(len(labels))]
        bad = [labels[i] for i, value in enumerate(self_values) if not value > 0.0]
        if bad:
            raise InputError(
                f"layer(s) {', '.join(bad)}: the HSIC with itself is not positive (too few "
                "distinct examples), so CKA is undefined"
            )
        values = np.empty((count_a, len(self._widths[1])))
        for i in range(count_a):
            for j in range(values.shape[1]):
                cross = moments.hsic(i, count_a + j, debiased)
                values[i, j] = cross / np.sqrt(self_values[i] * self_values[count_a + j])
        return np.clip(values, -1.0 if debiased else 0.0, 1.0)
