"""The existence study's jobs: the base's features, and per d_ratio the heads, composed and compared.

**d_ratio** is the fraction of the base's D feature dimensions that each net's mask zeroes:
``m = floor(d_ratio * D + 1/2)`` dimensions are masked and ``k = D - m`` kept. Net1 keeps the
first k dimensions (indices 0 … k-1), Net2 the last k (indices D-k … D-1). The two kept sets
overlap in ``max(0, 2k - D)`` dimensions: disjoint from d_ratio = 0.5 on (up to rounding).

The heads are fitted once per role on the base's features of the task's training images
(:func:`simfunc.train.probes.fit_linear_head`: convex, deterministic), set into
:class:`simfunc.nets.masked.MaskedHeadNet` s and run on the task's test images, whose layers
``base.features``, ``mask`` and ``logits`` are compared through
:func:`simfunc.compare.compare_pair` (recorded as the layers ``base``, ``masked`` and the
outputs).

Job functions (any process): :func:`base_features`, :func:`train_heads`; :func:`record_heads`
runs in the driver. :func:`load_masked_net` rebuilds a composed network from the cache.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from simfunc.compare import Comparison, compare_pair, record_comparison
from simfunc.errors import InputError
from simfunc.io import atomic_save_npz, atomic_torch_save, atomic_write_json, load_json
from simfunc.nets.masked import BASE_LAYER, LOGITS_LAYER, MASK_LAYER, MaskedHeadNet
from simfunc.runner import Job, JobContext
from simfunc.store import ResultsDB
from simfunc.studies.classifier_jobs import ImageSet
from simfunc.validation import check_int

__all__ = ["DB_LAYERS", "ROLES", "kept_ranges", "feature_masks", "binary_labels", "model_id",
           "base_features", "train_heads", "record_heads", "load_masked_net",
           "load_head_activations"]

# The database's names for the compared layers (the outputs go under OUTPUT_LAYER).
DB_LAYERS = {BASE_LAYER: "base", MASK_LAYER: "masked"}
# role -> (which mask, which labels)
ROLES = {"net1": ("first", "true"), "net2": ("last", "flipped"), "control": ("last", "true")}

FEATURES_FILE = "base_features.npz"
HEADS_FILE = "heads.pt"
ACTIVATIONS_FILE = "activations.npz"
RESULT_FILE = "heads.json"


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


def binary_labels(labels: Any, positive: Sequence[int]) -> np.ndarray:
    """1 where ``labels`` is one of ``positive``, else 0; InputError if one side is empty."""
    labels = np.asarray(labels)
    out = np.isin(labels, np.asarray(list(positive))).astype(np.int64)
    if out.size == 0 or out.min() == out.max():
        raise InputError(
            f"positive classes {list(positive)} leave one side of the binary task empty "
            f"(labels present: {sorted(set(labels.tolist()))})"
        )
    return out


def model_id(role: str, d_ratio: float) -> str:
    """The study's name of one composed network: ``net2-d0.5``."""
    return f"{role}-d{d_ratio:g}"


def _task_split(config: dict[str, Any], split: str, base: Any) -> tuple[Any, np.ndarray]:
    """The task's ``split`` images at the base's input size and channels, with binary labels."""
    data = ImageSet.from_json(config[f"{split}_images"]).load_for(base)
    return data, binary_labels(data.labels.numpy(), config["positive"])


def base_features(ctx: JobContext) -> None:
    """The frozen base's features of the task's training images, and their binary labels."""
    from simfunc.extract import activations
    from simfunc.train.supervised import load_model

    (train_id,) = ctx.job.deps
    base = load_model(ctx.input(train_id), device=ctx.device)
    data, labels = _task_split(ctx.config, "train", base)
    features = activations(base, data, ["features"], batch_size=ctx.config["batch_size"],
                           device=ctx.device)["features"]
    atomic_save_npz(ctx.output_dir / FEATURES_FILE, features=features, labels=labels)


