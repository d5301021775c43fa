"""Minibatch CKA of Nguyen, Raghu & Kornblith (2021) for a whole grid of layers at once.

Nguyen, Raghu & Kornblith, "Do Wide and Deep Networks Learn the Same Things? Uncovering How
Neural Network Representations Vary with Width and Depth", ICLR 2021, §3.1: for batches
k = 1..m of examples, with linear Gram matrices ``K_k = X_k X_kᵀ`` and ``L_k = Y_k Y_kᵀ`` of
the batch,

    CKA_minibatch = Σ_k HSIC_1(K_k, L_k) / sqrt(Σ_k HSIC_1(K_k, K_k) · Σ_k HSIC_1(L_k, L_k))

where ``HSIC_1`` is the unbiased estimator of Song et al. (2012, JMLR, eq. 5) on one batch of
b examples: with ``Ũ(K)`` the U-centred Gram (Székely & Rizzo 2014; its diagonal is zero)
``HSIC_1(K, L) = <Ũ(K), Ũ(L)> / (b(b−3))``. A batch needs b >= 4.

What it converges to. ``HSIC_1`` is a U-statistic, so it is an unbiased estimate of the HSIC
of whatever the batch is a uniform random sample of: of the population HSIC for i.i.d.
batches, and of the unbiased HSIC of the whole data set for batches drawn without replacement
from a finite data set (a shuffled pass). Each of the three sums, divided by the number of
batches, therefore converges to that expectation, and the estimator converges to the *ratio
of the expected batch HSICs*:

    E[HSIC_1(K_b, L_b)] / sqrt(E[HSIC_1(K_b, K_b)] E[HSIC_1(L_b, L_b)])

which is the population linear CKA (i.i.d. batches) and, for repeated shuffled passes over a
finite data set, the *debiased* linear CKA of that whole data set (``linear_cka(X, Y,
debiased=True)``). It is neither the mean of per-batch CKA values (a mean of ratios, biased
towards small-sample values) nor the plain (biased) CKA, whose bias grows with width / n. With
one batch holding all the data it *is* the debiased CKA of the data. Batches must be random
subsets: batches of one class each (data sorted by label) estimate within-class similarity.

Memory: the (La × Lb) sums and one batch's U-centred Grams, (La + Lb) × b² numbers,
whatever the layer widths. U-centring, inner products and accumulators are float64 on the
Grams' device; the Gram of float32 features is multiplied in float32 (see :func:`linear_gram`
for its rounding error), of float64 features in float64.

Invariances (of the limit): translation, isotropic scaling, orthogonal transforms and
permutations of the features of each layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simfunc.errors import InputError

from ._hsic import u_centre  # noqa: F401 - re-exported: the one U-centring of every path

__all__ = ["MinibatchCKA", "linear_gram", "u_centre"]

MIN_BATCH = 4  # the unbiased HSIC divides by b(b−3) and (b−1)(b−2)


def _torch():
    import torch

    return torch


def _as_tensor(value: Any, name: str, device: Any = None):
    """A float64 torch tensor on ``device`` (numpy arrays and tensors of any dtype accepted)."""
    torch = _torch()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise InputError(f"{name} has dtype {value.dtype}: expected real numbers")
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{name} is a {type(value).__name__}: expected a tensor or numpy array")
    if value.is_complex():
        raise InputError(f"{name} is complex: expected real numbers")
    return value.detach().to(device=device if device is not None else value.device,
                             dtype=torch.float64)


def layer_names(names: Sequence[str] | None) -> list[str] | None:
    """Layer names as strings for error messages (None: layers are named by index)."""
    return None if names is None else [str(name) for name in names]


def linear_gram(X: Any, name: str = "X"):
    """The linear Gram matrix ``Xc Xcᵀ`` (b × b, float64, on X's device) of one batch.

    X (b, ...) is flattened to (b, features) and centred by its batch column means first: the
    U-centred Gram (hence the unbiased HSIC) is the same with or without that shift, and
    subtracting it keeps the product accurate when features have a large common mean.

    Precision: float64 inputs are multiplied in float64. float32 (and half) inputs -- network
    activations -- are centred and multiplied in float32, at twice the speed, and the Gram is
    then promoted to float64 for everything after. Each entry then carries a relative rounding
    error of about ``sqrt(p)·6e-8`` (p features; at worst ``p·6e-8``) of the product of the
    two rows' norms: for p = 65,536 about 1.5e-5, far below the sampling error of a minibatch
    estimate (about 1e-3 for hundreds of batches), and of the same order as the rounding the
    float32 forward pass already put into the activations.
    """
    torch = _torch()
    if isinstance(X, np.ndarray):
        X = _as_tensor(X, name) if X.dtype == np.float64 else torch.from_numpy(
            np.ascontiguousarray(X, dtype=np.float32) if X.dtype.kind in "fiub" else X
        )
    if not isinstance(X, torch.Tensor):
        raise InputError(f"{name} is a {type(X).__name__}: expected a tensor or numpy array")
    if X.is_complex():
        raise InputError(f"{name} is complex: expected real numbers")
    dtype = torch.float64 if X.dtype == torch.float64 else torch.float32
    data = X.detach().to(dtype)
    if data.ndim < 2:
        raise InputError(f"{name} has shape {tuple(data.shape)}: expected (examples, features...)")
    data = data.reshape(data.shape[0], -1)
    means = data.mean(dim=0, keepdim=True)
    if not bool(torch.isfinite(means.sum())):  # one reduction: NaN or inf anywhere shows here
        raise InputError(f"{name} contains NaN or infinite values")
    data = data - means
    gram = (data @ data.T).to(torch.float64)
    if not bool(torch.isfinite(gram.diagonal().sum())):
        raise InputError(f"{name}: its squared norms overflow (values too large)")
    return gram


class MinibatchCKA:
    """Accumulate minibatch linear CKA (Nguyen et al. 2021) between every layer of two models.

    ``update(features_a, features_b)`` takes one batch: a list of La arrays/tensors (b, ...)
    for model A's layers and a list of Lb for model B's, the same b examples in every one
    (a single array counts as a list of one). ``update_grams(grams_a, grams_b)`` takes the
    batch's Gram matrices instead, stacked as (La, b, b) and (Lb, b, b) -- what a forward hook
    computes so that no layer's features outlive its hook. ``compute()`` returns the
    (La, Lb) array of CKA values. See the module docstring for the estimator and its limit.

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
        self._cross = None  # Σ_k HSIC_1(K_a, L_b), (La, Lb)
        self._self_a = None  # Σ_k HSIC_1(K_a, K_a), (La,)
        self._self_b = None
        self.n_batches = 0
        self.n_examples = 0

    def update(self, features_a: Any, features_b: Any) -> None:
        """Add one batch of features: lists (or single arrays) of (b, ...) per layer."""
        list_a = self._as_list(features_a, "features_a")
        list_b = self._as_list(features_b, "features_b")
        torch = _torch()
        grams_a = torch.stack([linear_gram(x, f"features_a[{i}]") for i, x in enumerate(list_a)])
        device = grams_a.device
        grams_b = torch.stack(
            [linear_gram(y, f"features_b[{j}]").to(device) for j, y in enumerate(list_b)]
        )
        self.update_grams(grams_a, grams_b)

    @staticmethod
    def _as_list(features: Any, name: str) -> list:
        if isinstance(features, (list, tuple)):
            if not features:
                raise InputError(f"{name} is empty: give one (b, ...) array per layer")
            return list(features)
        return [features]

    def update_grams(self, grams_a: Any, grams_b: Any) -> None:
        """Add one batch's Grams: (La, b, b) and (Lb, b, b), e.g. from :func:`linear_gram`.

        Only the U-centred Grams enter, so uncentred Grams (of uncentred features) give the
        same result in exact arithmetic.
        """
        torch = _torch()
        grams_a = _as_tensor(grams_a, "grams_a")
        grams_b = _as_tensor(grams_b, "grams_b", device=grams_a.device)
        for grams, name in ((grams_a, "grams_a"), (grams_b, "grams_b")):
            if grams.ndim != 3 or grams.shape[1] != grams.shape[2]:
                raise InputError(
                    f"{name} has shape {tuple(grams.shape)}: expected (layers, b, b) Grams"
                )
            if not bool(torch.isfinite(grams).all()):
                raise InputError(f"{name} contains NaN or infinite values")
        b = grams_a.shape[1]
        if grams_b.shape[1] != b:
            raise InputError(
                f"grams_a are {b} × {b} but grams_b are {grams_b.shape[1]} × {grams_b.shape[1]}:"
                " both must hold the same examples"
            )
        if b < MIN_BATCH:
            raise InputError(
                f"a batch of {b} example(s): the unbiased HSIC needs at least {MIN_BATCH}"
            )
        if self._cross is not None and (
            self._cross.shape != (grams_a.shape[0], grams_b.shape[0])
            or self._cross.device != grams_a.device
        ):
            raise InputError(
                f"this batch has {grams_a.shape[0]} × {grams_b.shape[0]} layers on "
                f"{grams_a.device}, earlier batches {tuple(self._cross.shape)} on "
                f"{self._cross.device}"
            )
        scale = 1.0 / (b * (b - 3.0))
        centred_a = u_centre(grams_a).reshape(grams_a.shape[0], -1)
        centred_b = u_centre(grams_b).reshape(grams_b.shape[0], -1)
        cross = centred_a @ centred_b.T
        self_a = torch.einsum("ij,ij->i", centred_a, centred_a)
        self_b = torch.einsum("ij,ij->i", centred_b, centred_b)
        if self._cross is None:
            self._cross = torch.zeros_like(cross)
            self._self_a = torch.zeros_like(self_a)
            self._self_b = torch.zeros_like(self_b)
        self._cross += cross * scale
        self._self_a += self_a * scale
        self._self_b += self_b * scale
        self.n_batches += 1
        self.n_examples += b

    def hsic(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The sums ``Σ_k HSIC_1`` so far: cross (La, Lb), A's self (La,), B's self (Lb,)."""
        if self._cross is None:
            raise InputError("MinibatchCKA has no data: call update(...) first")
        return (
            self._cross.cpu().numpy().copy(),
            self._self_a.cpu().numpy().copy(),
            self._self_b.cpu().numpy().copy(),
        )

    def compute(self) -> np.ndarray:
        """The (La, Lb) minibatch CKA values, in [−1, 1].

        Raises InputError naming the layers whose summed self-HSIC is not positive (a layer
        constant on every batch has no representation to compare), never returns NaN.
        """
        cross, self_a, self_b = self.hsic()
        for values, names, side in ((self_a, self.names_a, "A"), (self_b, self.names_b, "B")):
            bad = [int(i) for i in np.flatnonzero(~(values > 0.0))]
            if bad:
                labels = [repr(names[i]) if names else str(i) for i in bad]
                raise InputError(
                    f"layer(s) {', '.join(labels)} of model {side}: the unbiased HSIC with "
                    "itself, summed over the batches, is not positive (the layer is constant "
                    "on every batch, e.g. dead units), so CKA is undefined; leave it out"
                )
        values = cross / np.sqrt(np.outer(self_a, self_b))
        return np.clip(values, -1.0, 1.0)
