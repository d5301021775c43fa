"""Configuration hashing: the same configuration gives the same cache key, on any machine.

A key is the first ``KEY_LENGTH`` hex digits of the sha256 of the *canonical JSON* of
``{"fn": fn_name, "config": config, "format": FORMAT_VERSION}`` (plus ``"inputs"`` — the keys
of the artifacts a job reads — when there are any). Canonical JSON has sorted keys, no
whitespace, floats written with ``repr`` (the shortest string that round-trips), tuples written
as lists and numpy scalars written as the Python numbers they hold. It does not depend on dict
insertion order, on ``PYTHONHASHSEED`` or on the platform.

Values that have no single JSON spelling are rejected with an InputError naming where they sit
in the configuration: NaN and infinities, sets, bytes, paths, arbitrary objects, and mapping
keys that are not strings (``{1: ...}`` and ``{"1": ...}`` would otherwise collide).
``1`` and ``1.0`` are different configurations (they are different JSON).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from simfunc.errors import InputError

__all__ = ["FORMAT_VERSION", "KEY_LENGTH", "canonical_json", "config_hash", "normalize_config"]

# Bump when the layout of cache entries changes: every key changes with it, so old entries are
# simply never found again (never misread).
FORMAT_VERSION = 1
KEY_LENGTH = 20


def normalize_config(value: Any, name: str = "config") -> Any:
    """Return ``value`` as plain JSON types (dict, list, str, int, float, bool, None).

    Tuples become lists, numpy scalars become Python numbers, mappings become dicts with the
    same (string) keys. Raises InputError, naming the offending location, for anything else.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{name} is {value!r}: configurations must hold finite numbers")
        return float(value)
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InputError(
                    f"{name} has the key {key!r} of type {type(key).__name__}: "
                    "configuration keys must be strings"
                )
            result[key] = normalize_config(item, f"{name}[{key!r}]")
        return result
    if isinstance(value, (list, tuple)):
        return [normalize_config(item, f"{name}[{index}]") for index, item in enumerate(value)]
    numpy_scalar = _numpy_scalar(value)
    if numpy_scalar is not None:
        return normalize_config(numpy_scalar, name)
    raise InputError(
        f"{name} is a {type(value).__name__} ({value!r:.60}): configurations hold only JSON "
        "values (dict with string keys, list, tuple, str, int, float, bool, None)"
    )


def _numpy_scalar(value: Any) -> Any:
    """The Python number inside a numpy scalar (without importing numpy), else None."""
    if (
        type(value).__module__ == "numpy"
        and hasattr(value, "item")
        and getattr(value, "shape", None) == ()
    ):
        item = value.item()
        if isinstance(item, (bool, int, float)):
            return item
    return None


def canonical_json(value: Any, name: str = "config") -> str:
    """The canonical JSON text of ``value`` (see the module docstring)."""
    return json.dumps(
        normalize_config(value, name),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )


def config_hash(fn_name: str, config: Any, inputs: Mapping[str, str] | None = None) -> str:
    """The cache key of ``fn_name`` applied to ``config`` (and to the artifacts ``inputs``).

    ``inputs`` maps the names under which a job reads other artifacts to those artifacts' keys;
    it is part of the key so that a job downstream of a changed artifact gets a new key too.
    Without inputs (or with an empty mapping) the key depends on ``fn_name`` and ``config`` only.
    """
    if not isinstance(fn_name, str) or not fn_name:
        raise InputError(f"fn_name must be a non-empty string, got {fn_name!r}")
    payload: dict[str, Any] = {
        "fn": fn_name,
        "config": normalize_config(config, "config"),
        "format": FORMAT_VERSION,
    }
    if inputs:
        payload["inputs"] = normalize_config(dict(inputs), "inputs")
    text = canonical_json(payload)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:KEY_LENGTH]
