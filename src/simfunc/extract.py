"""Activations of any ``nn.Module`` at named submodules, by forward hooks.

    from simfunc.extract import activations
    acts = activations(model, test_data, layers=("features", "logits"))
    acts["features"].shape   # (n, feature_dim), float32

Layers are named by their dotted path in ``model.named_modules()`` (``"features"``,
``"body.3.conv1"``, ``"encoder.blocks.0"``), so this works on simfunc classifiers (their taps
``last_conv``, ``features``, ``logits``) and on any user model alike. A hook stores the
*output* of each named module; for simfunc classifiers the output of ``logits`` is the logits,
which the output measures turn into probabilities (``from_logits=True``).

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

import difflib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from simfunc.errors import InputError
from simfunc.validation import check_int

__all__ = ["activations", "layer_names", "outputs"]

_LISTED_NAMES = 40


def layer_names(model: nn.Module) -> list[str]:
    """The dotted names of every submodule of ``model``, in registration order."""
    return [name for name, _ in model.named_modules() if name]


def _unknown_layer(model: nn.Module, name: str) -> InputError:
    available = layer_names(model)
    close = difflib.get_close_matches(name, available, n=8, cutoff=0.5)
    rest = [n for n in available if n not in close]
    listing = close + rest
    shown = ", ".join(listing[:_LISTED_NAMES])
    more = f" and {len(listing) - _LISTED_NAMES} more" if len(listing) > _LISTED_NAMES else ""
    hint = f" Did you mean {', '.join(map(repr, close[:3]))}?" if close else ""
    return InputError(
        f"layer {name!r} is not a submodule of the {type(model).__name__}.{hint} "
        f"Available: {shown}{more}"
    )


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
        try:
            model.get_submodule(name)
        except AttributeError:
            raise _unknown_layer(model, name) from None
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


class _Recorder:
    """Forward hooks that keep each named module's output of the current forward pass.

    With ``consume`` (a function of ``(name, output)``), each output is handed to it inside the
    hook instead of being kept -- so a caller can reduce it (a Gram matrix, a row of a file)
    before the forward pass goes on, and no in-place operation later in the model can change
    it. :meth:`finish` then checks that every module ran exactly once.
    """

    def __init__(
        self,
        model: nn.Module,
        names: list[str],
        consume: Callable[[str, Any], None] | None = None,
    ) -> None:
        self.names = names
        self.consume = consume
        self.active = True  # hooks record only while active (two recorders on one model)
        self.outputs: dict[str, list[Any]] = {name: [] for name in names}
        self.calls: dict[str, int] = {name: 0 for name in names}
        self.handles = []
        by_module: dict[int, list[str]] = {}
        modules: dict[int, nn.Module] = {}
        for name in names:
            module = model.get_submodule(name)
            by_module.setdefault(id(module), []).append(name)
            modules[id(module)] = module
        for key, module in modules.items():
            self.handles.append(module.register_forward_hook(self._hook(by_module[key])))

    def _hook(self, names: list[str]):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if not self.active:
                return
            for name in names:
                self.calls[name] += 1
                if self.consume is None:
                    # a copy: an in-place operation later in the pass (ReLU(inplace=True) after
                    # a hooked convolution) would otherwise change what was recorded
                    kept = output.detach().clone() if isinstance(output, torch.Tensor) else output
                    self.outputs[name].append(kept)
                elif self.calls[name] == 1:
                    self.consume(name, output)

        return hook

    def finish(self) -> None:
        """Check that every named module ran exactly once in the pass; reset the counts."""
        for name in self.names:
            calls = self.calls[name]
            if calls != 1:
                problem = (
                    "did not run in the forward pass"
                    if not calls
                    else f"ran {calls} times in one forward pass (a module used more than "
                    "once, e.g. shared weights), so it has no single output per example"
                )
                raise InputError(f"layer {name!r} {problem}: hook a module that runs exactly once")
        for name in self.names:
            self.calls[name] = 0

    def take(self) -> dict[str, torch.Tensor]:
        """The outputs of the forward pass that just ran; checks each module ran once."""
        self.finish()
        taken = {}
        for name in self.names:
            calls = self.outputs[name]
            taken[name] = tensor_output(name, calls[0])
            calls.clear()
        return taken

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def tensor_output(name: str, output: Any) -> torch.Tensor:
    """``output`` of layer ``name`` if it is a tensor, else an InputError saying what it is."""
    if not isinstance(output, torch.Tensor):
        raise InputError(
            f"layer {name!r} returns a {type(output).__name__}, not a tensor: hook a "
            "submodule whose output is a single tensor"
        )
    return output


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
    recorder = None
    try:
        if moved:
            model.to(target)
        model.eval()
        recorder = _Recorder(model, names)
        results: dict[str, np.ndarray] = {}
        chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}
        row = 0
        with torch.inference_mode():
            for batch in batches:
                if batch.is_floating_point():
                    batch = batch.to(device=target, dtype=input_dtype)
                else:
                    batch = batch.to(target)
                model(batch)
                count = int(batch.shape[0])
                for name, output in recorder.take().items():
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
        if recorder is not None:
            recorder.remove()
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
