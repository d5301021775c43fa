"""Atomic file writes: a file is either absent, its old complete version, or its new complete one.

Every writer here writes to a temporary file in the *same directory* as the target, flushes
and fsyncs it, then ``os.replace``-s it onto the target (an atomic rename on POSIX) and fsyncs
the directory so that the rename itself survives a power cut. A writer killed at any moment
leaves at most a temporary file behind, whose name contains ``TEMP_MARKER``; the cache deletes
such leftovers before a job resumes and before it commits.

Job code uses these helpers for every file it writes into its output directory:

    atomic_save_npz(ctx.output_dir / "features.npz", features=X, labels=y)
    atomic_write_json(ctx.output_dir / "metrics.json", {"accuracy": 0.93})
    atomic_torch_save(ctx.output_dir / "weights.pt", model.state_dict())

numpy and torch are imported only when the helper that needs them is called.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from simfunc.errors import InputError

__all__ = [
    "TEMP_MARKER",
    "is_temp_file",
    "atomic_writer",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_save_npz",
    "atomic_torch_save",
    "fsync_directory",
]

TEMP_MARKER = ".simfunc-tmp-"


def _file_mode() -> int:
    """The mode ``open()`` would give a new file: 0o666 less this process's umask."""
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return 0o666 & ~mask


# mkstemp creates its files private (0600); artifacts are shared (a cluster's nodes, a web
# server showing a report), so written files get the permissions an ordinary write would give
_FILE_MODE = _file_mode()


def is_temp_file(path: Path) -> bool:
    """Whether ``path`` is the leftover temporary file of an interrupted atomic write."""
    return TEMP_MARKER in path.name


def fsync_directory(directory: Path) -> None:
    """Make renames and creations inside ``directory`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a binary file that replaces ``path`` atomically when the block ends without error.

    If the block raises (or the process dies), ``path`` is untouched and the temporary file is
    removed (or, after a kill, left behind under a name containing ``TEMP_MARKER``).
    """
    target = Path(path)
    if target.name == "" or target.is_dir():
        raise InputError(f"path {str(target)!r} is a directory: expected a file path")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}{TEMP_MARKER}", dir=target.parent)
    temp = Path(temp_name)
    try:
        with contextlib.suppress(OSError):  # a file system without permissions keeps its own
            os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_directory(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InputError(f"data is a {type(data).__name__}: expected bytes")
    with atomic_writer(path) as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    if not isinstance(text, str):
        raise InputError(f"text is a {type(text).__name__}: expected str")
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], value: Any, indent: int | None = 2) -> Path:
    """Write ``value`` as JSON (sorted keys) atomically; NaN and infinities are rejected."""
    try:
        text = json.dumps(value, indent=indent, sort_keys=True, allow_nan=False)
    except ValueError as error:  # NaN / inf
        raise InputError(f"value for {str(path)!r} cannot be written as JSON: {error}") from None
    except TypeError as error:
        raise InputError(f"value for {str(path)!r} is not JSON-serialisable: {error}") from None
    return atomic_write_text(path, text + "\n")


def atomic_save_npz(path: str | os.PathLike[str], compressed: bool = False, **arrays: Any) -> Path:
    """Save named arrays as an ``.npz`` atomically (readable with ``allow_pickle=False``).

    Object arrays are rejected: they would need pickle to load, which the cache never allows.
    """
    import numpy as np

    if not arrays:
        raise InputError("atomic_save_npz needs at least one named array")
    converted = {}
    for name, array in arrays.items():
        value = np.asarray(array)
        if value.dtype.hasobject:
            raise InputError(
                f"array {name!r} has dtype object: .npz artifacts are loaded without pickle, "
                "so only numeric, boolean and string arrays can be stored"
            )
        converted[name] = value
    save = np.savez_compressed if compressed else np.savez
    with atomic_writer(path) as handle:
        save(handle, **converted)
    return Path(path)


def atomic_torch_save(path: str | os.PathLike[str], obj: Any) -> Path:
    """``torch.save(obj)`` atomically. Store tensors, state dicts and plain containers only:
    the cache loads ``.pt`` files with ``weights_only=True``."""
    import torch

    with atomic_writer(path) as handle:
        torch.save(obj, handle)
    return Path(path)
