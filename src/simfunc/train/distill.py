"""Distillation: train a student to match a teacher's outputs, optionally penalising the
similarity of its features to the teacher's.

:func:`distill` trains ``student`` (any ``nn.Module`` with a layer named ``layer``) on the
images of ``data`` with Adam, minimising on each batch

    KL(p_teacher ‖ p_student)  +  penalty × CKA(student's ``layer``, teacher's features)

where the KL divergence is of the softmax outputs (batch mean) and CKA is the linear CKA of the
batch, computed differentiably by :func:`simfunc.representational.torch_linear_cka` (float64,
``eps = 1e-12`` so that a degenerate batch gives 0 instead of stopping the run).
``penalty = 0`` is plain distillation. The teacher enters only through its precomputed
logits and features on ``data`` (row i belongs to image i), so it is never run here.

Deterministic on the CPU: the student's initial weights are the caller's, and epoch e visits
the images in the order ``torch.randperm(n)`` drawn from a generator seeded with
``seed * 100_003 + e``. A last batch of fewer than 3 images (too few for CKA) is skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from simfunc.errors import InputError
from simfunc.representational import torch_linear_cka
from simfunc.validation import check_int, check_positive

__all__ = ["DistillConfig", "distill", "MIN_BATCH", "CKA_EPS"]

MIN_BATCH = 3  # the fewest examples linear CKA is defined on
CKA_EPS = 1e-12


@dataclass(frozen=True)
class DistillConfig:
    """How a student is distilled: ``epochs`` of Adam at learning rate ``lr`` on batches of
    ``batch_size`` images (a study's nested settings group, e.g. ``distillation.epochs``)."""

    epochs: int = 20
    lr: float = 3e-3
    batch_size: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "epochs", check_int(self.epochs, "epochs", minimum=1))
        object.__setattr__(self, "lr", check_positive(self.lr, "lr"))
        object.__setattr__(self, "batch_size",
                           check_int(self.batch_size, "batch_size", minimum=MIN_BATCH))


def distill(student: nn.Module, data: Any, teacher_logits: torch.Tensor,
            teacher_features: torch.Tensor, *, config: DistillConfig, penalty: float = 0.0,
            seed: int = 0, layer: str = "features", device: str | torch.device = "cpu",
            on_epoch: Callable[[dict[str, float]], None] | None = None) -> list[dict[str, float]]:
    """Train ``student`` in place (see the module docstring); returns one row per epoch:
    ``epoch``, the mean batch ``kl`` and the mean batch ``batch_cka``.

    ``data``: an :class:`~simfunc.data.ImageDataset` (``len`` and ``normalized(index)``).
    ``teacher_logits`` (n, k) and ``teacher_features`` (n, ...) on ``device``, row i for image
    i. ``on_epoch`` is called with each row as it is made.
    """
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not (
            math.isfinite(penalty) and penalty >= 0):
        raise InputError(f"penalty must be a finite number >= 0, got {penalty!r}")
    n = len(data)
    if n < MIN_BATCH:
        raise InputError(f"data has {n} image(s): distillation needs at least {MIN_BATCH}")
    if teacher_logits.shape[0] != n or teacher_features.shape[0] != n:
        raise InputError(f"teacher_logits and teacher_features need one row per image ({n}); "
                         f"got {teacher_logits.shape[0]} and {teacher_features.shape[0]}")
    seed = check_int(seed, "seed", minimum=0)
    teacher_log_probs = F.log_softmax(teacher_logits, dim=1)
    captured: dict[str, torch.Tensor] = {}
    hook = student.get_submodule(layer).register_forward_hook(
        lambda _module, _inputs, output: captured.update(features=output))
    optimizer = torch.optim.Adam(student.parameters(), lr=config.lr)
    history = []
    try:
        for epoch in range(config.epochs):
            student.train()
            order = torch.randperm(n, generator=torch.Generator().manual_seed(
                seed * 100_003 + epoch))
            totals = {"kl": 0.0, "cka": 0.0, "batches": 0}
            for begin in range(0, n, config.batch_size):
                index = order[begin:begin + config.batch_size]
                if len(index) < MIN_BATCH:
                    continue
                log_probs = F.log_softmax(student(data.normalized(index).to(device)), dim=1)
                kl = F.kl_div(log_probs, teacher_log_probs[index], log_target=True,
                              reduction="batchmean")
                cka = torch_linear_cka(captured["features"], teacher_features[index],
                                       eps=CKA_EPS)
                loss = kl + penalty * cka
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                totals["kl"] += float(kl.detach())
                totals["cka"] += float(cka.detach())
                totals["batches"] += 1
            row = {"epoch": epoch + 1, "kl": totals["kl"] / totals["batches"],
                   "batch_cka": totals["cka"] / totals["batches"]}
            history.append(row)
            if on_epoch is not None:
                on_epoch(row)
    finally:
        hook.remove()
    student.eval()
    return history
