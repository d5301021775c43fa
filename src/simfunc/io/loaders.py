"""Safe loaders for the artifact formats: nothing read from the cache can execute code.

* ``.npz`` — ``numpy.load(allow_pickle=False)``; every array is read into memory, so the file
  is closed when the function returns.
* ``.json`` — ``json.load``.
* ``.pt`` — ``torch.load(weights_only=True)``: tensors, state dicts and plain containers only;
  a checkpoint that would need arbitrary unpickling is refused with an InputError.

``load_artifact(path)`` picks the loader from the suffix. torch is imported only for ``.pt``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from simfunc.errors import InputError

__all__ = ["load_npz", "load_json", "load_torch", "load_artifact", "LOADERS"]


def _existing_file(path: str | os.PathLike[str]) -> Path:
    file = Path(path)
    if not file.is_file():
        raise InputError(f"path {str(file)!r} does not exist or is not a file")
    return file


def load_npz(path: str | os.PathLike[str]) -> dict[str, Any]:
    """All arrays of an ``.npz`` file, by name (pickled object arrays are refused)."""
    import numpy as np

    file = _existing_file(path)
    try:
        with np.load(file, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as error:  # object arrays need pickle
        raise InputError(f"{str(file)!r} cannot be loaded without pickle: {error}") from None


def load_json(path: str | os.PathLike[str]) -> Any:
    """The JSON value stored in ``path``."""
    file = _existing_file(path)
    with open(file, encoding="utf-8") as handle:
        return json.load(handle)


def load_torch(path: str | os.PathLike[str], map_location: Any = "cpu") -> Any:
    """A ``.pt`` file loaded with ``weights_only=True`` (refuses anything but plain data)."""
    import pickle

    import torch

    file = _existing_file(path)
    try:
        return torch.load(file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise InputError(
            f"{str(file)!r} is not a weights-only checkpoint and was not loaded "
            f"(loading it would run code from the file): {first_line}"
        ) from None


LOADERS = {".npz": load_npz, ".json": load_json, ".pt": load_torch}


def load_artifact(path: str | os.PathLike[str]) -> Any:
    """Load ``path`` with the safe loader for its suffix (``.npz``, ``.json`` or ``.pt``)."""
    file = Path(path)
    loader = LOADERS.get(file.suffix)
    if loader is None:
        raise InputError(
            f"path {str(file)!r} has the suffix {file.suffix!r}: known artifact formats are "
            f"{', '.join(sorted(LOADERS))}"
        )
    return loader(file)
