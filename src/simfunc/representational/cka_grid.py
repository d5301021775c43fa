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

from ._hsic import ShiftedMoments, moment_hsic
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
        self.n_examples = 0
        self._widths: tuple[list[int], list[int]] | None = None
        self._shift = None  # (P + Q,) the first batch's column means
        self._first_row = None
        self._varies = None  # (La + Lb,) whether each layer has taken two values yet
        self._outer: list[Any] = []  # per layer Σ u uᵀ
        self._cross = None  # Σ u vᵀ, P × Q
        self._weighted = None  # Σ w [u | v]ᵀ, (1 + L) × (P + Q)
        self._scalars = None  # Σ w wᵀ, (1 + L) × (1 + L)

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
        device = self._shift.device if self._shift is not None else None
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
        stacked = torch.cat(rows_a + rows_b, dim=1)  # (b, P + Q)
        if self._widths is None:
            self._start(widths, stacked)
        elif widths != self._widths:
            raise InputError(
                f"this batch has layer widths {widths[0]} / {widths[1]}, earlier batches "
                f"{self._widths[0]} / {self._widths[1]}: every batch must have the same layers"
            )
        self._accumulate(stacked)

    def _start(self, widths: tuple[list[int], list[int]], stacked: Any) -> None:
        torch = _torch()
        self._widths = widths
        total = stacked.shape[1]
        layers = len(widths[0]) + len(widths[1])
        self._shift = stacked.mean(dim=0)
        self._first_row = stacked[0].clone()
        self._varies = [False] * layers
        self._outer = [
            torch.zeros(w, w, dtype=torch.float64, device=stacked.device)
            for w in widths[0] + widths[1]
        ]
        p = sum(widths[0])
        self._cross = torch.zeros(p, total - p, dtype=torch.float64, device=stacked.device)
        self._weighted = torch.zeros(1 + layers, total, dtype=torch.float64, device=stacked.device)
        self._scalars = torch.zeros(1 + layers, 1 + layers, dtype=torch.float64,
                                    device=stacked.device)

    def _blocks(self) -> list[slice]:
        assert self._widths is not None
        edges = np.cumsum([0] + self._widths[0] + self._widths[1])
        return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]

    def _accumulate(self, stacked: Any) -> None:
        torch = _torch()
        blocks = self._blocks()
        for index, block in enumerate(blocks):
            if not self._varies[index]:
                self._varies[index] = bool((stacked[:, block] != self._first_row[block]).any())
        shifted = stacked - self._shift
        weights = torch.empty(shifted.shape[0], 1 + len(blocks), dtype=torch.float64,
                              device=shifted.device)
        weights[:, 0] = 1.0
        for index, block in enumerate(blocks):
            rows = shifted[:, block]
            weights[:, 1 + index] = torch.einsum("ij,ij->i", rows, rows)
            self._outer[index] += rows.T @ rows
        p = sum(self._widths[0])
        self._cross += shifted[:, :p].T @ shifted[:, p:]
        self._weighted += weights.T @ shifted
        self._scalars += weights.T @ weights
        self.n_examples += int(shifted.shape[0])

    def compute(self, debiased: bool = False) -> np.ndarray:
        """The (La, Lb) linear CKA values of all examples seen (``debiased``: n >= 4)."""
        if not isinstance(debiased, (bool, np.bool_)):
            raise InputError(f"debiased must be True or False, got {debiased!r}")
        if self._widths is None:
            raise InputError("LinearCKAGrid has no data: call update(...) first")
        n = self.n_examples
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
        constant = [labels[i] for i, varies in enumerate(self._varies) if not varies]
        if constant:
            raise InputError(
                f"layer(s) {', '.join(constant)} took the same value on every example, so "
                "CKA is undefined; leave them out"
            )
        torch = _torch()
        for tensor in [self._cross, self._weighted, self._scalars, *self._outer]:
            if not bool(torch.isfinite(tensor).all()):
                raise InputError(
                    "the accumulated statistics overflow float64 (feature values too large): "
                    "rescale the features"
                )
        stats = _Statistics(self, n, debiased)
        self_values = [stats.self_hsic(i) for i in range(len(labels))]
        bad = [labels[i] for i, value in enumerate(self_values) if not value > 0.0]
        if bad:
            raise InputError(
                f"layer(s) {', '.join(bad)}: the HSIC with itself is not positive (too few "
                "distinct examples), so CKA is undefined"
            )
        values = np.empty((count_a, len(self._widths[1])))
        for i in range(count_a):
            for j in range(values.shape[1]):
                cross = stats.cross_hsic(i, count_a + j)
                values[i, j] = cross / np.sqrt(self_values[i] * self_values[count_a + j])
        return np.clip(values, -1.0 if debiased else 0.0, 1.0)


class _Statistics:
    """HSIC terms (times a common factor) of the accumulated grid, layer by layer."""

    def __init__(self, grid: LinearCKAGrid, n: int, debiased: bool) -> None:
        self.grid = grid
        self.n = n
        self.debiased = debiased
        self.blocks = grid._blocks()
        self.p = sum(grid._widths[0])
        weighted = grid._weighted
        self.means = [weighted[0, block] / n for block in self.blocks]  # of the shifted rows
        self.scalars = grid._scalars.cpu().numpy()

    def _sum_uv(self, i: int, j: int):
        """Σ u_i v_jᵀ of two layers' shifted rows (a self block when i == j)."""
        if i == j:
            return self.grid._outer[i]
        if i > j:
            return self._sum_uv(j, i).T
        count_a = len(self.grid._widths[0])
        if j < count_a or i >= count_a:
            raise AssertionError("cross blocks are kept between A and B layers only")
        rows = self.blocks[i]
        columns = slice(self.blocks[j].start - self.p, self.blocks[j].stop - self.p)
        return self.grid._cross[rows, columns]

    def _hsic(self, i: int, j: int) -> float:
        weighted = self.grid._weighted
        s = self.scalars
        moments = ShiftedMoments(
            self.n, self._sum_uv(i, j), self.means[i], self.means[j],
            sum_a=s[0, 1 + i], sum_b=s[0, 1 + j], sum_ab=s[1 + i, 1 + j],
            sum_a_v=weighted[1 + i, self.blocks[j]],  # Σ ‖u_i‖² v
            sum_b_u=weighted[1 + j, self.blocks[i]],  # Σ ‖v‖² u_i
        )  # fmt: skip
        return moment_hsic(moments, self.debiased)

    def self_hsic(self, i: int) -> float:
        return self._hsic(i, i)

    def cross_hsic(self, i: int, j: int) -> float:
        return self._hsic(i, j)
