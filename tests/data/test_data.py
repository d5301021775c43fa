"""simfunc.data: every source reads correctly, subsets, augmentation, the decoded cache and the
download failure paths.

The shared real data sets are found at $SIMFUNC_SHARED_DATA, default <repo>/../shared/data;
tests that need them skip when it is absent. The official file formats (CIFAR pickles,
ImageNet32 batches, a VOCdevkit tree, a Kaggle cats/dogs folder, Tiny-ImageNet's official
validation layout) are written by the tests at a small size.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import socket
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from simfunc import InputError
from simfunc.data import (
    DATASETS,
    NORMALIZATION,
    DownloadError,
    ImageDataset,
    default_cache_dir,
    download_cifar,
    load,
    resolve,
    stratified_subset,
)
from simfunc.data.download import CIFAR_ARCHIVES, CifarArchive

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SIMFUNC_SHARED_DATA", REPO.parent / "shared" / "data"))
needs_shared = pytest.mark.skipif(
    not (SHARED / "cifar10").is_dir(),
    reason=f"shared image data not found at {SHARED} (set SIMFUNC_SHARED_DATA)",
)

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def write_image(path: Path, pixels: np.ndarray) -> None:
    """Save an (H, W, 3) or (H, W) uint8 array as an image file (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def random_pixels(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


# --------------------------------------------------------------------------- digits


def test_digits_is_the_default_with_a_fixed_stratified_split():
    from sklearn.datasets import load_digits

    train, test = load(), load(split="test")
    assert (len(train), len(test)) == (1437, 360)
    assert train.name == "digits" and train.num_classes == 10 and train.classes[3] == "3"
    assert train.images.shape[1:] == (3, 32, 32) and train.images.dtype == torch.uint8
    # Stratified: each class is 20% +- one image of its 1797-image total in the test split.
    totals = np.bincount(load_digits().target)
    test_counts = np.bincount(test.labels.numpy(), minlength=10)
    assert np.all(np.abs(test_counts - 0.2 * totals) <= 1)
    # The same split whatever seed a caller passes (seed only drives subsets).
    assert torch.equal(load(split="test", seed=7).labels, test.labels)


def test_digits_native_pixels_match_scikit_learn():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    native = load(split="test", image_size=8, channels=1)
    train = load(split="train", image_size=8, channels=1)
    assert native.images.shape == (360, 1, 8, 8)
    expected = {
        (np.rint(img * 255 / 16).astype(np.uint8).tobytes(), int(t))
        for img, t in zip(bunch.images, bunch.target)
    }
    got = {(img[0].numpy().tobytes(), int(t)) for img, t in zip(native.images, native.labels)}
    got |= {(img[0].numpy().tobytes(), int(t)) for img, t in zip(train.images, train.labels)}
    assert got <= expected and len(native) + len(train) == 1797


def test_digits_upsampled_to_three_equal_channels():
    data = load(split="test", image_size=32, channels=3)
    image = data.images[0]
    assert torch.equal(image[0], image[1]) and torch.equal(image[1], image[2])
    assert image.float().std() > 0


def test_digits_normalisation_constants_are_its_own_statistics():
    from sklearn.datasets import load_digits

    pixels = load_digits().images / 16.0
    (mean,), (std,) = NORMALIZATION["digits"]
    assert mean == pytest.approx(pixels.mean(), abs=1e-4)
    assert std == pytest.approx(pixels.std(), abs=1e-4)
    data = load(split="train", image_size=8, channels=1)
    values = torch.stack([data[i][0] for i in range(len(data))])
    assert float(values.mean()) == pytest.approx(0.0, abs=0.05)
    assert float(values.std()) == pytest.approx(1.0, abs=0.05)


# --------------------------------------------------------------------------- shared data


@needs_shared
def test_shared_cifar10_counts_classes_and_shapes(cache):
    train = resolve("cifar10", "train", data_root=SHARED)
    test = resolve("cifar10", "test", data_root=SHARED)
    assert len(train.paths) == 20_000 and len(test.paths) == 10_000
    assert Counter(train.labels.tolist()) == {c: 2000 for c in range(10)}
    assert train.classes == CIFAR10_CLASSES
    data = load("cifar10", "test", data_root=SHARED, subset=300, cache_dir=cache)
    assert len(data) == 300 and data.images.shape[1:] == (3, 32, 32)
    assert Counter(data.labels.tolist()) == {c: 30 for c in range(10)}
    image, label = data[0]
    assert image.dtype == torch.float32 and image.shape == (3, 32, 32)
    assert label.dtype == torch.int64 and data.mean == NORMALIZATION["cifar10"][0]
    # The same folder given as a path reads identically.
    by_path = load(SHARED / "cifar10", "test", subset=300, cache_dir=cache)
    assert torch.equal(by_path.images, data.images) and by_path.name == "cifar10"


@needs_shared
def test_shared_cifar10_pixels_match_the_published_normalisation(cache):
    # Published CIFAR-10 training statistics vs a 2,000-image stratified sample of the
    # shared (JPEG re-encoded) training images: the same to within 0.01.
    data = load("cifar10", "train", data_root=SHARED, subset=2000, cache_dir=cache)
    pixels = data.images.double() / 255
    mean = pixels.mean(dim=(0, 2, 3)).numpy()
    std = pixels.std(dim=(0, 2, 3)).numpy()
    np.testing.assert_allclose(mean, NORMALIZATION["cifar10"][0], atol=0.01)
    np.testing.assert_allclose(std, NORMALIZATION["cifar10"][1], atol=0.01)


@needs_shared
def test_shared_tiny_imagenet_counts_and_shapes(cache):
    train = resolve("tiny-imagenet", "train", data_root=SHARED)
    val = resolve("tiny-imagenet", "test", data_root=SHARED)
    assert len(train.paths) == 20_000 and len(val.paths) == 10_000
    assert len(train.classes) == 200 and train.classes == val.classes
    assert val.root.name == "val"  # split="test" reads val/
    wnids = [
        line.split("\t")[0]
        for line in (SHARED / "tiny-imagenet/classes.tsv").read_text().splitlines()
    ]
    assert list(train.classes) == sorted(wnids)
    data = load("tiny-imagenet", "test", data_root=SHARED, subset=400, cache_dir=cache)
    assert data.num_classes == 200 and len(data) == 400
    assert Counter(data.labels.tolist()) == {c: 2 for c in range(200)}
    assert data.images.shape[1:] == (3, 32, 32)
    native = load(
        "tiny-imagenet", "train", data_root=SHARED, image_size=64, subset=200, cache_dir=cache
    )
    assert native.images.shape[1:] == (3, 64, 64)


@needs_shared
def test_tiny_imagenet_greyscale_images_come_out_as_three_channels(tmp_path, cache):
    val = SHARED / "tiny-imagenet" / "val"
    grey, colour = [], []
    for path in sorted(val.glob("*/*.JPEG")):
        with Image.open(path) as image:
            (grey if image.mode == "L" else colour).append(path)
        if len(grey) >= 3 and len(colour) >= 3:
            break
    assert len(grey) >= 3, "the README says about 2.5% of Tiny-ImageNet is greyscale"
    folder = tmp_path / "mixed"
    for path in grey[:3] + colour[:3]:
        link = folder / "test" / path.parent.name / path.name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)
    data = load(folder, "test", image_size=64, cache_dir=cache)
    assert data.images.shape == (6, 3, 64, 64)
    order = [p.name for p in resolve(folder, "test").paths]
    for path in grey[:3]:
        image = data.images[order.index(path.name)]
        assert torch.equal(image[0], image[1]) and torch.equal(image[0], image[2])
        with Image.open(path) as source:  # 64x64 native: the pixels are the decoded ones
            assert np.array_equal(image[0].numpy(), np.asarray(source))
    for path in colour[:3]:
        image = data.images[order.index(path.name)]
        assert not torch.equal(image[0], image[2])
    single = load(folder, "test", image_size=32, channels=1, cache_dir=cache)
    assert single.images.shape == (6, 1, 32, 32) and len(single.mean) == 1


@needs_shared
def test_shared_cats_vs_dogs_full_val_and_train_counts(cache):
    val = load("cats-vs-dogs", "test", data_root=SHARED, cache_dir=cache)
    assert len(val) == 402 and val.classes == ("cat", "dog")
    assert Counter(val.labels.tolist()) == {0: 201, 1: 201}
    assert val.images.shape == (402, 3, 32, 32)
    train = resolve("cats-vs-dogs", "train", data_root=SHARED)
    assert len(train.paths) == 1600 and Counter(train.labels.tolist()) == {0: 800, 1: 800}
    big = load("cats-vs-dogs", "train", data_root=SHARED, image_size=64, subset=10, cache_dir=cache)
    assert big.images.shape == (10, 3, 64, 64)


@needs_shared
def test_kaggle_cats_dogs_folder_gives_the_same_split_as_the_shared_copy(tmp_path, cache):
    # Flatten the shared copy back into Kaggle's single folder of cat.N.jpg / dog.N.jpg:
    # the N mod 5 rule must give back exactly the shared val/ split.
    kaggle = tmp_path / "root" / "cats-vs-dogs" / "train"
    kaggle.mkdir(parents=True)
    for path in (SHARED / "cats-vs-dogs").glob("*/*/*.jpg"):
        (kaggle / path.name).symlink_to(path)
    test = resolve("cats-vs-dogs", "test", data_root=tmp_path / "root")
    shared_val = {p.name for p in (SHARED / "cats-vs-dogs" / "val").glob("*/*.jpg")}
    assert {p.name for p in test.paths} == shared_val
    assert all(
        p.name.startswith(("cat", "dog")[label]) for p, label in zip(test.paths, test.labels)
    )
    train = resolve("cats-vs-dogs", "train", data_root=tmp_path / "root")
    assert len(train.paths) == 1600


# --------------------------------------------------------------------------- official formats


def cifar_rows(images_hwc: np.ndarray) -> np.ndarray:
    """The official row layout: the red plane, then green, then blue, each row-major."""
    return np.stack(
        [
            np.concatenate([img[:, :, 0].ravel(), img[:, :, 1].ravel(), img[:, :, 2].ravel()])
            for img in images_hwc
        ]
    )


def dump(path: Path, content: dict, bytes_keys: bool) -> None:
    """Pickle like the official files: Python 2 style (bytes keys and names) or Python 3."""
    if bytes_keys:
        content = {
            k.encode(): [v.encode() for v in val]
            if isinstance(val, list) and val and isinstance(val[0], str)
            else val
            for k, val in content.items()
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(content, protocol=2))


def write_cifar10(folder: Path, rng: np.random.Generator, per_batch: int = 4, bytes_keys=True):
    names = list(CIFAR10_CLASSES)
    written = {"train": ([], []), "test": ([], [])}
    for filename in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = random_pixels(rng, per_batch, 32, 32, 3)
        labels = rng.integers(0, 10, per_batch).tolist()
        dump(
            folder / filename,
            {"batch_label": "x", "data": cifar_rows(images), "labels": labels},
            bytes_keys,
        )
        split = "test" if filename == "test_batch" else "train"
        written[split][0].append(images)
        written[split][1].extend(labels)
    dump(folder / "batches.meta", {"label_names": names, "num_vis": 3072}, bytes_keys)
    return {k: (np.concatenate(v[0]), np.array(v[1])) for k, v in written.items()}


@pytest.mark.parametrize("bytes_keys", [True, False])
@pytest.mark.parametrize("layout", ["cifar-10-batches-py", "cifar10/cifar-10-batches-py"])
def test_cifar10_official_pickles(tmp_path, bytes_keys, layout):
    rng = np.random.default_rng(0)
    written = write_cifar10(tmp_path / layout, rng, bytes_keys=bytes_keys)
    for split in ("train", "test"):
        data = load("cifar10", split, data_root=tmp_path)
        images, labels = written[split]
        assert len(data) == (20 if split == "train" else 4)
        np.testing.assert_array_equal(data.images.numpy(), images.transpose(0, 3, 1, 2))
        np.testing.assert_array_equal(data.labels.numpy(), labels)
        assert data.classes == CIFAR10_CLASSES and data.mean == NORMALIZATION["cifar10"][0]
    # Resized and greyscale on request.
    small = load("cifar10", "test", data_root=tmp_path, image_size=16, channels=1)
    assert small.images.shape == (4, 1, 16, 16)
    expected = np.asarray(
        Image.fromarray(written["test"][0][0]).convert("L").resize((16, 16), Image.BILINEAR)
    )
    np.testing.assert_array_equal(small.images[0, 0].numpy(), expected)


def test_cifar100_official_pickles_use_fine_labels(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    fine_names = [f"fine{i:02d}" for i in range(100)]
    for split, n in (("train", 6), ("test", 3)):
        images = random_pixels(rng, n, 32, 32, 3)
        fine = rng.integers(0, 100, n).tolist()
        coarse = [f // 5 for f in fine]
        dump(
            folder / split,
            {"data": cifar_rows(images), "fine_labels": fine, "coarse_labels": coarse},
            True,
        )
        if split == "test":
            expected_images, expected_fine = images, fine
    dump(folder / "meta", {"fine_label_names": fine_names, "coarse_label_names": ["c"] * 20}, True)
    data = load("cifar100", "test", data_root=tmp_path)
    assert data.num_classes == 100 and data.classes[42] == "fine42"
    np.testing.assert_array_equal(data.labels.numpy(), expected_fine)
    np.testing.assert_array_equal(data.images.numpy(), expected_images.transpose(0, 3, 1, 2))
    assert data.mean == NORMALIZATION["cifar100"][0]
    assert len(load("cifar100", "train", data_root=tmp_path)) == 6


def test_pickles_that_call_functions_are_refused(tmp_path):
    marker = tmp_path / "created-by-pickle"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder, np.random.default_rng(0))
    (folder / "data_batch_1").write_bytes(pickle.dumps({"data": Payload(), "labels": []}))
    with pytest.raises(InputError, match="refusing"):
        load("cifar10", "train", data_root=tmp_path)
    assert not marker.exists()


def write_imagenet32_batch(path: Path, rng, n: int, pickled: bool = False):
    images = random_pixels(rng, n, 32, 32, 3)
    labels = rng.integers(1, 1001, n)
    labels[0] = 1000  # the 1-based extremes
    labels[-1] = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    if pickled:
        path.write_bytes(
            pickle.dumps(
                {"data": cifar_rows(images), "labels": labels.tolist(), "mean": np.zeros(3072)}
            )
        )
    else:
        np.savez(path, data=cifar_rows(images), labels=labels, mean=np.zeros(3072))
    return images, labels


@pytest.mark.parametrize(
    "train_dir, val_dir, pickled",
    [
        ("imagenet32/Imagenet32_train_npz", "imagenet32/Imagenet32_val_npz", False),
        ("Imagenet32_train", "Imagenet32_val", True),
        ("imagenet32", "imagenet32", False),
    ],
)
def test_imagenet32_batches_with_one_based_labels(tmp_path, train_dir, val_dir, pickled):
    rng = np.random.default_rng(2)
    suffix = "" if pickled else ".npz"
    parts = [
        write_imagenet32_batch(
            tmp_path / train_dir / f"train_data_batch_{k}{suffix}", rng, 5, pickled
        )
        for k in (1, 2, 10)  # read in numeric order: 1, 2, 10 (not 1, 10, 2)
    ]
    val_images, val_labels = write_imagenet32_batch(
        tmp_path / val_dir / f"val_data{suffix}", rng, 4, pickled
    )
    train = load("imagenet32", "train", data_root=tmp_path)
    assert len(train) == 15 and train.num_classes == 1000
    np.testing.assert_array_equal(train.labels.numpy(), np.concatenate([p[1] for p in parts]) - 1)
    np.testing.assert_array_equal(
        train.images.numpy(), np.concatenate([p[0] for p in parts]).transpose(0, 3, 1, 2)
    )
    test = load("imagenet32", "test", data_root=tmp_path)
    np.testing.assert_array_equal(test.labels.numpy(), val_labels - 1)
    assert test.labels.max() == 999 and test.labels.min() == 0
    np.testing.assert_array_equal(test.images.numpy(), val_images.transpose(0, 3, 1, 2))
    assert test.mean == NORMALIZATION["imagenet"][0]


def test_imagenet32_rejects_zero_based_labels(tmp_path):
    folder = tmp_path / "imagenet32"
    folder.mkdir()
    np.savez(folder / "val_data.npz", data=np.zeros((2, 3072), np.uint8), labels=np.array([0, 1]))
    with pytest.raises(InputError, match="1-1000"):
        load("imagenet32", "test", data_root=tmp_path)


def test_voc_devkit_reads_the_newest_year_unlabelled(tmp_path):
    rng = np.random.default_rng(3)
    for year, count in (("VOC2007", 2), ("VOC2012", 3)):
        for i in range(count):
            h, w = 40 + 10 * i, 60
            write_image(
                tmp_path / "VOCdevkit" / year / "JPEGImages" / f"2012_{i:06d}.jpg",
                random_pixels(rng, h, w, 3),
            )
    (tmp_path / "VOCdevkit" / "VOC2012" / "Annotations").mkdir()
    data = load("voc", "test", data_root=tmp_path, use_cache=False)
    assert len(data) == 3 and data.num_classes == 0 and data.classes == ()
    assert torch.all(data.labels == -1)
    assert data.images.shape == (3, 3, 32, 32)
    _, label = data[1]
    assert int(label) == -1
    with pytest.raises(InputError, match="test"):
        load("voc", "train", data_root=tmp_path)
    assert len(load("voc", "test", data_root=tmp_path, subset=2, use_cache=False)) == 2


def test_kaggle_cats_dogs_folder_split_by_number(tmp_path, cache):
    rng = np.random.default_rng(4)
    for animal in ("cat", "dog"):
        for n in range(10):
            write_image(
                tmp_path / "cats-vs-dogs" / "train" / f"{animal}.{n}.jpg",
                random_pixels(rng, 50, 70, 3),
            )
    test = load("cats-vs-dogs", "test", data_root=tmp_path, cache_dir=cache)
    train = load("cats-vs-dogs", "train", data_root=tmp_path, cache_dir=cache)
    assert len(test) == 4 and len(train) == 16  # N in {0, 5} of each animal is test
    listing = resolve("cats-vs-dogs", "test", data_root=tmp_path)
    assert sorted(p.name for p in listing.paths) == [
        "cat.0.jpg",
        "cat.5.jpg",
        "dog.0.jpg",
        "dog.5.jpg",
    ]
    assert Counter(test.labels.tolist()) == {0: 2, 1: 2} and test.classes == ("cat", "dog")


def test_tiny_imagenet_official_layout(tmp_path, cache):
    rng = np.random.default_rng(5)
    root = tmp_path / "tiny-imagenet-200"
    wnids = ["n02", "n01"]
    for wnid in wnids:
        for i in range(3):
            write_image(
                root / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", random_pixels(rng, 64, 64, 3)
            )
    annotations = []
    for i, wnid in enumerate(["n01", "n02", "n02"]):
        write_image(root / "val" / "images" / f"val_{i}.JPEG", random_pixels(rng, 64, 64))
        annotations.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t10\t10")
    (root / "val" / "val_annotations.txt").write_text("\n".join(annotations) + "\n")
    write_image(root / "test" / "images" / "test_0.JPEG", random_pixels(rng, 64, 64, 3))
    train = load("tiny-imagenet", "train", data_root=tmp_path, cache_dir=cache)
    assert len(train) == 6 and train.classes == ("n01", "n02")
    test = load("tiny-imagenet", "test", data_root=tmp_path, cache_dir=cache)
    assert len(test) == 3 and sorted(test.labels.tolist()) == [0, 1, 1]
    assert test.images.shape == (3, 3, 32, 32)  # greyscale val images replicated to RGB


def test_image_folder_extensions_classes_and_val_fallback(tmp_path, cache):
    rng = np.random.default_rng(6)
    write_image(tmp_path / "set" / "val" / "b_class" / "x.PNG", random_pixels(rng, 20, 20, 3))
    write_image(tmp_path / "set" / "val" / "b_class" / "y.jpeg", random_pixels(rng, 20, 20, 3))
    write_image(
        tmp_path / "set" / "val" / "a_class" / "nested" / "z.JPG", random_pixels(rng, 20, 20, 3)
    )
    (tmp_path / "set" / "val" / "a_class" / "notes.txt").write_text("not an image")
    data = load(tmp_path / "set", "test", cache_dir=cache)
    assert data.classes == ("a_class", "b_class")
    assert data.labels.tolist() == [0, 1, 1] and data.name == "set"
    assert data.mean == NORMALIZATION["imagenet"][0]
    with pytest.raises(InputError, match="train"):
        load(tmp_path / "set", "train", cache_dir=cache)


def test_missing_and_empty_sources_give_clear_errors(tmp_path):
    with pytest.raises(InputError, match="neither a dataset name"):
        load(tmp_path / "nowhere")
    (tmp_path / "empty" / "train" / "cls").mkdir(parents=True)
    with pytest.raises(InputError, match="no images"):
        load(tmp_path / "empty", use_cache=False)
    with pytest.raises(InputError) as info:
        load("cifar100", data_root=tmp_path)
    message = str(info.value)
    assert "cifar-100-python" in message and "download=True" in message and str(tmp_path) in message
    for name in ("tiny-imagenet", "imagenet32", "cats-vs-dogs"):
        with pytest.raises(InputError, match="Tried"):
            load(name, data_root=tmp_path)
    with pytest.raises(InputError, match="Tried"):
        load("voc", "test", data_root=tmp_path)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"split": "val"}, "split"),
        ({"image_size": 0}, "image_size"),
        ({"channels": 2}, "channels"),
        ({"subset": 0}, "subset"),
        ({"subset": 5000}, "subset"),
        ({"seed": -1}, "seed"),
        ({"augment": "yes"}, "augment"),
        ({"name_or_path": 3}, "name_or_path"),
    ],
)
def test_bad_arguments_raise_input_error(kwargs, word):
    with pytest.raises(InputError, match=word):
        load(**kwargs)


