"""Per-layer features as float32 memory-mapped ``.npy`` files in the artifact cache.

A layer map with a measure other than linear CKA needs every layer's features of every
example. They are written, batch by batch, into one ``(n, width)`` float32 ``.npy`` per layer
(``numpy.lib.format.open_memmap``) in the staging directory of a cache entry
(namespace ``layer-features``), which is committed (checksummed manifest, atomic rename) when
the pass is complete, then read back memory-mapped: RAM holds the pages in use, not the
features. The entry's key hashes the two models' weights, the layer names, the data and the
order of the examples, so a rerun finds it and skips the forward passes. When the data cannot
be fingerprinted (a DataLoader, a custom Dataset) the entry is made under a one-off key and
deleted after the map.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simfunc.io import config_hash
from simfunc.store import Cache

__all__ = ["FeatureStore", "data_fingerprint", "default_cache_root", "model_fingerprint"]

NAMESPACE = "layer-features"


def default_cache_root() -> Path:
    """``$SIMFUNC_CACHE``, else ``./cache`` (the project's artifact cache)."""
    return Path(os.environ.get("SIMFUNC_CACHE", "cache")).expanduser()


def model_fingerprint(model: torch.nn.Module) -> str:
    """sha256 of a model's class, its parameters and buffers (names, dtypes, shapes, values)."""
    digest = hashlib.sha256(type(model).__qualname__.encode())
    if isinstance(model, torch.jit.ScriptModule):
        digest.update(str(model.inlined_graph).encode())
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def data_fingerprint(data: Any) -> str | None:
    """sha256 of in-memory data (arrays, tensors, ImageDatasets); None when it has no such."""
    from simfunc.data import ImageDataset

    digest = hashlib.sha256()
    if isinstance(data, ImageDataset):
        digest.update(f"{data.mean}:{data.std}".encode())
        data = data.images
    if isinstance(data, torch.Tensor):
        data = data.detach().to("cpu").contiguous().numpy()
    if not isinstance(data, np.ndarray):
        return None
    digest.update(f"{data.dtype}:{data.shape}".encode())
    digest.update(np.ascontiguousarray(data).tobytes())
    return digest.hexdigest()


class FeatureStore:
    """The memory-mapped features of one map's layers (see the module docstring).

    Args:
        root: the cache directory.
        config: what the features depend on (JSON values), or None for a one-off entry.
        layout: ``{file stem: (rows, width)}`` of the arrays to hold.
    """

    def __init__(self, root: str | os.PathLike[str], config: dict | None,
                 layout: dict[str, tuple[int, int]]) -> None:
        self.cache = Cache(root)
        self.layout = layout
        self.one_off = config is None
        if config is None:
            self.key = f"once-{uuid.uuid4().hex[:20]}"
        else:
            self.key = config_hash("layer_features", {**config, "layout": layout})
        self.config = config
        self._staging: Path | None = None
        self.entry: Path | None = None

    def lookup(self) -> dict[str, np.ndarray] | None:
        """The committed arrays (read-only memory maps) when this entry exists, else None."""
        if self.one_off:
            return None
        entry = self.cache.lookup(NAMESPACE, self.key)
        if entry is None:
            return None
        self.entry = entry
        return self._open(entry)

    def writable(self) -> dict[str, np.ndarray]:
        """Fresh float32 memory maps in the staging directory, one per layout entry."""
        staging = self.cache.prepare_staging(NAMESPACE, self.key)
        self._staging = staging
        arrays = {}
        for stem, (rows, width) in self.layout.items():
            arrays[stem] = np.lib.format.open_memmap(
                staging / f"{stem}.npy", mode="w+", dtype=np.float32, shape=(rows, width)
            )
        return arrays

    def commit(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Flush the written maps, commit the entry, and reopen its arrays read-only."""
        for array in arrays.values():
            array.flush()
        del arrays
        assert self._staging is not None
        self.entry = self.cache.commit(
            self._staging, fn="simfunc.layermap.features", config=self.config or {}
        )
        return self._open(self.entry)

    def _open(self, entry: Path) -> dict[str, np.ndarray]:
        return {
            stem: np.load(entry / f"{stem}.npy", mmap_mode="r", allow_pickle=False)
            for stem in self.layout
        }

    def discard(self) -> None:
        """Delete a one-off entry (or an unfinished staging directory)."""
        if self._staging is not None:
            self.cache.discard_staging(NAMESPACE, self.key)
        if self.one_off and self.entry is not None:
            shutil.rmtree(self.entry, ignore_errors=True)
