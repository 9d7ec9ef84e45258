"""Build realistic :class:`~bridge.pipeline.frame.Frame` objects for tests in one line.

Tests of drivers, mappings and the engine all need frames; building one by hand
means an ``AgentStatus``, ``Session`` objects, ``Look`` objects and a sampled
color. These helpers fill in plausible defaults so a test names only what it
is about::

    make_frame("active", [("websocket:abc", "tool_running", "bash")], color="#ff8000")

Sessions may be given as ``(key, state)``, ``(key, state, tool)`` or a ready
:class:`~bridge.pipeline.model.Session` (from :func:`make_session`, for tokens, ``since``
and the rest).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from bridge.pipeline.effects import sample
from bridge.pipeline.frame import Frame, SessionView
from bridge.pipeline.looks import Color, Effect, Look
from bridge.pipeline.model import (
    AgentStatus,
    ConnectionState,
    GlobalState,
    Session,
    SessionRef,
    SessionState,
    Snapshot,
    SourceStatus,
    TokenUsage,
)

# A plain tuple is (key, state) or (key, state, tool); lists of mixed lengths
# infer as tuple[str, ...], so that is accepted too.
SessionSpec = Session | tuple[str, ...] | tuple[str, str, str | None]

# A plausible theme, so session views differ per state the way a real one does.
SESSION_LOOKS: dict[SessionState, Look] = {
    SessionState.THINKING: Look(Color.from_bytes(0x00, 0xAA, 0xFF), Effect.PULSE, 2.0),
    SessionState.TOOL_RUNNING: Look(Color.from_bytes(0xFF, 0x80, 0x00), Effect.SOLID),
    SessionState.STREAMING: Look(Color.from_bytes(0x00, 0xFF, 0x80), Effect.PULSE, 1.0),
    SessionState.WAITING_FOR_USER: Look(Color.from_bytes(0xFF, 0xFF, 0x00), Effect.BLINK, 1.0),
    SessionState.ERROR: Look(Color.from_bytes(0xFF, 0x00, 0x00), Effect.BLINK, 0.5),
    SessionState.UNKNOWN: Look(Color.from_bytes(0x80, 0x80, 0x80), Effect.SOLID),
}


def to_color(color: str | Color) -> Color:
    """A :class:`Color` from ``#rrggbb``, a CSS name or a Color."""
    return color if isinstance(color, Color) else Color.parse(color)


def make_look(
    color: str | Color = "#ff8000",
    effect: str | Effect = "solid",
    *,
    period: float = 1.0,
    brightness: float = 1.0,
    label: str = "",
    icon: str = "",
    text: str = "",
) -> Look:
    """A :class:`Look`; ``effect`` may be a name such as ``"pulse"``."""
    return Look(
        to_color(color),
        effect if isinstance(effect, Effect) else Effect.parse(effect),
        period=period,
        brightness=brightness,
        label=label,
        icon=icon,
        text=text,
    )


def make_session(
    key: str = "websocket:abc",
    state: str | SessionState = "thinking",
    tool: str | None = None,
    *,
    channel: str | None = None,
    title: str | None = None,
    since: float = 0.0,
    tokens: tuple[int, int] | None = None,
    error: str | None = None,
    source: str = "",
    raw_state: str = "",
) -> Session:
    """A :class:`Session`; ``channel`` and ``id`` come from a ``channel:id`` key.

    An unknown ``state`` name becomes ``SessionState.UNKNOWN`` with the name kept
    in ``raw_state``, the way a source treats it.
    """
    head, sep, tail = key.partition(":")
    try:
        parsed = SessionState(state)
    except ValueError:
        parsed, raw_state = SessionState.UNKNOWN, raw_state or str(state)
    return Session(
        key=key,
        id=tail if sep else key,
        channel=channel if channel is not None else (head if sep else "websocket"),
        state=parsed,
        title=title,
        tool=tool,
        since=since,
        tokens=TokenUsage(*tokens) if tokens is not None else None,
        error=error,
        source=source,
        raw_state=raw_state or parsed.value,
    )


def as_session(spec: SessionSpec) -> Session:
    if isinstance(spec, Session):
        return spec
    if not 2 <= len(spec) <= 3:
        raise ValueError(f"a session is (key, state) or (key, state, tool), got {spec!r}")
    return make_session(*spec)


def make_status(
    state: str | GlobalState = "active",
    sessions: Iterable[SessionSpec] = (),
    sources: tuple[SourceStatus, ...] = (),
) -> AgentStatus:
    return AgentStatus(GlobalState(state), tuple(as_session(s) for s in sessions), sources)


def make_snapshot(
    state: str | GlobalState = "active",
    sessions: Iterable[SessionSpec] = (),
    *,
    source: str = "",
) -> Snapshot:
    """A :class:`Snapshot` as a source publishes it; sessions get ``source`` when given."""
    built = tuple(as_session(s) for s in sessions)
    if source:
        built = tuple(s if s.source else dataclasses.replace(s, source=source) for s in built)
    return Snapshot(GlobalState(state), built)


def make_source(
    name: str = "src",
    state: str | GlobalState = "active",
    sessions: Iterable[SessionSpec] = (),
    *,
    connection: ConnectionState = ConnectionState.CONNECTED,
    detail: str | None = None,
) -> SourceStatus:
    """One source's :class:`SourceStatus`: connected with a snapshot, or down with none."""
    if connection is not ConnectionState.CONNECTED:
        return SourceStatus(name, connection, None, detail)
    return SourceStatus(name, connection, make_snapshot(state, sessions, source=name), detail)


def make_frame(
    state: str | GlobalState = "active",
    sessions: Iterable[SessionSpec] = (),
    color: str | Color = "#ff8000",
    effect: str | Effect = "solid",
    device: str = "d",
    *,
    look: Look | None = None,
    sampled: str | Color | None = None,
    label: str = "",
    brightness: float = 1.0,
    period: float = 1.0,
    global_look: Look | None = None,
    session_looks: dict[str, Look] | None = None,
    focus: str | SessionRef | None = None,
    t: float = 0.0,
) -> Frame:
    """A :class:`Frame` for ``device``.

    :param color: the main look's full color (``frame.look.color``).
    :param look: the main look, overriding ``color``/``effect``/``label``/... .
    :param sampled: ``frame.color``; default: the main look at the start of its
        cycle (full color for solid, blink and pulse; black for off).
    :param global_look: default: the main look (as when ``focus`` is None).
    :param session_looks: looks by session key; default from :data:`SESSION_LOOKS`.
    :param focus: the session behind the main look, if any: a ref, or a key
        of one of ``sessions``.
    """
    status = make_status(state, sessions)
    main = look or make_look(color, effect, period=period, brightness=brightness, label=label)
    overrides = session_looks or {}
    views = []
    for slot, session in enumerate(status.sessions):
        session_look = overrides.get(session.key, SESSION_LOOKS[session.state])
        views.append(SessionView(session, session_look, sample(session_look, 0.0), slot))
    if isinstance(focus, str):
        focus = next((s.ref for s in status.sessions if s.key == focus), SessionRef("", focus))
    glob = global_look or main
    return Frame(
        device=device,
        status=status,
        look=main,
        color=sample(main, 0.0) if sampled is None else to_color(sampled),
        global_look=glob,
        sessions=tuple(views),
        focus=focus,
        global_color=sample(glob, 0.0),
        t=t,
    )


__all__ = [
    "SESSION_LOOKS",
    "SessionSpec",
    "as_session",
    "make_frame",
    "make_look",
    "make_session",
    "make_snapshot",
    "make_source",
    "make_status",
    "to_color",
]
