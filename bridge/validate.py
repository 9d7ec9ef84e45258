"""Turn parsed TOML tables into typed dataclasses, with errors that say where.

Every error names the file, the dotted key, the bad value and what was
expected, e.g. ``agentlight.toml: devices[1].fps: got 'fast' (str), expected a
number``.

Written here rather than taken from pydantic or msgspec: the bridge runs on a
Raspberry Pi Zero (armv6), where those need compiled wheels that are not always
published, and importing pydantic alone costs more start-up time and memory
than the budgets allow. The rules below cover what config files need: str, int,
float, bool, Literal, Optional, tuples/lists, dicts of those, nested dataclasses
and :class:`~bridge.secret.Secret`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from bridge.errors import ConfigError
from bridge.secret import Secret

T = TypeVar("T")

_MISSING = dataclasses.MISSING


def describe(value: object) -> str:
    """A short, secret-free rendering of a bad value for error messages."""
    if isinstance(value, Secret):
        return "***"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def expected(tp: Any) -> str:
    """Plain-words description of a type for error messages."""
    origin = get_origin(tp)
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is Secret:
        return "a string (a secret)"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        parts = [expected(a) for a in get_args(tp) if a is not type(None)]
        return " or ".join(parts)
    if origin in (tuple, list):
        return f"a list of {expected(get_args(tp)[0])}"
    if origin is dict:
        return f"a table of {expected(get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return getattr(tp, "__name__", str(tp))


def from_table(cls: type[T], table: object, *, file: str | None, key: str) -> T:
    """Build dataclass ``cls`` from ``table`` (a dict from TOML), checking every field.

    Unknown keys are errors too, with a "did you mean" hint: a typo in a config
    file should never be silently ignored.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"got {describe(table)}, expected a table", file=file, key=key or None)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for name in table:
        if name not in fields:
            hint = difflib.get_close_matches(str(name), list(fields), n=1)
            known = ", ".join(sorted(fields)) or "none"
            extra = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {known}"
            raise ConfigError(f"unknown key{extra}", file=file, key=_join(key, str(name)))
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name in table:
            values[name] = convert(hints[name], table[name], file=file, key=_join(key, name))
        elif f.default is _MISSING and f.default_factory is _MISSING:
            raise ConfigError(
                f"missing, expected {expected(hints[name])}", file=file, key=_join(key, name)
            )
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise ConfigError(str(err), file=file, key=key or None) from err


def convert(tp: Any, value: object, *, file: str | None, key: str) -> Any:
    """Check ``value`` against type ``tp`` and convert it (lists to tuples, str to Secret)."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        alternatives = [a for a in args if a is not type(None)]
        if len(alternatives) == 1:
            # "X or none": X's own error is the precise one (a typo inside a table).
            return convert(alternatives[0], value, file=file, key=key)
        for arg in alternatives:
            try:
                return convert(arg, value, file=file, key=key)
            except ConfigError:
                continue
        raise _bad(value, tp, file, key)
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise _bad(value, tp, file, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _bad(value, tp, file, key)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _bad(value, tp, file, key)
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            # TOML has nan and inf; no option means them, and NaN slips past every
            # range check (nan <= 0 is false): reconnect_min = nan never reconnects.
            if not math.isfinite(value):
                raise ConfigError(
                    f"got {describe(value)}, expected a finite number", file=file, key=key
                )
            return float(value)
        raise _bad(value, tp, file, key)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _bad(value, tp, file, key)
    if tp is Secret:
        if isinstance(value, Secret):
            return value
        if isinstance(value, str):
            return Secret(value)
        raise _bad(value, tp, file, key)
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise _bad(value, tp, file, key)
        item_tp = get_args(tp)[0]
        return tuple(
            convert(item_tp, item, file=file, key=f"{key}[{i}]") for i, item in enumerate(value)
        )
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _bad(value, tp, file, key)
        _, value_tp = get_args(tp)
        return {
            str(k): convert(value_tp, v, file=file, key=_join(key, str(k)))
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp):
        return from_table(tp, value, file=file, key=key)  # type: ignore[arg-type]
    raise TypeError(f"validate.convert: unsupported type {tp!r} at {key}")


def _bad(value: object, tp: Any, file: str | None, key: str) -> ConfigError:
    if tp is Secret:
        # Even a mistyped secret is a secret: name its type, never its value.
        return ConfigError(
            f"got a {type(value).__name__}, expected {expected(tp)}", file=file, key=key
        )
    return ConfigError(f"got {describe(value)}, expected {expected(tp)}", file=file, key=key)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
