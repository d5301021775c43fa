"""Decode throughput of simfunc.data.load on the shared image sets, cold and from the cache.

    PYTHONPATH=src python benchmarks/data.py [--data-root DIR] [--image-size 32] [--subset N]

For each split of the shared sets (CIFAR-10, Tiny-ImageNet, Cats vs Dogs; ImageFolder JPEGs)
it prints images per second for

* ``reference`` -- a plain Pillow loop over the same files: open, convert to RGB, bilinear
  resize to the target size, ``np.asarray`` (what a hand-written loader does);
* ``cold`` -- ``simfunc.data.load`` with an empty decoded-image cache: listing, decoding
  (JPEG draft scaling for large photos) and writing the cache file;
* ``cached`` -- ``load`` again, served from the cache (listing and fingerprinting the source
  files included);

and the ratios cold/reference and cached/reference (times faster). Before timing, every
file's bytes are read once, so all three runs find the files in the OS page cache and the
numbers measure decoding, not the disk. The data root defaults to $SIMFUNC_SHARED_DATA, else
the ``shared/data`` folder next to the repository.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from simfunc.data import load, resolve, stratified_subset  # noqa: E402

SETS = (
    ("cifar10", "train"),
    ("cifar10", "test"),
    ("tiny-imagenet", "train"),
    ("tiny-imagenet", "test"),
    ("cats-vs-dogs", "train"),
    ("cats-vs-dogs", "test"),
)


def reference_decode(paths: list[Path], size: int) -> np.ndarray:
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for row, path in enumerate(paths):
        with Image.open(path) as image:
            out[row] = np.asarray(
                image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_root = os.environ.get("SIMFUNC_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    parser.add_argument("--data-root", default=default_root)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--subset", type=int, default=None, help="images per split (stratified)")
    args = parser.parse_args()
    root = Path(args.data_root)
    if not root.is_dir():
        sys.exit(f"data root {root} not found (set SIMFUNC_SHARED_DATA or --data-root)")

    print(f"data root {root}, image size {args.image_size}, subset {args.subset or 'all'}")
    header = f"{'set':<22}{'images':>8}{'reference/s':>13}{'cold/s':>10}{'cached/s':>10}"
    print(header + f"{'cold/ref':>10}{'cached/ref':>12}")
    with tempfile.TemporaryDirectory() as cache_dir:
        for name, split in SETS:
            listing = resolve(name, split, data_root=root)
            indices = (
                stratified_subset(listing.labels, args.subset, 0)
                if args.subset
                else np.arange(len(listing.paths))
            )
            paths = [listing.paths[i] for i in indices]
            for path in paths:  # page-cache warm-up: time decoding, not the disk
                path.read_bytes()
            n = len(paths)

            start = time.perf_counter()
            reference_decode(paths, args.image_size)
            reference = time.perf_counter() - start

            options = dict(
                data_root=root,
                image_size=args.image_size,
                subset=args.subset,
                cache_dir=cache_dir,
            )
            start = time.perf_counter()
            first = load(name, split, **options)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            second = load(name, split, **options)
            cached = time.perf_counter() - start
            assert not first.from_cache and second.from_cache and len(second) == n

            print(
                f"{name + '/' + split:<22}{n:>8}{n / reference:>13.0f}{n / cold:>10.0f}"
                f"{n / cached:>10.0f}{reference / cold:>10.2f}{reference / cached:>12.1f}"
            )


if __name__ == "__main__":
    main()
