"""Before any work: load every model once and run it on a few examples.

:func:`check_models` turns each ``[models.NAME]`` into a :class:`CheckedModel` (its resolved
layer and output names, output width, kind and fingerprint) or raises one InputError naming the
key and the model: a factory that cannot be imported, weights that do not fit, a layer or
output name that is not in the model (with the nearest names), a model that fails on the data,
outputs of different widths across models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.study.config import ModelConfig, StudyConfig
from simfunc.study.data import Examples, load_examples

__all__ = ["CheckedModel", "check_models", "load_model", "PROBE_EXAMPLES"]

PROBE_EXAMPLES = 8


@dataclass(frozen=True)
class CheckedModel:
    name: str
    kind: str  # simfunc, torchscript or factory
    layer: str
    output: str
    width: int  # outputs per example
    features: int  # width of the compared layer
    fingerprint: str
    input_size: int | None
    in_channels: int | None


def load_model(model: ModelConfig) -> Any:
    """The :class:`simfunc.models.LoadedModel` of one ``[models.NAME]``, errors prefixed by it."""
    from simfunc.models import load_model_spec

    try:
        return load_model_spec(model.spec, model.state_dict, search_path=model.search_path,
                               state_dict_name="state_dict")
    except InputError as error:
        key = "path" if model.path is not None else "factory"
        raise InputError(f"[models.{model.name}] {key} = {model.spec!r}: {error}") from None


def _probe(examples: Examples) -> Any:
    count = min(PROBE_EXAMPLES, len(examples))
    inputs = examples.inputs
    if hasattr(inputs, "normalized"):
        return inputs.normalized(slice(0, count))
    return inputs[:count]


def default_names(loaded: Any, model: ModelConfig) -> tuple[str, str]:
    """(layer, output) recorded for a model: the configured ones, else simfunc models'
    ``features``/``logits`` and other models' input of the last Linear / their output."""
    from simfunc.extract import MODEL_OUTPUT, default_feature_layer

    simfunc_model = loaded.kind == "simfunc"
    layer = model.layer
    if layer is None:
        try:
            layer = "features" if simfunc_model else default_feature_layer(loaded.module)
        except InputError as error:
            raise InputError(f"[models.{model.name}] layer: {error}") from None
    output = model.output
    if output is None:
        output = "logits" if simfunc_model else MODEL_OUTPUT
    return layer, output


def check_models(config: StudyConfig) -> list[CheckedModel]:
    """Check every model against the study's data (see the module docstring)."""
    from simfunc.compare import run_model
    from simfunc.extract import check_layer

    checked: list[CheckedModel] = []
    examples: dict[tuple[int | None, int | None], Examples] = {}
    for model in config.models:
        where = f"[models.{model.name}]"
        loaded = load_model(model)
        layer, output = default_names(loaded, model)
        for key, name in (("layer", layer), ("output", output)):
            try:
                check_layer(loaded.module, name)
            except InputError as error:
                raise InputError(f"{where} {key} = {name!r}: {error}") from None
        shape = (loaded.input_size, loaded.in_channels)
        if shape not in examples:
            examples[shape] = load_examples(config.data, *shape)
        data = examples[shape]
        if len(data) < 4:
            raise InputError(f"[data]: {len(data)} examples; a study needs at least 4")
        try:
            run = run_model(loaded.module, _probe(data), layer=layer, output=output,
                            batch_size=PROBE_EXAMPLES)
        except InputError as error:
            raise InputError(f"{where}: on the first examples of [data]: {error}") from None
        except Exception as error:  # the user's model failing on these inputs
            raise InputError(
                f"{where}: the model fails on the first examples of [data] "
                f"({type(error).__name__}: {str(error).splitlines()[0][:300]})") from None
        if not np.isfinite(run.outputs).all():
            raise InputError(f"{where}: the outputs hold NaN or infinite values")
        checked.append(CheckedModel(model.name, loaded.kind, layer, output,
                                    int(run.outputs.shape[1]), int(run.features.shape[1]),
                                    loaded.fingerprint(), loaded.input_size,
                                    loaded.in_channels))
    widths = {item.width for item in checked}
    if len(widths) > 1:
        listing = ", ".join(f"{item.name}: {item.width}" for item in checked)
        first = checked[0]
        odd = next(item for item in checked if item.width != first.width)
        raise InputError(
            f"[models.{odd.name}] output: {odd.width} outputs per example where "
            f"[models.{first.name}] has {first.width}; the output measures compare outputs "
            f"over the same classes ({listing}); set output = the module whose output is the "
            "logits")
    return checked
