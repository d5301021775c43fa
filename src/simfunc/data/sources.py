"""What a dataset reader returns before decoding: a list of image files, or decoded arrays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FileListing", "ArraySet", "SPLITS"]

SPLITS = ("train", "test")


@dataclass
class FileListing:
    """Image files to decode: ``paths[i]`` has label ``labels[i]`` (-1: unlabelled).

    ``root`` is the folder the files were found in (part of the decoded-cache key),
    ``normalization`` a key of :data:`simfunc.data.normalization.NORMALIZATION`.
    """

    name: str
    split: str
    root: Path
    paths: list[Path]
    labels: np.ndarray
    classes: tuple[str, ...]
    normalization: str


@dataclass
class ArraySet:
    """Images already decoded, uint8 (N, C, H, W), read from an array format."""

    name: str
    split: str
    source: str
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    normalization: str
