"""Study settings: typed dataclasses, named profiles, and overrides from TOML or the command line.

A study declares its settings as a frozen dataclass and its profiles (``quick``, ``standard``,
``paper``) as instances of it. A field may itself be a frozen dataclass (a nested group, such as
the training configuration), reached with a dotted name. A user changes any field without
editing code::

    simfunc run architectures --set training.epochs=3 --set archs=vgg11,resnet18
    simfunc run architectures --config my.toml      # top-level keys, or an [architectures] table
                                                    # (nested: [architectures.training])

Values from the command line are strings parsed by the field's declared type; TOML values are
checked against it. A nested group takes dotted keys (``training.epochs``), a table
(``{"training": {"epochs": 3}}``, as TOML and the stored settings give it) or an instance of its
dataclass. Unknown keys and values of the wrong type raise an InputError that lists the valid
keys, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any, Mapping

from simfunc.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "apply_overrides",
    "parse_assignments",
    "read_toml",
    "settings_dict",
    "flat_settings",
    "has_setting",
]


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return settings_dict(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def settings_dict(settings: Any) -> dict[str, Any]:
    """The settings as a plain JSON-able dict (tuples become lists, nested groups dicts)."""
    return {field.name: _plain(getattr(settings, field.name)) for field in dataclasses.fields(settings)}


def flat_settings(settings: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf setting by its dotted name: ``{"archs": (...), "training.epochs": 6, ...}``."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if _is_group(value):
            out.update(flat_settings(value, f"{prefix}{field.name}."))
        else:
            out[f"{prefix}{field.name}"] = value
    return out


def has_setting(settings: Any, key: str) -> bool:
    """Whether ``key`` (a field name, a dotted name or a nested group's name) is a setting."""
    head, _, rest = key.partition(".")
    names = {field.name for field in dataclasses.fields(settings)}
    if head not in names:
        return False
    value = getattr(settings, head)
    return not rest or (_is_group(value) and has_setting(value, rest))


def _is_group(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def parse_assignments(assignments: list[str] | None) -> dict[str, str]:
    """``["epochs=3", "archs=a,b"]`` -> ``{"epochs": "3", "archs": "a,b"}``."""
    parsed: dict[str, str] = {}
    for item in assignments or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set expects KEY=VALUE, got {item!r}")
        parsed[key.strip().replace("-", "_")] = value.strip()
    return parsed


def read_toml(path: str | Path, section: str | None = None) -> dict[str, Any]:
    """Top-level keys of a TOML file, updated by the keys of its ``[section]`` table if present.

    Tables named after other studies are ignored, so one file can configure several studies.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--config {path}: no such file")
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"--config {path}: not valid TOML ({error})") from None
    values = {key: value for key, value in data.items() if not isinstance(value, dict)}
    if section is not None and isinstance(data.get(section), dict):
        values.update(data[section])
    return _underscored(values)


def _underscored(values: dict[str, Any]) -> dict[str, Any]:
    return {key.replace("-", "_"): _underscored(value) if isinstance(value, dict) else value
            for key, value in values.items()}


def apply_overrides(settings: Any, overrides: Mapping[str, Any], source: str = "override",
                    prefix: str = "") -> Any:
    """A copy of the frozen dataclass ``settings`` with ``overrides`` applied and type-checked.

    Keys are field names; a nested group's fields are reached with dotted keys
    (``"training.epochs"``), or the group's key maps to a table of them (or to an instance).
    """
    if not overrides:
        return settings
    fields = {field.name: field for field in dataclasses.fields(settings)}
    hints = typing.get_type_hints(type(settings))
    changes: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, raw in overrides.items():
        head, dot, rest = str(key).partition(".")
        if head not in fields or (dot and not _is_group(getattr(settings, head))):
            valid = sorted(f"{prefix}{name}" for name in flat_settings(settings))
            raise InputError(
                f"{source}: unknown setting {prefix + str(key)!r} for {type(settings).__name__}; "
                f"valid settings: {', '.join(valid)}"
            )
        current = getattr(settings, head)
        if dot:
            nested.setdefault(head, {})[rest] = raw
        elif _is_group(current) and isinstance(raw, Mapping):
            nested.setdefault(head, {}).update(raw)
        elif _is_group(current) and not isinstance(raw, type(current)):
            raise InputError(f"{source} {prefix}{head}: expected a table of "
                             f"{type(current).__name__} settings, got {raw!r}")
        else:
            changes[head] = _coerce(raw, hints[head], f"{source} {prefix}{head}")
    for head, values in nested.items():
        group = changes.get(head, getattr(settings, head))
        changes[head] = apply_overrides(group, values, source, f"{prefix}{head}.")
    return dataclasses.replace(settings, **changes)


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            if type(None) in args:
                return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, option, where)
            except InputError as error:
                errors.append(str(error))
        raise InputError(errors[0] if errors else f"{where}: cannot use {value!r}")
    if origin in (tuple, list):
        item_type = args[0] if args else str
        if isinstance(value, str):
            items: list[Any] = [part.strip() for part in value.split(",") if part.strip()]
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            items = [value]
        converted = [_coerce(item, item_type, where) for item in items]
        return tuple(converted) if origin is tuple else converted
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
            return False
        raise InputError(f"{where}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise InputError(f"{where}: expected an integer, got {value!r}")
        try:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise InputError(f"{where}: expected an integer, got {value!r}") from None
    if annotation is float:
        if isinstance(value, bool):
            raise InputError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InputError(f"{where}: expected a number, got {value!r}") from None
    if annotation is str:
        if not isinstance(value, str):
            raise InputError(f"{where}: expected text, got {value!r}")
        return value
    return value