def test_dataset_names_are_listed():
    assert set(DATASETS) == {
        "digits",
        "photo-patches",
        "cifar10",
        "cifar100",
        "tiny-imagenet",
        "imagenet32",
        "voc",
        "cats-vs-dogs",
    }


# --------------------------------------------------------------------------- subsets


def test_stratified_subset_keeps_proportions_and_is_seeded():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    chosen = stratified_subset(labels, 10, seed=0)
    assert Counter(labels[chosen].tolist()) == {0: 5, 1: 3, 2: 2}
    assert np.array_equal(chosen, np.sort(chosen)) and len(set(chosen.tolist())) == 10
    assert np.array_equal(chosen, stratified_subset(labels, 10, seed=0))
    assert not np.array_equal(chosen, stratified_subset(labels, 10, seed=1))
    # Remainders: 7 of (50, 30, 20) -> exact (3.5, 2.1, 1.4): floors (3, 2, 1) + 1 to class 0.
    assert Counter(labels[stratified_subset(labels, 7, seed=3)].tolist()) == {0: 4, 1: 2, 2: 1}


def test_subsets_of_a_dataset_are_deterministic_and_stratified():
    first = load(split="train", subset=100, seed=4)
    again = load(split="train", subset=100, seed=4)
    other = load(split="train", subset=100, seed=5)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    assert not torch.equal(first.images, other.images)
    assert Counter(first.labels.tolist()) == {c: 10 for c in range(10)}


