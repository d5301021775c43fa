"""Which layers a map compares: dotted names, a predicate, or every leaf module.

``layers`` may be

* a list of dotted submodule names (``["body.1.0", "body.2.0.conv1", "logits"]``) -- kept in
  the given order; a name that is not a submodule raises InputError listing the names that
  exist, closest first; a layer that does not run exactly once, or whose output is not a
  tensor, raises InputError naming it;
* a single name (a map with one row or column);
* a predicate ``f(name, module) -> bool`` over ``model.named_modules()`` (root excluded), e.g.
  ``lambda name, m: isinstance(m, BasicBlock)``;
* ``"all"``: every leaf module (one without submodules), in registration order.

A predicate or ``"all"`` selects layers automatically, so layers it picks that cannot be
compared (a module that never runs or runs twice per pass, an ``nn.Identity`` inside a
TorchScript graph, a non-tensor output) are left out with a warning instead of an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from simfunc.errors import InputError

from simfunc.extract.taps import check_names, module_names

__all__ = ["LayerSpec", "Selection", "select_layers"]

LayerSpec = str | Sequence[str] | Callable[[str, nn.Module], bool]


@dataclass(frozen=True)
class Selection:
    """The layer names chosen, and whether they were chosen automatically (leave-out allowed)."""

    names: list[str]
    automatic: bool


def select_layers(model: nn.Module, layers: Any, argument: str) -> Selection:
    """Resolve a layer specification (see the module docstring) to dotted names."""
    modules = module_names(model)
    if isinstance(layers, str) and layers == "all":
        names = [name for name, module in modules.items() if not list(module.children())]
        if not names:
            raise InputError(f"{argument}='all': the model has no submodules to compare")
        return Selection(names, automatic=True)
    if callable(layers) and not isinstance(layers, (str, nn.Module)):
        names = []
        for name, module in modules.items():
            try:
                chosen = layers(name, module)
            except Exception as error:  # the user's predicate: say where it failed
                raise InputError(
                    f"{argument}: the predicate raised {type(error).__name__} on layer "
                    f"{name!r}: {error}"
                ) from None
            if chosen:
                names.append(name)
        if not names:
            raise InputError(f"{argument}: the predicate selected no layer")
        return Selection(names, automatic=True)
    if isinstance(layers, str):
        layers = [layers]
    if not isinstance(layers, Sequence) or not layers:
        raise InputError(
            f"{argument} must be 'all', a predicate f(name, module), or a non-empty list of "
            f"module names; got {layers!r}"
        )
    names = []
    for name in layers:
        if not isinstance(name, str):
            raise InputError(f"{argument} must hold module names (strings), got {name!r}")
        if name in names:
            raise InputError(f"{argument} names {name!r} twice")
        names.append(name)
    check_names(model, names)
    return Selection(names, automatic=False)
