"""Streaming, exact linear CKA: accumulate sufficient statistics batch by batch.

Memory is O(p² + q² + pq) whatever the number of examples; the examples are never stored.
To keep float64 accuracy when the features have a large common mean (say 1e4 with unit
spread), every batch is shifted by a fixed reference point, the first batch's column means,
before its moments are accumulated; the final centring is then a small correction instead of
a catastrophic cancellation. The debiased estimator needs ``Σ_i ‖x̃_i‖² ‖ỹ_i‖²`` (centred row
norms, with the *final* mean), which is expanded in streamable moments of the shifted rows.

Torch batches are accumulated in torch on their device (float64; float32 on MPS): the backend
and device are those of the first batch; numpy batches that follow are moved there. Only the
final O(p² + q² + pq) statistics come back to the host in ``compute()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.validation import as_feature_tensor, as_features, to_numpy

from ._hsic import ShiftedMoments, moment_hsic
from ._linalg import check_flag, safe_ratio
from ._xp import is_tensor

__all__ = ["LinearCKA"]


class _Moments:
    """Moments of one representation's shifted rows ``u_i = x_i − c``, c the first batch mean."""

    def __init__(self, first_batch: np.ndarray) -> None:
        width = first_batch.shape[1]
        self.width = width
        self.shift = first_batch.mean(axis=0)
        self.first_row = first_batch[0] * 1.0  # a copy, numpy or torch
        self.varies = False  # whether any feature has taken two different values yet
        self.outer = _zeros((width, width), first_batch)  # Σ u_i u_iᵀ
        # Σ w_i u_i for the weights w = (1, a, b): Σ u_i, Σ a_i u_i, Σ b_i u_i, where
        # a_i = ‖u_i‖² and b_i = ‖v_i‖² are the squared norms of the X and Y rows.
        self.weighted = _zeros((width, 3), first_batch)

    def check_width(self, batch: np.ndarray, name: str) -> None:
        if batch.shape[1] != self.width:
            raise InputError(
                f"{name} has {batch.shape[1]} features but earlier batches had {self.width}: "
                "every batch must have the same features"
            )

    def shifted(self, batch: np.ndarray, owned: bool) -> np.ndarray:
        if not self.varies:  # checked only until the first variation is seen
            self.varies = bool((batch != self.first_row).any())
        if owned:
            batch -= self.shift
            return batch
        return batch - self.shift

    def add(self, rows: np.ndarray, weights: np.ndarray) -> None:
        self.outer += rows.T @ rows  # numpy computes Aᵀ A with syrk
        self.weighted += rows.T @ weights  # one pass over the rows for all three sums


def _zeros(shape: tuple[int, int], like: Any) -> Any:
    return like.new_zeros(shape) if is_tensor(like) else np.zeros(shape)


def _host(array: Any) -> np.ndarray:
    return array.detach().cpu().double().numpy() if is_tensor(array) else array


class _HostMoments:
    """The accumulated moments of one representation, on the host as float64 numpy."""

    def __init__(self, moments: _Moments) -> None:
        self.outer = _host(moments.outer)
        self.weighted = _host(moments.weighted)


