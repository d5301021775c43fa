"""Where layer outputs come from: forward hooks on a Python model, a rewritten graph on TorchScript.

Both kinds of tap take a ``consume(name, output)`` function and call it once per named layer
in each forward pass, with that layer's value for the batch (its output; its input for a name
ending in ``":input"``; the model's own output for ``""``, see :mod:`.recorder`):

* :class:`ModuleTaps` -- forward hooks by dotted name (:class:`.recorder.Recorder`), the
  value handed over inside the hook, before any later in-place operation can change it;
* :class:`ScriptTaps` -- a loaded TorchScript module cannot take Python hooks, so its inlined
  forward graph is copied and made to also return the value each named submodule produces:
  the value computed inside that submodule's scope (``Node.getModuleHierarchy``) and used
  outside it. The copy is compiled once into a function; the model itself is not changed.
  A submodule that leaves no operation in the graph (an ``nn.Identity``), runs inside a loop
  or branch, or runs more than once is reported by name. Its outputs are cloned where they are
  made, so later in-place operations cannot change them. A submodule's *input* is the one
  tensor computed outside its scope that operations inside it read.

:func:`make_taps` picks the kind; :func:`simfunc.extract.activations`, the layer map and every
comparison of models record layers through it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from simfunc.errors import InputError
from simfunc.extract.recorder import Recorder, check_layer, split_layer

__all__ = ["ModuleTaps", "ScriptTaps", "is_script_module", "make_taps", "module_names"]

Consume = Callable[[str, Any], None]


def is_script_module(model: nn.Module) -> bool:
    """Whether ``model`` is a TorchScript module (scripted, traced or loaded from a file)."""
    return isinstance(model, torch.jit.ScriptModule)


def module_names(model: nn.Module) -> dict[str, nn.Module]:
    """``{dotted name: submodule}`` of every submodule (the root excluded), in order."""
    return {name: module for name, module in model.named_modules() if name}


def check_names(model: nn.Module, names: Sequence[str]) -> None:
    """InputError listing the available names for the first name that is not a submodule."""
    for name in names:
        check_layer(model, name)


class ModuleTaps:
    """Forward hooks on the named submodules of a Python ``nn.Module``."""

    def __init__(self, model: nn.Module, names: list[str], consume: Consume) -> None:
        check_names(model, names)
        self.model = model
        self.names = names
        self._recorder = Recorder(model, names, consume=consume)
        self._recorder.active = False  # only during this object's own passes

    def run(self, batch: torch.Tensor) -> None:
        """One forward pass; every named layer's output goes to ``consume`` exactly once."""
        self._forward(batch)
        self._recorder.finish()

    def _forward(self, batch: torch.Tensor) -> None:
        # inactive outside: the same model may carry the other side's taps (data_b)
        self._recorder.active = True
        try:
            self.model(batch)
        finally:
            self._recorder.active = False

    def probe(self, batch: torch.Tensor) -> dict[str, int]:
        """Run once without checking; return how many times each layer ran."""
        self._forward(batch)
        calls = dict(self._recorder.calls)
        for name in self.names:
            self._recorder.calls[name] = 0
        return calls

    def close(self) -> None:
        self._recorder.remove()


_SCOPE = re.compile(r"([^.()]+)\(([^()]*)\)")
_HIDDEN_SCOPES = {"SELF", "UNKNOWN_INSTANCE"}


def _scope_path(node: Any) -> str:
    """The dotted submodule path a graph node was inlined from ('' at the top level)."""
    parts = [name for name, _type in _SCOPE.findall(node.getModuleHierarchy())]
    return ".".join(part for part in parts if part not in _HIDDEN_SCOPES)


# operations that read a tensor's metadata, not its values (shape checks of inlined helpers)
_METADATA_OPS = {
    "aten::size", "aten::dim", "aten::len", "aten::numel", "aten::is_floating_point",
    "prim::shape", "prim::dtype", "prim::device", "prim::is_cuda", "aten::__is__",
    "aten::__isnot__",
}


def _computes(node: Any) -> bool:
    """Whether a node computes something (not a constant, a parameter or a list of constants)."""
    kind = node.kind()
    if kind in ("prim::Constant", "prim::GetAttr"):
        return False
    if kind == "prim::ListConstruct":
        return any(value.node().kind() != "prim::Constant" for value in node.inputs())
    return True


def _carries_data(value: Any) -> bool:
    """Tensors and containers (which may hold tensors); not the ints and bools of shape checks."""
    kind = value.type().kind()
    return kind in ("TensorType", "TupleType", "ListType", "DictType", "ClassType")


def _user(use: Any) -> Any:
    """The node that consumes a value: a branch's or loop's own node for its block's return."""
    user = use.user
    while user.kind() == "prim::Return":
        owner = user.owningBlock().owningNode()
        if owner is None:
            break
        user = owner
    return user


def _inside(path: str, scope: str) -> bool:
    return path == scope or path.startswith(scope + ".")


