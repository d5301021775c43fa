"""The layer recorder: forward hooks that hand each named layer's value of one forward pass on.

A layer is named by its dotted path in ``model.named_modules()``; the value recorded is that
module's *output*, or with the suffix :data:`INPUT_SUFFIX` (``"fc:input"``) its *input* (the
single tensor it was called with). The empty name ``""`` is the model itself: its output is the
value its ``forward`` returns. :func:`split_layer` parses a name; :func:`check_layer` checks it
against a model and lists the names that exist when it is wrong.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from simfunc.errors import InputError

__all__ = ["INPUT_SUFFIX", "split_layer", "check_layer", "layer_names", "unknown_layer",
           "tensor_output"]

#: ``"name:input"`` records the input of module ``name`` rather than its output.
INPUT_SUFFIX = ":input"
_LISTED_NAMES = 40


def split_layer(name: str) -> tuple[str, bool]:
    """``(module name, records the input)`` of a layer name (see the module docstring)."""
    if name.endswith(INPUT_SUFFIX):
        return name[: -len(INPUT_SUFFIX)], True
    return name, False


def layer_names(model: nn.Module) -> list[str]:
    """The dotted names of every submodule of ``model``, in registration order."""
    return [name for name, _ in model.named_modules() if name]


def unknown_layer(model: nn.Module, name: str) -> InputError:
    """The InputError for a name that is not a submodule: the nearest names first."""
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


def check_layer(model: nn.Module, name: str) -> nn.Module:
    """The module a layer name refers to, or an InputError listing the names that exist."""
    module_name, _ = split_layer(name)
    if module_name == "":
        return model
    for name, module in model.named_modules():  # TorchScript modules have no get_submodule
        if name == module_name:
            return module
    raise unknown_layer(model, module_name)


def tensor_output(name: str, output: Any) -> torch.Tensor:
    """``output`` of layer ``name`` if it is a tensor, else an InputError saying what it is."""
    if not isinstance(output, torch.Tensor):
        raise InputError(
            f"layer {name!r} returns a {type(output).__name__}, not a tensor: hook a "
            "submodule whose output is a single tensor"
        )
    return output


def _input_of(name: str, inputs: tuple[Any, ...]) -> Any:
    if len(inputs) != 1:
        raise InputError(
            f"layer {name!r}: the module is called with {len(inputs)} inputs, so it has no "
            "single input to record; name its output, or the output of the module before it"
        )
    return inputs[0]


class Recorder:
    """Forward hooks that keep each named layer's value of the current forward pass.

    With ``consume`` (a function of ``(name, value)``), each value is handed to it inside the
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
            module = check_layer(model, name)
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
                value = _input_of(name, inputs) if split_layer(name)[1] else output
                if self.consume is None:
                    # a copy: an in-place operation later in the pass (ReLU(inplace=True) after
                    # a hooked convolution) would otherwise change what was recorded
                    kept = value.detach().clone() if isinstance(value, torch.Tensor) else value
                    self.outputs[name].append(kept)
                elif self.calls[name] == 1:
                    self.consume(name, value)

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
        """The values of the forward pass that just ran; checks each module ran once."""
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
