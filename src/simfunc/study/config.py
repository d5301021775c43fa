"""A study of the user's own models, as a TOML file and as typed values.

::

    name = "my-zoo"
    [data]
    source = "path/to/images"   # an image folder, a dataset name (digits, cifar10, ...), or a
                                # .npy/.npz/.pt array of inputs fed as they are
    labels = "labels.npy"        # optional, arrays only: accuracy per model, stratified subset
    split = "test"               # named datasets and image folders
    subset = 2000                # optional
    image_size = 32              # image inputs: resized; channels, mean, std likewise optional
    [models.resnet_a]
    path = "a.ts"                # TorchScript, or a model.pt / training directory (simfunc train)
    [models.mine]
    factory = "mypkg.nets:make"  # a function returning an nn.Module ...
    state_dict = "mine.pt"       # ... and its weights
    layer = "encoder.out"        # optional: the compared layer (default: input of the last Linear)
    output = "head"              # optional: the module whose output is the logits
    group = "fine-tuned"         # optional: colours in the report, strata in the statistics
    [measures]
    representational = ["linear_cka", "cca", "procrustes"]   # optional; default all
    functional = ["jsd", "spearman", "disagreement"]          # optional; default all
    [intervals]                  # optional: the per-pair bootstrap over examples
    resamples = 200
    max_seconds = 60             # per pair and measure; a measure slower than this is noted
    [statistics]                 # optional: the network-level relation
    permutations = 2000
    resamples = 2000

Relative paths are read from the configuration file's folder; a factory's module is searched
there first. :func:`load_config` turns the file into a :class:`StudyConfig` and checks every key
without loading anything (a missing file, an unknown key, an unknown measure: an InputError
naming the key and the model); :func:`simfunc.study.check.check_models` then loads each model
once and checks its layers and output width before any work starts.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simfunc.errors import InputError

__all__ = ["DataConfig", "ModelConfig", "MeasuresConfig", "IntervalConfig",
           "StatisticsConfig", "StudyConfig", "load_config", "ARRAY_SUFFIXES"]

ARRAY_SUFFIXES = (".npy", ".npz", ".pt")
_NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True)
class DataConfig:
    """The examples every model runs on (see the module docstring)."""

    source: str  # an absolute path, or a dataset name
    labels: str | None = None
    split: str = "test"
    subset: int | None = None
    image_size: int = 32
    channels: int = 3
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    data_root: str | None = None
    key: str | None = None  # the array inside a .npz/.pt holding several
    seed: int = 0

    @property
    def is_array(self) -> bool:
        return Path(self.source).suffix.lower() in ARRAY_SUFFIXES

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "labels": self.labels, "split": self.split,
                "subset": self.subset, "image_size": self.image_size,
                "channels": self.channels,
                "mean": None if self.mean is None else list(self.mean),
                "std": None if self.std is None else list(self.std),
                "data_root": self.data_root, "key": self.key, "seed": self.seed}

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> DataConfig:
        values = dict(values)
        for name in ("mean", "std"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)


@dataclass(frozen=True)
class ModelConfig:
    """One ``[models.NAME]`` table."""

    name: str
    path: str | None = None
    factory: str | None = None
    state_dict: str | None = None
    layer: str | None = None
    output: str | None = None
    group: str | None = None
    search_path: tuple[str, ...] = ()  # folders a factory's module is looked for in

    @property
    def spec(self) -> str:
        """What :func:`simfunc.models.load_model_spec` is given."""
        return self.path if self.path is not None else str(self.factory)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "factory": self.factory,
                "state_dict": self.state_dict, "layer": self.layer, "output": self.output,
                "group": self.group, "search_path": list(self.search_path)}

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> ModelConfig:
        return cls(**{**values, "search_path": tuple(values.get("search_path", ()))})


@dataclass(frozen=True)
class MeasuresConfig:
    representational: tuple[str, ...]
    functional: tuple[str, ...]


@dataclass(frozen=True)
class IntervalConfig:
    """The per-pair bootstrap over examples: ``resamples`` draws of n examples with
    replacement, the same draw for both models and every measure; a percentile interval of
    ``confidence``. A measure whose first resample shows that ``resamples`` of them would take
    longer than ``max_seconds`` is not resampled (a note says so)."""

    resamples: int = 200
    max_seconds: float = 60.0
    confidence: float = 0.95
    seed: int = 0


@dataclass(frozen=True)
class StatisticsConfig:
    """The network-level relation: Mantel permutations and network-bootstrap resamples."""

    permutations: int = 2000
    resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0


@dataclass(frozen=True)
class StudyConfig:
    name: str
    data: DataConfig
    models: tuple[ModelConfig, ...]
    measures: MeasuresConfig
    intervals: IntervalConfig = field(default_factory=IntervalConfig)
    statistics: StatisticsConfig = field(default_factory=StatisticsConfig)
    batch_size: int = 256
    source: str = ""  # the file it was read from

    def model(self, name: str) -> ModelConfig:
        for model in self.models:
            if model.name == name:
                return model
        raise InputError(f"no model {name!r} in the study")

    def settings(self) -> dict[str, Any]:
        """Everything that shaped the results, as plain JSON (the report's settings)."""
        return {"name": self.name, "data": self.data.to_json(),
                "models": [m.to_json() for m in self.models],
                "measures": {"representational": list(self.measures.representational),
                             "functional": list(self.measures.functional)},
                "intervals": vars(self.intervals).copy(),
                "statistics": vars(self.statistics).copy(), "batch_size": self.batch_size}


# ------------------------------------------------------------------------------ reading


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise InputError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}")


