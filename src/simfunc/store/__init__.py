"""Artifact cache and results database: the storage the runner and the studies sit on.

* :class:`Cache` — directories of files keyed by :func:`simfunc.io.config_hash`, committed
  atomically with a checksummed manifest, verified on lookup (a damaged entry is recomputed,
  never loaded).
* :class:`ResultsDB` — the SQLite results database (runs, models, pairs, scalars, notes), and
  the names it gives layers (:data:`OUTPUT_LAYER`: the layer name output measures are
  recorded under).

Files are written and read through :mod:`simfunc.io` (atomic writers, safe loaders, hashing),
the layer below. This package knows nothing about studies, networks or measures. It imports
neither numpy, pandas nor torch until a function that needs them is called.
"""

from __future__ import annotations

from simfunc.store.cache import MANIFEST_NAME, Cache
from simfunc.store.results import OUTPUT_LAYER, ResultsDB

__all__ = ["Cache", "ResultsDB", "MANIFEST_NAME", "OUTPUT_LAYER"]
