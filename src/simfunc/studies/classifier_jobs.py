"""The jobs of the image-classifier studies: train a network, extract its layers, compare pairs.

Each ``*_job`` function builds a :class:`~simfunc.runner.Job`; the functions it names run in
whichever process executes the job, and the ``record_*`` functions run in the driver to put the
results into the database. What a study *calls* things (model ids, test-set names) travels in
``Job.meta``, outside the cache key, so two studies that train the same network share it.

* ``train/…``   — :func:`train_classifier`: a :class:`~simfunc.train.supervised.TrainConfig`
  trained into the job's directory (checkpoints included; resumable). :func:`record_models`
  adds the :class:`ModelRecord` s the study names: the final weights and any checkpoints.
* ``extract/…`` — :func:`extract_features`: one model (final weights or the checkpoint of an
  epoch) on one :class:`ImageSet`: the named layers and the logits, as ``features.npz``.
* ``compare/…`` — :func:`compare_features`: the listed pairs of its inputs through
  :func:`simfunc.compare.compare_pair` (every registered representational measure on one layer,
  every output measure on the logits); :func:`record_pairs` stores each pair's values and the
  notes on what was left out.

**Untrained networks: one rule for every image study.** The untrained network of architecture
``a`` and seed ``s`` is ``a`` built with seed ``s``: exactly the initial weights of the training
run of ``(a, s)`` (``TrainConfig.seed`` seeds the initial weights). A study obtains it either
as that run's epoch-0 checkpoint — :func:`untrained_twin` names it, :func:`with_untrained`
makes the run save it — which costs no extra job and pairs every trained network with its own
initialisation, or, when the study trains no network of that seed, as a run of 0 epochs
(:func:`untrained_config`). Both give the same weights, bit for bit. Seeds are never offset: a
study that wants untrained networks unrelated to its trained ones lists other seeds in its
settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from simfunc.compare import Comparison, compare_pair, record_comparison
from simfunc.errors import InputError
from simfunc.io import atomic_save_npz, atomic_write_json, load_json
from simfunc.runner import Job, JobContext
from simfunc.store import ResultsDB

if TYPE_CHECKING:
    from torch import nn

    from simfunc.data import ImageDataset
    from simfunc.train.supervised import TrainConfig

__all__ = [
    "ClassifierTraining",
    "ImageSet",
    "ModelRecord",
    "UNTRAINED_EPOCH",
    "untrained_twin",
    "with_untrained",
    "untrained_config",
    "check_layers",
    "train_job",
    "extract_job",
    "compare_job",
    "train_classifier",
    "extract_features",
    "compare_features",
    "record_models",
    "record_pairs",
    "load_features",
    "save_comparisons",
    "load_comparisons",
    "FEATURES_FILE",
    "PAIRS_FILE",
]

FEATURES_FILE = "features.npz"
PAIRS_FILE = "pairs.json"
UNTRAINED_EPOCH = 0  # the checkpoint that holds a run's initial weights
_MODULE = "simfunc.studies.classifier_jobs"


@dataclass(frozen=True)
class ClassifierTraining:
    """How an image study trains its networks: SGD with momentum and weight decay, a learning-
    rate schedule, optionally on a class-stratified subset of the training split, and the
    recipe options (one-cycle warm-up, label smoothing, Nesterov momentum, channels-last) that
    are off by default (see :class:`~simfunc.train.supervised.TrainConfig` for each field;
    ``benchmarks/recipes.py`` measures what they buy). Every study's quick profile trains
    channels-last: the same networks in another memory order, 1.15-1.35x faster steps on the
    CPU (BENCHMARKS.md, "Night"), weights that differ in the last bits.

    A study's settings hold it as the nested group ``training`` (``--set training.epochs=3``);
    :meth:`config` combines it with what the study varies (architecture, seed, data).
    """

    epochs: int = 10
    lr: float = 0.05
    schedule: str = "cosine"
    batch_size: int = 128
    momentum: float = 0.9
    weight_decay: float = 5e-4
    train_subset: int | None = None
    warmup: float = 0.25
    label_smoothing: float = 0.0
    nesterov: bool = False
    channels_last: bool = False

    def config(self, *, arch: str, dataset: str, seed: int, width: float = 1.0,
               image_size: int | None = None, data_root: str | None = None,
               classes: Sequence[int | str] | None = None, test_subset: int | None = None,
               checkpoint_epochs: Sequence[int] = ()) -> TrainConfig:
        """The training run of ``arch`` from ``seed`` on ``dataset`` with these settings."""
        from simfunc.train.supervised import TrainConfig

        return TrainConfig(
            arch=arch, dataset=dataset, data_root=data_root,
            classes=None if classes is None else tuple(classes), width=width,
            image_size=image_size, train_subset=self.train_subset, test_subset=test_subset,
            seed=seed, epochs=self.epochs, lr=self.lr, momentum=self.momentum,
            weight_decay=self.weight_decay, schedule=self.schedule, batch_size=self.batch_size,
            checkpoint_epochs=tuple(checkpoint_epochs), warmup=self.warmup,
            label_smoothing=self.label_smoothing, nesterov=self.nesterov,
            channels_last=self.channels_last,
        )


@dataclass(frozen=True)
class ImageSet:
    """Which images a model is run on: a split of a dataset, optionally a selection of its
    classes (relabelled 0..k-1 in the order given) and a class-stratified subset."""

    dataset: str
    split: str = "test"
    data_root: str | None = None
    subset: int | None = None
    subset_seed: int = 0
    classes: tuple[int | str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        values["classes"] = None if self.classes is None else list(self.classes)
        return values

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> ImageSet:
        classes = values.get("classes")
        return cls(**{**values, "classes": None if classes is None else tuple(classes)})

    def load_for(self, model: nn.Module) -> ImageDataset:
        """The images at the input size and channels ``model`` was trained with."""
        from simfunc.data import load

        trained = model.training_config
        return load(self.dataset, self.split, data_root=self.data_root,
                    image_size=trained.image_size, channels=trained.in_channels,
                    subset=self.subset, seed=self.subset_seed,
                    classes=None if self.classes is None else list(self.classes))


@dataclass(frozen=True)
class ModelRecord:
    """What a study calls one network a training run produces, for the ``models`` table.

    ``epoch``: a checkpoint epoch (None: the final weights). ``trained``: None means "trained
    unless it is the epoch-0 checkpoint". ``dataset``: None records the training set.
    ``parent``: the model this one is a stage of. ``extra``: JSON for the study's analysis.
    """

    model_id: str
    epoch: int | None = None
    trained: bool | None = None
    kind: str = "classifier"
    parent: str | None = None
    dataset: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "extra": dict(self.extra)}

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> ModelRecord:
        return cls(**values)


def untrained_twin(model_id: str, *, kind: str = "classifier",
                   extra: Mapping[str, Any] | None = None) -> ModelRecord:
    """The untrained twin of the trained network ``model_id``: the initial weights of its own
    training run (its epoch-0 checkpoint), recorded as ``<model_id>-untrained``."""
    return ModelRecord(f"{model_id}-untrained", epoch=UNTRAINED_EPOCH, trained=False, kind=kind,
                       parent=model_id, extra=dict(extra or {}))


def with_untrained(config: TrainConfig) -> TrainConfig:
    """``config`` saving its initial weights too (the epoch-0 checkpoint its untrained twin
    is read from)."""
    return config.replace(checkpoint_epochs=(*config.checkpoint_epochs, UNTRAINED_EPOCH))


def untrained_config(config: TrainConfig) -> TrainConfig:
    """The untrained network of ``config``'s architecture and seed, as a run of 0 epochs: the
    same weights as ``config``'s initialisation (for studies that train no twin)."""
    return config.replace(epochs=0, checkpoint_epochs=())


