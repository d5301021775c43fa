"""Kaggle "Dogs vs. Cats" (Asirra) in its original layout: one folder of ``cat.N.jpg`` and
``dog.N.jpg`` files (what Kaggle's ``train.zip`` unpacks to), labels from the file name
(cat 0, dog 1).

The folder is split deterministically by the number N: ``N mod 5 == 0`` goes to ``test``,
everything else to ``train`` -- the rule that made the ``val/`` split of the small
``cats-vs-dogs`` copy in simfunc's shared data, so both layouts give the same split.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from simfunc.data.sources import FileListing
from simfunc.errors import InputError

__all__ = ["CATSDOGS_CLASSES", "kaggle_files", "scan_kaggle_catsdogs", "is_test_number"]

CATSDOGS_CLASSES = ("cat", "dog")
_NAME = re.compile(r"^(cat|dog)\.(\d+)\.(jpe?g|png)$", re.IGNORECASE)


def is_test_number(number: int) -> bool:
    return number % 5 == 0


def kaggle_files(folder: Path) -> list[tuple[int, int, Path]]:
    """(label, N, path) of each ``cat.N.jpg`` / ``dog.N.jpg`` in ``folder``, sorted."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_file():
            label = CATSDOGS_CLASSES.index(match.group(1).lower())
            found.append((label, int(match.group(2)), path))
    return sorted(found)


def scan_kaggle_catsdogs(folder: Path, split: str) -> FileListing:
    """``split`` of a Kaggle cats/dogs folder, by the N mod 5 rule."""
    chosen = [
        (label, path)
        for label, number, path in kaggle_files(folder)
        if is_test_number(number) == (split == "test")
    ]
    if not chosen:
        raise InputError(f"{str(folder)!r} holds no cat.N.jpg / dog.N.jpg files for {split!r}")
    return FileListing(
        name="cats-vs-dogs",
        split=split,
        root=folder,
        paths=[path for _, path in chosen],
        labels=np.asarray([label for label, _ in chosen], dtype=np.int64),
        classes=CATSDOGS_CLASSES,
        normalization="imagenet",
    )
