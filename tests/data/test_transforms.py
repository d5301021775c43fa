"""Batched crop-and-flip augmentation: the same crops, and the same distribution of offsets and
flips, as the per-image ``random_crop_flip``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from simfunc.data.transforms import crop_flip_batch, random_crop_flip, random_crop_flip_batch


def reference_crop(image: torch.Tensor, pad: int, top: int, left: int, flip: bool) -> torch.Tensor:
    """Pad with zeros by hand, slice, flip: written independently of simfunc."""
    c, h, w = image.shape
    canvas = torch.zeros(c, h + 2 * pad, w + 2 * pad, dtype=image.dtype)
    canvas[:, pad : pad + h, pad : pad + w] = image
    crop = canvas[:, top : top + h, left : left + w]
    return torch.flip(crop, dims=[2]) if flip else crop


@pytest.mark.parametrize("shape, pad", [((6, 3, 32, 32), 4), ((5, 1, 8, 8), 1), ((3, 3, 7, 5), 2)])
def test_crop_flip_batch_equals_the_per_image_crop(shape, pad):
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    n = shape[0]
    top = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    left = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    flip = torch.tensor([i % 2 == 0 for i in range(n)])
    out = crop_flip_batch(images, pad, top, left, flip)
    assert out.shape == images.shape and out.dtype == torch.uint8
    for i in range(n):
        expected = reference_crop(images[i], pad, int(top[i]), int(left[i]), bool(flip[i]))
        assert torch.equal(out[i], expected)


def test_extreme_offsets_and_float_images():
    images = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    top, left = torch.tensor([0, 4]), torch.tensor([4, 0])
    out = crop_flip_batch(images, 2, top, left, torch.tensor([False, True]))
    for i in range(2):
        assert torch.equal(
            out[i], reference_crop(images[i], 2, int(top[i]), int(left[i]), bool(i == 1))
        )


def draws(batch: bool, n: int, pad: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Recover (top, left, flip) of each augmented image by matching it against every crop.

    Each image is a distinct marker (its pixels encode the position), so the crop that produced
    an output is unique.
    """
    size = 6
    base = (torch.arange(size * size, dtype=torch.int64) + 1).view(1, size, size)
    images = base.expand(n, 1, size, size).clone()
    generator = torch.Generator().manual_seed(seed)
    if batch:
        out = random_crop_flip_batch(images, pad, generator)
    else:
        out = torch.stack([random_crop_flip(images[i], pad, generator) for i in range(n)])
    keys = [(t, c, f) for t in range(2 * pad + 1) for c in range(2 * pad + 1) for f in (0, 1)]
    crops = torch.stack([reference_crop(base, pad, t, c, bool(f)) for t, c, f in keys])
    matches = (out[:, None] == crops[None]).flatten(2).all(2)  # (n, candidates)
    assert bool((matches.sum(1) == 1).all())
    found = [keys[int(j)] for j in matches.int().argmax(1)]
    array = np.array(found)
    return array[:, 0], array[:, 1], array[:, 2]


def test_batched_draws_have_the_per_image_distribution():
    pad, n = 2, 3000
    for batch in (True, False):
        top, left, flip = draws(batch, n, pad, seed=3)
        # Uniform offsets on 0..2*pad, fair flips, independent of each other.
        for values in (top, left):
            counts = np.bincount(values, minlength=2 * pad + 1)
            assert stats.chisquare(counts).pvalue > 1e-3
        assert stats.binomtest(int(flip.sum()), n, 0.5).pvalue > 1e-3
        table = np.histogram2d(top, left, bins=2 * pad + 1)[0]
        assert stats.chi2_contingency(table).pvalue > 1e-3
    # The two versions draw from the same distribution (two-sample tests on each draw).
    batched, single = draws(True, n, pad, seed=4), draws(False, n, pad, seed=5)
    for a, b in zip(batched, single, strict=True):
        table = np.array(
            [np.bincount(a, minlength=2 * pad + 1), np.bincount(b, minlength=2 * pad + 1)]
        )
        table = table[:, table.sum(0) > 0]
        assert stats.chi2_contingency(table).pvalue > 1e-3


def test_batched_augmentation_is_reproducible_under_a_generator():
    images = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    first = random_crop_flip_batch(images, 1, torch.Generator().manual_seed(7))
    again = random_crop_flip_batch(images, 1, torch.Generator().manual_seed(7))
    other = random_crop_flip_batch(images, 1, torch.Generator().manual_seed(8))
    assert torch.equal(first, again) and not torch.equal(first, other)