class ScriptTaps:
    """The named submodules' outputs of a TorchScript module, from a copy of its graph."""

    def __init__(self, model: torch.jit.ScriptModule, names: list[str], consume: Consume) -> None:
        check_names(model, names)
        self.model = model
        self.names = names
        self.consume = consume
        self.problems: dict[str, str] = {}
        self._function = self._compile(names)

    def _compile(self, names: list[str]) -> Any:
        graph = self.model.inlined_graph  # a fresh copy: the model's own graph is not touched
        inputs = list(graph.inputs())
        if len(inputs) != 2:
            raise InputError(
                f"the TorchScript model's forward takes {len(inputs) - 1} inputs: simfunc "
                "feeds it one batch tensor"
            )
        nodes = list(graph.nodes())
        paths = [_scope_path(node) for node in nodes]
        graph_outputs = {value.debugName() for value in graph.outputs()}
        found: dict[str, Any] = {}
        for name in names:
            scope, wants_input = split_layer(name)
            if wants_input:
                self._find_input(name, scope, nodes, paths, inputs[1], found)
            elif scope == "":
                output = next(iter(graph.outputs()))
                if isinstance(output.type(), torch._C.TensorType):
                    found[name] = output
                else:
                    self.problems[name] = (f"(the model's output) is a {output.type()}, not a "
                                           "tensor: name the submodule whose output is the logits")
            else:
                self._find_output(name, scope, nodes, paths, graph_outputs, found)
        if self.problems:
            return None
        outputs = [next(iter(graph.outputs()))]
        none = graph.insertConstant(None)
        none.node().moveBefore(nodes[0])
        for name in names:
            value = found[name]
            clone = graph.create("aten::clone", [value, none], 1)
            if value.node().kind() == "prim::Param":  # the batch itself
                clone.insertBefore(nodes[0])
            else:
                clone.insertAfter(value.node())
            clone.output().setType(value.type())
            outputs.append(clone.output())
        pack = graph.create("prim::TupleConstruct", outputs, 1)
        pack.insertBefore(graph.return_node())
        pack.output().setType(torch._C.TupleType([value.type() for value in outputs]))
        graph.eraseOutput(0)
        graph.registerOutput(pack.output())
        return torch._C._create_function_from_graph("simfunc_layer_taps", graph)

    def _find_output(self, name: str, scope: str, nodes: list, paths: list[str],
                     graph_outputs: set[str], found: dict[str, Any]) -> None:
        values = []
        inside = [node for node, path in zip(nodes, paths)
                  if _inside(path, scope) and _computes(node)]
        for node in inside:
            for value in node.outputs():
                if not _carries_data(value):
                    continue
                leaves = value.debugName() in graph_outputs or any(
                    not _inside(_scope_path(user), scope) and user.kind() not in _METADATA_OPS
                    for user in (_user(use) for use in value.uses())
                )
                if leaves:
                    values.append(value)
        if not inside:
            self.problems[name] = (
                "leaves no operation in the compiled graph (an nn.Identity, or code the "
                "compiler removed), so its output cannot be found in a TorchScript model: "
                "choose the layer that computes it"
            )
        elif not values:
            self.problems[name] = "has no output that the rest of the model uses"
        elif len(values) > 1:
            self.problems[name] = (
                f"hands {len(values)} values to the rest of the model (it runs more than "
                "once, or returns several), so it has no single output per example"
            )
        elif not isinstance(values[0].type(), torch._C.TensorType):
            self.problems[name] = (
                f"returns a {values[0].type()}, not a tensor: choose a submodule whose "
                "output is a single tensor"
            )
        else:
            found[name] = values[0]

    def _find_input(self, name: str, scope: str, nodes: list, paths: list[str],
                    graph_input: Any, found: dict[str, Any]) -> None:
        """The one tensor made outside ``scope`` that operations inside it read."""
        if scope == "":
            found[name] = graph_input
            return
        candidates: dict[str, Any] = {}
        inside = [node for node, path in zip(nodes, paths)
                  if _inside(path, scope) and _computes(node)]
        for node in inside:
            for value in node.inputs():
                producer = value.node()
                if producer.kind() in ("prim::Constant", "prim::GetAttr"):
                    continue
                if producer.kind() != "prim::Param" and _inside(_scope_path(producer), scope):
                    continue
                if isinstance(value.type(), torch._C.TensorType):
                    candidates[value.debugName()] = value
        if not inside:
            self.problems[name] = (
                "leaves no operation in the compiled graph, so its input cannot be found in a "
                "TorchScript model: choose another layer"
            )
        elif len(candidates) != 1:
            self.problems[name] = (
                f"reads {len(candidates)} tensors made outside it, so it has no single input "
                "to record: name an output instead"
            )
        else:
            found[name] = next(iter(candidates.values()))

    def check(self) -> None:
        """InputError naming every layer whose output cannot be taken."""
        if self.problems:
            lines = "; ".join(f"layer {name!r} {text}" for name, text in self.problems.items())
            raise InputError(lines)

    def run(self, batch: torch.Tensor) -> None:
        self.check()
        results = self._function(self.model._c, batch)
        for name, output in zip(self.names, results[1:]):
            self.consume(name, output)

    def close(self) -> None:
        self._function = None


def make_taps(model: nn.Module, names: list[str], consume: Consume) -> ModuleTaps | ScriptTaps:
    """Hooks for a Python model, a rewritten graph for a TorchScript one."""
    if is_script_module(model):
        return ScriptTaps(model, names, consume)
    return ModuleTaps(model, names, consume)
