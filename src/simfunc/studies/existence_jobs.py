"""The pieces of the existence study (thesis ch. 4): the mask, the composed network, the heads.

Two networks share one frozen, pretrained base. Each is ``base -> mask -> logits``: the base's
penultimate feature vector (length D), a fixed 0/1 mask that zeroes part of it, and a linear
head. Net1 is trained on the true labels of a binary task, Net2 on the flipped labels.

**d_ratio** is the fraction of the D feature dimensions that each net's mask zeroes:
``m = floor(d_ratio * D + 1/2)`` dimensions are masked and ``k = D - m`` kept. Net1 keeps the
first k dimensions (indices 0 … k-1), Net2 the last k (indices D-k … D-1). At d_ratio = 0 both
see every feature; the two kept sets overlap in ``max(0, 2k - D)`` dimensions, so they are
disjoint from d_ratio = 0.5 on (up to rounding), and at d_ratio = 0.9 each net sees its own
10 %. A control net (true labels, Net2's mask) separates the effect of the labels from the
effect of the masks.

The heads are fitted on the base's features, computed once (the base never changes):
L2-regularised logistic regression (``weight_decay / 2 * ||W||²``; no penalty on the bias)
solved to convergence by full-batch L-BFGS in float64 from zero weights — a convex problem,
so the result is deterministic. The composed networks (:class:`MaskedHeadNet`) are real
``nn.Module`` objects whose named layers ``base.features`` (the base's features),
``mask`` (the masked features) and ``logits`` the generic hook extractor reads.

Job functions (run in any process): :func:`base_features`, :func:`train_heads`;
:func:`record_heads` runs in the driver. :func:`load_masked_net` rebuilds a composed network
from the cache.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simfunc.compare import Comparison, compare_pair, record_comparison
from simfunc.errors import InputError
from simfunc.io import atomic_save_npz, atomic_torch_save, atomic_write_json, load_json
from simfunc.runner import Job
from simfunc.validation import check_int, check_positive

__all__ = [
    "BASE_LAYER",
    "MASK_LAYER",
    "LOGITS_LAYER",
    "ROLES",
    "FeatureMask",
    "MaskedHeadNet",
    "feature_masks",
    "kept_ranges",
    "binary_labels",
    "fit_linear_head",
    "BinaryTask",
    "base_features",
    "train_heads",
    "record_heads",
    "load_masked_net",
    "load_head_activations",
]

BASE_LAYER = "base.features"  # the frozen base's feature vector (before masking)
MASK_LAYER = "mask"  # the masked feature vector the head reads
LOGITS_LAYER = "logits"
# The database's names for the compared layers.
DB_LAYERS = {BASE_LAYER: "base", MASK_LAYER: "masked"}

# role -> (which mask, which labels)
ROLES = {
    "net1": ("first", "true"),
    "net2": ("last", "flipped"),
    "control": ("last", "true"),
}

FEATURES_FILE = "base_features.npz"
HEADS_FILE = "heads.pt"
ACTIVATIONS_FILE = "activations.npz"
RESULT_FILE = "heads.json"


# ---------------------------------------------------------------------------- the network


def kept_ranges(dim: int, d_ratio: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """The half-open index ranges Net1 and Net2 keep: ``(0, k)`` and ``(D - k, D)``.

    ``k = D - floor(d_ratio * D + 1/2)``; InputError when ``d_ratio`` is outside [0, 1) or
    masks every dimension.
    """
    dim = check_int(dim, "dim", minimum=1)
    if isinstance(d_ratio, bool) or not isinstance(d_ratio, (int, float)) or not (
        math.isfinite(d_ratio) and 0.0 <= d_ratio < 1.0
    ):
        raise InputError(f"d_ratio must be a number in [0, 1), got {d_ratio!r}")
    kept = dim - math.floor(d_ratio * dim + 0.5)
    if kept < 1:
        raise InputError(
            f"d_ratio {d_ratio} masks all {dim} feature dimensions: nothing is left to classify"
        )
    return (0, kept), (dim - kept, dim)


def feature_masks(dim: int, d_ratio: float) -> dict[str, np.ndarray]:
    """Boolean masks (length ``dim``) of the kept dimensions: ``{"first": …, "last": …}``."""
    out = {}
    for name, (start, stop) in zip(("first", "last"), kept_ranges(dim, d_ratio)):
        keep = np.zeros(dim, dtype=bool)
        keep[start:stop] = True
        out[name] = keep
    return out


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
    classifier layer, a :class:`FeatureMask`, and a linear head.

    Named layers: ``base.features`` (the base's feature vector), ``mask``, ``logits``. The base
    stays in eval mode (its batch-norm statistics frozen) whatever mode the net is put in.
    """

    def __init__(self, base: nn.Module, keep: Any, num_classes: int = 2) -> None:
        super().__init__()
        frozen = copy.deepcopy(base)
        if not hasattr(frozen, "logits") or not hasattr(frozen, "features"):
            raise InputError("base must be a simfunc classifier (with 'features' and 'logits')")
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

    def train(self, mode: bool = True) -> MaskedHeadNet:
        super().train(mode)
        self.base.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.mask(self.base(x)))


