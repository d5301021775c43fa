"""On-disk cache of decoded images, so repeated runs and worker processes decode once.

One ``.npz`` file per (dataset, source folder, split, image size, channels, subset, seed):
its file name is a hash of those settings, and it stores, beside the uint8 images, labels
and class names, the full key -- those settings plus a fingerprint of every source file's
relative path, size and modification time. A cache file whose stored key differs from the
current one (a file was added, removed, replaced or touched) is decoded again and
overwritten, so the cache holds one file per setting, never a stale one. Files are written to
a temporary file in the cache folder and moved into place with ``os.replace``: a reader never
sees half a file, and concurrent writers just race to write the same content.

The cache folder is the ``cache_dir`` argument, else ``$SIMFUNC_CACHE/data`` when the
environment variable ``SIMFUNC_CACHE`` is set, else ``~/.cache/simfunc/data``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from simfunc.data.sources import FileListing
from simfunc.io.atomic import atomic_writer

__all__ = [
    "CACHE_VERSION",
    "default_cache_dir",
    "cache_key",
    "cache_path",
    "read_cache",
    "write_cache",
]

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``$SIMFUNC_CACHE/data``, or ``~/.cache/simfunc/data``."""
    root = os.environ.get("SIMFUNC_CACHE")
    if root:
        return Path(root).expanduser() / "data"
    return Path.home() / ".cache" / "simfunc" / "data"


def _fingerprint(listing: FileListing) -> str:
    digest = hashlib.sha256()
    root = os.fspath(listing.root) + os.sep
    for path in listing.paths:
        name = os.fspath(path)
        stat = os.stat(name)
        relative = name[len(root) :] if name.startswith(root) else name
        digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def cache_key(
    listing: FileListing,
    image_size: int,
    channels: int,
    subset: int | None,
    seed: int,
    classes: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Everything the decoded images depend on (``classes``: the class filter, if any)."""
    return {
        "classes": list(classes) if classes is not None else None,
        "version": CACHE_VERSION,
        "name": listing.name,
        "root": str(Path(listing.root).resolve()),
        "split": listing.split,
        "image_size": image_size,
        "channels": channels,
        "subset": subset,
        "seed": seed if subset is not None else None,
        "files": len(listing.paths),
        "fingerprint": _fingerprint(listing),
    }


def cache_path(cache_dir: Path, key: dict[str, Any]) -> Path:
    """The cache file for ``key``: named by the settings, not by the fingerprint."""
    settings = {k: v for k, v in key.items() if k not in ("fingerprint", "files")}
    slot = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]
    safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in key["name"])
    return Path(cache_dir) / f"{safe_name}-{key['split']}-{key['image_size']}px-{slot}.npz"


def read_cache(
    path: Path, key: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]] | None:
    """(images, labels, classes) stored under ``path`` for exactly ``key``, else None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if json.loads(str(archive["key"])) != json.loads(json.dumps(key)):
                return None
            return archive["images"], archive["labels"], tuple(str(c) for c in archive["classes"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:  # truncated
        warnings.warn(f"ignoring unreadable cache file {path}: {error}", stacklevel=3)
        return None


def write_cache(
    path: Path,
    key: dict[str, Any],
    images: np.ndarray,
    labels: np.ndarray,
    classes: tuple[str, ...],
) -> bool:
    """Write atomically; on failure (read-only disk, full disk) warn and return False."""
    try:
        with atomic_writer(path) as out:
            np.savez(
                out,
                key=np.array(json.dumps(key, sort_keys=True)),
                images=images,
                labels=labels,
                classes=np.array(classes, dtype=str) if classes else np.array([], dtype=str),
            )
    except OSError as error:
        warnings.warn(f"could not write the decoded-image cache {path}: {error}", stacklevel=3)
        return False
    return True