def _string(table: Mapping[str, Any], key: str, where: str, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise InputError(f"{where}: {key} is missing")
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value


def _integer(table: Mapping[str, Any], key: str, where: str, default: Any, minimum: int) -> Any:
    value = table.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{where}: {key} must be an integer of at least {minimum}, got {value!r}")
    return value


def _number(table: Mapping[str, Any], key: str, where: str, default: float, low: float,
            high: float = float("inf")) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InputError(f"{where}: {key} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def _existing(base: Path, value: str, where: str, key: str) -> str:
    path = (base / Path(value).expanduser()).resolve()
    if not path.exists():
        raise InputError(f"{where} {key} = {value!r}: no such file or directory ({path})")
    return str(path)


def _data(table: Any, base: Path) -> DataConfig:
    where = "[data]"
    if not isinstance(table, Mapping):
        raise InputError("[data] is missing: say which examples the models run on (source = ...)")
    _check_keys(table, {"source", "labels", "split", "subset", "image_size", "channels", "mean",
                        "std", "data_root", "key", "seed"}, where)
    source = _string(table, "source", where, required=True)
    looks_like_path = (Path(source).suffix.lower() in ARRAY_SUFFIXES or "/" in source
                       or (base / source).exists())
    if looks_like_path:
        source = _existing(base, source, where, "source")
    is_array = Path(source).suffix.lower() in ARRAY_SUFFIXES
    labels = _string(table, "labels", where)
    if labels is not None:
        if not is_array:
            raise InputError(f"{where}: labels applies to an array source; an image folder or a "
                             "dataset carries its own labels")
        labels = _existing(base, labels, where, "labels")
    split = table.get("split", "test")
    if split not in ("train", "test"):
        raise InputError(f"{where}: split must be 'train' or 'test', got {split!r}")
    channels = table.get("channels", 3)
    if channels not in (1, 3):
        raise InputError(f"{where}: channels must be 1 or 3, got {channels!r}")
    norms = {}
    for key in ("mean", "std"):
        value = table.get(key)
        if value is not None:
            if (not isinstance(value, list) or len(value) != channels
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               for v in value)
                    or (key == "std" and min(value) <= 0)):
                raise InputError(f"{where}: {key} must be a list of {channels} numbers (one per "
                                 f"channel{', positive' if key == 'std' else ''}), got {value!r}")
            value = tuple(float(v) for v in value)
        norms[key] = value
    data_root = _string(table, "data_root", where)
    if data_root is not None:
        data_root = _existing(base, data_root, where, "data_root")
    return DataConfig(
        source=source, labels=labels, split=split,
        subset=_integer(table, "subset", where, None, 4),
        image_size=_integer(table, "image_size", where, 32, 1), channels=channels,
        mean=norms["mean"], std=norms["std"], data_root=data_root,
        key=_string(table, "key", where), seed=_integer(table, "seed", where, 0, 0),
    )


def _model(name: str, table: Any, base: Path) -> ModelConfig:
    where = f"[models.{name}]"
    if not set(name) <= _NAME_CHARACTERS:
        raise InputError(f"{where}: a model name may hold letters, digits, '_', '-' and '.'")
    if not isinstance(table, Mapping):
        raise InputError(f"{where} must be a table (path = ... or factory = ...)")
    _check_keys(table, {"path", "factory", "state_dict", "layer", "output", "group"}, where)
    path = _string(table, "path", where)
    factory = _string(table, "factory", where)
    state_dict = _string(table, "state_dict", where)
    if (path is None) == (factory is None):
        raise InputError(f"{where}: give either path (a TorchScript file, a simfunc model.pt or "
                         "training directory) or factory (package.module:function), not "
                         + ("both" if path else "neither"))
    if path is not None:
        if state_dict is not None:
            raise InputError(f"{where}: state_dict goes with factory, not with path")
        path = _existing(base, path, where, "path")
    else:
        module, _, attribute = factory.rpartition(":")
        if not module or not attribute:
            raise InputError(f"{where}: factory must be package.module:function, got {factory!r}")
        if state_dict is not None:
            state_dict = _existing(base, state_dict, where, "state_dict")
    return ModelConfig(name=name, path=path, factory=factory, state_dict=state_dict,
                       layer=_optional_layer(table, "layer", where),
                       output=_optional_layer(table, "output", where),
                       group=_string(table, "group", where), search_path=(str(base),))


def _optional_layer(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: {key} must be a layer name (a string), got {value!r}")
    return value


def _measures(table: Any) -> MeasuresConfig:
    from simfunc import functional, representational

    table = {} if table is None else table
    if not isinstance(table, Mapping):
        raise InputError("[measures] must be a table (representational = [...], "
                         "functional = [...])")
    _check_keys(table, {"representational", "functional"}, "[measures]")
    chosen = []
    for key, registry in (("representational", representational.MEASURES),
                          ("functional", functional.OUTPUT_MEASURES)):
        names = table.get(key)
        if names is None:
            chosen.append(tuple(registry))
            continue
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise InputError(f"[measures]: {key} must be a non-empty list of measure names, "
                             f"got {names!r}")
        unknown = [n for n in names if n not in registry]
        if unknown:
            raise InputError(f"[measures]: {key}: unknown measure "
                             f"{', '.join(map(repr, unknown))}; choose from {', '.join(registry)}")
        if len(set(names)) != len(names):
            raise InputError(f"[measures]: {key} names a measure twice: {names}")
        chosen.append(tuple(names))
    return MeasuresConfig(*chosen)


def _intervals(table: Any) -> IntervalConfig:
    table = {} if table is None else table
    if not isinstance(table, Mapping):
        raise InputError("[intervals] must be a table")
    _check_keys(table, {"resamples", "max_seconds", "confidence", "seed"}, "[intervals]")
    return IntervalConfig(
        resamples=_integer(table, "resamples", "[intervals]", 200, 0),
        max_seconds=_number(table, "max_seconds", "[intervals]", 60.0, 0.0),
        confidence=_number(table, "confidence", "[intervals]", 0.95, 0.5, 0.999),
        seed=_integer(table, "seed", "[intervals]", 0, 0))


def _statistics(table: Any) -> StatisticsConfig:
    table = {} if table is None else table
    if not isinstance(table, Mapping):
        raise InputError("[statistics] must be a table")
    _check_keys(table, {"permutations", "resamples", "confidence", "seed"}, "[statistics]")
    return StatisticsConfig(
        permutations=_integer(table, "permutations", "[statistics]", 2000, 1),
        resamples=_integer(table, "resamples", "[statistics]", 2000, 1),
        confidence=_number(table, "confidence", "[statistics]", 0.95, 0.5, 0.999),
        seed=_integer(table, "seed", "[statistics]", 0, 0))


def load_config(source: str | os.PathLike[str] | Mapping[str, Any],
                base_dir: str | os.PathLike[str] | None = None) -> StudyConfig:
    """A :class:`StudyConfig` from a TOML file, or from its parsed contents (``base_dir``:
    where relative paths start; default the file's folder, or the current one)."""
    if isinstance(source, Mapping):
        raw, origin = dict(source), ""
        base = Path(base_dir or ".").resolve()
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise InputError(f"study configuration {str(path)!r}: no such file")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{path}: not valid TOML: {error}") from None
        origin = str(path.resolve())
        base = Path(base_dir).resolve() if base_dir is not None else path.resolve().parent
    _check_keys(raw, {"name", "data", "models", "measures", "intervals", "statistics",
                      "batch_size"}, "the study configuration")
    name = raw.get("name", Path(origin).stem if origin else "study")
    if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARACTERS:
        raise InputError(f"name must be letters, digits, '_', '-' or '.', got {name!r}")
    models_table = raw.get("models")
    if not isinstance(models_table, Mapping) or not models_table:
        raise InputError("[models] is missing: add a [models.NAME] table per model")
    models = tuple(_model(str(key), value, base) for key, value in models_table.items())
    if len(models) < 2:
        raise InputError(f"[models] holds {len(models)} model: a study compares at least 2")
    return StudyConfig(
        name=name, data=_data(raw.get("data"), base), models=models,
        measures=_measures(raw.get("measures")), intervals=_intervals(raw.get("intervals")),
        statistics=_statistics(raw.get("statistics")),
        batch_size=_integer(raw, "batch_size", "batch_size", 256, 1), source=origin)
