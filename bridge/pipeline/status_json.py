"""The versioned JSON form of the whole status: one format for record lines,
MQTT, ``agentlight status --json`` and any later HTTP endpoint.

::

    {"version": 1, "global": "active", "t": 1718000000.5,
     "sessions": [{"source": "pocketpaw", "key": "websocket:abc", "id": "abc",
                   "channel": "websocket", "title": "Fix the build", "state": "tool_running",
                   "raw_state": "tool_running", "tool": "bash", "seconds": 12.5,
                   "tokens": {"input": 1200, "output": 300, "reasoning": 0},
                   "usage": [], "error": null, "steps": null, "parent": null, "extra": {},
                   "ask": null, "stoppable": false}],
     "sources": [{"name": "pocketpaw", "connection": "connected", "state": "active",
                  "detail": null, "active_sessions": 1, "max_concurrent": 4}]}

``seconds`` is the time in the current state when the document was made;
reading it back gives ``since = t - seconds``. ``ask`` is the request a session
waits on, where its source can answer it (see :func:`ask_to_json`), and
``stoppable`` whether its run can be stopped from a device. Readers accept unknown keys
(a newer minor addition) but refuse a newer ``version``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bridge.pipeline import bounds
from bridge.pipeline.model import (
    AgentStatus,
    Ask,
    AskKind,
    Choice,
    ChoiceKind,
    ConnectionState,
    GlobalState,
    ModelUsage,
    Session,
    SessionState,
    Snapshot,
    SourceStatus,
    TokenUsage,
)

VERSION = 1

# Bounds that keep a hostile document from costing more than a real one.
_MAX_TEXT = 4096
_MAX_LIST = 10_000


def status_to_json(status: AgentStatus, now: float) -> dict[str, Any]:
    """``status`` as plain JSON-ready data; ``now`` is wall-clock time (``time.time()``)."""
    return {
        "version": VERSION,
        "global": status.state.value,
        "t": round(now, 3),
        "sessions": [session_to_json(s, now) for s in status.sessions],
        "sources": [_source_to_json(s) for s in status.sources],
    }


def session_to_json(session: Session, now: float) -> dict[str, Any]:
    return {
        "source": session.source,
        "key": session.key,
        "id": session.id,
        "channel": session.channel,
        "title": session.title,
        "state": session.state.value,
        "raw_state": session.raw_state or session.state.value,
        "tool": session.tool,
        "seconds": round(session.duration(now), 3) if session.since else None,
        "tokens": _tokens_to_json(session.tokens),
        "usage": [{"model": u.name, **_token_counts(u.tokens)} for u in session.usage],
        "error": session.error,
        "steps": session.steps,
        "parent": session.parent,
        "extra": dict(session.extra),
        "ask": None if session.ask is None else ask_to_json(session.ask, now),
        "stoppable": session.stoppable,
    }


def ask_to_json(ask: Ask, now: float) -> dict[str, Any]:
    """An open request: what it asks, its choices (``id`` is the action a press names),
    and the rules' verdict (``danger``, ``locked``); ``where`` says where to answer it
    when a device cannot; ``expires_in`` is seconds until it is let go unanswered."""
    return {
        "id": ask.id,
        "kind": ask.kind.value,
        "text": ask.text,
        "tool": ask.tool,
        "command": ask.command,
        "paths": list(ask.paths),
        "cwd": ask.cwd,
        "choices": [{"id": c.id, "label": c.label, "kind": c.kind.value} for c in ask.choices],
        "risky": ask.risky,
        "danger": ask.danger,
        "locked": ask.locked,
        "where": ask.where,
        "expires_in": None if ask.expires is None else round(max(0.0, ask.expires - now), 3),
    }


def _tokens_to_json(tokens: TokenUsage | None) -> dict[str, int] | None:
    return None if tokens is None else _token_counts(tokens)


def _token_counts(tokens: TokenUsage) -> dict[str, int]:
    return {"input": tokens.input, "output": tokens.output, "reasoning": tokens.reasoning}


def _source_to_json(source: SourceStatus) -> dict[str, Any]:
    snap = source.snapshot
    return {
        "name": source.name,
        "connection": source.connection.value,
        "state": source.global_state.value,
        "detail": source.detail,
        "active_sessions": snap.active_sessions if snap else None,
        "max_concurrent": snap.max_concurrent if snap else None,
    }


def status_from_json(
    data: object, *, origin: str | None = None, max_sessions: int | None = None
) -> AgentStatus:
    """Read a document made by :func:`status_to_json` (this or an older version).

    :param origin: when given, every source name becomes ``origin/name``, so
        sessions mirrored from another bridge never mix with this bridge's own.
    :param max_sessions: read at most this many sessions (the first ones); the rest are
        not parsed at all, so a document's cost stays bounded by what is kept.
    :raises ValueError: malformed, or from a newer version.
    """
    doc = _obj(data, "document")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"version: expected a whole number >= 1, got {version!r}")
    if version > VERSION:
        raise ValueError(f"version {version} is newer than this agentlight reads ({VERSION})")
    t = _number(doc.get("t", 0.0), "t")
    state = _enum(GlobalState, doc.get("global"), "global")

    def rename(name: str) -> str:
        return f"{origin}/{name}" if origin else name

    # A bridge runs at most 32 sources (bridge.infra.config.MAX_SOURCES).
    raw_sources = _list(doc.get("sources", []), "sources")[:32]
    sources = [_source_from_json(item, rename) for item in raw_sources]
    sessions: dict[str, list[Session]] = {}
    for item in _list(doc.get("sessions", []), "sessions")[:max_sessions]:
        session = _session_from_json(item, t, rename)
        if origin:
            # Mirrored from another bridge: answered there, never from this one's devices.
            ask = session.ask
            if ask is not None and not ask.where:
                ask = dataclasses.replace(ask, where=f"on {origin}")
            session = dataclasses.replace(session, ask=ask, stoppable=False)
        sessions.setdefault(session.source, []).append(session)
    statuses = []
    for src, snap_fields in sources:
        snapshot = None
        if src.connection is ConnectionState.CONNECTED:
            snapshot = Snapshot(
                state=_enum(GlobalState, snap_fields["state"], "sources.state"),
                sessions=tuple(sessions.pop(src.name, ())),
                active_sessions=snap_fields["active_sessions"] or 0,
                max_concurrent=snap_fields["max_concurrent"],
            )
        statuses.append(SourceStatus(src.name, src.connection, snapshot, src.detail))
    if sessions:
        raise ValueError(
            "sessions: from a source that is not listed as connected: "
            + ", ".join(sorted(sessions))[:200]
        )
    folded = AgentStatus.fold(tuple(statuses)) if statuses else AgentStatus(state)
    return folded


def _source_from_json(item: object, rename: Any) -> tuple[SourceStatus, dict[str, Any]]:
    obj = _obj(item, "sources[]")
    name = rename(_text(obj.get("name"), "sources.name", limit=bounds.KEY_CHARS))
    connection = _enum(ConnectionState, obj.get("connection"), "sources.connection")
    detail = _opt_text(obj.get("detail"), "sources.detail", bounds.MESSAGE_CHARS)
    fields = {
        "state": obj.get("state", "idle"),
        "active_sessions": _opt_int(obj.get("active_sessions"), "sources.active_sessions"),
        "max_concurrent": _opt_int(obj.get("max_concurrent"), "sources.max_concurrent"),
    }
    return SourceStatus(name, connection, None, detail), fields


def _session_from_json(item: object, t: float, rename: Any) -> Session:
    obj = _obj(item, "sessions[]")
    raw_state = _text(
        obj.get("raw_state") or obj.get("state"), "sessions.raw_state", limit=bounds.NAME_CHARS
    )
    try:
        state = SessionState(str(obj.get("state")))
    except ValueError:
        state = SessionState.UNKNOWN
    seconds = obj.get("seconds")
    since = 0.0 if seconds is None else t - max(0.0, _number(seconds, "sessions.seconds"))
    usage = tuple(
        ModelUsage(
            _text(_obj(u, "usage[]").get("model"), "usage.model", limit=bounds.NAME_CHARS),
            _tokens_from_json(u, "usage"),
        )
        for u in _list(obj.get("usage", []), "sessions.usage")[:32]
    )
    tokens_obj = obj.get("tokens")
    extra = obj.get("extra") or {}
    extra_obj = _obj(extra, "sessions.extra")
    return Session(
        key=_text(obj.get("key"), "sessions.key", limit=bounds.KEY_CHARS),
        id=_text(obj.get("id", ""), "sessions.id", allow_empty=True, limit=bounds.KEY_CHARS),
        channel=_text(
            obj.get("channel", ""), "sessions.channel", allow_empty=True, limit=bounds.NAME_CHARS
        ),
        state=state,
        title=_opt_text(obj.get("title"), "sessions.title", bounds.TITLE_CHARS),
        tool=_opt_text(obj.get("tool"), "sessions.tool", bounds.NAME_CHARS),
        since=since,
        tokens=None if tokens_obj is None else _tokens_from_json(tokens_obj, "sessions.tokens"),
        error=_opt_text(obj.get("error"), "sessions.error", bounds.MESSAGE_CHARS),
        source=rename(_text(obj.get("source"), "sessions.source", limit=bounds.KEY_CHARS)),
        raw_state=raw_state,
        steps=_opt_int(obj.get("steps"), "sessions.steps"),
        usage=usage,
        parent=_opt_text(obj.get("parent"), "sessions.parent", bounds.KEY_CHARS),
        extra=tuple(
            (
                _text(k, "extra key", limit=bounds.NAME_CHARS),
                _text(v, "extra value", allow_empty=True, limit=bounds.TITLE_CHARS),
            )
            for k, v in list(extra_obj.items())[:8]
        ),
        ask=None if obj.get("ask") is None else _ask_from_json(obj["ask"], t),
        stoppable=obj.get("stoppable") is True,
    )


def _ask_from_json(value: object, t: float) -> Ask:
    obj = _obj(value, "sessions.ask")
    choices = []
    for item in _list(obj.get("choices", []), "ask.choices")[:16]:
        c = _obj(item, "ask.choices[]")
        choices.append(
            Choice(
                _text(c.get("id"), "choices.id"),
                _text(c.get("label", ""), "choices.label", allow_empty=True),
                _enum(ChoiceKind, c.get("kind"), "choices.kind"),
            )
        )
    expires_in = obj.get("expires_in")
    return Ask(
        id=_text(obj.get("id"), "ask.id"),
        kind=_enum(AskKind, obj.get("kind"), "ask.kind"),
        text=_text(obj.get("text", ""), "ask.text", allow_empty=True),
        choices=tuple(choices),
        tool=_opt_text(obj.get("tool"), "ask.tool"),
        command=_opt_text(obj.get("command"), "ask.command"),
        paths=tuple(_text(p, "ask.paths[]") for p in _list(obj.get("paths", []), "ask.paths")[:32]),
        cwd=_opt_text(obj.get("cwd"), "ask.cwd"),
        risky=_text(obj.get("risky", ""), "ask.risky", allow_empty=True),
        where=_text(obj.get("where", ""), "ask.where", allow_empty=True),
        expires=None if expires_in is None else t + _number(expires_in, "ask.expires_in"),
        danger=_text(obj.get("danger", ""), "ask.danger", allow_empty=True),
        locked=_text(obj.get("locked", ""), "ask.locked", allow_empty=True),
    )


def _tokens_from_json(value: object, where: str) -> TokenUsage:
    obj = _obj(value, where)
    return TokenUsage(
        _opt_int(obj.get("input"), f"{where}.input") or 0,
        _opt_int(obj.get("output"), f"{where}.output") or 0,
        _opt_int(obj.get("reasoning"), f"{where}.reasoning") or 0,
    )


def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list, got {type(value).__name__}")
    if len(value) > _MAX_LIST:
        raise ValueError(f"{where}: {len(value)} items, more than {_MAX_LIST}")
    return value


def _text(value: object, where: str, *, allow_empty: bool = False, limit: int = _MAX_TEXT) -> str:
    if not isinstance(value, str) or (not value and not allow_empty):
        raise ValueError(f"{where}: expected a non-empty string, got {type(value).__name__}")
    return value[:limit]


def _opt_text(value: object, where: str, limit: int = _MAX_TEXT) -> str | None:
    return None if value is None else _text(value, where, allow_empty=True, limit=limit)


def _opt_int(value: object, where: str) -> int | None:
    if value is None:
        return None
    found = bounds.count(value)  # clamped: 10^4000 tokens must still print
    if found is None:
        raise ValueError(f"{where}: expected a whole number >= 0, got {str(value)[:40]!r}")
    return found


def _number(value: object, where: str) -> float:
    found = bounds.number(value)  # clamped; an int too big for a float no longer raises
    if found is None:
        raise ValueError(f"{where}: expected a finite number, got {str(value)[:40]!r}")
    return found


def _enum(enum: Any, value: object, where: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise ValueError(f"{where}: unknown value {str(value)[:40]!r}") from None


__all__ = ["VERSION", "ask_to_json", "session_to_json", "status_from_json", "status_to_json"]
