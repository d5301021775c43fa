"""The jobs the image-classifier studies are made of: train, extract, compare.

Each ``*_job`` function builds a :class:`~simfunc.runner.Job`; the functions it names run in
whichever process executes the job, and the ``record_*`` functions run in the driver to put the
results into the database. What a study *calls* things (model ids, test-set names) travels in
``Job.meta``, outside the cache key, so two studies that train the same network share it.

* ``train/…``   — :func:`train_classifier`: a :class:`~simfunc.train.supervised.TrainConfig`
  trained into the job's directory (checkpoints included; resumable).
  :func:`record_models` adds the final model and any checkpoints the study names.
* ``extract/…`` — :func:`extract_features`: one model (final weights or the checkpoint of an
  epoch) on one test set: the named layers and the logits, as ``features.npz``.
* ``compare/…`` — :func:`compare_models`: for the listed pairs of its inputs, every registered
  representational measure on one layer and every output measure on the logits;
  :func:`record_pairs` writes one database row per (pair, measure).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from simfunc.runner import Job
from simfunc.store import atomic_save_npz, atomic_write_json, load_json

__all__ = [
    "DataSpec",
    "train_job",
    "extract_job",
    "compare_job",
    "train_classifier",
    "extract_features",
    "compare_models",
    "record_models",
    "record_pairs",
    "load_features",
    "OUTPUT_LAYER",
]

OUTPUT_LAYER = "output"  # the layer name output measures are recorded under
FEATURES_FILE = "features.npz"
PAIRS_FILE = "pairs.json"


def DataSpec(dataset: str, split: str = "test", *, data_root: str | None = None,
             subset: int | None = None, subset_seed: int = 0,
             classes: Sequence[int | str] | None = None) -> dict[str, Any]:
    """A test set as plain JSON: what :func:`extract_features` loads."""
    return {"dataset": dataset, "split": split, "data_root": data_root, "subset": subset,
            "subset_seed": subset_seed, "classes": list(classes) if classes is not None else None}


# --------------------------------------------------------------------------------- building


def train_job(job_id: str, config: Any, models: Sequence[Mapping[str, Any]], label: str = "") -> Job:
    """A job that trains ``config`` (a TrainConfig) and records ``models``.

    ``models`` lists what the study calls the results, each a mapping with ``model_id`` and
    optionally ``epoch`` (a checkpoint epoch; absent: the final weights), ``trained``,
    ``kind``, ``parent`` and ``extra``.
    """
    return Job(
        job_id, "simfunc.studies.jobs:train_classifier", {"train": config.to_dict()},
        record="simfunc.studies.jobs:record_models", meta={"models": list(models)},
        label=label or job_id,
    )


def extract_job(job_id: str, train_id: str, data: Mapping[str, Any], *, epoch: int | None = None,
                layers: Sequence[str] = ("features",), batch_size: int = 256) -> Job:
    """A job that extracts ``layers`` and the logits of ``train_id``'s model on ``data``."""
    return Job(
        job_id, "simfunc.studies.jobs:extract_features",
        {"epoch": epoch, "data": dict(data), "layers": list(layers), "batch_size": batch_size},
        deps=(train_id,),
    )


def compare_job(job_id: str, inputs: Sequence[str], model_ids: Sequence[str],
                pairs: Sequence[tuple[int, int]], *, test_set: str, layer: str = "features",
                measures: Sequence[str] | None = None,
                output_measures: Sequence[str] | None = None) -> Job:
    """A job comparing ``pairs`` (indices into ``inputs``, the extract jobs) on one test set.

    ``model_ids[i]`` is the study's name of the model behind ``inputs[i]``. ``measures`` and
    ``output_measures`` default to every registered one.
    """
    if len(inputs) != len(model_ids):
        raise ValueError("inputs and model_ids must have the same length")
    return Job(
        job_id, "simfunc.studies.jobs:compare_models",
        {"pairs": [list(pair) for pair in pairs], "layer": layer,
         "measures": list(measures) if measures is not None else None,
         "output_measures": list(output_measures) if output_measures is not None else None},
        deps=tuple(inputs), record="simfunc.studies.jobs:record_pairs",
        meta={"model_ids": list(model_ids), "test_set": test_set},
    )


# ------------------------------------------------------------------------------ job functions