class LinearCKA:
    """Linear CKA (plain or debiased) over data that arrives in batches, in bounded memory.

    Usage mirrors torchmetrics: ``update(X_batch, Y_batch)`` for each batch of examples (the
    same examples in the rows of both), ``compute()`` for the value, ``reset()`` to start over.
    ``compute()`` equals ``linear_cka`` on the concatenated batches (to ~1e-12 relative),
    because the statistics accumulated are exactly those the feature-space formula needs:
    ``n``, ``Σ u``, ``Σ v``, ``Σ uuᵀ``, ``Σ vvᵀ``, ``Σ uvᵀ`` of the shifted rows, and for the
    debiased estimator ``Σ a``, ``Σ b``, ``Σ ab``, ``Σ a²``, ``Σ b²``, ``Σ a u``, ``Σ a v``,
    ``Σ b u``, ``Σ b v`` (``a_i = ‖u_i‖²``, ``b_i = ‖v_i‖²``). Memory: O(p² + q² + pq).

    Every batch is validated like any input (finite numbers, same number of rows in X_batch
    and Y_batch, the same feature counts as the first batch); a batch may have one row.
    Torch batches are accumulated in torch on their device (see the module docstring).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every batch seen so far."""
        self._count = 0
        self._x: _Moments | None = None
        self._y: _Moments | None = None
        self._cross: Any = np.zeros((0, 0))  # Σ u_i v_iᵀ
        self._scalars: Any = np.zeros((3, 3))  # Σ w_i w_iᵀ, w = (1, a, b): n, Σa, Σb, Σa², Σab, Σb²
        self._device: Any = None  # the torch device of the accumulators; None: numpy

    @property
    def n_examples(self) -> int:
        """How many examples (rows) have been accumulated."""
        return self._count

    def update(self, X_batch: Any, Y_batch: Any) -> None:
        """Add a batch: X_batch (m, p) and Y_batch (m, q) hold the same m examples."""
        if self._x is None:
            tensors = [batch for batch in (X_batch, Y_batch) if is_tensor(batch)]
            self._device = tensors[0].device if tensors else None
        x, owned_x = self._batch(X_batch, "X_batch")
        y, owned_y = self._batch(Y_batch, "Y_batch")
        if x.shape[0] != y.shape[0]:
            raise InputError(
                f"X_batch has {x.shape[0]} rows but Y_batch has {y.shape[0]}: rows must be the "
                "same examples in both"
            )
        if self._x is None or self._y is None:
            self._x, self._y = _Moments(x), _Moments(y)
            self._cross = _zeros((x.shape[1], y.shape[1]), x)
            self._scalars = _zeros((3, 3), x)
        self._x.check_width(x, "X_batch")
        self._y.check_width(y, "Y_batch")
        u = self._x.shifted(x, owned=owned_x)
        v = self._y.shifted(y, owned=owned_y)
        if is_tensor(u):
            import torch

            weights = torch.stack([torch.ones_like(u[:, 0]), torch.einsum("ij,ij->i", u, u),
                                   torch.einsum("ij,ij->i", v, v)], dim=1)
        else:
            weights = np.empty((u.shape[0], 3))
            weights[:, 0] = 1.0
            np.einsum("ij,ij->i", u, u, out=weights[:, 1])
            np.einsum("ij,ij->i", v, v, out=weights[:, 2])
        self._x.add(u, weights)
        self._y.add(v, weights)
        self._cross += u.T @ v
        self._scalars += weights.T @ weights
        self._count += u.shape[0]

    def _batch(self, value: Any, name: str) -> tuple[Any, bool]:
        """A validated batch on the accumulators' backend; and whether it is a private copy."""
        if self._device is None:
            raw = to_numpy(value, name)
            data = as_features(raw, name, min_examples=1)
            return data, not np.may_share_memory(data, raw)
        import torch

        if not is_tensor(value):
            value = torch.as_tensor(as_features(value, name, min_examples=1), device=self._device)
        elif value.device != self._device:
            raise InputError(
                f"{name} is on {value.device} but the first batch was on {self._device}: every "
                "batch must be on the same device"
            )
        data = as_feature_tensor(value, name, min_examples=1)
        return data, data.data_ptr() != value.data_ptr()

    def compute(self, debiased: bool = False) -> float:
        """Linear CKA of all examples seen (``debiased=True``: unbiased HSIC, n >= 4)."""
        debiased = check_flag(debiased, "debiased")
        if self._x is None or self._y is None:
            raise InputError("LinearCKA has no data: call update(X_batch, Y_batch) first")
        n = self.n_examples
        minimum = 4 if debiased else 3  # the rule of every representational measure: n >= 3
        if n < minimum:
            what = "debiased CKA" if debiased else "CKA"
            raise InputError(
                f"LinearCKA has seen {n} example(s): {what} needs at least {minimum}"
            )
        for moments, name in ((self._x, "X"), (self._y, "Y")):
            if not moments.varies:
                raise InputError(
                    f"{name} is constant: every feature took the same value on every example "
                    "seen, so it has no representation to compare"
                )
        x, y = _HostMoments(self._x), _HostMoments(self._y)
        cross_moments, scalars = _host(self._cross), _host(self._scalars)
        mean_x, mean_y = x.weighted[:, 0] / n, y.weighted[:, 0] / n  # means of the shifted rows
        (_, sum_a, sum_b), (_, sum_aa, sum_ab), (_, _, sum_bb) = scalars
        # Weights w = (1, a, b): x.weighted[:, k] = Σ w_k u, y.weighted[:, k] = Σ w_k v.
        terms = [
            moment_hsic(ShiftedMoments(
                n, sum_uv, d, e, sum_a=sa, sum_b=sb, sum_ab=sab, sum_a_v=sav, sum_b_u=sbu,
            ), debiased)
            for sum_uv, d, e, sa, sb, sab, sav, sbu in (
                (cross_moments, mean_x, mean_y, sum_a, sum_b, sum_ab, y.weighted[:, 1],
                 x.weighted[:, 2]),
                (x.outer, mean_x, mean_x, sum_a, sum_a, sum_aa, x.weighted[:, 1],
                 x.weighted[:, 1]),
                (y.outer, mean_y, mean_y, sum_b, sum_b, sum_bb, y.weighted[:, 2],
                 y.weighted[:, 2]),
            )
        ]  # fmt: skip
        hsic_xy, hsic_xx, hsic_yy = terms
        if debiased:
            for value, name in ((hsic_xx, "X"), (hsic_yy, "Y")):
                if not value > 0.0:
                    raise InputError(
                        f"{name}: the unbiased HSIC of {name} with itself is not positive (too "
                        "few distinct examples), so debiased CKA is undefined"
                    )
        what = "debiased CKA" if debiased else "linear CKA"
        value = safe_ratio(hsic_xy, hsic_xx * hsic_yy, what)
        return float(np.clip(value, -1.0 if debiased else 0.0, 1.0))
