"""The service config: sources, devices, theme and what to leave on exit.

Everything is checked before anything starts; errors name the file, the key,
the bad value and what was expected. See ``config.example.toml`` for every key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from bridge.infra.errors import ConfigError, ConfigErrors
from bridge.infra.files import FileRefused, read_limited
from bridge.infra.validate import convert, describe, from_table
from bridge.pipeline.answers import AnswerOptions
from bridge.pipeline.looks import DARK, Effect, Look
from bridge.pipeline.mapping import ShowMode
from bridge.pipeline.theme import LookSpec, Theme, default_theme, load_theme_file, parse_theme

if TYPE_CHECKING:
    from bridge.api.options import ApiOptions

T = TypeVar("T")
LogLevel = Literal["debug", "info", "warning", "error"]

DEFAULT_URL = "http://127.0.0.1:8888"

#: Most ``[[sources]]`` a config may hold: each is a server connection and a task.
MAX_SOURCES = 32
#: Most ``[[devices]]``: each is a task and, while it writes, one thread of the
#: drivers' pool (``devices.base.MAX_THREADS``, the same number).
MAX_DEVICES = 64
#: Largest config or theme file read (the biggest real ones are a few KiB).
MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SourceConfig:
    type: str
    name: str
    options: Any


@dataclass(frozen=True)
class DeviceConfig:
    """One ``[[devices]]`` entry.

    :param show: ``session`` shows the most urgent session (falling back to the
        global look), ``global`` always the global state.
    """

    type: str
    name: str
    show: ShowMode
    options: Any
    fps: float | None = None
    refresh: float | None = None


@dataclass(frozen=True)
class BridgeSettings:
    """``[bridge]`` keys.

    :param log_level: debug, info, warning or error (``-v``/``-q`` override);
        unset: warning on a terminal, info otherwise (a service's journal).
    :param on_exit: the look devices are left in when the bridge stops; unset = dark.
    :param shutdown_timeout: seconds devices get to go dark on exit.
    """

    log_level: LogLevel | None = None
    on_exit: LookSpec | None = None
    shutdown_timeout: float = 0.8


@dataclass(frozen=True)
class Config:
    sources: tuple[SourceConfig, ...]
    devices: tuple[DeviceConfig, ...]
    theme: Theme
    on_exit: Look | None = None
    log_level: LogLevel | None = None
    shutdown_timeout: float = 0.8
    file: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    #: The local HTTP API (``[api]``); None: not served.
    api: ApiOptions | None = None
    #: Answering from devices (``[answers]``): what may be approved, and how.
    answers: AnswerOptions = field(default_factory=AnswerOptions)


_TOP_LEVEL = ("bridge", "sources", "devices", "theme", "api", "answers")
_DEVICE_COMMON = ("type", "name", "show", "fps", "refresh")


def load_config(path: str | Path, *, sources: list[dict[str, Any]] | None = None) -> Config:
    """Read and check a config file. Raises :class:`ConfigError` naming file and key.

    :param sources: ``[[sources]]`` for a file that has none (the demo brings its own,
        so a file with only devices, a dummy deck and a terminal, is one for it).
    """
    p = Path(path)
    file = str(p)
    try:
        text = read_limited(p, limit=MAX_FILE_BYTES, what="config file").decode("utf-8")
    except FileRefused as err:
        raise ConfigError(str(err), file=file) from None
    except OSError as err:
        raise ConfigError(f"cannot read config file: {err.strerror or err}", file=file) from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"not UTF-8 text: {err}", file=file) from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML: {err}", file=file) from err
    if sources is not None and "sources" not in data:
        data["sources"] = sources
    return parse_config(data, file=file, base_dir=p.parent)


def parse_config(data: dict[str, Any], *, file: str | None, base_dir: Path | None = None) -> Config:
    """Check ``data`` (a parsed config file) and build a :class:`Config`.

    Every error is collected, so one run of ``check`` names all of them.
    Relative paths in options (``path``, ``file``, ``*_file``) are taken
    relative to ``base_dir``, the config file's directory.
    """
    errors: list[ConfigError] = []
    for key in data:
        if key not in _TOP_LEVEL:
            import difflib  # only for a mistake: start-up need not pay for it

            hint = difflib.get_close_matches(key, _TOP_LEVEL, n=1)
            extra = (
                f"; did you mean {hint[0]!r}?"
                if hint
                else f"; expected one of {', '.join(_TOP_LEVEL)}"
            )
            errors.append(ConfigError(f"unknown key{extra}", file=file, key=key))

    settings = BridgeSettings()
    on_exit = None
    try:
        settings = from_table(BridgeSettings, data.get("bridge", {}), file=file, key="bridge")
        if settings.shutdown_timeout <= 0 or settings.shutdown_timeout > 10:
            raise ConfigError(
                f"got {settings.shutdown_timeout!r}, expected seconds in (0, 10]",
                file=file,
                key="bridge.shutdown_timeout",
            )
        on_exit = (
            settings.on_exit.apply(DARK.with_(effect=Effect.SOLID), file=file, key="bridge.on_exit")
            if settings.on_exit is not None
            else None
        )
    except ConfigError as err:
        errors.append(err)

    no_sources: tuple[SourceConfig, ...] = ()
    no_devices: tuple[DeviceConfig, ...] = ()
    sources = _collect(errors, lambda: _sources(data.get("sources"), file, base_dir), no_sources)
    devices = _collect(errors, lambda: _devices(data.get("devices"), file, base_dir), no_devices)
    theme = _collect(errors, lambda: _theme(data.get("theme"), file, base_dir), None)
    # A hooks source is fed through the API: it brings an [api] table (the defaults).
    api_table = data.get("api")
    if api_table is None and any(s.type == "hooks" for s in sources):
        api_table = {}
    api = _collect(errors, lambda: _api(api_table, devices, file, base_dir), None)
    answers = _collect(
        errors,
        lambda: from_table(AnswerOptions, data.get("answers", {}), file=file, key="answers"),
        AnswerOptions(),
    )
    ConfigErrors.raise_if(errors)
    assert theme is not None
    return Config(
        sources=sources,
        devices=devices,
        theme=theme,
        on_exit=on_exit,
        log_level=settings.log_level,
        shutdown_timeout=settings.shutdown_timeout,
        file=file,
        api=api,
        answers=answers,
    )


def _collect(errors: list[ConfigError], build: Callable[[], T], failed: T) -> T:
    try:
        return build()
    except ConfigError as err:
        errors.append(err)
        return failed


def _resolve_paths(table: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """Options naming a file (``path``, ``file``, ``*_file``, ``*_from``) made relative to
    the config.

    ``~`` and absolute paths are kept; the checks that follow see the real path.
    """
    if base_dir is None:
        return table
    out = dict(table)
    for k, v in table.items():
        if (k in ("path", "file") or k.endswith(("_file", "_from"))) and isinstance(v, str) and v:
            p = Path(v)
            if not p.is_absolute() and not v.startswith("~"):
                out[k] = str(base_dir / p)
    return out


def _array(value: object, file: str | None, key: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(
            f"got {describe(value)}, expected an array of tables ([[{key}]])", file=file, key=key
        )
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ConfigError(
                f"got {describe(item)}, expected a table", file=file, key=f"{key}[{i}]"
            )
    return value


def _type_of(
    table: dict[str, Any],
    known: Callable[[str], object],
    types: Callable[[], list[str]],
    file: str | None,
    key: str,
) -> str:
    """The entry's ``type``, a family ``known`` finds (``types`` lists them for the error)."""
    type_name = table.get("type")
    if not isinstance(type_name, str):
        raise ConfigError(
            f"got {describe(type_name)}, expected one of {', '.join(types())}"
            if "type" in table
            else f"missing, expected one of {', '.join(types())}",
            file=file,
            key=f"{key}.type",
        )
    try:
        known(type_name)
    except KeyError:
        raise ConfigError(
            f"unknown type {type_name!r}, expected one of {', '.join(types())}",
            file=file,
            key=f"{key}.type",
        ) from None
    except ConfigError as err:  # an installed family of that name that does not load
        raise ConfigError(err.detail, file=file, key=f"{key}.type") from None
    return type_name


def _name_of(
    table: dict[str, Any], default: str, seen: set[str], file: str | None, key: str
) -> str:
    name = table.get("name", default)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(
            f"got {describe(name)}, expected a non-empty string", file=file, key=f"{key}.name"
        )
    if name in seen:
        raise ConfigError(
            f"duplicate name {name!r}; names must be unique", file=file, key=f"{key}.name"
        )
    seen.add(name)
    return name


def _entries(
    value: object,
    file: str | None,
    section: str,
    known: Callable[[str], object],
    types: Callable[[], list[str]],
    example: str,
    limit: int,
    build: Callable[[dict[str, Any], str, str, str, list[ConfigError]], T],
) -> tuple[T, ...]:
    """Every ``[[section]]`` table, built by ``build(table, type, name, key, errors)``.

    Each type must be one ``known`` finds (it raises KeyError if not; ``types`` lists
    them for the error) and each name unique (the type by default, ``type-2`` and on
    after the first entry), and at most ``limit`` of them; an error in one table is
    reported with those in the others, and ``build`` may add more to ``errors``.
    """
    result = []
    errors: list[ConfigError] = []
    seen: set[str] = set()
    tables = _array(value, file, section)
    if len(tables) > limit:
        # Refused before any is built: ten thousand devices would start thousands of
        # threads and tasks before the first error showed.
        raise ConfigError(
            f"{len(tables):,} [[{section}]] tables; at most {limit} are allowed",
            file=file,
            key=section,
        )
    for i, table in enumerate(tables):
        key = f"{section}[{i}]"
        try:
            type_name = _type_of(table, known, types, file, key)
            default_name = type_name if i == 0 else f"{type_name}-{i + 1}"
            name = _name_of(table, default_name, seen, file, key)
            result.append(build(table, type_name, name, key, errors))
        except ConfigError as err:
            errors.append(err)
    ConfigErrors.raise_if(errors)
    if not tables:
        raise ConfigError(
            f'no [[{section}]]; expected at least one (e.g. type = "{example}")',
            file=file,
            key=section,
        )
    return tuple(result)


def _sources(
    value: object, file: str | None, base_dir: Path | None = None
) -> tuple[SourceConfig, ...]:
    from bridge.sources import family_of, types

    def build(
        table: dict[str, Any], type_name: str, name: str, key: str, errors: list[ConfigError]
    ) -> SourceConfig:
        rest = {k: v for k, v in table.items() if k not in ("type", "name")}
        rest = _resolve_paths(rest, base_dir)
        options = from_table(family_of(type_name).options_class(), rest, file=file, key=key)
        return SourceConfig(type_name, name, options)

    return _entries(value, file, "sources", family_of, types, "pocketpaw", MAX_SOURCES, build)


def _devices(
    value: object, file: str | None, base_dir: Path | None = None
) -> tuple[DeviceConfig, ...]:
    from devices import family_of, types

    def build(
        table: dict[str, Any], type_name: str, name: str, key: str, errors: list[ConfigError]
    ) -> DeviceConfig:
        show: ShowMode = "session"
        try:
            show = convert(ShowMode, table.get("show", "session"), file=file, key=f"{key}.show")
        except ConfigError as err:
            errors.append(err)
        fps = _seconds_or_rate(table, "fps", file, key, low=0.1, high=240.0, zero_ok=False)
        refresh = _seconds_or_rate(
            table, "refresh", file, key, low=0.05, high=3600.0, zero_ok=True
        )
        rest = {k: v for k, v in table.items() if k not in _DEVICE_COMMON}
        rest = _resolve_paths(rest, base_dir)
        options = from_table(family_of(type_name).options_class(), rest, file=file, key=key)
        return DeviceConfig(type_name, name, show, options, fps, refresh)

    return _entries(value, file, "devices", family_of, types, "terminal", MAX_DEVICES, build)


def _seconds_or_rate(
    table: dict[str, Any],
    name: str,
    file: str | None,
    key: str,
    *,
    low: float,
    high: float,
    zero_ok: bool,
) -> float | None:
    """A common device number (``fps``, ``refresh``), checked against its range."""
    if name not in table:
        return None
    value = convert(float, table[name], file=file, key=f"{key}.{name}")
    if (zero_ok and value == 0) or low <= value <= high:
        return value
    allowed = f"0 (off) or {low:g} to {high:g}" if zero_ok else f"{low:g} to {high:g}"
    raise ConfigError(f"got {value!r}, expected {allowed}", file=file, key=f"{key}.{name}")


def _api(
    value: object, devices: tuple[DeviceConfig, ...], file: str | None, base_dir: Path | None
) -> ApiOptions | None:
    """The ``[api]`` table (None when there is none); its library must be installed."""
    if value is None:
        return None
    from bridge.api import INPUT_DEVICE
    from bridge.api.options import INSTALL_HINT, ApiOptions, aiohttp_missing

    if not isinstance(value, dict):
        raise ConfigError(f"got {describe(value)}, expected a table", file=file, key="api")
    options = from_table(ApiOptions, _resolve_paths(value, base_dir), file=file, key="api")
    for i, device in enumerate(devices):
        if device.name == INPUT_DEVICE:
            # Presses from POST /v1/input carry this device name: a driver of the
            # same name would take them for its own.
            raise ConfigError(
                f"the name {INPUT_DEVICE!r} is taken by the API's presses while [api] is on; "
                "give this device another name",
                file=file,
                key=f"devices[{i}].name",
            )
    if aiohttp_missing():
        raise ConfigError(INSTALL_HINT, file=file, key="api")
    return options


def _theme(value: object, file: str | None, base_dir: Path | None) -> Theme:
    if value is None:
        return default_theme()
    if not isinstance(value, dict):
        raise ConfigError(f"got {describe(value)}, expected a table", file=file, key="theme")
    base = default_theme()
    theme_file = value.get("file")
    if theme_file is not None:
        if not isinstance(theme_file, str):
            raise ConfigError(
                f"got {describe(theme_file)}, expected a path to a theme TOML file",
                file=file,
                key="theme.file",
            )
        path = Path(theme_file).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise ConfigError(
                f"no theme file at {str(path)!r}"
                + (" (relative paths are taken from this config file's directory)"
                   if not Path(theme_file).expanduser().is_absolute() else ""),
                file=file,
                key="theme.file",
            )
        base = load_theme_file(path, base=base)
    inline = {k: v for k, v in value.items() if k != "file"}
    return parse_theme(inline, file=file, key="theme", base=base) if inline else base


def default_config(url: str = DEFAULT_URL) -> Config:
    """What ``agentlight run`` uses with no config file: local PocketPaw → terminal."""
    return parse_config(
        {
            "sources": [{"type": "pocketpaw", "url": url}],
            "devices": [{"type": "terminal"}],
        },
        file="<built-in config>",
    )
