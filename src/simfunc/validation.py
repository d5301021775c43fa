"""Input validation shared by every layer: arrays in, float64 numpy out, or an InputError.

Each checker names the argument it was given (``name="X"``) so the message says which input
is wrong and why, before any arithmetic runs. Torch tensors on any device are accepted
without importing torch here: ``to_numpy``/``as_features`` detach them and copy them to host
memory; ``as_feature_tensor`` applies the same checks and keeps them on their device.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Iterable

import numpy as np

from simfunc.errors import InputError

__all__ = [
    "to_numpy",
    "as_features",
    "as_feature_pair",
    "as_feature_tensor",
    "as_vector",
    "check_finite",
    "check_number",
    "check_positive",
    "check_fraction",
    "check_int",
    "check_choice",
    "check_bool",
    "check_known",
]


def _is_torch_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def to_numpy(value: Any, name: str) -> np.ndarray:
    """Return ``value`` as a numpy array (no dtype change), or raise InputError.

    Accepts numpy arrays, torch tensors (any device, any requires_grad), nested sequences
    and array-likes. Rejects None, strings, objects and complex numbers.
    """
    if value is None:
        raise InputError(f"{name} is None: expected a numeric array")
    if isinstance(value, (str, bytes)):
        raise InputError(f"{name} is a {type(value).__name__}: expected a numeric array")
    if _is_torch_tensor(value):
        tensor = value.detach()
        if tensor.is_complex():
            raise InputError(f"{name} is complex: expected real numbers")
        if tensor.dtype.is_floating_point and tensor.dtype not in _TORCH_NUMPY_FLOATS:
            tensor = tensor.double()  # bfloat16 / float8 have no numpy dtype
        value = tensor.cpu().numpy()
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:  # ragged nested lists and the like
        raise InputError(f"{name} could not be read as a numeric array: {error}") from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise InputError(f"{name} has dtype {array.dtype}: expected a numeric array")
    if np.iscomplexobj(array):
        raise InputError(f"{name} is complex: expected real numbers")
    return array


class _LazyTorchFloats:
    """The torch float dtypes numpy understands, looked up only when a tensor arrives."""

    def __contains__(self, dtype: Any) -> bool:
        import torch

        return dtype in (torch.float16, torch.float32, torch.float64)


_TORCH_NUMPY_FLOATS = _LazyTorchFloats()


def check_finite(array: np.ndarray, name: str) -> None:
    """Raise InputError if ``array`` holds NaN or infinite values, saying how many and where."""
    if array.dtype.kind != "f":
        return
    finite = np.isfinite(array)
    if finite.all():
        return
    bad = np.argwhere(~finite)
    first = tuple(int(i) for i in bad[0])
    kinds = []
    if np.isnan(array).any():
        kinds.append("NaN")
    if np.isinf(array).any():
        kinds.append("infinite")
    raise InputError(
        f"{name} contains {len(bad)} {' and '.join(kinds)} value(s), the first at index {first}"
    )


def as_features(
    X: Any, name: str = "X", min_examples: int = 2, dtype: Any = np.float64,
    check_values: bool = True,
) -> np.ndarray:
    """Validate a feature matrix and return it as a C-contiguous float64 array (n, p).

    Rows are examples. Extra trailing axes (channels, height, width) are flattened into
    features. Requires at least ``min_examples`` rows and one feature, all finite. ``dtype``
    is the dtype returned (float64 by default; ``None``: float32 input stays float32, any
    other becomes float64); an input already of that dtype and C-contiguous is not copied.
    ``check_values=False`` leaves the finiteness check to a caller that makes it as part of
    its first pass over the values (it must then call ``check_finite`` for the message).
    """
    array = to_numpy(X, name)
    if array.ndim < 2:
        hint = " (use X.reshape(-1, 1) for a single feature)" if array.ndim == 1 else ""
        raise InputError(
            f"{name} has {array.ndim} dimension(s): expected (examples, features){hint}"
        )
    n = array.shape[0]
    if n == 0 or array.size == 0:
        raise InputError(f"{name} is empty (shape {array.shape})")
    if n < min_examples:
        raise InputError(
            f"{name} has {n} example(s): this estimator needs at least {min_examples}"
        )
    array = array.reshape(n, -1)
    if check_values:
        check_finite(array, name)
    if dtype is None:
        dtype = np.float32 if array.dtype == np.float32 else np.float64
    return np.ascontiguousarray(array, dtype=dtype)


def as_feature_tensor(
    X: Any, name: str = "X", min_examples: int = 2, dtype: Any = None
) -> Any:
    """``as_features`` for a torch tensor, kept on its device: the same checks and messages.

    Returns a contiguous (n, p) tensor of ``dtype`` (default: float64, or float32 on Apple's
    MPS, which has no float64), detached from any autograd graph. The finiteness check runs
    on the device; only its verdict (and, for a bad tensor, the first bad index) comes back.
    """
    import torch

    tensor = X.detach()
    if tensor.is_complex():
        raise InputError(f"{name} is complex: expected real numbers")
    if tensor.ndim < 2:
        hint = " (use X.reshape(-1, 1) for a single feature)" if tensor.ndim == 1 else ""
        raise InputError(
            f"{name} has {tensor.ndim} dimension(s): expected (examples, features){hint}"
        )
    n = tensor.shape[0]
    if n == 0 or tensor.numel() == 0:
        raise InputError(f"{name} is empty (shape {tuple(tensor.shape)})")
    if n < min_examples:
        raise InputError(
            f"{name} has {n} example(s): this estimator needs at least {min_examples}"
        )
    tensor = tensor.reshape(n, -1)
    if tensor.dtype.is_floating_point and not bool(torch.isfinite(tensor).all()):
        _raise_not_finite(tensor, name)
    if dtype is None:
        dtype = torch.float32 if tensor.device.type == "mps" else torch.float64
    return tensor.to(dtype).contiguous()


def _raise_not_finite(tensor: Any, name: str) -> None:
    import torch

    bad = torch.nonzero(~torch.isfinite(tensor))
    first = tuple(int(i) for i in bad[0].tolist())
    kinds = []
    if bool(torch.isnan(tensor).any()):
        kinds.append("NaN")
    if bool(torch.isinf(tensor).any()):
        kinds.append("infinite")
    raise InputError(
        f"{name} contains {bad.shape[0]} {' and '.join(kinds)} value(s), the first at index "
        f"{first}"
    )


def as_feature_pair(
    X: Any, Y: Any, min_examples: int = 2, names: tuple[str, str] = ("X", "Y")
) -> tuple[np.ndarray, np.ndarray]:
    """Validate two feature matrices on the same examples (same number of rows)."""
    name_x, name_y = names
    x_array = as_features(X, name_x, min_examples)
    y_array = as_features(Y, name_y, min_examples)
    if x_array.shape[0] != y_array.shape[0]:
        raise InputError(
            f"{name_x} has {x_array.shape[0]} rows but {name_y} has {y_array.shape[0]}: "
            "rows must be the same examples in both"
        )
    return x_array, y_array


def as_vector(values: Any, name: str, min_length: int = 1) -> np.ndarray:
    """Validate a one-dimensional finite sequence of numbers and return it as float64."""
    array = to_numpy(values, name)
    if array.ndim != 1:
        raise InputError(f"{name} has shape {array.shape}: expected a one-dimensional sequence")
    if array.shape[0] < min_length:
        raise InputError(f"{name} has {array.shape[0]} value(s): at least {min_length} needed")
    check_finite(array, name)
    return array.astype(np.float64)


def check_number(value: Any, name: str, minimum: float | None = None) -> float:
    """A finite real number (not a bool), optionally at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise InputError(f"{name} must be at least {minimum}, got {value!r}")
    return float(value)


def check_positive(value: Any, name: str) -> float:
    """A finite real number > 0."""
    if check_number(value, name) <= 0:
        raise InputError(f"{name} must be positive, got {value!r}")
    return float(value)


def check_fraction(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """A real number in (0, 1] (or [0, 1] with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise InputError(f"{name} must be a number in (0, 1], got {value!r}")
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value <= 1):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise InputError(f"{name} must be in {interval}, got {value!r}")
    return float(value)


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """An integer, optionally at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise InputError(f"{name} must be at least {minimum}, got {value!r}")
    return int(value)


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """One of a fixed set of strings."""
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_bool(value: Any, name: str) -> bool:
    """True or False (a numpy bool too), not a truthy stand-in such as 1 or "yes"."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_known(names: Iterable[str], known: Iterable[str], what: str) -> None:
    """InputError listing every name not in ``known`` (e.g. the keys given to a configuration
    dataclass), and the known ones."""
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise InputError(f"unknown {what} {', '.join(unknown)}; known: {', '.join(sorted(known))}")
