"""Streaming, exact linear CKA: accumulate sufficient statistics batch by batch.

Memory is O(p² + q² + pq) whatever the number of examples; the examples are never stored.
To keep float64 accuracy when the features have a large common mean (say 1e4 with unit
spread), every batch is shifted by a fixed reference point, the first batch's column means,
before its moments are accumulated; the final centring is then a small correction instead of
a catastrophic cancellation. The debiased estimator needs ``Σ_i ‖x̃_i‖² ‖ỹ_i‖²`` (centred row
norms, with the *final* mean), which is expanded in streamable moments of the shifted rows.

The accumulation loop is ``_moments.ShiftedAccumulator``, shared with ``LinearCKAGrid`` (one
layer on each side here), and the HSIC terms come from the one kernel ``_hsic.moment_hsic``.

Torch batches are accumulated in torch on their device (float64; float32 on MPS): the backend
and device are those of the first batch; numpy batches that follow are moved there. Only the
final O(p² + q² + pq) statistics come back to the host in ``compute()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.validation import as_feature_tensor, as_features, to_numpy

from ._linalg import check_flag, safe_ratio
from ._moments import ShiftedAccumulator
from ._xp import is_tensor

__all__ = ["LinearCKA"]


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
        self._moments: ShiftedAccumulator | None = None  # the loop shared with LinearCKAGrid
        self._widths: tuple[int, int] | None = None
        self._device: Any = None  # the torch device of the accumulators; None: numpy

    @property
    def n_examples(self) -> int:
        """How many examples (rows) have been accumulated."""
        return 0 if self._moments is None else self._moments.n

    def update(self, X_batch: Any, Y_batch: Any) -> None:
        """Add a batch: X_batch (m, p) and Y_batch (m, q) hold the same m examples."""
        if self._moments is None:
            tensors = [batch for batch in (X_batch, Y_batch) if is_tensor(batch)]
            self._device = tensors[0].device if tensors else None
        x, owned_x = self._batch(X_batch, "X_batch")
        y, owned_y = self._batch(Y_batch, "Y_batch")
        if x.shape[0] != y.shape[0]:
            raise InputError(
                f"X_batch has {x.shape[0]} rows but Y_batch has {y.shape[0]}: rows must be the "
                "same examples in both"
            )
        if self._moments is None:
            self._moments = ShiftedAccumulator(x, y, [x.shape[1]], [y.shape[1]])
            self._widths = (x.shape[1], y.shape[1])
        for batch, width, name in ((x, self._widths[0], "X_batch"), (y, self._widths[1], "Y_batch")):
            if batch.shape[1] != width:
                raise InputError(
                    f"{name} has {batch.shape[1]} features but earlier batches had {width}: "
                    "every batch must have the same features"
                )
        self._moments.add(x, y, owned=(owned_x, owned_y))

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
        moments = self._moments
        if moments is None:
            raise InputError("LinearCKA has no data: call update(X_batch, Y_batch) first")
        n = moments.n
        minimum = 4 if debiased else 3  # the rule of every representational measure: n >= 3
        if n < minimum:
            what = "debiased CKA" if debiased else "CKA"
            raise InputError(
                f"LinearCKA has seen {n} example(s): {what} needs at least {minimum}"
            )
        for varies, name in zip(moments.varies, ("X", "Y")):
            if not varies:
                raise InputError(
                    f"{name} is constant: every feature took the same value on every example "
                    "seen, so it has no representation to compare"
                )
        hsic_xy = moments.hsic(0, 1, debiased)
        hsic_xx = moments.hsic(0, 0, debiased)
        hsic_yy = moments.hsic(1, 1, debiased)
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
