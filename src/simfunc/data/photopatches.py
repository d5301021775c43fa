"""Patches of natural photographs that ship with scikit-learn: a third, unlabelled test set.

``sklearn.datasets.load_sample_images()`` bundles two photographs (``china.jpg`` and
``flower.jpg``, 427 x 640 RGB). This source cuts square patches from them at seeded random
positions and scales, giving a set of natural-image crops whose statistics differ from both
handwritten digits and the labelled sets. The ``quick`` profile uses it where the thesis uses
Pascal VOC: an out-of-distribution test set that needs no download. Labels are -1 and
``classes`` is empty, as for VOC.

The patches are deterministic: split ``test`` uses seed 1 and ``train`` seed 0 for the
positions, so the two never coincide by construction of the random streams (they may overlap
in pixels, which is harmless for an unlabelled evaluation set). Each split has
``PATCHES_PER_SPLIT`` patches; take fewer with ``subset=``.
"""

from __future__ import annotations

import numpy as np

from simfunc.data.sources import ArraySet

__all__ = ["read_photo_patches", "PATCHES_PER_SPLIT"]

PATCHES_PER_SPLIT = 1000
_SPLIT_SEEDS = {"train": 0, "test": 1}
_PATCH_SIDES = (24, 32, 48, 64)  # pixels in the photograph; every patch is resized later


def read_photo_patches(split: str) -> ArraySet:
    """``PATCHES_PER_SPLIT`` square RGB patches, uint8 (N, 3, 32, 32)."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.default_rng(_SPLIT_SEEDS[split])
    patches = np.empty((PATCHES_PER_SPLIT, 3, 32, 32), dtype=np.uint8)
    for index in range(PATCHES_PER_SPLIT):
        photo = photos[index % len(photos)]
        side = int(rng.choice(_PATCH_SIDES))
        top = int(rng.integers(0, photo.shape[0] - side + 1))
        left = int(rng.integers(0, photo.shape[1] - side + 1))
        crop = Image.fromarray(photo[top : top + side, left : left + side])
        resized = crop.resize((32, 32), Image.Resampling.BILINEAR, reducing_gap=None)
        patches[index] = np.asarray(resized, dtype=np.uint8).transpose(2, 0, 1)
    return ArraySet(
        name="photo-patches",
        split=split,
        source="sklearn.datasets.load_sample_images (china.jpg, flower.jpg)",
        images=patches,
        labels=np.full(PATCHES_PER_SPLIT, -1, dtype=np.int64),
        classes=(),
        normalization="imagenet",
    )
