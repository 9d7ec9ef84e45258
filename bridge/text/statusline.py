"""The agent's status in words a person uses, for a terminal or a status bar.

``websocket:demo-web-1 tool_running(bash)`` is how the bridge thinks;
"running bash" is what a person reads. Everything a server sent (titles, tool
names, error messages, unknown state names) goes through
:func:`bridge.text.textsafe.clean` here, so callers can print the result.
"""

from __future__ import annotations

import string
import time
from collections.abc import Mapping

from bridge.pipeline.model import AgentStatus, Ask, GlobalState, Session, SessionState
from bridge.text.textsafe import clean

__all__ = [
    "FIELDS",
    "ask_words",
    "check_template",
    "duration",
    "fields",
    "format_line",
    "global_words",
    "session_name",
    "session_words",
]

# Server text is cut to this many characters before it is measured or shown.
_TEXT_LIMIT = 120

_GLOBAL = {
    GlobalState.IDLE: "idle",
    GlobalState.ACTIVE: "working",
    GlobalState.DEGRADED: "a session failed",
    GlobalState.CONNECTING: "connecting",
    GlobalState.DISCONNECTED: "cannot reach the agent",
    GlobalState.AUTH_FAILED: "not let in: a key or token is missing or refused",
}

_SESSION = {
    SessionState.THINKING: "thinking",
    SessionState.TOOL_RUNNING: "running a tool",
    SessionState.STREAMING: "answering",
    SessionState.WAITING_FOR_USER: "waiting for you",
    SessionState.ERROR: "error",
    SessionState.PENDING: "queued",
    SessionState.DONE: "done",
    SessionState.INTERRUPTED: "interrupted",
    SessionState.UNKNOWN: "in an unknown state",
}

# A server's own state name that the model folds into a coarser state, said the
# way that server means it. AgP's "running" is every decide-and-act step (tools
# included), not only thinking; "paused" waits to be resumed; "timed_out" is not
# just any error. Keyed by the folded state too, so the name alone (from another
# source, or forwarded over MQTT in another state) never picks the words.
_RAW = {
    (SessionState.THINKING, "running"): "running",
    (SessionState.WAITING_FOR_USER, "paused"): "paused",
    (SessionState.ERROR, "failed"): "failed",
    (SessionState.ERROR, "timed_out"): "timed out",
}


def global_words(state: GlobalState) -> str:
    return _GLOBAL.get(state, state.value)


def session_words(session: Session) -> str:
    """"running bash", "waiting for you", "error: Rate limit exceeded", "running, step 7", …"""
    state = session.state
    words = _RAW.get((state, session.raw_state)) or _SESSION.get(state, state.value)
    if session.raw_state == "stale" and state is not SessionState.UNKNOWN:
        # A hooks session past its silence ceiling: what it was doing, not that it still is.
        if state is SessionState.TOOL_RUNNING and session.tool:
            words = f"running {clean(session.tool, _TEXT_LIMIT)}"
        return f"no news ({words})"
    if state is SessionState.TOOL_RUNNING and session.tool:
        return f"running {clean(session.tool, _TEXT_LIMIT)}"
    if state is SessionState.ERROR and session.error:
        return f"{words}: {clean(session.error, _TEXT_LIMIT)}"
    if state is SessionState.UNKNOWN and session.raw_state and session.raw_state != "unknown":
        return f"{clean(session.raw_state, 40)} (a state agentlight does not know)"
    if state is SessionState.THINKING and session.steps:
        return f"{words}, step {session.steps}"
    return words


def ask_words(ask: Ask) -> str:
    """An open request in a line: "Bash: npm test? Allow / Deny", with why a device
    cannot approve it or where to answer it instead."""
    what = clean(ask.summary(), _TEXT_LIMIT)
    if not ask.answerable:
        return f"{what} (answer {clean(ask.where, 60)})" if ask.where else what
    choices = " / ".join(clean(c.label, 40) for c in ask.choices)
    note = f" ({ask.locked}: approve it on the keyboard)" if ask.locked else ""
    ask_mark = " " if what.endswith(("?", "!", ":")) else "? "
    return f"{what}{ask_mark}{choices}{note}"


def session_name(session: Session) -> str:
    """The channel and a short id: ``discord demo-guild-7``."""
    channel = clean(session.channel, 30) if session.channel else ""
    ident = session.id or session.key
    if channel and ident.startswith(channel + ":"):
        ident = ident[len(channel) + 1 :]
    ident = clean(ident, 40)
    return f"{channel} {ident}".strip() if channel and channel != "unknown" else ident


def duration(seconds: float) -> str:
    """Time in a state, short, for a ticking timer: 12s, 3m05s, 12m, 1h05m.

    The one formatter for the status line, ``agentlight status`` and the Stream
    Deck. Precision follows size: seconds while they tell you something (it
    just started, it is moving), whole minutes from 10 minutes on, where a
    seconds digit that changes every second only catches the eye of someone
    glancing at the light (and rewrites a deck key every second). Whole units
    are cut, not rounded, as on a stopwatch: "1m" only once a minute has
    passed. Never negative, even when a server's clock runs ahead of ours.
    """
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 3600:
        return f"{s // 60}m"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


#: Fields of ``status --format`` templates.
FIELDS = ("state", "label", "sessions", "focus", "tool", "title", "error", "seconds")


def check_template(template: str) -> None:
    """Raise ValueError naming the problem when ``template`` is not a usable format."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise ValueError(f"got {template!r}: {err} (write {{{{ and }}}} for braces)") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in FIELDS:
            raise ValueError(
                f"unknown field {{{name}}}; expected one of "
                + ", ".join("{" + f + "}" for f in FIELDS)
            )
        if spec or conversion:
            raise ValueError(f"{{{name}}}: no format specs or conversions, just {{{name}}}")


def fields(status: AgentStatus, now: float | None = None) -> Mapping[str, str]:
    """The values ``status --format`` fills in (every one safe to print)."""
    now = time.time() if now is None else now
    focus = status.most_urgent()
    label = global_words(status.state)
    if focus is not None and not status.state.from_bridge:
        label = session_words(focus)
    return {
        "state": status.state.value,
        "label": label,
        "sessions": str(len(status.sessions)),
        "focus": session_name(focus) if focus is not None else "",
        "tool": clean(focus.tool, _TEXT_LIMIT) if focus is not None and focus.tool else "",
        "title": clean(focus.title, _TEXT_LIMIT) if focus is not None and focus.title else "",
        "error": clean(focus.error, _TEXT_LIMIT) if focus is not None and focus.error else "",
        "seconds": (
            str(int(focus.duration(now))) if focus is not None and focus.since > 0 else ""
        ),
    }


def format_line(template: str, status: AgentStatus, now: float | None = None) -> str:
    return template.format_map(dict(fields(status, now)))