# --------------------------------------------------------------------------- augmentation


def crop_candidates(image: torch.Tensor, pad: int) -> list[torch.Tensor]:
    """Every zero-padded crop of ``image``, flipped or not (written independently of simfunc)."""
    c, h, w = image.shape
    canvas = torch.zeros(c, h + 2 * pad, w + 2 * pad, dtype=image.dtype)
    canvas[:, pad : pad + h, pad : pad + w] = image
    out = []
    for top in range(2 * pad + 1):
        for left in range(2 * pad + 1):
            crop = canvas[:, top : top + h, left : left + w]
            out += [crop, torch.flip(crop, dims=[2])]
    return out


def test_augmentation_crops_and_flips_in_train_mode_only():
    plain = load(split="test", subset=20)
    augmented = plain.with_augment(True)
    assert augmented.images is plain.images and not plain.augment
    # Evaluation: every access equals the plain normalised image.
    for i in range(3):
        torch.testing.assert_close(plain[i][0], plain.normalized([i])[0])
    # Training: each augmented image is one of the padded crops (flipped or not) of the
    # original, with black padding (uint8 zero before normalisation), and they vary.
    torch.manual_seed(0)
    mean = torch.tensor(plain.mean).view(-1, 1, 1)
    std = torch.tensor(plain.std).view(-1, 1, 1)
    changed = 0
    for i in range(20):
        image, label = augmented[i]
        assert int(label) == int(plain.labels[i])
        raw = torch.round((image * std + mean) * 255).to(torch.uint8)
        assert any(torch.equal(raw, c) for c in crop_candidates(plain.images[i], pad=4))
        changed += not torch.equal(raw, plain.images[i])
    assert changed >= 15


