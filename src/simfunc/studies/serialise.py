"""A study's typed result to and from ``summary.json``.

:func:`to_json` turns a result (frozen dataclasses, nested; tuples, dicts, numbers, strings)
into plain JSON values: what ``summary.json`` holds besides the ``"schema"``, ``"study"`` and
``"profile"`` the framework adds. :func:`from_json` reads them back into the result's type,
guided by its fields' type annotations, so that a run directory's ``summary.json`` is the same
typed result the analysis made (the framework uses it when it finds an analysis unchanged and
does not redo it). Only the shapes results are made of are read: dataclasses, ``X | None``,
``tuple[X, ...]`` and ``tuple[X, Y]``, ``dict[str, X]``, ``list[X]``, ``int``, ``float``,
``bool``, ``str`` and ``Any`` (kept as it is); anything else raises :class:`InputError`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from simfunc.errors import InputError

__all__ = ["from_json", "to_json"]

T = TypeVar("T")


def to_json(value: Any) -> Any:
    """A dataclass (or mapping, sequence, number) as plain JSON values: tuples as lists,
    NaN and infinities as None, numpy scalars as Python numbers."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return to_json(value.item())
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except NameError as error:  # an annotation that names a type its module does not define
        raise TypeError(f"{cls.__name__}'s field types cannot be resolved: {error}") from None


def from_json(kind: type[T], value: Any, where: str = "summary") -> T:
    """``value`` (what :func:`to_json` made) read back as ``kind``; ``where`` names the place
    in the message of the InputError a value of the wrong shape raises."""
    return typing.cast(T, _read(kind, value, where))


def _read(kind: Any, value: Any, where: str) -> Any:
    if kind is Any:
        return value
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _read(option, value, where)
            except InputError as error:
                errors.append(str(error))
        raise InputError("; ".join(errors) or f"{where}: None where a value is needed")
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, Mapping):
            raise InputError(f"{where}: expected an object for {kind.__name__}, got {value!r}")
        hints = _hints(kind)
        names = {f.name for f in dataclasses.fields(kind) if f.init}
        unknown = set(value) - names
        if unknown:
            raise InputError(f"{where}: {kind.__name__} has no field {min(unknown)!r}")
        return kind(**{name: _read(hints[name], value[name], f"{where}.{name}")
                       for name in names if name in value})
    if origin is tuple:
        args = typing.get_args(kind)
        if not isinstance(value, list):
            raise InputError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_read(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise InputError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_read(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is list:
        (item,) = typing.get_args(kind)
        if not isinstance(value, list):
            raise InputError(f"{where}: expected a list, got {value!r}")
        return [_read(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        key, item = typing.get_args(kind)
        if key is not str or not isinstance(value, Mapping):
            raise InputError(f"{where}: expected an object with string keys, got {value!r}")
        return {k: _read(item, v, f"{where}.{k}") for k, v in value.items()}
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind in (bool, str):
        if isinstance(value, kind):
            return value
    else:
        raise InputError(f"{where}: cannot read a value of type {kind!r}")
    raise InputError(f"{where}: expected {kind.__name__}, got {value!r}")
