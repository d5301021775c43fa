"""A frozen classifier's features, a fixed 0/1 mask, and a linear head: ``base -> mask -> logits``.

The networks of the thesis's chapter 4 (the ``existence`` study): a pretrained simfunc
:class:`~simfunc.nets.common.Classifier` whose classifier layer is removed and whose weights
never change, a :class:`FeatureMask` that zeroes chosen dimensions of its feature vector, and a
new linear head. Two such networks on one base read the very same features; what differs is
which dimensions their masks keep and what their heads were trained to say.

The composed network names its layers so that the forward-hook extractor finds them:
``base.features`` (the base's feature vector, before masking), ``mask`` (the masked vector the
head reads) and ``logits``. The head's weights are fitted elsewhere (for example by the convex
fit of :func:`simfunc.train.probes.fit_linear_head`) and set with :meth:`MaskedHeadNet.set_head`.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from simfunc.errors import InputError
from simfunc.validation import check_int

__all__ = ["FeatureMask", "MaskedHeadNet", "BASE_LAYER", "MASK_LAYER", "LOGITS_LAYER"]

BASE_LAYER = "base.features"  # the frozen base's feature vector (before masking)
MASK_LAYER = "mask"  # the masked feature vector the head reads
LOGITS_LAYER = "logits"


class FeatureMask(nn.Module):
    """Multiplies its input (n, D) by a fixed 0/1 vector: the masked dimensions become 0."""

    def __init__(self, keep: Any) -> None:
        super().__init__()
        keep = torch.as_tensor(np.asarray(keep, dtype=bool))
        if keep.ndim != 1 or not bool(keep.any()):
            raise InputError("keep must be a 1-d boolean vector with at least one True")
        self.register_buffer("keep", keep.to(torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.keep.to(x.dtype)

    def extra_repr(self) -> str:
        return f"dim={self.keep.numel()}, kept={int(self.keep.sum())}"


class MaskedHeadNet(nn.Module):
    """``base -> mask -> logits``: a frozen copy of a simfunc classifier without its
    classifier layer, a :class:`FeatureMask` keeping the dimensions ``keep`` marks, and a
    linear head with ``num_classes`` outputs.

    The base stays in eval mode (its batch-norm statistics frozen) and without gradients,
    whatever mode the network is put in; only the head is trainable.
    """

    def __init__(self, base: nn.Module, keep: Any, num_classes: int = 2) -> None:
        super().__init__()
        if not hasattr(base, "logits") or not hasattr(base, "features"):
            raise InputError("base must be a simfunc classifier (with 'features' and 'logits')")
        frozen = copy.deepcopy(base)
        dim = frozen.logits.in_features
        frozen.logits = nn.Identity()
        frozen.requires_grad_(False)
        frozen.eval()
        self.base = frozen
        self.mask = FeatureMask(keep)
        if self.mask.keep.numel() != dim:
            raise InputError(
                f"keep has length {self.mask.keep.numel()}; the base has {dim} features")
        self.logits = nn.Linear(dim, check_int(num_classes, "num_classes", minimum=2))
        self.to(next(frozen.parameters()).device)

    def set_head(self, weight: Any, bias: Any) -> MaskedHeadNet:
        """Copy a fitted head in: ``weight`` (num_classes, D) and ``bias`` (num_classes,)."""
        weight, bias = torch.as_tensor(weight), torch.as_tensor(bias)
        if weight.shape != self.logits.weight.shape or bias.shape != self.logits.bias.shape:
            raise InputError(
                f"the head must be weight {tuple(self.logits.weight.shape)} and bias "
                f"{tuple(self.logits.bias.shape)}; got {tuple(weight.shape)} and "
                f"{tuple(bias.shape)}")
        with torch.no_grad():
            self.logits.weight.copy_(weight)
            self.logits.bias.copy_(bias)
        return self

    def train(self, mode: bool = True) -> MaskedHeadNet:
        super().train(mode)
        self.base.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.mask(self.base(x)))
