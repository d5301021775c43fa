"""Image datasets as in-memory tensors: ``simfunc.data.load(name_or_path, split, ...)``.

See :mod:`simfunc.data.registry` for the dataset names, the folder layouts tried for each and
the arguments; :class:`ImageDataset` for what comes back; :mod:`simfunc.data.normalization`
for the per-dataset mean and std; :mod:`simfunc.data.cache` for the decoded-image cache;
:mod:`simfunc.data.download` for fetching CIFAR.
"""

from __future__ import annotations

from simfunc.data.cache import default_cache_dir
from simfunc.data.download import DownloadError, download_cifar
from simfunc.data.normalization import NORMALIZATION
from simfunc.data.registry import DATASETS, default_data_root, load, resolve
from simfunc.data.subset import stratified_subset

__all__ = [
    "DATASETS",
    "NORMALIZATION",
    "DownloadError",
    "ImageDataset",
    "default_cache_dir",
    "default_data_root",
    "download_cifar",
    "load",
    "resolve",
    "stratified_subset",
]


def __getattr__(name: str):
    # ImageDataset needs torch; everything else here does not (``simfunc train --help`` lists
    # the data sets without importing it).
    if name == "ImageDataset":
        from simfunc.data.dataset import ImageDataset

        return ImageDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
