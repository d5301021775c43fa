"""Pascal VOC images as an unlabelled test set (Everingham et al. 2010).

Reads every ``*.jpg`` in ``VOCdevkit/VOC20xx/JPEGImages`` (the newest year present when there
are several), sorted by file name. Only the images are used: labels are -1, ``classes`` is
empty (``num_classes`` 0), and only ``split="test"`` exists -- simfunc uses VOC as a third test
set whose images come from a different distribution (thesis §3.1).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from simfunc.data.imagefolder import is_image_file
from simfunc.data.sources import FileListing
from simfunc.errors import InputError

__all__ = ["voc_image_folders", "scan_voc"]

_YEAR = re.compile(r"^VOC(\d{4})$")


def voc_image_folders(devkit: Path) -> list[Path]:
    """``devkit/VOC20xx/JPEGImages`` folders that exist, newest year first."""
    if not devkit.is_dir():
        return []
    years = []
    for child in devkit.iterdir():
        match = _YEAR.match(child.name)
        if match and (child / "JPEGImages").is_dir():
            years.append((int(match.group(1)), child / "JPEGImages"))
    return [folder for _, folder in sorted(years, reverse=True)]


def scan_voc(images_folder: Path, split: str) -> FileListing:
    """The images of one ``JPEGImages`` folder as an unlabelled test set."""
    if split != "test":
        raise InputError(
            f"Pascal VOC is read only as an unlabelled test set: use split='test', not {split!r}"
        )
    paths = sorted(p for p in images_folder.iterdir() if p.is_file() and is_image_file(p.name))
    if not paths:
        raise InputError(f"{str(images_folder)!r} holds no .jpg images")
    return FileListing(
        name="voc",
        split=split,
        root=images_folder,
        paths=paths,
        labels=np.full(len(paths), -1, dtype=np.int64),
        classes=(),
        normalization="imagenet",
    )