def test_augmentation_is_reproducible_under_a_seed():
    data = load(split="test", subset=10, augment=True)
    torch.manual_seed(42)
    first = torch.stack([data[i][0] for i in range(10)])
    torch.manual_seed(42)
    second = torch.stack([data[i][0] for i in range(10)])
    third = torch.stack([data[i][0] for i in range(10)])
    torch.testing.assert_close(first, second)
    assert not torch.equal(first, third)


def test_augmentation_padding_scales_with_image_size():
    data = load(split="test", subset=5, image_size=8, channels=1, augment=True)
    torch.manual_seed(1)
    for i in range(5):
        image, _ = data[i]
        raw = torch.round((image * data.std[0] + data.mean[0]) * 255).to(torch.uint8)
        assert any(torch.equal(raw, c) for c in crop_candidates(data.images[i], pad=1))


def test_dataset_works_with_a_dataloader():
    data = load(split="test", subset=32, augment=True)
    torch.manual_seed(0)
    batches = list(torch.utils.data.DataLoader(data, batch_size=16, shuffle=True))
    assert len(batches) == 2 and batches[0][0].shape == (16, 3, 32, 32)
    assert batches[0][1].dtype == torch.int64


def test_image_dataset_validates_its_arrays():
    with pytest.raises(InputError, match="uint8"):
        ImageDataset(
            np.zeros((2, 3, 4, 4), np.float32),
            [0, 1],
            ("a", "b"),
            name="x",
            split="train",
            mean=(0,) * 3,
            std=(1,) * 3,
        )
    with pytest.raises(InputError, match="one label per image"):
        ImageDataset(
            np.zeros((2, 3, 4, 4), np.uint8),
            [0],
            ("a", "b"),
            name="x",
            split="train",
            mean=(0,) * 3,
            std=(1,) * 3,
        )