# --------------------------------------------------------------------------------- building


def check_layers(layers: Sequence[str], archs: Sequence[str], *, width: float = 1.0,
                 setting: str = "layer") -> None:
    """Refuse, before any job runs, a compared layer that ``archs`` do not have: an
    InputError naming the setting, the architecture and the layers it has. ``output`` is the
    name the results give the output measures; the network's output layer is ``logits``."""
    from simfunc import nets
    from simfunc.store import OUTPUT_LAYER

    for layer in layers:
        if layer == OUTPUT_LAYER:
            raise InputError(
                f"{setting}: {layer!r} is where the results keep the output measures, not a "
                "layer to compare representations on; the networks' output layer is 'logits' "
                "(and the thesis compares the penultimate 'features')")
    for arch in dict.fromkeys(archs):
        model = nets.build(arch, width=width, input_size=32)
        names = [name for name, _ in model.named_modules() if name]
        for layer in layers:
            if layer not in names:
                raise InputError(f"{setting}: {arch} has no layer {layer!r}; its layers: "
                                 f"{', '.join(names)}")


def train_job(job_id: str, config: TrainConfig, models: Sequence[ModelRecord],
              label: str = "") -> Job:
    """A job that trains ``config`` and records ``models`` (what the study calls its results:
    the final weights and any checkpoints, see :class:`ModelRecord`)."""
    return Job(
        job_id, f"{_MODULE}:train_classifier", {"train": config.to_dict()},
        record=f"{_MODULE}:record_models", meta={"models": [m.to_json() for m in models]},
        label=label or job_id,
    )


