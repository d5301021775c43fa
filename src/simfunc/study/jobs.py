"""The jobs of a study of the user's models: one per model (its features), one per pair.

* ``study-features/<model>`` -- :func:`extract_model`: load the model (:mod:`simfunc.models`),
  run it once over the study's examples and keep the compared layer and the outputs
  (:func:`simfunc.compare.run_model`) as ``features.npz``, with its accuracy when the examples
  have labels. The cache key holds the model's and the data's fingerprints (file contents),
  not the model's name: renaming a model reuses its features, changing its file does not.
* ``study-pairs/<a>--<b>`` -- :func:`compare_models`: every chosen measure on the two models'
  features and outputs (:func:`simfunc.compare.compare_pair`) and each one's bootstrap
  interval over examples (:mod:`.intervals`), as ``pair.json``. Its key follows from its two
  inputs' keys, so adding a model adds only its own features and its new pairs.

The ``record_*`` functions run in the driver and put the models and pairs into the results
database (what the study calls them travels in ``Job.meta``, outside the cache key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from simfunc.compare import Comparison, compare_pair, record_comparison
from simfunc.io import atomic_save_npz, atomic_write_json, load_json
from simfunc.runner import Job, JobContext
from simfunc.study.config import DataConfig, IntervalConfig, ModelConfig, StudyConfig
from simfunc.study.intervals import FEATURES_LAYER, PairInterval, pair_intervals

__all__ = ["features_job", "pair_job", "extract_model", "compare_models", "record_model",
           "record_pair", "load_pair", "load_model_record", "FEATURES_FILE", "PAIR_FILE",
           "MODEL_FILE", "STUDY_NAME"]

FEATURES_FILE = "features.npz"
MODEL_FILE = "model.json"
PAIR_FILE = "pair.json"
STUDY_NAME = "own-models"  # the study name every run of `simfunc study` records
_MODULE = "simfunc.study.jobs"


def features_job(model: ModelConfig, fingerprint: str, data: DataConfig, data_fingerprint: str,
                 batch_size: int) -> Job:
    """The job that records ``model``'s layer and outputs on the study's examples."""
    spec = model.to_json()
    config = {"model": {key: spec[key] for key in ("path", "factory", "state_dict", "layer",
                                                   "output", "search_path")},
              "model_fingerprint": fingerprint, "data": data.to_json(),
              "data_fingerprint": data_fingerprint, "batch_size": batch_size}
    return Job(f"study-features/{model.name}", f"{_MODULE}:extract_model", config,
               record=f"{_MODULE}:record_model",
               meta={"name": model.name, "group": model.group}, label=f"features {model.name}")


def pair_job(a: str, b: str, study: StudyConfig) -> Job:
    """The job comparing models ``a`` and ``b`` (their features jobs are its inputs)."""
    intervals = study.intervals
    config = {"representational": list(study.measures.representational),
              "functional": list(study.measures.functional),
              "intervals": {"resamples": intervals.resamples, "max_seconds": intervals.max_seconds,
                            "confidence": intervals.confidence, "seed": intervals.seed}}
    return Job(f"study-pairs/{a}--{b}", f"{_MODULE}:compare_models", config,
               deps=(f"study-features/{a}", f"study-features/{b}"),
               record=f"{_MODULE}:record_pair", meta={"model_a": a, "model_b": b},
               label=f"{a} vs {b}")


# ------------------------------------------------------------------------------ job functions


def extract_model(ctx: JobContext) -> None:
    from simfunc.compare import run_model
    from simfunc.study.check import default_names, load_model
    from simfunc.study.data import load_examples

    config = ctx.config
    model = ModelConfig.from_json({"name": ctx.job.meta.get("name", "model"),
                                   **config["model"]})
    loaded = load_model(model)
    layer, output = default_names(loaded, model)
    examples = load_examples(DataConfig.from_json(config["data"]), loaded.input_size,
                             loaded.in_channels)
    run = run_model(loaded.module, examples.inputs, layer=layer, output=output,
                    batch_size=config["batch_size"], device=ctx.device)
    accuracy = None
    note = ""
    trained_on = tuple(getattr(loaded.module, "classes", ()) or ())
    if examples.labels is None:
        note = "no labels"
    elif loaded.kind == "simfunc" and trained_on != examples.classes:
        note = f"trained on other classes ({', '.join(trained_on[:4])}, ...)"
    elif run.outputs.shape[1] != len(examples.classes):
        note = f"{run.outputs.shape[1]} outputs for {len(examples.classes)} classes"
    else:
        accuracy = float(np.mean(run.outputs.argmax(axis=1) == examples.labels))
    atomic_save_npz(ctx.output_dir / FEATURES_FILE, features=run.features, outputs=run.outputs)
    atomic_write_json(ctx.output_dir / MODEL_FILE, {
        "kind": loaded.kind, "layer": layer, "output": output, "accuracy": accuracy,
        "accuracy_note": note, "n_examples": int(run.features.shape[0]),
        "features": int(run.features.shape[1]), "classes": int(run.outputs.shape[1]),
        "details": {k: v for k, v in loaded.details.items() if v is None or
                    isinstance(v, (str, int, float, bool))}})


def _load_features(entry: Path) -> dict[str, np.ndarray]:
    with np.load(Path(entry) / FEATURES_FILE, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def compare_models(ctx: JobContext) -> None:
    config = ctx.config
    a, b = (_load_features(ctx.input(dep)) for dep in ctx.job.deps)
    rep_names, out_names = config["representational"], config["functional"]
    comparison = compare_pair({FEATURES_LAYER: a["features"]}, {FEATURES_LAYER: b["features"]},
                              a["outputs"], b["outputs"], measures=rep_names,
                              output_measures=out_names, from_logits=True)
    intervals = pair_intervals(a["features"], b["features"], a["outputs"], b["outputs"],
                               comparison, rep_names, out_names,
                               IntervalConfig(**config["intervals"]))
    atomic_write_json(ctx.output_dir / PAIR_FILE, {
        **comparison.to_json(), "intervals": [item.to_json() for item in intervals],
        "n_examples": int(a["features"].shape[0])})


# ------------------------------------------------------------------------------ reading back


def load_model_record(entry: Path) -> dict[str, Any]:
    """What :func:`extract_model` wrote about the model (kind, layer, accuracy, ...)."""
    return load_json(Path(entry) / MODEL_FILE)


def load_pair(entry: Path) -> tuple[Comparison, list[PairInterval], int]:
    """The comparison, the intervals and the number of examples of a pair job's entry."""
    content = load_json(Path(entry) / PAIR_FILE)
    return (Comparison.from_json(content),
            [PairInterval.from_json(item) for item in content["intervals"]],
            int(content["n_examples"]))


def record_model(entry: Path, db: Any, job: Job) -> None:
    record = load_model_record(entry)
    data = job.config["data"]
    db.add_model(job.meta["name"], kind=record["kind"], arch=record["kind"],
                 dataset=Path(data["source"]).name, trained=True, accuracy=record["accuracy"],
                 artifact=f"{job.namespace}/{Path(entry).name}",
                 config={**job.config["model"], "layer": record["layer"],
                         "output": record["output"]},
                 extra={"group": job.meta.get("group"), "details": record["details"]})


def record_pair(entry: Path, db: Any, job: Job) -> None:
    comparison, _, _ = load_pair(entry)
    record_comparison(db, comparison, model_a=job.meta["model_a"], model_b=job.meta["model_b"],
                      test_set="")
