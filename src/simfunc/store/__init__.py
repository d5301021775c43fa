"""Artifact cache and results database: the storage the runner and the studies sit on.

* :class:`Cache` — directories of files keyed by :func:`config_hash`, committed atomically with
  a checksummed manifest, verified on lookup (a damaged entry is recomputed, never loaded).
* :mod:`simfunc.store.atomic` — the atomic writers job code uses for every file.
* :mod:`simfunc.store.loaders` — safe loaders (no pickle, ``torch.load(weights_only=True)``).
* :class:`ResultsDB` — the SQLite results database (runs, models, pairs, scalars).

This package knows nothing about studies, networks or measures. It imports neither numpy,
pandas nor torch until a function that needs them is called.
"""

from __future__ import annotations

from simfunc.store.atomic import (
    atomic_save_npz,
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    atomic_writer,
)
from simfunc.store.cache import MANIFEST_NAME, Cache
from simfunc.store.hashing import FORMAT_VERSION, canonical_json, config_hash
from simfunc.store.loaders import load_artifact, load_json, load_npz, load_torch
from simfunc.store.results import ResultsDB

__all__ = [
    "Cache",
    "ResultsDB",
    "MANIFEST_NAME",
    "FORMAT_VERSION",
    "canonical_json",
    "config_hash",
    "atomic_writer",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_save_npz",
    "atomic_torch_save",
    "load_artifact",
    "load_json",
    "load_npz",
    "load_torch",
]
