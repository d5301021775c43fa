"""Files, the bottom layer every other one writes and reads through.

* :mod:`simfunc.io.atomic` — atomic writers: a file is either absent, its old complete version
  or its new complete one (``atomic_write_json``, ``atomic_save_npz``, ``atomic_torch_save``…).
* :mod:`simfunc.io.loaders` — safe loaders: nothing read back can execute code (no pickle,
  ``torch.load(weights_only=True)``).
* :mod:`simfunc.io.hashing` — canonical JSON and the configuration hash that keys the cache.

This package imports nothing from simfunc but :mod:`simfunc.errors`, and neither numpy nor
torch until a function that needs them is called.
"""

from __future__ import annotations

from simfunc.io import atomic, hashing, loaders
from simfunc.io.atomic import (
    TEMP_MARKER,
    atomic_save_npz,
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    atomic_writer,
    fsync_directory,
    is_temp_file,
)
from simfunc.io.hashing import (
    FORMAT_VERSION,
    KEY_LENGTH,
    canonical_json,
    config_hash,
    normalize_config,
)
from simfunc.io.loaders import LOADERS, load_artifact, load_json, load_npz, load_torch

__all__ = [*atomic.__all__, *hashing.__all__, *loaders.__all__]