# --------------------------------------------------------------------------- decoded cache


def make_folder(root: Path, rng, per_class: int = 3) -> None:
    for cls in ("a", "b"):
        for i in range(per_class):
            write_image(root / "train" / cls / f"{i}.png", random_pixels(rng, 12, 12, 3))


def test_decoded_cache_is_reused_and_rebuilt_when_the_source_changes(tmp_path, cache):
    rng = np.random.default_rng(7)
    folder = tmp_path / "imgs"
    make_folder(folder, rng)
    first = load(folder, image_size=12, cache_dir=cache)
    assert not first.from_cache
    files = list(cache.glob("*.npz"))
    assert len(files) == 1 and not list(cache.glob("*.tmp"))
    second = load(folder, image_size=12, cache_dir=cache)
    assert second.from_cache and torch.equal(second.images, first.images)
    assert torch.equal(second.labels, first.labels) and second.classes == first.classes

    # Replace one image: new size/mtime -> decoded again, new pixels, same single cache file.
    target = folder / "train" / "b" / "1.png"
    new_pixels = random_pixels(rng, 12, 12, 3)
    write_image(target, new_pixels)
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    third = load(folder, image_size=12, cache_dir=cache)
    assert not third.from_cache
    np.testing.assert_array_equal(third.images[4].numpy(), new_pixels.transpose(2, 0, 1))
    assert load(folder, image_size=12, cache_dir=cache).from_cache
    assert len(list(cache.glob("*.npz"))) == 1

    # Add an image: rebuilt with one more example.
    write_image(folder / "train" / "a" / "9.png", random_pixels(rng, 12, 12, 3))
    fourth = load(folder, image_size=12, cache_dir=cache)
    assert not fourth.from_cache and len(fourth) == 7

    # Other settings get their own files; use_cache=False writes nothing.
    load(folder, image_size=8, cache_dir=cache)
    load(folder, image_size=12, subset=4, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 3
    load(folder, image_size=10, cache_dir=tmp_path / "unused", use_cache=False)
    assert not (tmp_path / "unused").exists()


def test_corrupt_cache_file_is_rebuilt(tmp_path, cache):
    folder = tmp_path / "imgs"
    make_folder(folder, np.random.default_rng(8))
    first = load(folder, image_size=12, cache_dir=cache)
    (path,) = cache.glob("*.npz")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(UserWarning, match="unreadable cache"):
        again = load(folder, image_size=12, cache_dir=cache)
    assert not again.from_cache and torch.equal(again.images, first.images)
    assert load(folder, image_size=12, cache_dir=cache).from_cache


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SIMFUNC_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "data"
    monkeypatch.delenv("SIMFUNC_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "simfunc" / "data"


# --------------------------------------------------------------------------- download


def cifar_tarball(path: Path, tmp_path: Path, extra_members=()) -> str:
    """A CIFAR-10 style archive of tiny batches; returns its md5."""
    source = tmp_path / "tarsrc"
    write_cifar10(source / "cifar-10-batches-py", np.random.default_rng(9), per_batch=2)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(source / "cifar-10-batches-py", arcname="cifar-10-batches-py")
        for member, payload in extra_members:
            tar.addfile(member, io.BytesIO(payload) if payload is not None else None)
    return hashlib.md5(path.read_bytes()).hexdigest()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/cifar-10-python.tar.gz"


def test_download_offline_fails_at_once_with_manual_instructions(tmp_path):
    root = tmp_path / "root"
    with pytest.raises(DownloadError) as info:
        download_cifar("cifar10", root, url=closed_port_url(), timeout=5)
    message = str(info.value)
    assert isinstance(info.value, InputError)
    assert "could not download" in message and CIFAR_ARCHIVES["cifar10"].url in message
    assert str(root / "cifar-10-batches-py") in message
    assert not list(root.glob("*.part"))


def test_download_rejects_a_checksum_mismatch(tmp_path):
    archive = tmp_path / "served.tar.gz"
    cifar_tarball(archive, tmp_path)
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match="md5"):
        download_cifar("cifar10", root, url=archive.as_uri(), md5="0" * 32)
    assert not (root / "cifar-10-batches-py").exists() and not list(root.iterdir())


def test_download_verifies_extracts_and_loads(tmp_path, monkeypatch):
    archive = tmp_path / "served.tar.gz"
    md5 = cifar_tarball(archive, tmp_path)
    monkeypatch.setitem(
        CIFAR_ARCHIVES, "cifar10", CifarArchive(archive.as_uri(), md5, "cifar-10-batches-py")
    )
    root = tmp_path / "root"
    data = load("cifar10", "train", data_root=root, download=True)
    assert len(data) == 10 and (root / "cifar-10-batches-py" / "batches.meta").is_file()
    assert not (root / "served.tar.gz").exists()
    # Present now: no second download (the URL may even be gone).
    archive.unlink()
    assert len(load("cifar10", "test", data_root=root, download=True)) == 2


def test_an_archive_placed_by_hand_installs_offline(tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    md5 = cifar_tarball(root / "cifar-10-python.tar.gz", tmp_path)
    monkeypatch.setitem(
        CIFAR_ARCHIVES,
        "cifar10",
        CifarArchive(closed_port_url(), md5, "cifar-10-batches-py"),
    )
    assert len(load("cifar10", "test", data_root=root, download=True)) == 2


@pytest.mark.parametrize("kind", ["traversal", "absolute", "symlink"])
def test_unsafe_archives_are_refused(tmp_path, kind):
    if kind == "symlink":
        member = tarfile.TarInfo("cifar-10-batches-py/link")
        member.type, member.linkname, payload = tarfile.SYMTYPE, "/etc/passwd", None
    else:
        name = "../evil.txt" if kind == "traversal" else "/tmp/simfunc-evil.txt"
        member, payload = tarfile.TarInfo(name), b"evil"
        member.size = len(payload)
    archive = tmp_path / "bad.tar.gz"
    md5 = cifar_tarball(archive, tmp_path, [(member, payload)])
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match="unsafe"):
        download_cifar("cifar10", root, url=archive.as_uri(), md5=md5)
    assert not (tmp_path / "evil.txt").exists()
    assert not (root / "cifar-10-batches-py").exists()


def test_only_cifar_downloads(tmp_path):
    with pytest.raises(InputError, match="cifar10 and cifar100 only"):
        load("tiny-imagenet", data_root=tmp_path, download=True)


def test_unusual_png_modes_decode_to_rgb(tmp_path, cache):
    folder = tmp_path / "modes" / "train" / "only"
    folder.mkdir(parents=True)
    deep = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)
    Image.fromarray(deep).save(folder / "a_16bit.png")
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 10  # red, almost transparent: alpha is dropped
    Image.fromarray(rgba, "RGBA").save(folder / "b_rgba.png")
    green = Image.fromarray(np.full((8, 8, 3), (0, 90, 0), np.uint8))
    palette = green.convert("P", palette=Image.Palette.ADAPTIVE)
    palette.save(folder / "c_palette.png", transparency=0)
    data = load(tmp_path / "modes", image_size=8, cache_dir=cache)
    assert data.images.shape == (3, 3, 8, 8)
    np.testing.assert_allclose(data.images[0, 0].numpy(), deep / 257.0, atol=1)
    assert torch.all(data.images[1, 0] == 200) and torch.all(data.images[1, 1:] == 0)
    assert torch.all(data.images[2, 1] == 90) and torch.all(data.images[2, 0] == 0)


