"""The HSIC terms of linear CKA, written once for every linear-CKA path.

Linear CKA is ``HSIC(X, Y) / sqrt(HSIC(X, X) · HSIC(Y, Y))`` (Kornblith et al. 2019, ICML).
With column-centred features Xc, Yc (n examples), centred squared row norms
``r_i = ‖x̃_i‖²``, ``s_i = ‖ỹ_i‖²`` and their sums R, S, both estimators are, up to a
factor common to the three terms (which cancels in the ratio):

    biased      (n−1)²·HSIC   = ‖XcᵀYc‖_F²                                  (Gretton et al. 2005)
    unbiased    n(n−3)·HSIC_u = ‖XcᵀYc‖_F² − n/(n−2)·Σ_i r_i s_i + R·S/((n−1)(n−2))
                                                           (Song et al. 2012, eq. 5, feature form)

Every path gets these same quantities and hands them to the functions below:

* one pair and many pairs (``cka``, ``_stacked``): products of centred features;
* streaming and layer grids (``streaming``, ``cka_grid``): moments of rows shifted by a
  fixed reference point, turned into the centred quantities by ``moment_hsic``;
* torch (``torch_cka``, differentiable) and any device: the same arithmetic on tensors;
* minibatch CKA and the Gram form (``minibatch_cka``, ``_linalg.centre_gram``): the U-centred
  Gram ``Ũ(K)`` of Székely & Rizzo (2014), ``u_centre``, with ``<Ũ(K), Ũ(L)> = n(n−3)·HSIC_u``.

The functions are plain arithmetic (``+ − * @``, ``.sum()``) on their arguments, so one code
serves numpy arrays, torch tensors (keeping autograd and the device) and Python floats, and
whole matrices of pairs at once by broadcasting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._xp import is_tensor

__all__ = ["debiased_hsic", "hsic", "ShiftedMoments", "moment_hsic", "u_centre",
           "row_norm_products"]


def debiased_hsic(cross: Any, row_products: Any, total_x: Any, total_y: Any, n: int) -> Any:
    """``n(n−3)·HSIC_u`` from ``‖XcᵀYc‖_F²``, ``Σ_i r_i s_i`` and ``R = Σ r_i``, ``S = Σ s_i``.

    Broadcasts: for a matrix of pairs pass ``cross`` and ``row_products`` as matrices and the
    totals as a column and a row (``totals[:, None]``, ``totals[None, :]``).
    """
    return cross - n / (n - 2.0) * row_products + total_x * total_y / ((n - 1.0) * (n - 2.0))


def hsic(cross: Any, rows_x: Any, rows_y: Any, n: int, debiased: bool) -> Any:
    """The HSIC term (times the common factor) from ``‖XcᵀYc‖_F²`` and, when ``debiased``,
    the centred squared row norms of both sides (vectors of length n, one backend)."""
    if not debiased:
        return cross
    return debiased_hsic(cross, (rows_x * rows_y).sum(), rows_x.sum(), rows_y.sum(), n)


def row_norm_products(
    n: int, sum_ab: Any, sum_a_v: Any, sum_b_u: Any, sum_uv: Any, sum_a: Any, sum_b: Any,
    d: Any, e: Any,
) -> Any:
    """``Σ_i ‖u_i − d‖² ‖v_i − e‖²`` from moments of shifted rows u, v with means d and e.

    With ``r_i = a_i − 2dᵀu_i + D`` and ``s_i = b_i − 2eᵀv_i + E`` (``a_i = ‖u_i‖²``,
    ``b_i = ‖v_i‖²``, ``D = ‖d‖²``, ``E = ‖e‖²``, ``Σ u_i = n d``, ``Σ v_i = n e``)::

        Σ r_i s_i = Σab − 2eᵀΣa v + E Σa − 2dᵀΣb u + 4 dᵀ(Σ u vᵀ)e + D Σb − 3nDE
    """
    sq_d, sq_e = d @ d, e @ e
    return (
        sum_ab
        - 2.0 * (e @ sum_a_v)
        + sq_e * sum_a
        - 2.0 * (d @ sum_b_u)
        + 4.0 * (d @ (sum_uv @ e))
        + sq_d * sum_b
        - 3.0 * n * sq_d * sq_e
    )


@dataclass(frozen=True)
class ShiftedMoments:
    """Sums over n examples of two representations' rows shifted by fixed points,
    ``u_i = x_i − c`` and ``v_i = y_i − c'`` (the same representation twice for a self term).

    Attributes:
        n: number of examples.
        sum_uv: ``Σ u_i v_iᵀ`` (p × q).
        mean_u, mean_v: ``Σ u_i / n`` and ``Σ v_i / n``.
        sum_a, sum_b: ``Σ a_i``, ``Σ b_i`` with ``a_i = ‖u_i‖²``, ``b_i = ‖v_i‖²``.
        sum_ab: ``Σ a_i b_i``.
        sum_a_v, sum_b_u: ``Σ a_i v_i`` (q,) and ``Σ b_i u_i`` (p,).
        The last four are needed only for the debiased estimator (None otherwise).
    """

    n: int
    sum_uv: Any
    mean_u: Any
    mean_v: Any
    sum_a: Any = None
    sum_b: Any = None
    sum_ab: Any = None
    sum_a_v: Any = None
    sum_b_u: Any = None


def moment_hsic(m: ShiftedMoments, debiased: bool) -> float:
    """The HSIC term of two representations from the moments of their shifted rows.

    ``XcᵀYc = Σ u vᵀ − n ū v̄ᵀ`` (shifting by a point near the mean keeps this correction
    small), ``R = Σ a − n‖ū‖²``, and ``Σ r_i s_i`` by ``row_norm_products``.
    """
    n, d, e = m.n, m.mean_u, m.mean_v
    centred = m.sum_uv - n * (d[:, None] * e[None, :])
    cross = float((centred * centred).sum())
    if not debiased:
        return cross
    rows = float(row_norm_products(n, m.sum_ab, m.sum_a_v, m.sum_b_u, m.sum_uv, m.sum_a,
                                   m.sum_b, d, e))
    total_x = float(m.sum_a - n * (d @ d))  # Σ ‖x̃_i‖² = tr(Xcᵀ Xc)
    total_y = float(m.sum_b - n * (e @ e))
    return float(debiased_hsic(cross, rows, total_x, total_y, n))


def _zero_diagonal(grams: Any, in_place: bool = False) -> Any:
    """A stack of square matrices (..., b, b) with zero diagonals (a copy unless in_place)."""
    if is_tensor(grams):
        import torch

        eye = torch.eye(grams.shape[-1], dtype=torch.bool, device=grams.device)
        return grams.masked_fill_(eye, 0.0) if in_place else grams.masked_fill(eye, 0.0)
    import numpy as np

    off = grams if in_place else np.array(grams, dtype=np.float64, copy=True)
    np.einsum("...ii->...i", off)[...] = 0.0
    return off


def u_centre(grams: Any) -> Any:
    """U-centre a symmetric Gram or a stack of them (..., b, b): ``Ũ(K)``, zero diagonal.

    ``Ũ_ij = K_ij − m_i − m_j`` for i ≠ j with ``m_i = r_i/(b−2) − t/(2(b−1)(b−2))``, where r
    are the row sums of K with its diagonal removed and t their total (Székely & Rizzo 2014;
    Kornblith et al. 2019); ``<Ũ(K), Ũ(L)> = b(b−3)·HSIC_u``. Needs b >= 4.
    """
    b = grams.shape[-1]
    off = _zero_diagonal(grams)
    rows = off.sum(-1)
    total = rows.sum(-1)[..., None]
    means = rows / (b - 2) - total / (2.0 * (b - 1) * (b - 2))
    off -= means[..., :, None]
    off -= means[..., None, :]
    return _zero_diagonal(off, in_place=True)
