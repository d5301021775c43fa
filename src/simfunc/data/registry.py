"""``load``: one entry point for every image set simfunc reads.

``load(name_or_path, split, data_root, image_size, channels, subset, seed, augment, download)``
returns an :class:`~simfunc.data.dataset.ImageDataset`. ``name_or_path`` is a dataset name
below, or the path of an image folder ``PATH/SPLIT/CLASS/*.jpg`` (how users bring their own
data; normalised with the ImageNet statistics, or the CIFAR ones when the folder is named
``cifar10`` / ``cifar100``). Splits are ``train`` and ``test``; where a folder has ``val``
instead of ``test``, ``split="test"`` reads ``val``.

Names are resolved under ``data_root`` (the ``data_root`` argument, else ``$SIMFUNC_DATA_ROOT``,
else ``~/.cache/simfunc/datasets``); the layouts tried, in order:

* ``digits`` -- scikit-learn's bundled 8x8 digits (no files needed; see
  :mod:`simfunc.data.digits` for the fixed 1,437/360 split). The default.
* ``photo-patches`` -- crops of the two photographs bundled with scikit-learn, an unlabelled
  out-of-distribution test set that needs no files (:mod:`simfunc.data.photopatches`).
* ``cifar10`` -- ``ROOT/cifar-10-batches-py/`` (official python pickles), then
  ``ROOT/cifar10/cifar-10-batches-py/``, then the image folder ``ROOT/cifar10/SPLIT/CLASS/``.
  With ``download=True`` and none of these present, the official archive is downloaded into
  ``ROOT`` (see :mod:`simfunc.data.download`).
* ``cifar100`` -- the same with ``cifar-100-python/`` (fine labels) and ``ROOT/cifar100/``.
* ``tiny-imagenet`` -- the image folder ``ROOT/tiny-imagenet/``, then the official
  ``ROOT/tiny-imagenet-200/`` (``train/WNID/images/*.JPEG``; ``val/images`` with
  ``val_annotations.txt``). ``split="test"`` always reads the labelled ``val`` images.
* ``imagenet32`` -- batches of the split (``train_data_batch_K[.npz]`` or
  ``val_data[.npz]``) in ``ROOT/imagenet32/Imagenet32_{train,val}_npz/``, then
  ``ROOT/imagenet32/Imagenet32_{train,val}/``, ``ROOT/Imagenet32_{train,val}_npz/``,
  ``ROOT/Imagenet32_{train,val}/``, and finally the flat folder ``ROOT/imagenet32/``.
  ``split="test"`` reads the validation batch.
* ``voc`` -- ``ROOT/VOCdevkit/VOC20xx/JPEGImages/``, then ``ROOT/voc/VOCdevkit/VOC20xx/...``,
  then ``ROOT/voc/VOC20xx/JPEGImages/`` (newest year first). Test split only, unlabelled.
* ``cats-vs-dogs`` -- the image folder ``ROOT/cats-vs-dogs/SPLIT/{cat,dog}/``, then a Kaggle
  folder of ``cat.N.jpg`` / ``dog.N.jpg`` at ``ROOT/cats-vs-dogs/train/``,
  ``ROOT/cats-vs-dogs/``, ``ROOT/dogs-vs-cats/train/`` or ``ROOT/dogs-vs-cats/``, split by
  ``N mod 5 == 0`` -> test.

When nothing is found, InputError lists every path tried and where to put the files.

Images decoded from files (JPEG/PNG) are cached on disk (:mod:`simfunc.data.cache`); the
array formats (CIFAR pickles, ImageNet32 batches, digits) are read directly. ``subset=N``
takes a seeded, class-stratified subset (:mod:`simfunc.data.subset`) before decoding, so a
subset of a large folder decodes only N images.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simfunc.data.cache import cache_key, cache_path, default_cache_dir, read_cache, write_cache
from simfunc.data.catsdogs import kaggle_files, scan_kaggle_catsdogs
from simfunc.data.cifar import CIFAR_LAYOUT, read_cifar
from simfunc.data.digits import read_digits
from simfunc.data.download import CIFAR_ARCHIVES, download_cifar
from simfunc.data.imagefolder import scan_image_folder
from simfunc.data.imagenet32 import imagenet32_files, read_imagenet32
from simfunc.data.normalization import statistics
from simfunc.data.photopatches import read_photo_patches
from simfunc.data.sources import SPLITS, ArraySet, FileListing
from simfunc.data.subset import stratified_subset
from simfunc.data.tinyimagenet import has_official_val, scan_tiny_official_val
from simfunc.data.voc import scan_voc, voc_image_folders
from simfunc.errors import InputError
from simfunc.validation import check_choice, check_int

if TYPE_CHECKING:
    from simfunc.data.dataset import ImageDataset

# torch (ImageDataset) and Pillow (the decoders) are imported where the images are made, not
# here: the names of the data sets (DATASETS) serve ``simfunc train --help`` without them.

__all__ = ["DATASETS", "default_data_root", "load", "resolve"]

DATASETS = (
    "digits",
    "photo-patches",
    "cifar10",
    "cifar100",
    "tiny-imagenet",
    "imagenet32",
    "voc",
    "cats-vs-dogs",
)


def default_data_root() -> Path:
    """``$SIMFUNC_DATA_ROOT``, or ``~/.cache/simfunc/datasets``."""
    root = os.environ.get("SIMFUNC_DATA_ROOT")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "simfunc" / "datasets"


def _has_subfolders(folder: Path) -> bool:
    return folder.is_dir() and any(
        p.is_dir() and not p.name.startswith(".") for p in folder.iterdir()
    )


def _has_split(folder: Path, split: str) -> bool:
    return (folder / split).is_dir() or (split == "test" and (folder / "val").is_dir())


def _not_found(name: str, root: Path, tried: list[str], hint: str) -> InputError:
    listing = "\n  ".join(tried)
    return InputError(
        f"dataset {name!r} was not found under the data root {str(root)!r}. Tried:\n  "
        f"{listing}\n{hint}"
    )


def _resolve_cifar(name: str, root: Path, split: str, download: bool) -> ArraySet | FileListing:
    official = CIFAR_LAYOUT[name][0]
    tried = []
    for folder in (root / official, root / name / official):
        tried.append(f"{folder}/ (official python batches)")
        if folder.is_dir():
            return read_cifar(name, folder, split)
    tried.append(f"{root / name}/{split}/CLASS/*.jpg (image folder)")
    if _has_split(root / name, split):
        return scan_image_folder(root / name, split, name=name, normalization=name)
    if download:
        return read_cifar(name, download_cifar(name, root), split)
    archive = CIFAR_ARCHIVES[name]
    raise _not_found(
        name,
        root,
        tried,
        f"Pass download=True (--download) to fetch {archive.url}, or unpack that archive so "
        f"that {root / official} exists.",
    )


def _resolve_tiny(root: Path, split: str) -> FileListing:
    tried = []
    for folder in (root / "tiny-imagenet", root / "tiny-imagenet-200"):
        tried.append(f"{folder}/{'val' if split == 'test' else 'train'}/WNID/**/*.JPEG")
        if not folder.is_dir():
            continue
        if split == "test" and has_official_val(folder):
            return scan_tiny_official_val(folder)
        folder_split = "val" if split == "test" and (folder / "val").is_dir() else split
        if _has_subfolders(folder / folder_split):
            return scan_image_folder(folder, folder_split, "tiny-imagenet", "imagenet")
    raise _not_found(
        "tiny-imagenet",
        root,
        tried,
        f"Unpack tiny-imagenet-200.zip (http://cs231n.stanford.edu/tiny-imagenet-200.zip) into "
        f"{root}, or put an image folder at {root / 'tiny-imagenet'}/{{train,val}}/WNID/.",
    )


def _resolve_imagenet32(root: Path, split: str) -> ArraySet:
    part = "val" if split == "test" else "train"
    base = root / "imagenet32"
    candidates = [
        base / f"Imagenet32_{part}_npz",
        base / f"Imagenet32_{part}",
        root / f"Imagenet32_{part}_npz",
        root / f"Imagenet32_{part}",
        base,
    ]
    pattern = "val_data[.npz]" if split == "test" else "train_data_batch_K[.npz]"
    tried = []
    for folder in candidates:
        tried.append(f"{folder}/{pattern}")
        if imagenet32_files(folder, split):
            return read_imagenet32(folder, split)
    raise _not_found(
        "imagenet32",
        root,
        tried,
        f"Download Imagenet32_train_npz.zip and Imagenet32_val_npz.zip from "
        f"https://image-net.org/download-images (Downsampled ImageNet 32x32) and unpack them "
        f"into {base}.",
    )


def _resolve_voc(root: Path, split: str) -> FileListing:
    if split != "test":
        raise InputError(
            f"Pascal VOC is read only as an unlabelled test set: use split='test', not {split!r}"
        )
    tried = []
    for devkit in (root / "VOCdevkit", root / "voc" / "VOCdevkit", root / "voc"):
        tried.append(f"{devkit}/VOC20xx/JPEGImages/*.jpg")
        folders = voc_image_folders(devkit)
        if folders:
            return scan_voc(folders[0], split)
    raise _not_found(
        "voc",
        root,
        tried,
        f"Unpack a Pascal VOC archive (e.g. VOCtrainval_11-May-2012.tar from "
        f"http://host.robots.ox.ac.uk/pascal/VOC/) into {root}, giving "
        f"{root / 'VOCdevkit' / 'VOC2012' / 'JPEGImages'}.",
    )


def _resolve_catsdogs(root: Path, split: str) -> FileListing:
    folder = root / "cats-vs-dogs"
    tried = [f"{folder}/{split}/{{cat,dog}}/*.jpg (image folder)"]
    if _has_subfolders(folder / "train") or (
        _has_split(folder, split) and not kaggle_files(folder / "train")
    ):
        return scan_image_folder(folder, split, "cats-vs-dogs", "imagenet")
    for kaggle in (
        folder / "train",
        folder,
        root / "dogs-vs-cats" / "train",
        root / "dogs-vs-cats",
    ):
        tried.append(f"{kaggle}/{{cat,dog}}.N.jpg (Kaggle folder)")
        if kaggle_files(kaggle):
            return scan_kaggle_catsdogs(kaggle, split)
    raise _not_found(
        "cats-vs-dogs",
        root,
        tried,
        f"Unpack Kaggle's Dogs vs. Cats train.zip into {folder} (giving {folder}/train/cat.0.jpg)"
        f", or put an image folder at {folder}/{{train,test}}/{{cat,dog}}/.",
    )


def _resolve_path(path: Path, split: str) -> FileListing:
    if not path.is_dir():
        raise InputError(
            f"{str(path)!r} is neither a dataset name ({', '.join(DATASETS)}) nor an existing "
            "folder"
        )
    normalization = path.name if path.name in ("cifar10", "cifar100") else "imagenet"
    try:
        return scan_image_folder(path, split, name=path.name, normalization=normalization)
    except InputError as error:
        raise InputError(
            f"{error}. (For the official CIFAR, ImageNet32, Pascal VOC or Kaggle cats/dogs "
            "formats pass the dataset name with data_root= instead of a path.)"
        ) from None


@functools.lru_cache(maxsize=None)
def _bundled(name: str, split: str) -> ArraySet:
    """A set that ships with simfunc or a dependency (the digits, the photo patches): the same
    arrays every time, so read once per process (parsing the digits' CSV took about as long
    as a small network's feature extraction); read-only, so no caller can change them."""
    source = read_digits(split) if name == "digits" else read_photo_patches(split)
    for array in (source.images, source.labels):
        array.flags.writeable = False
    return source


# The images of a set read from arrays, fitted to a size and channel count: the same inputs
# give the same images, so a process that loads them again (a worker running many jobs on the
# digits) fits them once. Keyed by the source, the examples kept and the size; at most
# _MAX_FITTED entries, the oldest dropped; callers get a copy.
_FITTED: dict[tuple, np.ndarray] = {}
_FITTED_LOCK = threading.Lock()
_MAX_FITTED = 16


def _fitted_images(source: ArraySet, indices: np.ndarray, image_size: int,
                   channels: int) -> np.ndarray:
    chosen = np.ascontiguousarray(indices, dtype=np.int64)
    key = (source.name, source.split, source.source, id(source.images), source.images.shape,
           hashlib.sha256(chosen.tobytes()).hexdigest(), image_size, channels)
    bundled = not source.images.flags.writeable  # only the read-only bundled sets are kept
    if bundled:
        with _FITTED_LOCK:
            known = _FITTED.get(key)
        if known is not None:
            return known.copy()
    from simfunc.data.transforms import fit_array

    images = fit_array(source.images[chosen], image_size, channels)
    if bundled:
        with _FITTED_LOCK:
            if len(_FITTED) >= _MAX_FITTED:
                _FITTED.pop(next(iter(_FITTED)))
            _FITTED[key] = images.copy()
    return images


def resolve(
    name_or_path: str | os.PathLike,
    split: str = "train",
    data_root: str | os.PathLike | None = None,
    download: bool = False,
) -> ArraySet | FileListing:
    """Find a dataset's split without decoding it: an ArraySet or a FileListing."""
    check_choice(split, "split", SPLITS)
    if isinstance(name_or_path, str) and name_or_path in DATASETS:
        name = name_or_path
        if name in ("digits", "photo-patches"):
            return _bundled(name, split)
        root = Path(data_root).expanduser() if data_root is not None else default_data_root()
        if name in ("cifar10", "cifar100"):
            return _resolve_cifar(name, root, split, download)
        if download:
            raise InputError(
                f"download=True is supported for cifar10 and cifar100 only, not {name!r}"
            )
        if name == "tiny-imagenet":
            return _resolve_tiny(root, split)
        if name == "imagenet32":
            return _resolve_imagenet32(root, split)
        if name == "voc":
            return _resolve_voc(root, split)
        return _resolve_catsdogs(root, split)
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise InputError(
            f"name_or_path must be a dataset name ({', '.join(DATASETS)}) or a folder path, "
            f"got {name_or_path!r}"
        )
    return _resolve_path(Path(name_or_path).expanduser(), split)


def _select_classes(
    source: ArraySet | FileListing, classes: Sequence[int | str]
) -> tuple[ArraySet | FileListing, tuple[str, ...]]:
    """Keep only ``classes`` (indices or names), relabelled 0..k-1 in the order given."""
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence) or not classes:
        raise InputError(f"classes must be a non-empty list of class indices or names, got {classes!r}")
    if not source.classes:
        raise InputError(f"classes: {source.name!r} is unlabelled; it has no classes to select")
    chosen = []
    for item in classes:
        if isinstance(item, str) and item in source.classes:
            chosen.append(source.classes.index(item))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool) and 0 <= item < len(source.classes):
            chosen.append(int(item))
        else:
            raise InputError(
                f"classes: {item!r} is not a class of {source.name!r}; it has "
                f"{len(source.classes)} classes: {', '.join(source.classes[:20])}"
                + (" ..." if len(source.classes) > 20 else "")
            )
    if len(set(chosen)) != len(chosen):
        raise InputError(f"classes lists a class twice: {list(classes)}")
    relabel = np.full(len(source.classes), -1, dtype=np.int64)
    relabel[chosen] = np.arange(len(chosen))
    keep = np.flatnonzero(relabel[source.labels] >= 0)
    names = tuple(source.classes[i] for i in chosen)
    labels = relabel[source.labels[keep]]
    if isinstance(source, ArraySet):
        filtered = replace(source, images=source.images[keep], labels=labels, classes=names)
    else:
        filtered = replace(source, paths=[source.paths[i] for i in keep], labels=labels, classes=names)
    return filtered, names