# --- class selection and the photo-patch test set ----------------------------------------


def test_classes_keep_and_relabel_in_the_order_given():
    full = load("digits", "test")
    part = load("digits", "test", classes=[7, 2])
    assert part.classes == ("7", "2") and part.num_classes == 2
    original = full.labels[(full.labels == 7) | (full.labels == 2)]
    expected = torch.where(original == 7, 0, 1)
    assert torch.equal(part.labels, expected)
    assert torch.equal(part.images, full.images[(full.labels == 7) | (full.labels == 2)])


def test_classes_by_name_on_an_image_folder_and_cache_slot_is_separate(tmp_path):
    root = SHARED / "cifar10"
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root}")
    both = load(root, "test", classes=["cat", "dog"], subset=40, cache_dir=tmp_path)
    assert both.classes == ("cat", "dog") and set(both.labels.tolist()) == {0, 1}
    everything = load(root, "test", subset=40, cache_dir=tmp_path)
    assert everything.num_classes == 10
    again = load(root, "test", classes=["cat", "dog"], subset=40, cache_dir=tmp_path)
    assert again.from_cache and torch.equal(again.images, both.images)


@pytest.mark.parametrize("classes, fragment", [([11], "not a class"), ([1, 1], "twice"), ([], "non-empty"), ("3", "non-empty")])
def test_bad_class_selection(classes, fragment):
    with pytest.raises(InputError, match=fragment):
        load("digits", "test", classes=classes)


