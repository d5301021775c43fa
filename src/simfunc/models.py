"""The one model loader: a simfunc model file, a TorchScript file, or a factory and its weights.

``simfunc compare``, ``simfunc map`` and ``simfunc study`` load every model through
``load_model_spec(spec, state_dict=None)``, which accepts

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

Importing a factory runs that module's code: name only code you trust. Layers of any of them
are recorded by :mod:`simfunc.extract` (forward hooks; TorchScript through its graph).

:meth:`LoadedModel.fingerprint` hashes what defines the model (the files' bytes, and for a
factory the source file of its module), so cached features are recomputed when a model
changes and reused when it does not.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
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
    files: tuple[str, ...] = ()  # the files whose bytes define the model

    def fingerprint(self) -> str:
        """SHA-256 over the kind, the factory (if any) and the bytes of :attr:`files`."""
        digest = hashlib.sha256(f"{self.kind}\0{self.details.get('factory', '')}".encode())
        for path in self.files:
            digest.update(b"\0")
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()


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


def load_model_spec(
    spec: str,
    state_dict: str | os.PathLike[str] | None = None,
    *,
    search_path: tuple[str, ...] = (),
    state_dict_name: str = "--state-dict",
) -> LoadedModel:
    """Load the model ``spec`` names (see the module docstring), on the CPU.

    ``search_path``: directories searched first for a factory's module (after them, the
    current directory). ``state_dict_name``: what error messages call the weights argument
    (``--state-dict`` on the command line, ``state_dict`` in a study's configuration).
    """
    if not isinstance(spec, str) or not spec:
        raise InputError(f"a model must be a path or package.module:factory, got {spec!r}")
    path = Path(spec).expanduser()
    if path.exists():
        if state_dict is not None:
            raise InputError(
                f"{state_dict_name} applies to a package.module:factory model, not to the file "
                f"{spec}"
            )
        return _load_file(path)
    if ":" in spec and not spec.endswith((".pt", ".ts", ".pth")):
        return _load_factory(spec, state_dict, search_path, state_dict_name)
    raise InputError(
        f"model {spec!r} does not exist (no such file or directory) and is not of the form "
        "package.module:factory"
    )


def _load_file(path: Path) -> LoadedModel:
    if path.is_file() and _is_torchscript(path):
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except RuntimeError as error:
            raise InputError(f"{path}: could not be loaded as TorchScript: {error}") from None
        return LoadedModel(module, _label(path), "torchscript", details={"path": str(path)},
                           files=(str(path),))
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
                       details, files=(str(Path(details["path"]) if path.is_file()
                                            else path / "model.pt"),))


def _load_factory(spec: str, state_dict: str | os.PathLike[str] | None,
                  search_path: tuple[str, ...], state_dict_name: str) -> LoadedModel:
    module_name, _, attribute = spec.rpartition(":")
    if not module_name or not attribute:
        raise InputError(f"model {spec!r}: expected package.module:factory")
    for folder in (os.getcwd(), *reversed(search_path)):
        folder = os.path.abspath(folder)
        if folder not in sys.path:
            sys.path.insert(0, folder)
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
    files = []
    source = _source_file(module)
    if source is not None:
        files.append(source)
    if state_dict is not None:
        _load_weights(model, Path(state_dict), spec, state_dict_name)
        details["state_dict"] = str(state_dict)
        files.append(str(state_dict))
    return LoadedModel(model, attribute.rsplit(".", 1)[-1], "factory", details=details,
                       files=tuple(files))


def _source_file(module: Any) -> str | None:
    try:
        source = inspect.getsourcefile(module)
    except TypeError:  # a built-in or extension module
        return None
    return source if source is not None and os.path.isfile(source) else None


def _load_weights(model: nn.Module, path: Path, spec: str, what: str) -> None:
    from simfunc.io import load_torch

    if not path.is_file():
        raise InputError(f"{what} {path}: no such file")
    try:
        content = load_torch(path)
    except InputError:
        raise
    except Exception as error:  # torch's safe unpickler refusing code, a corrupt archive
        raise InputError(f"{what} {path}: could not be read safely ({error})") from None
    if isinstance(content, Mapping) and isinstance(content.get("state_dict"), Mapping):
        content = content["state_dict"]
    if not isinstance(content, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in content.values()
    ):
        raise InputError(f"{what} {path}: expected a state dict (names to tensors)")
    state = dict(content)
    if state and all(key.startswith("module.") for key in state):
        state = {key[len("module."):]: value for key, value in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        lines = str(error).splitlines()
        detail = " ".join(line.strip() for line in lines[1:3]) or lines[0]
        raise InputError(
            f"{what} {path} does not fit {spec}: {detail[:400]}"
        ) from None
