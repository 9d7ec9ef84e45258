"""PocketPaw status JSON → :class:`~bridge.pipeline.model.Snapshot`. No I/O here.

Tolerant by design: unknown states map to a fallback and extra fields are
ignored (each logged once); a frame that is not a status object at all raises
:class:`FrameError`, which the source logs and skips.

Bounded where parsed (``bridge.pipeline.bounds``): numbers are clamped (a token
count of 10^400 made the Stream Deck's division overflow), strings cut (titles
200 characters, tool names 80, errors 500), and a session whose key is over 256
characters is skipped.
"""

from __future__ import annotations

import logging
from typing import Any

from bridge.infra.logutil import OnceLog
from bridge.pipeline import bounds
from bridge.pipeline.model import GlobalState, Session, SessionState, Snapshot, TokenUsage

log = logging.getLogger("agentlight.sources.pocketpaw")
_once = OnceLog(log)

SERVER_GLOBAL_STATES = frozenset({GlobalState.IDLE, GlobalState.ACTIVE, GlobalState.DEGRADED})
_KNOWN_SESSION_FIELDS = frozenset(
    {
        "session_key",
        "session_id",
        "channel",
        "title",
        "state",
        "tool_name",
        "duration_seconds",
        "token_usage",
        "error_message",
    }
)
_KNOWN_GLOBAL_FIELDS = frozenset({"state", "active_sessions", "max_concurrent", "uptime_seconds"})


class FrameError(ValueError):
    """A frame or snapshot body that is not a PocketPaw status object."""


def parse_status(
    data: Any,
    *,
    source: str = "",
    received_at: float,
    previous: Snapshot | None = None,
) -> Snapshot:
    """Parse one status object (the REST body or one SSE ``data:`` payload).

    :param received_at: wall-clock time the frame arrived; with
        ``duration_seconds`` it gives each session's ``since``.
    :param previous: the last snapshot from this source; a session whose state
        and tool are unchanged keeps its ``since``, so repeated snapshots
        compare equal.
    :raises FrameError: when ``data`` is not a status object.
    """
    return parse_capped(data, source=source, received_at=received_at, previous=previous)[0]


def parse_capped(
    data: Any,
    *,
    source: str = "",
    received_at: float,
    previous: Snapshot | None = None,
    max_sessions: int | None = None,
    stoppable: bool = False,
) -> tuple[Snapshot, int]:
    """:func:`parse_status` keeping at most ``max_sessions`` sessions (the first ones).

    Returns the snapshot and how many listed sessions were dropped, so the work
    per frame stays bounded whatever a server lists (the byte cap alone lets
    tens of thousands of sessions through).

    :param stoppable: mark the sessions whose run a device may stop (see
        :func:`can_stop`).
    """
    if not isinstance(data, dict):
        raise FrameError(f"expected a JSON object, got {type(data).__name__}")
    glob = data.get("global")
    if not isinstance(glob, dict):
        raise FrameError("missing 'global' object")
    raw_sessions = data.get("sessions", [])
    if raw_sessions is None:
        raw_sessions = []
    if not isinstance(raw_sessions, list):
        raise FrameError(f"'sessions' should be a list, got {type(raw_sessions).__name__}")

    dropped = 0
    if max_sessions is not None and len(raw_sessions) > max_sessions:
        dropped = len(raw_sessions) - max_sessions
        raw_sessions = raw_sessions[:max_sessions]
    before = {s.key: s for s in previous.sessions} if previous is not None else {}
    sessions: list[Session] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_sessions):
        session = _parse_session(raw, index, source, received_at, before, stoppable)
        if session is not None and session.key not in seen:
            seen.add(session.key)
            sessions.append(session)

    extra = set(glob) - _KNOWN_GLOBAL_FIELDS
    if extra:
        _once.info("global-extra", "pocketpaw: ignoring unknown global fields %s", sorted(extra))
    state = _global_state(glob.get("state"), sessions)
    snapshot = Snapshot(
        state=state,
        sessions=tuple(sessions),
        active_sessions=bounds.count(glob.get("active_sessions")) or len(sessions),
        max_concurrent=bounds.count(glob.get("max_concurrent")),
        uptime_seconds=bounds.seconds(glob.get("uptime_seconds")),
    )
    return snapshot, dropped


