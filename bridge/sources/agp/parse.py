"""AgP ``SessionStatus`` JSON → parsed status → :class:`~bridge.pipeline.model.Session`.

Tolerant like the PocketPaw parser: an unknown status keeps its name and shows as
``unknown``; fields of the wrong type are dropped (each logged once); only a body
that is not an object with a ``status`` string is an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bridge.infra.logutil import OnceLog
from bridge.pipeline import bounds
from bridge.pipeline.model import ModelUsage, Session, SessionState, TokenUsage
from bridge.sources.agp.options import valid_session_id

log = logging.getLogger("agentlight.sources.agp")
_once = OnceLog(log)

CHANNEL = "agp"
STATES: dict[str, SessionState] = {
    "pending": SessionState.PENDING,
    "running": SessionState.THINKING,
    # Both stop until someone acts: a paused agent waits to be resumed, an idle
    # one for its next instruction.
    "paused": SessionState.WAITING_FOR_USER,
    "idle": SessionState.WAITING_FOR_USER,
    "completed": SessionState.DONE,
    "failed": SessionState.ERROR,
    "timed_out": SessionState.ERROR,
    "interrupted": SessionState.INTERRUPTED,
}
FINAL = frozenset({"completed", "failed", "timed_out", "interrupted"})
# What a session that AgP does not know (404) shows as, briefly.
NOT_FOUND = "not_found"
# What a session shows while its replies cannot be read (a redirect, not JSON, not a
# session status): an error, never "gone" (the light would say Idle).
UNREADABLE = "unreadable"

_MAX_ERROR = 300
_MAX_MODELS = 32
_MAX_NAME = bounds.NAME_CHARS
#: Subagent IDs read from one reply; the rest are dropped (counted in ``subagents_dropped``).
#: A task may spawn thousands over its life, but one session never needs more followed
#: at once than a source may watch (``max_sessions`` is at most 10,000, 200 by default).
MAX_SUBAGENTS = 1000


class StatusError(ValueError):
    """A reply body that is not an AgP session status."""


@dataclass(frozen=True, slots=True)
class AgpStatus:
    """One parsed ``GET /sessions/{id}/status`` reply."""

    status: str
    error: str | None = None
    steps: int | None = None
    usage: tuple[ModelUsage, ...] = ()
    subagents: tuple[str, ...] = ()
    subagents_dropped: int = 0  # IDs past MAX_SUBAGENTS in the reply, not read

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def state(self) -> SessionState:
        return STATES.get(self.status, SessionState.UNKNOWN)


def parse_status(data: Any) -> AgpStatus:
    """Parse one status body (already JSON-decoded).

    :raises StatusError: when ``data`` is not an object with a ``status`` string.
    """
    if not isinstance(data, dict):
        raise StatusError(f"expected a JSON object, got {type(data).__name__}")
    status = data.get("status")
    if not isinstance(status, str) or not status:
        raise StatusError("no 'status' string")
    status = status[:_MAX_NAME]
    if status not in STATES:
        _once.warning(
            f"status:{status[:40]}", "agp: unknown session status %r; shown as 'unknown'", status
        )
    subagents, dropped = _subagents(data.get("subagent_session_ids"))
    return AgpStatus(
        status=status,
        error=bounds.text(data.get("error"), _MAX_ERROR),
        steps=_count(data.get("steps")),
        usage=_usage(data.get("usage_per_model")),
        subagents=subagents,
        subagents_dropped=dropped,
    )


def to_session(
    session_id: str,
    status: AgpStatus,
    *,
    source: str,
    since: float,
    parent: str | None = None,
) -> Session:
    """The normalized session for one parsed status."""
    extra: tuple[tuple[str, str], ...] = ()
    if status.subagents:
        extra = (("subagents", str(len(status.subagents))),)
    return _session(
        session_id,
        status.state,
        status.status,
        source=source,
        since=since,
        parent=parent,
        tokens=TokenUsage.sum(status.usage),
        error=status.error,
        steps=status.steps,
        usage=status.usage,
        extra=extra,
    )


def not_found(session_id: str, *, source: str, since: float, parent: str | None) -> Session:
    """How a session AgP answers 404 for is shown before it leaves."""
    error = "AgP does not know this session (404)"
    return _session(
        session_id, SessionState.UNKNOWN, NOT_FOUND, source=source, since=since, parent=parent,
        error=error,
    )  # fmt: skip


def unreadable(
    session_id: str, reason: str, *, source: str, since: float, parent: str | None
) -> Session:
    """How a watched session whose reply cannot be read is shown: an error naming why."""
    error = f"cannot read the session: {reason}"[:_MAX_ERROR]
    return _session(
        session_id, SessionState.ERROR, UNREADABLE, source=source, since=since, parent=parent,
        error=error,
    )  # fmt: skip


def _session(
    session_id: str,
    state: SessionState,
    raw_state: str,
    *,
    source: str,
    since: float,
    parent: str | None,
    **more: Any,
) -> Session:
    """A watched session as shown: keyed by its ID, a subagent titled after its parent."""
    return Session(
        key=session_id,
        id=session_id,
        channel=CHANNEL,
        state=state,
        title=f"subagent of {parent}" if parent else None,
        since=since,
        source=source,
        raw_state=raw_state,
        parent=parent,
        **more,
    )


def _count(value: object) -> int | None:
    found = bounds.count(value)
    if found is not None:
        return found
    if value is not None:
        _once.info("steps", "agp: ignoring a 'steps' that is not a count: %.40r", value)
    return None


def _usage(value: object) -> tuple[ModelUsage, ...]:
    if not isinstance(value, list):
        if value is not None:
            _once.info("usage", "agp: ignoring 'usage_per_model' that is not a list")
        return ()
    rows: dict[str, TokenUsage] = {}
    for item in value[:_MAX_MODELS]:
        if not isinstance(item, dict):
            continue
        name = item.get("name")
        name = name[:_MAX_NAME] if isinstance(name, str) and name else "model"
        tokens = TokenUsage(
            _tokens(item.get("input_tokens")),
            _tokens(item.get("output_tokens")),
            _tokens(item.get("reasoning_tokens")),
        )
        # The same model twice (should not happen) is counted once, summed.
        rows[name] = rows[name] + tokens if name in rows else tokens
    return tuple(ModelUsage(name, tokens) for name, tokens in rows.items())


def _tokens(value: object) -> int:
    return bounds.count(value) or 0


def _subagents(value: object) -> tuple[tuple[str, ...], int]:
    """The IDs (first seen order, no repeats) and how many items past the cap were not read.

    Linear: a dict remembers the IDs seen (a list's ``in`` made 60k IDs cost 28 s).
    """
    if not isinstance(value, list):
        return (), 0
    dropped = max(0, len(value) - MAX_SUBAGENTS)
    ids: dict[str, None] = {}
    for item in value[:MAX_SUBAGENTS]:
        # The docs show objects in the schema and strings in the example; take
        # either (an object's "id" or "session_id").
        if isinstance(item, dict):
            item = item.get("id", item.get("session_id"))
        if valid_session_id(item):
            assert isinstance(item, str)
            ids[item] = None
        else:
            _once.warning(
                "subagent-id", "agp: skipping a subagent ID that is not a plain ID: %.40r", item
            )
    return tuple(ids), dropped
