"""A model named on the command line: a simfunc model file, a TorchScript file, or a factory.

``load_model_spec(spec, state_dict=None)`` accepts

* a ``model.pt`` written by ``simfunc train`` (or its training directory): the network is
  rebuilt from its configuration (``simfunc.train.modelfile.load_model``);
* a TorchScript file (``torch.jit.save`` of a scripted or traced module), loaded with
  ``torch.jit.load``; its layers are reached through its graph (see :mod:`.taps`);
* ``package.module:factory`` -- an importable callable (function or class) that returns an
  ``nn.Module`` when called without arguments, or an ``nn.Module`` object itself (the current
  directory is searched first, as ``python -m`` does); with ``state_dict`` a file of weights
  (a state dict, or a dict holding one under ``"state_dict"``; read with
  ``torch.load(weights_only=True)``, a ``module.`` prefix from DataParallel removed) is loaded
  strictly.

Importing a factory runs that module's code: name only code you trust.
"""

from __future__ import annotations

import importlib
import os
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from simfunc.errors import InputError

__all__ = ["LoadedModel", "load_model_spec"]


@dataclass
class LoadedModel:
    """A model and what the command line needs to know about it."""

    module: nn.Module
    label: str  # a short name for titles
    kind: str  # "simfunc", "torchscript" or "factory"
    input_size: int | None = None  # simfunc models know their input
    in_channels: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any("/code/" in name for name in names) and any(
        name.endswith("constants.pkl") for name in names
    )


def _label(path: Path) -> str:
    return path.parent.name if path.name == "model.pt" else path.stem


def load_model_spec(spec: str, state_dict: str | os.PathLike[str] | None = None) -> LoadedModel:
    """Load the model ``spec`` names (see the module docstring), on the CPU."""
    if not isinstance(spec, str) or not spec:
        raise InputError(f"a model must be a path or package.module:factory, got {spec!r}")
    path = Path(spec).expanduser()
    if path.exists():
        if state_dict is not None:
            raise InputError(
                f"--state-dict applies to a package.module:factory model, not to the file {spec}"
            )
        return _load_file(path)
    if ":" in spec:
        return _load_factory(spec, state_dict)
    raise InputError(
        f"model {spec!r}: no such file or directory, and not of the form package.module:factory"
    )


def _load_file(path: Path) -> LoadedModel:
    if path.is_file() and _is_torchscript(path):
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except RuntimeError as error:
            raise InputError(f"{path}: could not be loaded as TorchScript: {error}") from None
        return LoadedModel(module, _label(path), "torchscript", details={"path": str(path)})
    from simfunc.train.modelfile import load_model

    try:
        model = load_model(path)
    except InputError as error:
        if path.is_file() and "no 'simfunc.model' header" in str(error):
            raise InputError(
                f"{path} is neither a simfunc model file nor TorchScript: if it holds weights "
                "(a state dict), give the architecture as package.module:factory and this file "
                "with --state-dict"
            ) from None
        raise
    details = {"path": str(path), "architecture": model.architecture, "width": model.width,
               "epochs": getattr(model, "trained_epochs", None)}
    return LoadedModel(model, _label(path), "simfunc", model.input_size, model.in_channels,
                       details)


def _load_factory(spec: str, state_dict: str | os.PathLike[str] | None) -> LoadedModel:
    module_name, _, attribute = spec.rpartition(":")
    if not module_name or not attribute:
        raise InputError(f"model {spec!r}: expected package.module:factory")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise InputError(f"model {spec!r}: cannot import {module_name!r}: {error}") from None
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise InputError(f"model {spec!r}: {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if isinstance(target, nn.Module):
        model = target
    elif callable(target):
        try:
            model = target()
        except TypeError as error:
            raise InputError(
                f"model {spec!r}: calling {attribute}() without arguments failed ({error}); "
                "point at a function that builds the model with its settings"
            ) from None
    else:
        raise InputError(f"model {spec!r}: {attribute!r} is a {type(target).__name__}, not a "
                         "function, class or nn.Module")
    if not isinstance(model, nn.Module):
        raise InputError(f"model {spec!r}: {attribute}() returned a {type(model).__name__}, "
                         "not an nn.Module")
    details: dict[str, Any] = {"factory": spec}
    if state_dict is not None:
        _load_weights(model, Path(state_dict), spec)
        details["state_dict"] = str(state_dict)
    return LoadedModel(model, attribute.rsplit(".", 1)[-1], "factory", details=details)


def _load_weights(model: nn.Module, path: Path, spec: str) -> None:
    from simfunc.io import load_torch

    if not path.is_file():
        raise InputError(f"--state-dict {path}: no such file")
    try:
        content = load_torch(path)
    except InputError:
        raise
    except Exception as error:  # torch's safe unpickler refusing code, a corrupt archive
        raise InputError(f"--state-dict {path}: could not be read safely ({error})") from None
    if isinstance(content, Mapping) and isinstance(content.get("state_dict"), Mapping):
        content = content["state_dict"]
    if not isinstance(content, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in content.values()
    ):
        raise InputError(f"--state-dict {path}: expected a state dict (names to tensors)")
    state = dict(content)
    if state and all(key.startswith("module.") for key in state):
        state = {key[len("module."):]: value for key, value in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        lines = str(error).splitlines()
        detail = " ".join(line.strip() for line in lines[1:3]) or lines[0]
        raise InputError(
            f"--state-dict {path} does not fit {spec}: {detail[:400]}"
        ) from None