def _decode(listing: FileListing, indices: np.ndarray, size: int, channels: int) -> np.ndarray:
    from simfunc.data.transforms import decode_image

    images = np.empty((len(indices), channels, size, size), dtype=np.uint8)
    for row, index in enumerate(indices):
        images[row] = decode_image(listing.paths[index], size, channels)
    return images


def load(
    name_or_path: str | os.PathLike = "digits",
    split: str = "train",
    data_root: str | os.PathLike | None = None,
    image_size: int = 32,
    channels: int = 3,
    subset: int | None = None,
    seed: int = 0,
    augment: bool = False,
    download: bool = False,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    classes: Sequence[int | str] | None = None,
) -> ImageDataset:
    """Load ``split`` of a dataset as an in-memory :class:`ImageDataset`.

    ``image_size``: images are resized to ``image_size`` x ``image_size`` when they differ.
    ``channels``: 3 (RGB; greyscale images are replicated) or 1 (greyscale by luma).
    ``subset``: keep a seeded (``seed``) class-stratified subset of this many examples.
    ``augment``: random crop and horizontal flip on access (training only).
    ``download``: fetch CIFAR-10/100 when they are not under ``data_root``.
    ``cache_dir`` / ``use_cache``: the decoded-image cache of files read from JPEG/PNG.
    ``classes``: keep only these classes (indices or names), relabelled 0..k-1 in the order
    given -- e.g. digits 0-4 and 5-9 as two different training sets.
    See the module docstring for names and layouts.
    """
    check_choice(split, "split", SPLITS)
    image_size = check_int(image_size, "image_size", minimum=1)
    if isinstance(channels, bool) or channels not in (1, 3):
        raise InputError(f"channels must be 1 or 3, got {channels!r}")
    if subset is not None:
        subset = check_int(subset, "subset", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    for flag, value in (("augment", augment), ("download", download), ("use_cache", use_cache)):
        if not isinstance(value, bool):
            raise InputError(f"{flag} must be True or False, got {value!r}")

    source = resolve(name_or_path, split, data_root, download)
    class_filter = None
    if classes is not None:
        source, class_filter = _select_classes(source, classes)
    indices = (
        stratified_subset(source.labels, subset, seed)
        if subset is not None
        else np.arange(len(source.labels))
    )
    from_cache = False
    if isinstance(source, ArraySet):
        images = _fitted_images(source, indices, image_size, channels)
        labels, classes, origin = source.labels[indices], source.classes, source.source
    else:
        origin = str(source.root)
        classes = source.classes
        cached = None
        if use_cache:
            key = cache_key(source, image_size, channels, subset, seed, class_filter)
            path = cache_path(Path(cache_dir) if cache_dir else default_cache_dir(), key)
            cached = read_cache(path, key)
        if cached is not None:
            images, labels, classes = cached
            from_cache = True
        else:
            images = _decode(source, indices, image_size, channels)
            labels = source.labels[indices]
            if use_cache:
                write_cache(path, key, images, labels, classes)
    from simfunc.data.dataset import ImageDataset

    mean, std = statistics(source.normalization, channels)
    return ImageDataset(
        images,
        labels,
        classes,
        name=source.name,
        split=split,
        mean=mean,
        std=std,
        augment=augment,
        source=origin,
        from_cache=from_cache,
    )
