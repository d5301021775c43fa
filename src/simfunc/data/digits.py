"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes, values 0-16).

The train/test split is fixed: a stratified 80/20 split by
``sklearn.model_selection.train_test_split(test_size=0.2, stratify=y, random_state=0)``,
1,437 train and 360 test images, the same whatever ``seed`` a caller passes (so a test set
never overlaps a training set). Pixels are stored as uint8 ``round(v * 255 / 16)``, one
channel at 8x8; ``load`` converts them to the size and channel count asked for.
"""

from __future__ import annotations

import numpy as np

from simfunc.data.sources import ArraySet

__all__ = ["read_digits", "DIGITS_TEST_FRACTION", "DIGITS_SPLIT_SEED"]

DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0


def read_digits(split: str) -> ArraySet:
    """The ``split`` ("train" or "test") of the digits as an ArraySet of (N, 1, 8, 8) uint8."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None, :, :]
    target = bunch.target.astype(np.int64)
    indices = np.arange(len(target))
    train_idx, test_idx = train_test_split(
        indices,
        test_size=DIGITS_TEST_FRACTION,
        stratify=target,
        random_state=DIGITS_SPLIT_SEED,
    )
    chosen = np.sort(train_idx if split == "train" else test_idx)
    return ArraySet(
        name="digits",
        split=split,
        source="sklearn.datasets.load_digits",
        images=images[chosen],
        labels=target[chosen],
        classes=tuple(str(d) for d in range(10)),
        normalization="digits",
    )
