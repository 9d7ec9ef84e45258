"""Turn parsed TOML tables into typed dataclasses, with errors that say where.

Every error names the file, the dotted key, the bad value and what was
expected, e.g. ``agentlight.toml: devices[1].fps: got 'fast' (str), expected a
number``.

Written here rather than taken from pydantic or msgspec: the bridge runs on a
Raspberry Pi Zero (armv6), where those need compiled wheels that are not always
published, and importing pydantic alone costs more start-up time and memory
than the budgets allow. The rules below cover what config files need: str, int,
float, bool, Literal, Optional, tuples/lists, dicts of those, nested dataclasses
and :class:`~bridge.infra.secret.Secret`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from bridge.infra.errors import ConfigError, ConfigErrors
from bridge.infra.secret import Secret, redact_text

T = TypeVar("T")

_MISSING = dataclasses.MISSING


def describe(value: object) -> str:
    """A short, secret-free rendering of a bad value for error messages."""
    if isinstance(value, Secret):
        return "***"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    # Before it is cut short: a cut could keep a password and lose the "@" that marks it.
    text = repr(redact_text(value)) if isinstance(value, str) else repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({_KIND.get(type(value), type(value).__name__)})"


_KIND = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    list: "a list",
    tuple: "a list",
    dict: "a table",
}


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
        args = get_args(tp)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(set(args)) == 1:
                return f"a list of exactly {len(args)} ({expected(args[0])} each)"
            return f"a list of exactly {len(args)}: " + ", ".join(expected(a) for a in args)
        return f"a list of {expected(args[0])}"
    if origin is dict:
        return f"a table of {expected(get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return getattr(tp, "__name__", str(tp))


_HINTS: dict[type, dict[str, Any]] = {}


def _type_hints(cls: type) -> dict[str, Any]:
    # Once per class: a theme builds the same spec class for each of its ~30 looks,
    # and evaluating the annotations again each time was most of loading it.
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def from_table(cls: type[T], table: object, *, file: str | None, key: str) -> T:
    """Build dataclass ``cls`` from ``table`` (a dict from TOML), checking every field.

    Unknown keys are errors too, with a "did you mean" hint: a typo in a config
    file should never be silently ignored.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"got {describe(table)}, expected a table", file=file, key=key or None)
    hints = _type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    # Every error in the table, not only the first: a file is fixed in one go.
    errors: list[ConfigError] = []
    for name in table:
        if name not in fields:
            import difflib  # only for a mistake: start-up need not pay for it

            hint = difflib.get_close_matches(str(name), list(fields), n=1)
            known = ", ".join(sorted(fields)) or "none"
            extra = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {known}"
            errors.append(ConfigError(f"unknown key{extra}", file=file, key=_join(key, str(name))))
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name in table:
            try:
                values[name] = convert(hints[name], table[name], file=file, key=_join(key, name))
            except ConfigError as err:
                errors.append(err)
        elif f.default is _MISSING and f.default_factory is _MISSING:
            errors.append(
                ConfigError(
                    f"missing, expected {expected(hints[name])}", file=file, key=_join(key, name)
                )
            )
    try:
        # Built even after an error, from the good values only: its own checks
        # (ranges, one option against another) report in the same pass.
        built = cls(**values)
    except (TypeError, ValueError) as err:
        if not errors or not isinstance(err, TypeError):  # TypeError: a missing value
            errors.append(option_error(err, fields, file=file, key=key))
    ConfigErrors.raise_if(errors)
    return built


# "name: message" from an options class's own check names the option it is about.
_OPTION_PREFIX = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):? (.+)$", re.DOTALL)


def require_seconds(options: object, *names: str) -> None:
    """Raise ValueError for the first of ``names`` (fields of ``options``) not above zero.

    For an ``Options`` dataclass's ``__post_init__``: timeouts, intervals and
    back-offs, where zero or less would spin or never wait.
    """
    for name in names:
        value = getattr(options, name)
        if value <= 0:
            raise ValueError(f"{name}: got {value!r}, expected seconds > 0")


def option_error(
    err: Exception, fields: Mapping[str, object], *, file: str | None, key: str
) -> ConfigError:
    """A :class:`ConfigError` for a check inside an options class.

    When the message starts with one of the class's field names
    (``"width: must be >= 0"``), the error is filed under that option
    (``devices[0].width``), not under the whole table.
    """
    if isinstance(err, ConfigError):
        return err
    text = str(err)
    m = _OPTION_PREFIX.match(text)
    # "width: must be >= 0" and "width must be >= 0" are both about width.
    if m and m.group(1) in fields:
        return ConfigError(m.group(2), file=file, key=_join(key, m.group(1)))
    return ConfigError(text, file=file, key=key or None)


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
    if tp is bool or tp is str:  # as TOML gives them
        if isinstance(value, tp):
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
    if tp is Secret:
        if isinstance(value, Secret):
            return value
        if isinstance(value, str):
            return Secret(value)
        raise _bad(value, tp, file, key)
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise _bad(value, tp, file, key)
        args = get_args(tp)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            # A fixed-length tuple (three pins, an RGB triple): the count matters.
            if len(value) != len(args):
                raise ConfigError(
                    f"got {len(value)} item{'s' if len(value) != 1 else ''}, "
                    f"expected {expected(tp)}",
                    file=file,
                    key=key,
                )
            items = args
        else:
            items = (args[0],) * len(value)
        return tuple(
            convert(item_tp, item, file=file, key=f"{key}[{i}]")
            for i, (item_tp, item) in enumerate(zip(items, value, strict=True))
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
        kind = _KIND.get(type(value), f"a {type(value).__name__}")
        return ConfigError(f"got {kind}, expected {expected(tp)}", file=file, key=key)
    return ConfigError(f"got {describe(value)}, expected {expected(tp)}", file=file, key=key)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