def train_heads(ctx: JobContext) -> None:
    """Fit the heads of one d_ratio, compose the networks, run them on the task's test images
    and compare Net1 with Net2 (and with the control)."""
    from simfunc.extract import activations
    from simfunc.io import load_npz
    from simfunc.train.probes import fit_linear_head
    from simfunc.train.supervised import load_model

    config = ctx.config
    train_id, features_id = ctx.job.deps
    stored = load_npz(Path(ctx.input(features_id)) / FEATURES_FILE)
    features, labels = stored["features"], stored["labels"]
    dim = int(features.shape[1])
    masks = feature_masks(dim, config["d_ratio"])
    ranges = dict(zip(("first", "last"), kept_ranges(dim, config["d_ratio"])))
    base = load_model(ctx.input(train_id), device=ctx.device)
    test, test_labels = _task_split(config, "test", base)
    roles = [role for role in ROLES if role != "control" or config["controls"]]
    heads, arrays, result = {}, {"labels": test_labels}, {"dim": dim, "roles": {}}
    for role in roles:
        mask_name, label_kind = ROLES[role]
        truth = labels if label_kind == "true" else 1 - labels
        fitted = fit_linear_head(features, truth, masks[mask_name],
                                 weight_decay=config["weight_decay"], max_iter=config["max_iter"])
        net = MaskedHeadNet(base, masks[mask_name]).set_head(fitted["weight"], fitted["bias"])
        heads[role] = {"keep": torch.as_tensor(masks[mask_name]), "weight": fitted["weight"],
                       "bias": fitted["bias"]}
        acts = activations(net, test, [BASE_LAYER, MASK_LAYER, LOGITS_LAYER],
                           batch_size=config["batch_size"], device=ctx.device)
        arrays.update({f"{role}/{layer}": value for layer, value in acts.items()})
        expected = test_labels if label_kind == "true" else 1 - test_labels
        result["roles"][role] = {
            "labels": label_kind, "kept": list(ranges[mask_name]),
            "accuracy": float(np.mean(acts[LOGITS_LAYER].argmax(axis=1) == expected)),
            "train_accuracy": fitted["accuracy"], "train_loss": fitted["loss"],
            "iterations": fitted["iterations"],
        }
    atomic_torch_save(ctx.output_dir / HEADS_FILE, heads)
    atomic_save_npz(ctx.output_dir / ACTIVATIONS_FILE, **arrays)
    result["pairs"] = [{"a": "net1", "b": other, **_compare(arrays, "net1", other).to_json()}
                       for other in ("net2", "control") if other in roles]
    atomic_write_json(ctx.output_dir / RESULT_FILE, result)


def _compare(arrays: dict[str, np.ndarray], first: str, second: str) -> Comparison:
    """Every registered representational measure at both layers (under their database names),
    every output measure on the logits."""
    return compare_pair({name: arrays[f"{first}/{layer}"] for layer, name in DB_LAYERS.items()},
                        {name: arrays[f"{second}/{layer}"] for layer, name in DB_LAYERS.items()},
                        arrays[f"{first}/{LOGITS_LAYER}"], arrays[f"{second}/{LOGITS_LAYER}"],
                        from_logits=True)


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
    return net.set_head(head["weight"], head["bias"]).eval()


def load_head_activations(entry: str | Path) -> dict[str, np.ndarray]:
    """The arrays :func:`train_heads` wrote: ``"<role>/<layer>"`` and ``"labels"``."""
    from simfunc.io import load_npz

    return load_npz(Path(entry) / ACTIVATIONS_FILE)


def record_heads(entry: Path, db: ResultsDB, job: Job) -> None:
    """The composed networks of one d_ratio and their compared pairs (values and notes)."""
    result = load_json(Path(entry) / RESULT_FILE)
    d_ratio, meta = job.config["d_ratio"], job.meta
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
