"""Read the pickled array batches of CIFAR and ImageNet32 without running arbitrary code.

``pickle.load`` can execute any callable a file names; these loaders only need numpy arrays,
lists, dicts and strings, so the unpickler refuses every global except numpy's array
reconstruction helpers and ``_codecs.encode`` (how protocol-2 pickles store bytes).
Python 2 pickles (the official CIFAR files) are read with ``encoding="latin1"``; dictionary
keys come back as ``str`` whether the file stored them as ``str`` or ``bytes``.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from simfunc.errors import InputError

__all__ = ["load_pickle_dict", "text"]

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            if module.startswith("numpy.core."):
                module = "numpy._core." + module[len("numpy.core.") :]
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}")


def text(value: Any) -> str:
    """A pickled name as ``str`` (Python 2 pickles give bytes or latin-1 str)."""
    return value.decode("latin1") if isinstance(value, bytes) else str(value)


def load_pickle_dict(path: Path) -> dict[str, Any]:
    """The dictionary pickled in ``path``, keys as ``str``; InputError if it is not one."""
    try:
        with open(path, "rb") as handle:
            content = _ArrayUnpickler(handle, encoding="latin1").load()
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError) as error:
        raise InputError(f"{str(path)!r} is not a readable pickled batch: {error}") from None
    if not isinstance(content, dict):
        raise InputError(f"{str(path)!r} holds a {type(content).__name__}, expected a dict")
    return {text(key): value for key, value in content.items()}
