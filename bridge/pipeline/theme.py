"""Themes: which look each state, tool and channel gets.

A theme file has four tables, each optional, layered over the built-in default
(``bridge/pipeline/themes/default.toml``)::

    [global.<idle|active|degraded|connecting|disconnected|auth_failed>]
    [session.<thinking|tool_running|streaming|waiting_for_user|error|unknown>]
    [tool.<tool name>]        # over sessions in tool_running with that tool
    [channel.<channel name>]  # over busy sessions (thinking, tool_running, streaming)
    [raw.<server state name>] # over sessions whose server calls their state so
                              # (AgP's "paused" apart from its "idle", say)

Each holds look keys: ``color``, ``effect``, ``period``, ``brightness``,
``label``, ``icon``, ``text``. Overrides change only the keys they set. Channel
and tool overrides never touch ``waiting_for_user`` or ``error``: those must look
the same on every channel.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from bridge.infra.errors import ThemeError
from bridge.infra.validate import from_table
from bridge.pipeline.looks import Color, Effect, Look
from bridge.pipeline.model import GlobalState, SessionState

EffectName = Literal["solid", "off", "blink", "pulse", "breathe"]

BUSY_STATES = frozenset({SessionState.THINKING, SessionState.TOOL_RUNNING, SessionState.STREAMING})


@dataclass(frozen=True, slots=True)
class LookSpec:
    """A partial look as written in a theme: only the keys that were set.

    :param color: a CSS color name or ``#rrggbb``.
    :param effect: solid, off, blink, pulse (or breathe).
    :param period: seconds per blink/pulse cycle, > 0.
    :param brightness: 0..1.
    :param label: short text; may use {state}, {tool}, {channel}, {title}, {session}.
    :param icon: icon name for keys.
    :param text: longer text for keys and the terminal.
    """

    color: str | None = None
    effect: EffectName | None = None
    period: float | None = None
    brightness: float | None = None
    label: str | None = None
    icon: str | None = None
    text: str | None = None

    def apply(self, base: Look, *, file: str | None, key: str) -> Look:
        changes: dict[str, Any] = {}
        if self.color is not None:
            try:
                changes["color"] = Color.parse(self.color)
            except ValueError as err:
                raise ThemeError(str(err), file=file, key=f"{key}.color") from err
        if self.effect is not None:
            changes["effect"] = Effect.parse(self.effect)
        for name in ("period", "brightness", "label", "icon", "text"):
            value = getattr(self, name)
            if value is not None:
                changes[name] = value
        for name in ("label", "text"):
            template = getattr(self, name)
            if template is not None:
                _check_template(template, file=file, key=f"{key}.{name}")
        if self.brightness is not None and not 0.0 <= self.brightness <= 1.0:
            raise ThemeError(
                f"got {self.brightness!r}, expected a number from 0 to 1",
                file=file,
                key=f"{key}.brightness",
            )
        if self.period is not None and self.period <= 0:
            raise ThemeError(
                f"got {self.period!r}, expected a number of seconds > 0",
                file=file,
                key=f"{key}.period",
            )
        return base.with_(**changes) if changes else base

    def merged(self, over: LookSpec) -> LookSpec:
        """This spec with every key ``over`` sets replaced."""
        return LookSpec(
            **{
                f.name: getattr(over, f.name)
                if getattr(over, f.name) is not None
                else getattr(self, f.name)
                for f in fields(LookSpec)
            }
        )


PLACEHOLDERS = ("state", "tool", "channel", "title", "session", "steps")


def _check_template(template: str, *, file: str | None, key: str) -> None:
    """Only plain ``{name}`` placeholders: no indexing, conversions or format specs.

    A format spec like ``{tool:>999999999}`` would make the mapping allocate
    gigabytes; a bad template is a config error, not a crash at run time.
    """
    import string

    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as err:
        raise ThemeError(f"got {template!r}: {err}", file=file, key=key) from None
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            raise ThemeError(
                f"got {template!r}, expected plain placeholders: "
                + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                + " (use {{ and }} for braces)",
                file=file,
                key=key,
            )


_NEUTRAL = Look(Color(1.0, 1.0, 1.0), Effect.SOLID, brightness=0.5)


@dataclass(frozen=True)
class Theme:
    """Resolved looks per state, plus partial overrides per tool and channel."""

    global_looks: dict[GlobalState, Look]
    session_looks: dict[SessionState, Look]
    tools: dict[str, LookSpec] = field(default_factory=dict)
    channels: dict[str, LookSpec] = field(default_factory=dict)
    source: str = "built-in"
    raws: dict[str, LookSpec] = field(default_factory=dict)
    # Overrides resolved once per (state, tool, channel, raw): mapping 1,000
    # sessions must not parse colors 1,000 times.
    _cache: dict[tuple[SessionState, str | None, str, str], Look] = field(
        default_factory=dict, compare=False, repr=False
    )

    def global_look(self, state: GlobalState) -> Look:
        return self.global_looks[state]

    def session_look(
        self, state: SessionState, *, tool: str | None, channel: str, raw: str = ""
    ) -> Look:
        """The look of a session, with channel then tool overrides for busy states,
        then the override for the server's own state name, if the theme has one."""
        # Keyed by names the theme knows: server-sent names must not grow the cache.
        cache_key = (
            state,
            tool if tool in self.tools else None,
            channel if channel in self.channels else "",
            raw if raw in self.raws else "",
        )
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        look = self.session_looks[state]
        if state in BUSY_STATES:
            spec = self.channels.get(channel)
            if spec is not None:
                look = spec.apply(look, file=None, key=f"channel.{channel}")
            if tool is not None and state is SessionState.TOOL_RUNNING:
                spec = self.tools.get(tool)
                if spec is not None:
                    look = spec.apply(look, file=None, key=f"tool.{tool}")
        raw_spec = self.raws.get(raw) if raw else None
        if raw_spec is not None:
            look = raw_spec.apply(look, file=None, key=f"raw.{raw}")
        self._cache[cache_key] = look
        return look