def test_photo_patches_are_deterministic_unlabelled_natural_images():
    test = load("photo-patches", "test")
    assert len(test) == 1000 and test.num_classes == 0 and (test.labels == -1).all()
    assert test.images.shape == (1000, 3, 32, 32)
    assert torch.equal(test.images, load("photo-patches", "test").images)
    assert not torch.equal(test.images, load("photo-patches", "train").images)
    # real photographs: colour, and far from constant
    assert test.images.float().std() > 20
    grey = load("photo-patches", "test", image_size=8, channels=1)
    assert grey.images.shape == (1000, 1, 8, 8)
    with pytest.raises(InputError, match="unlabelled"):
        load("photo-patches", "test", classes=[0])


def test_bundled_sets_are_read_once_per_process_and_their_users_get_copies(monkeypatch):
    """The digits are parsed once per process and their fitted images kept: a second load is
    the same data, a caller changing its images changes no other caller's, and the kept
    arrays cannot be written."""
    from simfunc.data import registry
    from simfunc.data.transforms import fit_array

    parsed = []
    real = registry.read_digits
    monkeypatch.setattr(registry, "read_digits", lambda split: parsed.append(split) or real(split))
    registry._bundled.cache_clear()
    monkeypatch.setattr(registry, "_FITTED", {})
    first = load("digits", "test", image_size=12, channels=3)
    again = load("digits", "test", image_size=12, channels=3)
    subset = load("digits", "test", image_size=12, channels=3, subset=50, seed=1)
    assert parsed == ["test"]
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    uncached = fit_array(real("test").images, 12, 3)
    assert np.array_equal(again.images.numpy(), uncached)
    first.images.zero_()
    again.images.zero_()
    assert np.array_equal(load("digits", "test", image_size=12, channels=3).images.numpy(),
                          uncached)
    assert subset.images.shape[0] == 50 and not torch.equal(subset.images, again.images[:50])
    source = registry.resolve("digits", "test")
    with pytest.raises(ValueError, match="read-only"):
        source.images[0, 0, 0, 0] = 1
    registry._bundled.cache_clear()