# ---------------------------------------------------------------------------- the heads


def binary_labels(labels: Any, positive: Sequence[int]) -> np.ndarray:
    """1 where ``labels`` is one of ``positive``, else 0; InputError if one side is empty."""
    labels = np.asarray(labels)
    out = np.isin(labels, np.asarray(list(positive))).astype(np.int64)
    if out.size == 0 or out.min() == out.max():
        raise InputError(
            f"positive_classes {list(positive)} leave one side of the binary task empty "
            f"(labels present: {sorted(set(labels.tolist()))})"
        )
    return out


def fit_linear_head(features: Any, labels: Any, keep: Any, *, weight_decay: float,
                    max_iter: int = 500, num_classes: int = 2) -> dict[str, Any]:
    """Fit ``logits = (features * keep) @ W.T + b`` by L2-regularised cross-entropy.

    Minimises ``mean CE + weight_decay / 2 * ||W||²`` by full-batch L-BFGS (strong Wolfe line
    search) in float64 from W = 0, b = 0. Weights of masked dimensions stay exactly 0 (their
    gradient is 0 from the start). Returns ``weight`` (num_classes, D) and ``bias`` as float32
    tensors, the final ``loss``, the training ``accuracy`` and ``iterations``.
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


# ------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class BinaryTask:
    """The binary task: a data set (optionally a selection of its classes, relabelled 0..k-1 in
    the order given), the classes labelled 1 (``positive``; the rest are 0), and stratified
    subsets of its training and test splits."""

    dataset: str
    positive: tuple[int, ...]
    data_root: str | None = None
    classes: tuple[int | str, ...] | None = None
    train_subset: int | None = None
    test_subset: int | None = None
    subset_seed: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, as the jobs read it."""
        return {"dataset": self.dataset, "data_root": self.data_root,
                "classes": list(self.classes) if self.classes is not None else None,
                "positive": [int(c) for c in self.positive], "train_subset": self.train_subset,
                "test_subset": self.test_subset, "subset_seed": self.subset_seed}


def _load_task(spec: Mapping[str, Any], split: str, base: nn.Module) -> tuple[Any, np.ndarray]:
    """The task's ``split`` at the base's input size and channels, with its binary labels."""
    from simfunc.data import load

    trained = base.training_config
    data = load(
        spec["dataset"], split, data_root=spec.get("data_root"), image_size=trained.image_size,
        channels=trained.in_channels,
        subset=spec.get("train_subset" if split == "train" else "test_subset"),
        seed=spec.get("subset_seed", 0), classes=spec.get("classes"),
    )
    return data, binary_labels(data.labels.numpy(), spec["positive"])


# ------------------------------------------------------------------------------ jobs


def base_features(ctx: Any) -> None:
    """The frozen base's features of the task's training images, and their binary labels."""
    from simfunc.extract import activations
    from simfunc.train.supervised import load_model

    (train_id,) = ctx.job.deps
    base = load_model(ctx.input(train_id), device=ctx.device)
    data, labels = _load_task(ctx.config["task"], "train", base)
    features = activations(base, data, ["features"], batch_size=ctx.config["batch_size"],
                           device=ctx.device)["features"]
    atomic_save_npz(ctx.output_dir / FEATURES_FILE, features=features, labels=labels)


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(logits.argmax(axis=1) == labels))


def _compare(first: Mapping[str, np.ndarray], second: Mapping[str, np.ndarray]) -> Comparison:
    """Every registered representational measure at both layers (under their database names),
    every output measure on the logits."""
    return compare_pair({name: first[layer] for layer, name in DB_LAYERS.items()},
                        {name: second[layer] for layer, name in DB_LAYERS.items()},
                        first[LOGITS_LAYER], second[LOGITS_LAYER], from_logits=True)


