"""Read a feature or output matrix saved by the user: ``.npy``, ``.npz`` or ``.pt``.

``.npz`` files and ``.pt`` files holding a dict need ``key`` when they hold more than one array.
``.pt`` files are read with ``torch.load(weights_only=True)``: a file can never execute code.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from simfunc.errors import InputError

__all__ = ["load_array", "SUFFIXES"]

SUFFIXES = (".npy", ".npz", ".pt", ".pth")


def _pick(arrays: dict[str, Any], key: str | None, path: Path) -> Any:
    if key is not None:
        if key not in arrays:
            raise InputError(f"{path}: no array named {key!r}; it holds {', '.join(sorted(arrays))}")
        return arrays[key]
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    raise InputError(
        f"{path} holds several arrays ({', '.join(sorted(arrays))}): say which with --key"
    )


def load_array(path: str | Path, key: str | None = None) -> np.ndarray:
    """The array stored at ``path`` as numpy (dtype unchanged), or an InputError saying why not."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(SUFFIXES)}")
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return np.asarray(_pick({name: archive[name] for name in archive.files}, key, path))
        import torch

        value = torch.load(path, map_location="cpu", weights_only=True)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise InputError(f"{path}: could not be read ({error})") from None
    except Exception as error:  # torch's unpickler refusing code, corrupt archives
        raise InputError(f"{path}: could not be read safely ({type(error).__name__}: {error})") from None
    if isinstance(value, dict):
        value = _pick(value, key, path)
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise InputError(f"{path}: holds a {type(value).__name__}, not an array")
    return value