def extract_job(job_id: str, train_id: str, images: ImageSet, *, epoch: int | None = None,
                layers: Sequence[str] = ("features",), batch_size: int = 256) -> Job:
    """A job that extracts ``layers`` and the logits of ``train_id``'s model (its final
    weights, or the checkpoint of ``epoch``) on ``images``."""
    return Job(
        job_id, f"{_MODULE}:extract_features",
        {"epoch": epoch, "data": images.to_json(), "layers": list(layers),
         "batch_size": batch_size},
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
        raise InputError("inputs and model_ids must have the same length")
    return Job(
        job_id, f"{_MODULE}:compare_features",
        {"pairs": [list(pair) for pair in pairs], "layer": layer,
         "measures": list(measures) if measures is not None else None,
         "output_measures": list(output_measures) if output_measures is not None else None},
        deps=tuple(inputs), record=f"{_MODULE}:record_pairs",
        meta={"model_ids": list(model_ids), "test_set": test_set},
    )


# ------------------------------------------------------------------------------ job functions


def train_classifier(ctx: JobContext) -> None:
    from simfunc.train.supervised import TrainConfig, train

    config = TrainConfig.from_dict(ctx.config["train"])
    train(config, ctx.output_dir, progress=ctx.settings.progress, device=ctx.device, log=ctx.log)


def extract_features(ctx: JobContext) -> None:
    from simfunc.extract import activations
    from simfunc.train.supervised import load_model

    config = ctx.config
    (train_id,) = ctx.job.deps
    model = load_model(ctx.input(train_id), device=ctx.device, epoch=config["epoch"])
    data = ImageSet.from_json(config["data"]).load_for(model)
    layers = list(dict.fromkeys([*config["layers"], "logits"]))
    arrays = activations(model, data, layers, batch_size=config["batch_size"], device=ctx.device)
    atomic_save_npz(ctx.output_dir / FEATURES_FILE, labels=data.labels.numpy(), **arrays)


def load_features(entry: Path) -> dict[str, np.ndarray]:
    """The arrays :func:`extract_features` wrote into the cache entry ``entry``."""
    with np.load(Path(entry) / FEATURES_FILE, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def save_comparisons(path: Path, comparisons: Sequence[tuple[int, int, Comparison]]) -> Path:
    """Write compared pairs ``(a, b, comparison)`` (a, b: indices of the job's models)."""
    return atomic_write_json(path, {"pairs": [{"a": a, "b": b, **comparison.to_json()}
                                              for a, b, comparison in comparisons]})


def load_comparisons(path: Path) -> list[tuple[int, int, Comparison]]:
    """The inverse of :func:`save_comparisons`."""
    return [(item["a"], item["b"], Comparison.from_json(item))
            for item in load_json(path)["pairs"]]


def compare_features(ctx: JobContext) -> None:
    config = ctx.config
    features = [load_features(ctx.input(dep)) for dep in ctx.job.deps]
    layer = config["layer"]
    compared = []
    with ctx.progress(total=len(config["pairs"]), desc=f"compare {ctx.job.label}") as bar:
        for a, b in config["pairs"]:
            compared.append((a, b, compare_pair(
                {layer: features[a][layer]}, {layer: features[b][layer]},
                features[a]["logits"], features[b]["logits"], measures=config["measures"],
                output_measures=config["output_measures"], from_logits=True)))
            bar.update(1)
    save_comparisons(ctx.output_dir / PAIRS_FILE, compared)


# ------------------------------------------------------------------------------ recording


def record_models(entry: Path, db: ResultsDB, job: Job) -> None:
    metrics = load_json(Path(entry) / "metrics.json")
    config = metrics.get("resolved_config") or job.config["train"]
    history = {row["epoch"]: row for row in metrics.get("history", [])}
    for model in map(ModelRecord.from_json, job.meta["models"]):
        if model.epoch is None:
            accuracy, trained_epochs = metrics.get("test_accuracy"), config.get("epochs")
        else:
            accuracy, trained_epochs = history.get(model.epoch, {}).get("test_accuracy"), model.epoch
        trained = model.trained if model.trained is not None else trained_epochs != 0
        db.add_model(
            model.model_id, kind=model.kind, arch=config.get("arch"),
            dataset=model.dataset or config.get("dataset"), seed=config.get("seed"),
            epoch=trained_epochs, trained=trained, accuracy=accuracy, parent=model.parent,
            artifact=f"{job.namespace}/{Path(entry).name}", config=config,
            extra=dict(model.extra) or None,
        )


def record_pairs(entry: Path, db: ResultsDB, job: Job) -> None:
    """Each compared pair's values and notes (model ids and test set from ``job.meta``)."""
    names = job.meta["model_ids"]
    for a, b, comparison in load_comparisons(Path(entry) / PAIRS_FILE):
        record_comparison(db, comparison, model_a=names[a], model_b=names[b],
                          test_set=job.meta["test_set"])
