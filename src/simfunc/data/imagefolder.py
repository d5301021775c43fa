"""The class-folder layout ``ROOT/SPLIT/CLASS/**/*.{jpg,jpeg,png}`` (extensions in any case).

Classes are the sub-folders of ``ROOT/SPLIT`` sorted by name (hidden folders skipped); their
index in that order is the label. The images of a class are all image files anywhere below
its folder (so Tiny-ImageNet's official ``train/WNID/images/*.JPEG`` reads too), sorted by
relative path. ``split="test"`` reads ``ROOT/val`` when ``ROOT/test`` does not exist.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from simfunc.data.sources import FileListing
from simfunc.errors import InputError

__all__ = ["IMAGE_EXTENSIONS", "split_folder", "scan_image_folder", "is_image_file"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def is_image_file(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")


def split_folder(root: Path, split: str) -> Path:
    """``root/split``, or ``root/val`` for ``split="test"`` when there is no ``root/test``."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"image folder {str(root)!r} does not exist or is not a folder")
    folder = root / split
    if folder.is_dir():
        return folder
    if split == "test" and (root / "val").is_dir():
        return root / "val"
    present = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    wanted = "'test' (or 'val')" if split == "test" else repr(split)
    raise InputError(
        f"image folder {str(root)!r} has no {wanted} split folder; it has: "
        f"{', '.join(present) or 'no folders'}. Expected the layout ROOT/SPLIT/CLASS/image.jpg"
    )


def _images_below(folder: Path) -> list[Path]:
    found = []  # (relative posix path, full path) as strings: Path objects only at the end
    top = os.fspath(folder)
    for directory, subdirs, files in os.walk(top):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        relative = directory[len(top) + 1 :].replace(os.sep, "/")
        prefix = relative + "/" if relative else ""
        found.extend((prefix + f, os.path.join(directory, f)) for f in files if is_image_file(f))
    found.sort()
    return [Path(full) for _, full in found]


def scan_image_folder(
    root: str | os.PathLike,
    split: str,
    name: str | None = None,
    normalization: str = "imagenet",
) -> FileListing:
    """List the images and labels of ``root``'s ``split`` without decoding them."""
    folder = split_folder(Path(root), split)
    class_dirs = sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    if not class_dirs:
        raise InputError(
            f"{str(folder)!r} holds no class folders: expected {folder}/CLASS_NAME/image.jpg"
        )
    paths: list[Path] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        images = _images_below(class_dir)
        paths.extend(images)
        labels.extend([label] * len(images))
    if not paths:
        raise InputError(
            f"{str(folder)!r} holds no images (.jpg, .jpeg or .png, any case) in its "
            f"{len(class_dirs)} class folders"
        )
    return FileListing(
        name=name or Path(root).name,
        split=split,
        root=folder,
        paths=paths,
        labels=np.asarray(labels, dtype=np.int64),
        classes=tuple(p.name for p in class_dirs),
        normalization=normalization,
    )