def train_heads(ctx: Any) -> None:
    """Fit the heads of one d_ratio, compose the networks, extract them on the validation
    images and compare Net1 with Net2 (and with the control)."""
    from simfunc.extract import activations
    from simfunc.io import load_npz
    from simfunc.train.supervised import load_model

    config = ctx.config
    train_id, features_id = ctx.job.deps
    stored = load_npz(Path(ctx.input(features_id)) / FEATURES_FILE)
    features, labels = stored["features"], stored["labels"]
    dim = int(features.shape[1])
    masks = feature_masks(dim, config["d_ratio"])
    ranges = dict(zip(("first", "last"), kept_ranges(dim, config["d_ratio"])))
    base = load_model(ctx.input(train_id), device=ctx.device)
    test, test_labels = _load_task(config["task"], "test", base)
    roles = [role for role in ROLES if role != "control" or config["controls"]]
    heads, arrays, result = {}, {"labels": test_labels}, {"dim": dim, "roles": {}}
    for role in roles:
        mask_name, label_kind = ROLES[role]
        train_labels = labels if label_kind == "true" else 1 - labels
        fitted = fit_linear_head(features, train_labels, masks[mask_name],
                                 weight_decay=config["weight_decay"], max_iter=config["max_iter"])
        net = MaskedHeadNet(base, masks[mask_name])
        with torch.no_grad():
            net.logits.weight.copy_(fitted["weight"])
            net.logits.bias.copy_(fitted["bias"])
        heads[role] = {"keep": torch.as_tensor(masks[mask_name]),
                       "weight": fitted["weight"], "bias": fitted["bias"]}
        acts = activations(net, test, [BASE_LAYER, MASK_LAYER, LOGITS_LAYER],
                           batch_size=config["batch_size"], device=ctx.device)
        arrays.update({f"{role}/{layer}": value for layer, value in acts.items()})
        expected = test_labels if label_kind == "true" else 1 - test_labels
        result["roles"][role] = {
            "labels": label_kind, "kept": list(ranges[mask_name]),
            "accuracy": _accuracy(acts[LOGITS_LAYER], expected),
            "train_accuracy": fitted["accuracy"], "train_loss": fitted["loss"],
            "iterations": fitted["iterations"],
        }
    atomic_torch_save(ctx.output_dir / HEADS_FILE, heads)
    atomic_save_npz(ctx.output_dir / ACTIVATIONS_FILE, **arrays)
    pairs = []
    for other in ("net2", "control"):
        if other in roles:
            first = {k: arrays[f"net1/{k}"] for k in (BASE_LAYER, MASK_LAYER, LOGITS_LAYER)}
            second = {k: arrays[f"{other}/{k}"] for k in (BASE_LAYER, MASK_LAYER, LOGITS_LAYER)}
            pairs.append({"a": "net1", "b": other, **_compare(first, second).to_json()})
    result["pairs"] = pairs
    atomic_write_json(ctx.output_dir / RESULT_FILE, result)


def load_masked_net(base_dir: str | Path, heads_entry: str | Path, role: str,
                    device: str = "cpu") -> MaskedHeadNet:
    """Rebuild one composed network from the cache: the base's training directory (its
    ``train/…`` entry) and a :func:`train_heads` entry; ``role`` is net1, net2 or control."""
    from simfunc.io import load_torch
    from simfunc.train.supervised import load_model

    heads = load_torch(Path(heads_entry) / HEADS_FILE)
    if role not in heads:
        raise InputError(f"role must be one of {', '.join(heads)}; got {role!r}")
    head = heads[role]
    net = MaskedHeadNet(load_model(base_dir, device=device), head["keep"].numpy())
    with torch.no_grad():
        net.logits.weight.copy_(head["weight"])
        net.logits.bias.copy_(head["bias"])
    return net.eval()


def load_head_activations(entry: Path) -> dict[str, np.ndarray]:
    """The arrays :func:`train_heads` wrote: ``"<role>/<layer>"`` and ``"labels"``."""
    from simfunc.io import load_npz

    return load_npz(Path(entry) / ACTIVATIONS_FILE)


def model_id(role: str, d_ratio: float) -> str:
    return f"{role}-d{d_ratio:g}"


def record_heads(entry: Path, db: Any, job: Job) -> None:
    result = load_json(Path(entry) / RESULT_FILE)
    d_ratio = job.config["d_ratio"]
    meta = job.meta
    for role, values in result["roles"].items():
        db.add_model(
            model_id(role, d_ratio), kind="masked-head", arch=f"{meta['base_arch']}+mask+linear",
            dataset=meta["test_set"], seed=None, trained=True, accuracy=values["accuracy"],
            parent=meta["base_id"], artifact=f"{job.namespace}/{Path(entry).name}",
            config={"d_ratio": d_ratio, "weight_decay": job.config["weight_decay"]},
            extra={"role": role, "d_ratio": d_ratio, "labels": values["labels"],
                   "kept": values["kept"], "dim": result["dim"],
                   "train_accuracy": values["train_accuracy"],
                   "iterations": values["iterations"]},
        )
    for pair in result["pairs"]:
        record_comparison(db, Comparison.from_json(pair), model_a=model_id(pair["a"], d_ratio),
                          model_b=model_id(pair["b"], d_ratio), test_set=meta["test_set"])
