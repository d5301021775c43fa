"""Activations of any ``nn.Module`` (TorchScript included) at named layers: the one layer recorder.

    from simfunc.extract import activations
    acts = activations(model, test_data, layers=("features", "logits"))
    acts["features"].shape   # (n, feature_dim), float32

Layers are named by their dotted path in ``model.named_modules()`` (``"features"``,
``"body.3.conv1"``, ``"encoder.blocks.0"``), so this works on simfunc classifiers (their taps
``last_conv``, ``features``, ``logits``) and on any user model alike. A hook stores the
*output* of each named module; for simfunc classifiers the output of ``logits`` is the logits,
which the output measures turn into probabilities (``from_logits=True``). ``"NAME:input"``
records the input of module NAME instead (e.g. the features a final ``nn.Linear`` reads:
:func:`default_feature_layer`), and :data:`MODEL_OUTPUT` (``""``) the model's own output.
A TorchScript model (``torch.jit.load``), which takes no Python hooks, is recorded through a
rewritten copy of its graph (:mod:`simfunc.extract.taps`); the layer map, ``simfunc compare``
and ``simfunc study`` all record layers this way.

Inputs (``data``):

* an :class:`~simfunc.data.ImageDataset` -- its normalised images, never augmented;
* any map-style torch ``Dataset`` whose items are ``x`` or ``(x, y, ...)`` (``x`` a tensor);
* a torch ``DataLoader`` -- its batches (``x`` or ``(x, y, ...)``) in the order it yields them;
* a tensor or numpy array of inputs (n, ...), fed as they are (no normalisation).

Floating inputs are cast to the dtype of the model's first floating parameter (float32 for
simfunc networks); the order of the rows is the order of the data.

Behaviour:

* the model runs in eval mode under ``torch.inference_mode``; every submodule's previous
  train/eval mode is restored afterwards, and the hooks are removed even when an error occurs;
* results are numpy arrays, one per layer, with the examples as rows: flattened to (n, d) with
  ``flatten=True`` (the default), else (n, *output shape). They are float32 by default
  (``dtype=``); the similarity measures convert to float64 themselves;
* a module that runs more than once in one forward pass (a shared module, an RNN cell) has no
  single output per example, so it raises InputError naming it; so does a named module that
  does not run at all, or whose output is not a tensor;
* a name that is not a submodule raises InputError listing the available names, the closest
  matches first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from simfunc.errors import InputError
from simfunc.extract.recorder import (
    INPUT_SUFFIX,
    Recorder,
    check_layer,
    layer_names,
    split_layer,
    tensor_output,
    unknown_layer,
)
from simfunc.extract.taps import is_script_module, make_taps
from simfunc.validation import check_int

__all__ = ["activations", "layer_names", "outputs", "default_feature_layer", "INPUT_SUFFIX",
           "MODEL_OUTPUT", "split_layer", "check_layer", "make_taps", "is_script_module"]

#: The layer name of a model's own output (the value its ``forward`` returns).
MODEL_OUTPUT = ""

# the names other modules have imported from here
_Recorder = Recorder
_unknown_layer = unknown_layer

def _resolve_layers(model: nn.Module, layers: str | Sequence[str]) -> list[str]:
    if isinstance(layers, str):
        layers = (layers,)
    if not isinstance(layers, Sequence) or not layers:
        raise InputError(f"layers must be a non-empty list of module names, got {layers!r}")
    names = []
    for name in layers:
        if not isinstance(name, str):
            raise InputError(f"layers must hold module names (strings), got {name!r}")
        if name in names:
            raise InputError(f"layers names {name!r} twice")
        check_layer(model, name)
        names.append(name)
    return names


def _model_dtype(model: nn.Module) -> torch.dtype:
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _model_device(model: nn.Module) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _first(item: Any, where: str) -> torch.Tensor:
    """The input of an item or batch: ``x`` or the first element of ``(x, y, ...)``."""
    if isinstance(item, (tuple, list)):
        if not item:
            raise InputError(f"{where} is an empty {type(item).__name__}: expected x or (x, y)")
        item = item[0]
    if isinstance(item, np.ndarray):
        item = torch.from_numpy(item)
    if not isinstance(item, torch.Tensor):
        raise InputError(f"{where} holds a {type(item).__name__}: expected a tensor x or (x, y)")
    return item


def _batches(data: Any, batch_size: int) -> tuple[Iterator[torch.Tensor], int | None]:
    """An iterator over input batches and the number of examples (None when unknown)."""
    from simfunc.data import ImageDataset

    if isinstance(data, ImageDataset):
        n = len(data)
        return (data.normalized(slice(s, s + batch_size)) for s in range(0, n, batch_size)), n
    if isinstance(data, (np.ndarray, torch.Tensor)):
        tensor = (
            torch.from_numpy(np.ascontiguousarray(data)) if isinstance(data, np.ndarray) else data
        )
        if tensor.ndim < 1 or tensor.shape[0] == 0:
            raise InputError(f"data has shape {tuple(tensor.shape)}: expected (examples, ...)")
        if tensor.is_complex() or tensor.dtype == torch.bool:
            raise InputError(f"data has dtype {tensor.dtype}: expected real numbers")
        n = int(tensor.shape[0])
        return (tensor[s : s + batch_size] for s in range(0, n, batch_size)), n
    if isinstance(data, DataLoader):
        return (_first(batch, "a DataLoader batch") for batch in data), None
    if isinstance(data, Dataset) and hasattr(data, "__len__"):
        n = len(data)
        if n == 0:
            raise InputError("data is an empty Dataset")

        def stacked() -> Iterator[torch.Tensor]:
            for start in range(0, n, batch_size):
                items = [
                    _first(data[i], f"data[{i}]") for i in range(start, min(n, start + batch_size))
                ]
                try:
                    yield torch.stack(items)
                except RuntimeError as error:
                    raise InputError(
                        f"the items of data[{start}:{start + batch_size}] cannot be stacked "
                        f"into a batch: {error}"
                    ) from None

        return stacked(), n
    raise InputError(
        f"data is a {type(data).__name__}: expected an ImageDataset, a map-style torch Dataset, "
        "a DataLoader, a tensor or a numpy array"
    )


def activations(
    model: nn.Module,
    data: Any,
    layers: str | Sequence[str] = ("features", "logits"),
    batch_size: int = 256,
    device: str | torch.device | None = None,
    flatten: bool = True,
    dtype: Any = np.float32,
) -> dict[str, np.ndarray]:
    """The outputs of the submodules ``layers`` of ``model`` on every example of ``data``.

    Args:
        model: any ``nn.Module``.
        data: an ImageDataset, a torch Dataset, a DataLoader, a tensor or a numpy array (see
            the module docstring).
        layers: dotted submodule names (a single name is allowed).
        batch_size: examples per forward pass (ignored for a DataLoader).
        device: where to run; None runs where the model's parameters are. A model elsewhere
            is moved for the call and moved back afterwards.
        flatten: reshape each result to (n, features).
        dtype: numpy floating dtype of the results (float32 by default).

    Returns:
        ``{layer: array}`` with one row per example, in the order of ``data``.
    """
    if not isinstance(model, nn.Module):
        raise InputError(f"model must be a torch nn.Module, got {type(model).__name__}")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if not isinstance(flatten, bool):
        raise InputError(f"flatten must be True or False, got {flatten!r}")
    try:
        out_dtype = np.dtype(dtype)
    except TypeError:
        raise InputError(f"dtype {dtype!r} is not a numpy dtype") from None
    if out_dtype.kind != "f":
        raise InputError(f"dtype must be a floating dtype, got {out_dtype}")
    names = _resolve_layers(model, layers)
    original_device = _model_device(model)
    try:
        target = original_device if device is None else torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise InputError(f"device {device!r} is not a torch device: {error}") from None
    batches, total = _batches(data, batch_size)
    input_dtype = _model_dtype(model)

    modes = {module: module.training for module in model.modules()}
    moved = target != original_device
    taps = None
    seen: dict[str, torch.Tensor] = {}

    def keep(name: str, value: Any) -> None:
        # a copy: an in-place operation later in the pass (ReLU(inplace=True) after a hooked
        # convolution) would otherwise change what was recorded
        seen[name] = tensor_output(name, value).detach().clone()

    try:
        if moved:
            model.to(target)
        model.eval()
        taps = make_taps(model, names, keep)
        if hasattr(taps, "check"):
            taps.check()
        results: dict[str, np.ndarray] = {}
        chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}
        row = 0
        with torch.inference_mode():
            for batch in batches:
                if batch.is_floating_point():
                    batch = batch.to(device=target, dtype=input_dtype)
                else:
                    batch = batch.to(target)
                seen.clear()
                taps.run(batch)
                count = int(batch.shape[0])
                for name, output in ((name, seen[name]) for name in names):
                    if output.ndim == 0 or output.shape[0] != count:
                        raise InputError(
                            f"layer {name!r} has output shape {tuple(output.shape)} for a batch "
                            f"of {count}: its first axis is not the examples"
                        )
                    array = output.detach().to("cpu").numpy().astype(out_dtype, copy=False)
                    if flatten:
                        array = array.reshape(count, -1)
                    if total is None:
                        chunks[name].append(array.copy())
                        continue
                    if name not in results:
                        results[name] = np.empty((total, *array.shape[1:]), dtype=out_dtype)
                    results[name][row : row + count] = array
                row += count
        if total is None:
            if row == 0:
                raise InputError("data yielded no examples")
            results = {name: np.concatenate(parts) for name, parts in chunks.items()}
        return {name: results[name] for name in names}
    finally:
        if taps is not None:
            taps.close()
        for module, mode in modes.items():
            module.training = mode
        if moved:
            model.to(original_device)


def outputs(
    model: nn.Module,
    data: Any,
    layer: str = "logits",
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """The logits of a simfunc classifier (or the output of ``layer``) as (n, classes)."""
    return activations(model, data, (layer,), batch_size, device)[layer]


def default_feature_layer(model: nn.Module) -> str:
    """The layer compared by default: the input of the model's last ``nn.Linear`` (the
    penultimate features of a classifier), as ``"NAME:input"``.

    Raises InputError when the model has no ``nn.Linear`` (TorchScript modules are matched by
    their original class name).
    """
    last = None
    for name, module in model.named_modules():
        if not name:
            continue
        kind = getattr(module, "original_name", None) if is_script_module(module) else None
        if isinstance(module, nn.Linear) or kind == "Linear":
            last = name
    if last is None:
        raise InputError(
            f"the {type(model).__name__} has no nn.Linear, so there is no default layer: name "
            f"the compared layer (e.g. one of {', '.join(layer_names(model)[-5:]) or 'none'})"
        )
    return last + INPUT_SUFFIX