def _global_state(raw: object, sessions: list[Session]) -> GlobalState:
    if isinstance(raw, str):
        state = GlobalState.__members__.get(raw.upper()) if raw.islower() else None
        if state is not None and state in SERVER_GLOBAL_STATES:
            return state
    fallback = (
        GlobalState.DEGRADED
        if any(s.state is SessionState.ERROR for s in sessions)
        else GlobalState.ACTIVE
        if sessions
        else GlobalState.IDLE
    )
    _once.warning(
        f"global-state:{str(raw)[:40]}",
        "pocketpaw: unknown global state %r; showing %s (from its sessions)",
        str(raw)[:80],
        fallback.value,
    )
    return fallback


def can_stop(key: str) -> bool:
    """Whether PocketPaw's chat API can stop (and answer) the session ``key``: its
    chat API speaks for the web channel only (``websocket:<chat id>``)."""
    return key.startswith(WEB_PREFIX) and len(key) > len(WEB_PREFIX)


#: The web dashboard's channel: the one PocketPaw's chat API sends to.
WEB_PREFIX = "websocket:"


def _parse_session(
    raw: object,
    index: int,
    source: str,
    received_at: float,
    before: dict[str, Session],
    stoppable: bool = False,
) -> Session | None:
    if not isinstance(raw, dict):
        _once.warning("session-type", "pocketpaw: skipping sessions[%d]: not an object", index)
        return None
    key = raw.get("session_key")
    if not isinstance(key, str) or not key:
        _once.warning(
            "session-key", "pocketpaw: skipping sessions[%d]: no session_key string", index
        )
        return None
    if len(key) > bounds.KEY_CHARS:
        _once.warning(
            "session-key-long",
            "pocketpaw: skipping sessions whose session_key is over %d characters",
            bounds.KEY_CHARS,
        )
        return None
    extra = set(raw) - _KNOWN_SESSION_FIELDS
    if extra:
        _once.info(
            "session-extra", "pocketpaw: ignoring unknown session fields %s", sorted(extra)[:10]
        )
    raw_state = raw.get("state")
    try:
        state = SessionState(raw_state) if isinstance(raw_state, str) else SessionState.UNKNOWN
    except ValueError:
        state = SessionState.UNKNOWN
    if state is SessionState.UNKNOWN:
        _once.warning(
            f"session-state:{str(raw_state)[:40]}",
            "pocketpaw: unknown session state %r; shown as 'unknown'",
            str(raw_state)[:80],
        )
    # session_id/channel: what the server sends, else derived as the server does.
    derived_channel, sep, derived_id = key.partition(":")
    if not sep:
        derived_channel, derived_id = "unknown", key
    tool = _str(raw.get("tool_name"), bounds.NAME_CHARS)
    duration = bounds.seconds(raw.get("duration_seconds")) or 0.0
    prior = before.get(key)
    if prior is not None and prior.state is state and prior.tool == tool:
        since = prior.since
    else:
        since = received_at - max(0.0, duration)
    unknown = isinstance(raw_state, str) and state is SessionState.UNKNOWN
    return Session(
        key=key,
        id=_str(raw.get("session_id"), bounds.KEY_CHARS) or derived_id,
        channel=_str(raw.get("channel"), bounds.NAME_CHARS) or derived_channel[: bounds.NAME_CHARS],
        state=state,
        title=_str(raw.get("title"), bounds.TITLE_CHARS),
        tool=tool,
        since=since,
        tokens=_tokens(raw.get("token_usage")),
        error=_str(raw.get("error_message"), bounds.MESSAGE_CHARS),
        source=source,
        raw_state=str(raw_state)[: bounds.NAME_CHARS] if unknown else "",
        stoppable=stoppable and can_stop(key),
    )


def _str(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _tokens(value: object) -> TokenUsage | None:
    if not isinstance(value, dict):
        return None
    i, o = bounds.count(value.get("input")), bounds.count(value.get("output"))
    if i is not None and o is not None:
        return TokenUsage(i, o)
    return None


def fingerprint(snapshot: Snapshot) -> tuple[object, ...]:
    """The server's own dedupe key: global state and (key, state, tool) per session."""
    return (
        snapshot.state,
        tuple((s.key, s.state, s.raw_state, s.tool) for s in snapshot.sessions),
    )