_TOP_KEYS = ("global", "session", "tool", "channel", "raw")


def parse_theme(
    table: dict[str, Any], *, file: str | None, key: str = "", base: Theme | None = None
) -> Theme:
    """Layer ``table`` (a parsed theme) over ``base`` (default: the built-in theme)."""
    prefix = f"{key}." if key else ""
    unknown = [k for k in table if k not in _TOP_KEYS and k != "file"]
    if unknown:
        raise ThemeError(
            f"unknown table; expected one of {', '.join(_TOP_KEYS)}",
            file=file,
            key=f"{prefix}{unknown[0]}",
        )
    global_looks = dict(base.global_looks) if base else {s: _NEUTRAL for s in GlobalState}
    session_looks = dict(base.session_looks) if base else {s: _NEUTRAL for s in SessionState}
    tools = dict(base.tools) if base else {}
    channels = dict(base.channels) if base else {}
    raws = dict(base.raws) if base else {}

    for name, spec in _specs(table, "global", file, prefix):
        state = _enum(GlobalState, name, file, f"{prefix}global.{name}")
        global_looks[state] = spec.apply(
            global_looks[state], file=file, key=f"{prefix}global.{name}"
        )
    for name, spec in _specs(table, "session", file, prefix):
        sstate = _enum(SessionState, name, file, f"{prefix}session.{name}")
        session_looks[sstate] = spec.apply(
            session_looks[sstate], file=file, key=f"{prefix}session.{name}"
        )
    for target, section in ((tools, "tool"), (channels, "channel"), (raws, "raw")):
        for name, spec in _specs(table, section, file, prefix):
            spec.apply(_NEUTRAL, file=file, key=f"{prefix}{section}.{name}")  # check it now
            target[name] = target[name].merged(spec) if name in target else spec
    return Theme(global_looks, session_looks, tools, channels, source=file or "built-in", raws=raws)


def _specs(
    table: dict[str, Any], section: str, file: str | None, prefix: str
) -> list[tuple[str, LookSpec]]:
    raw = table.get(section, {})
    if not isinstance(raw, dict):
        raise ThemeError(f"got {raw!r}, expected a table", file=file, key=f"{prefix}{section}")
    return [
        (str(name), from_table(LookSpec, value, file=file, key=f"{prefix}{section}.{name}"))
        for name, value in raw.items()
    ]


def _enum(enum: Any, name: str, file: str | None, key: str) -> Any:
    try:
        return enum(name)
    except ValueError:
        known = ", ".join(m.value for m in enum)
        raise ThemeError(
            f"unknown state {name!r}, expected one of {known}", file=file, key=key
        ) from None


_default: Theme | None = None


def default_theme() -> Theme:
    """The built-in theme (parsed once)."""
    global _default
    if _default is None:
        # Beside this module (package data), read directly: importlib.resources
        # would add ~4 ms of imports (zipfile, tempfile) to every start.
        text = (Path(__file__).parent / "themes" / "default.toml").read_text("utf-8")
        _default = parse_theme(tomllib.loads(text), file="<built-in theme>")
    return _default


def load_theme_file(path: str | Path, *, base: Theme | None = None) -> Theme:
    """Load a theme file layered over ``base`` (default: the built-in theme)."""
    from bridge.infra.files import read_limited

    p = Path(path)
    try:
        # Non-blocking and capped like every file a config names (bridge.infra.files).
        data = tomllib.loads(read_limited(p, limit=1024 * 1024, what="theme file").decode("utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ThemeError(f"not valid TOML: {err}", file=str(p)) from err
    except (OSError, UnicodeDecodeError, ValueError) as err:  # ValueError: FileRefused
        raise ThemeError(f"cannot read theme file: {err}", file=str(p)) from err
    return parse_theme(data, file=str(p), base=base or default_theme())
