"""Tiny-ImageNet's official validation layout (``tiny-imagenet-200.zip``).

The official archive keeps its 10,000 validation images in one folder,
``val/images/val_N.JPEG``, with the class of each in ``val/val_annotations.txt``
(``file<TAB>wnid<TAB>box...``). Classes are the wnid folders of ``train/`` sorted by name, as
for the training split (which the generic image-folder reader handles:
``train/WNID/images/*.JPEG``). The unlabelled ``test/`` images are never read: ``split="test"``
means the labelled validation set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simfunc.data.sources import FileListing
from simfunc.errors import InputError

__all__ = ["has_official_val", "scan_tiny_official_val"]


def has_official_val(root: Path) -> bool:
    return (root / "val" / "val_annotations.txt").is_file() and (root / "val" / "images").is_dir()


def scan_tiny_official_val(root: Path) -> FileListing:
    """The validation split of an official ``tiny-imagenet-200`` folder."""
    train = root / "train"
    if not train.is_dir():
        raise InputError(f"{str(root)!r} has no train/ folder to take the class list from")
    classes = tuple(sorted(p.name for p in train.iterdir() if p.is_dir()))
    index = {wnid: i for i, wnid in enumerate(classes)}
    images = root / "val" / "images"
    entries = []
    for line_number, line in enumerate(
        (root / "val" / "val_annotations.txt").read_text().splitlines(), 1
    ):
        fields = line.split("\t")
        if len(fields) < 2 or not line.strip():
            continue
        filename, wnid = fields[0], fields[1]
        if wnid not in index:
            raise InputError(
                f"val_annotations.txt line {line_number}: class {wnid!r} has no train/ folder"
            )
        if (images / filename).is_file():
            entries.append((index[wnid], filename))
    if not entries:
        raise InputError(f"{str(images)!r}: no annotated validation images found")
    entries.sort()
    return FileListing(
        name="tiny-imagenet",
        split="test",
        root=root / "val",
        paths=[images / filename for _, filename in entries],
        labels=np.asarray([label for label, _ in entries], dtype=np.int64),
        classes=classes,
        normalization="imagenet",
    )
