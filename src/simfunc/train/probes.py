"""Linear heads on fixed features, fitted as the convex problems they are.

:func:`fit_linear_head` fits ``logits = (features * keep) @ Wᵀ + b`` by L2-regularised
cross-entropy (multinomial logistic regression on the kept dimensions), solved to convergence by
full-batch L-BFGS in float64 from zero weights. The objective is convex, so the result does not
depend on a seed or an order of batches: the same features and labels give the same head.
The ``existence`` study fits its Net1, Net2 and control heads this way on the frozen base's
features (then sets them into a :class:`~simfunc.nets.masked.MaskedHeadNet`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from simfunc.errors import InputError
from simfunc.validation import check_int, check_positive

__all__ = ["fit_linear_head"]


def fit_linear_head(features: Any, labels: Any, keep: Any, *, weight_decay: float,
                    max_iter: int = 500, num_classes: int = 2) -> dict[str, Any]:
    """Fit ``logits = (features * keep) @ W.T + b`` by L2-regularised cross-entropy.

    Minimises ``mean CE + weight_decay / 2 * ||W||²`` (no penalty on the bias) by full-batch
    L-BFGS (strong Wolfe line search, at most ``max_iter`` iterations) in float64 from W = 0,
    b = 0. Weights of masked dimensions (``keep`` False) stay exactly 0: their gradient is 0
    from the start. With two classes this is binary logistic regression on ``w1 − w0`` with
    penalty ``weight_decay / 4 * ||w1 − w0||²`` (scikit-learn's ``C = 2 / (n · weight_decay)``).

    Args:
        features: (n, D) finite array.
        labels: (n,) integer class labels in ``[0, num_classes)``.
        keep: (D,) booleans, the dimensions the head may read.

    Returns ``weight`` (num_classes, D) and ``bias`` (num_classes,) as float32 tensors, the
    final ``loss``, the training ``accuracy`` and the L-BFGS ``iterations``.
    """
    x = torch.as_tensor(np.asarray(features), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    keep = torch.as_tensor(np.asarray(keep, dtype=bool))
    if x.ndim != 2 or y.shape != (x.shape[0],) or keep.shape != (x.shape[1],):
        raise InputError(
            f"features (n, D), labels (n,) and keep (D,) do not fit: {tuple(x.shape)}, "
            f"{tuple(y.shape)}, {tuple(keep.shape)}"
        )
    if not torch.isfinite(x).all():
        raise InputError("features hold NaN or infinite values")
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise InputError(f"labels must lie in [0, {num_classes - 1}]")
    weight_decay = check_positive(weight_decay, "weight_decay")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    x = x * keep.to(x.dtype)
    weight = torch.zeros(num_classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=max_iter, history_size=20,
        tolerance_grad=1e-10, tolerance_change=1e-14, line_search_fn="strong_wolfe",
    )

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weight.T + bias, y) + 0.5 * weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(objective)
    with torch.no_grad():
        logits = x @ weight.T + bias
        loss = float(F.cross_entropy(logits, y) + 0.5 * weight_decay * weight.pow(2).sum())
        accuracy = float((logits.argmax(1) == y).double().mean())
    iterations = int(optimizer.state[weight].get("n_iter", 0))
    return {"weight": weight.detach().float(), "bias": bias.detach().float(), "loss": loss,
            "accuracy": accuracy, "iterations": iterations}
