"""Per-dataset normalisation constants: mean and standard deviation of each channel, on
pixel values scaled to [0, 1].

* ``cifar10``: mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616) -- the per-pixel
  statistics of the 50,000 CIFAR-10 training images (the values most CIFAR code publishes;
  the also-common std (0.2023, 0.1994, 0.2010) is the std of per-image means, not of pixels).
* ``cifar100``: mean (0.5071, 0.4865, 0.4409), std (0.2673, 0.2564, 0.2762), the same
  statistics of the 50,000 CIFAR-100 training images.
* ``imagenet``: mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), the ImageNet training
  set statistics used by torchvision's pretrained models; simfunc uses them for every
  ImageNet-like set (Tiny-ImageNet, ImageNet32, Pascal VOC, Cats vs Dogs) and for user image
  folders.
* ``digits``: mean 0.3053, std 0.3760 for the one channel (replicated when three channels are
  asked for) -- the statistics of all 1,797 scikit-learn 8x8 digits, values 0-16 divided by 16.

For ``channels=1`` the three-channel statistics are combined with the ITU-R 601-2 luma weights
(0.299, 0.587, 0.114) that Pillow's greyscale conversion uses: exact for the mean (the
conversion is linear), an approximation for the std (it ignores the correlation between
channels and uses the weighted mean of the stds).
"""

from __future__ import annotations

from simfunc.errors import InputError

__all__ = ["NORMALIZATION", "LUMA", "statistics"]

NORMALIZATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "digits": ((0.3053,), (0.3760,)),
}

LUMA = (0.299, 0.587, 0.114)


def statistics(kind: str, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel of the normalisation ``kind`` for ``channels`` (1 or 3)."""
    if kind not in NORMALIZATION:
        raise InputError(f"normalisation {kind!r} is unknown; choose one of {list(NORMALIZATION)}")
    mean, std = NORMALIZATION[kind]
    if len(mean) == channels:
        return mean, std
    if len(mean) == 1:
        return mean * channels, std * channels
    if channels == 1:
        grey_mean = sum(w * m for w, m in zip(LUMA, mean))
        grey_std = sum(w * s for w, s in zip(LUMA, std))
        return (grey_mean,), (grey_std,)
    raise InputError(f"channels must be 1 or 3, got {channels}")
