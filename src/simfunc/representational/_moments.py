"""The one accumulation loop of streaming linear CKA: moments of shifted rows, batch by batch.

Both streaming classes keep the same statistics and call this loop: ``LinearCKA`` (one layer
of each model) and ``LinearCKAGrid`` (La layers of model A, Lb of model B). Per batch, the
rows of the left side (A's layers side by side, P columns) and of the right side (B's, Q
columns) are shifted by the first batch's column means, ``u = x − c``, ``v = y − c'``; with
the weights ``w = (1, ‖u^(1)‖², …, ‖u^(La)‖², ‖v^(1)‖², …, ‖v^(Lb)‖²)`` of each example it
accumulates

* per layer ``Σ u uᵀ`` (symmetric rank-k products),
* for every (A layer, B layer) pair at once ``Σ u vᵀ`` (P × Q, one product per batch),
* ``Σ w uᵀ`` and ``Σ w vᵀ`` ((1 + L) × P and × Q), and ``Σ w wᵀ``.

``hsic(i, j)`` turns them into the HSIC term of layers i and j (``_hsic.moment_hsic``,
``ShiftedMoments``): exactly the feature-space quantities of ``linear_cka`` on all the
examples, to float64 rounding. Shifting by the first batch's means keeps the final centring a
small correction when the features have a large common mean.

Backend: the arrays of the first batch's (numpy or torch, on its device); statistics come to
the host as float64 numpy only in ``hsic``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from ._hsic import ShiftedMoments, moment_hsic
from ._xp import is_tensor, namespace

__all__ = ["ShiftedAccumulator"]


def _zeros(shape: tuple[int, ...], like: Any) -> Any:
    return like.new_zeros(shape) if is_tensor(like) else np.zeros(shape, dtype=like.dtype)


def _host(array: Any) -> np.ndarray:
    return array.detach().cpu().double().numpy() if is_tensor(array) else array


def _slices(widths: Sequence[int]) -> list[slice]:
    edges = np.cumsum([0, *widths])
    return [slice(int(a), int(b)) for a, b in pairwise(edges)]


class ShiftedAccumulator:
    """Moments of the shifted rows of La left and Lb right layers (see the module docstring).

    Args:
        left, right: the first batch, (b, P) and (b, Q): each side's layers side by side.
        widths_left, widths_right: the layers' widths (summing to P and Q).

    Layers are numbered 0..La−1 (left), then La..La+Lb−1 (right).
    """

    def __init__(self, left: Any, right: Any, widths_left: Sequence[int],
                 widths_right: Sequence[int]) -> None:
        self.layers: list[tuple[int, slice]] = [
            (side, block) for side, widths in enumerate((widths_left, widths_right))
            for block in _slices(widths)
        ]
        count = len(self.layers)
        self.n = 0
        self.shift = (left.mean(0), right.mean(0))
        self.first_row = (left[0] * 1.0, right[0] * 1.0)  # copies, numpy or torch
        self.varies = [False] * count  # whether each layer has taken two values yet
        self.outer = [_zeros((block.stop - block.start,) * 2, left) for _, block in self.layers]
        self.cross = _zeros((left.shape[1], right.shape[1]), left)
        self.weighted = (_zeros((1 + count, left.shape[1]), left),
                         _zeros((1 + count, right.shape[1]), left))
        self.scalars = _zeros((1 + count, 1 + count), left)
        self._hosted: dict[str, Any] | None = None

    def add(self, left: Any, right: Any, owned: tuple[bool, bool] = (False, False)) -> None:
        """Accumulate one batch of b examples; ``owned`` sides are private copies, shifted in
        place."""
        sides = []
        for side, (data, is_owned) in enumerate(zip((left, right), owned)):
            for index, (layer_side, block) in enumerate(self.layers):
                if layer_side == side and not self.varies[index]:  # until the first change
                    self.varies[index] = bool((data[:, block] != self.first_row[side][block]).any())
            if is_owned:
                data -= self.shift[side]
            else:
                data = data - self.shift[side]
            sides.append(data)
        u, v = sides
        xp = namespace(u)
        weights = _zeros((u.shape[0], 1 + len(self.layers)), u)
        weights[:, 0] = 1.0
        for index, (side, block) in enumerate(self.layers):
            rows = sides[side][:, block]
            weights[:, 1 + index] = xp.einsum("ij,ij->i", rows, rows)
            self.outer[index] += rows.T @ rows  # numpy computes Aᵀ A with syrk
        self.cross += u.T @ v
        self.weighted[0][...] += weights.T @ u  # one pass over the rows for all the weights
        self.weighted[1][...] += weights.T @ v
        self.scalars += weights.T @ weights
        self.n += int(u.shape[0])
        self._hosted = None

    def finite(self) -> bool:
        """Whether every accumulated statistic is finite (else the features overflowed)."""
        return all(bool(np.isfinite(_host(t)).all())
                   for t in (self.cross, *self.weighted, self.scalars, *self.outer))

    def _host(self) -> dict[str, Any]:
        if self._hosted is None:
            self._hosted = {
                "outer": [_host(t) for t in self.outer], "cross": _host(self.cross),
                "weighted": tuple(_host(t) for t in self.weighted),
                "scalars": _host(self.scalars),
            }
        return self._hosted

    def _sum_uv(self, i: int, j: int) -> np.ndarray:
        """``Σ u_i u_jᵀ`` of two layers' shifted rows (a self block when i == j)."""
        host = self._host()
        if i == j:
            return host["outer"][i]
        if i > j:
            return self._sum_uv(j, i).T
        (side_i, block_i), (side_j, block_j) = self.layers[i], self.layers[j]
        if side_i == side_j:
            raise ValueError("cross moments are kept between a left and a right layer only")
        return host["cross"][block_i, block_j]

    def hsic(self, i: int, j: int, debiased: bool) -> float:
        """The HSIC term (times the common factor of ``_hsic``) of layers i and j."""
        host = self._host()
        n, s = self.n, host["scalars"]
        (side_i, block_i), (side_j, block_j) = self.layers[i], self.layers[j]
        weighted_i, weighted_j = host["weighted"][side_i], host["weighted"][side_j]
        moments = ShiftedMoments(
            n, self._sum_uv(i, j), weighted_i[0, block_i] / n, weighted_j[0, block_j] / n,
            sum_a=s[0, 1 + i], sum_b=s[0, 1 + j], sum_ab=s[1 + i, 1 + j],
            sum_a_v=weighted_j[1 + i, block_j],  # Σ ‖u_i‖² u_j
            sum_b_u=weighted_i[1 + j, block_i],  # Σ ‖u_j‖² u_i
        )  # fmt: skip
        return moment_hsic(moments, debiased)