def train_classifier(ctx: Any) -> None:
    from simfunc.train.supervised import TrainConfig, train

    config = TrainConfig.from_dict(ctx.config["train"])
    train(config, ctx.output_dir, progress=ctx.settings.progress, device=ctx.device, log=ctx.log)


def _load_test_data(spec: Mapping[str, Any], model: Any) -> Any:
    from simfunc.data import load

    trained = model.training_config
    return load(
        spec["dataset"], spec.get("split", "test"), data_root=spec.get("data_root"),
        image_size=trained.image_size, channels=trained.in_channels, subset=spec.get("subset"),
        seed=spec.get("subset_seed", 0), classes=spec.get("classes"),
    )


def extract_features(ctx: Any) -> None:
    from simfunc.extract import activations
    from simfunc.train.supervised import load_model

    config = ctx.config
    (train_id,) = ctx.job.deps
    model = load_model(ctx.input(train_id), device=ctx.device, epoch=config["epoch"])
    data = _load_test_data(config["data"], model)
    layers = list(dict.fromkeys([*config["layers"], "logits"]))
    arrays = activations(model, data, layers, batch_size=config["batch_size"], device=ctx.device)
    atomic_save_npz(ctx.output_dir / FEATURES_FILE, labels=data.labels.numpy(), **arrays)


def load_features(entry: Path) -> dict[str, np.ndarray]:
    with np.load(Path(entry) / FEATURES_FILE, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def compare_models(ctx: Any) -> None:
    from simfunc import functional, representational

    config = ctx.config
    features = [load_features(ctx.input(dep)) for dep in ctx.job.deps]
    layer = config["layer"]
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    with ctx.progress(total=len(config["pairs"]), desc=f"compare {ctx.job.label}") as bar:
        for a, b in config["pairs"]:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                values = representational.compare_all(
                    features[a][layer], features[b][layer], config["measures"], skip_errors=True
                )
            notes += [f"pair ({a}, {b}): {w.message}" for w in caught]
            rows += [{"a": a, "b": b, "layer": layer, "measure": m, "value": v}
                     for m, v in values.items()]
            logits_a, logits_b = features[a]["logits"], features[b]["logits"]
            if logits_a.shape == logits_b.shape:
                output_measures = config["output_measures"]
                for name in functional.OUTPUT_MEASURES if output_measures is None else output_measures:
                    value = functional.OUTPUT_MEASURES[name](logits_a, logits_b, from_logits=True)
                    if math.isfinite(value):
                        rows.append({"a": a, "b": b, "layer": OUTPUT_LAYER, "measure": name,
                                     "value": float(value)})
                    else:
                        notes.append(f"pair ({a}, {b}): {name} is {value}; not recorded")
            bar.update(1)
    atomic_write_json(ctx.output_dir / PAIRS_FILE, {"rows": rows, "notes": notes})


# ------------------------------------------------------------------------------ recording


def record_models(entry: Path, db: Any, job: Job) -> None:
    metrics = load_json(Path(entry) / "metrics.json")
    config = metrics.get("resolved_config") or job.config["train"]
    history = {row["epoch"]: row for row in metrics.get("history", [])}
    for model in job.meta["models"]:
        epoch = model.get("epoch")
        if epoch is None:
            accuracy, trained_epochs = metrics.get("test_accuracy"), config.get("epochs")
        else:
            accuracy, trained_epochs = history.get(epoch, {}).get("test_accuracy"), epoch
        db.add_model(
            model["model_id"], kind=model.get("kind", "classifier"), arch=config.get("arch"),
            dataset=model.get("dataset", config.get("dataset")), seed=config.get("seed"),
            epoch=trained_epochs, trained=bool(model.get("trained", trained_epochs != 0)),
            accuracy=accuracy, parent=model.get("parent"),
            artifact=f"{job.namespace}/{Path(entry).name}", config=config,
            extra=model.get("extra"),
        )


def record_pairs(entry: Path, db: Any, job: Job) -> None:
    result = load_json(Path(entry) / PAIRS_FILE)
    names = job.meta["model_ids"]
    test_set = job.meta["test_set"]
    db.add_pairs([
        {"model_a": names[row["a"]], "model_b": names[row["b"]], "test_set": test_set,
         "layer": row["layer"], "measure": row["measure"], "value": row["value"]}
        for row in result["rows"]
    ])
