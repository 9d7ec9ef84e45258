"""PocketPaw's event bus applied onto the last status snapshot. No I/O here.

The status stream is the truth but arrives about a second late (the server's
1 s throttle); the event bus (``/api/v1/events/stream``) arrives ~1 ms after
each event. :class:`Overlay` applies events with the server's own event map
(``StatusTracker`` in PocketPaw 0.4.10 to 0.4.18):

==================  ==================================================
``agent_start``     a new session, ``thinking``
``thinking``        ``thinking`` (tool cleared)
``tool_start``      ``tool_running`` with ``name`` (or ``tool``)
``tool_result``     ``streaming``, only from ``tool_running``
``ask_user_question`` ``waiting_for_user``
``error``           ``error`` with ``message``
``agent_end``       gone
==================  ==================================================

Each snapshot replaces what the events built, except for events received
after it was taken (they are applied again on top; applying a run of events
again to a state that already has them gives the same state, so the overlap is
harmless). Backend failures that only the bus carries (a ``tool_result`` with
``status: "error"``, named ``agent`` when the backend itself failed; an
``alert`` of error level) show as the session's ``error`` with the message
for ``error_ttl`` seconds, even after the session ends, unless a new run
(``agent_start``) on the same key replaces it. An ``error`` event is the
server's own error: shown as the server shows it, gone with its session.

Bounds (issue 30): an event keeps only the fields the map reads, each string
capped (``bridge.pipeline.bounds``), and one whose ``session_key`` is longer than
256 characters is refused; at most 1,024 recent events and 256 failures are
remembered (the oldest failure goes first, said once per episode); and what
events built on a snapshot for a session lasts :data:`CONFIRM_WITHIN` seconds
after that session's last event unless a newer snapshot confirms it: a flood of
events the status stream never confirms leaves the light where the last snapshot
put it, while a session still sending events keeps showing its latest one.

A question (``ask_user_question``: the question and its options) stays open
past the run that asked it: PocketPaw's agent asks, ends its turn, and the
answer is the user's next message on that chat. So the session is shown as
waiting for the user, with the question as its ``ask``, until a new run starts
on its key (the user answered, here or anywhere), it is answered or dismissed
from a device, or ``question_ttl`` passes.
"""

from __future__ import annotations

import json
import logging
import math
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from bridge.pipeline import bounds
from bridge.pipeline.asks import answer_choices, ask_text
from bridge.pipeline.model import Ask, AskKind, GlobalState, Session, SessionState, Snapshot
from bridge.sources.pocketpaw.parse import can_stop

__all__ = [
    "CONFIRM_WITHIN",
    "MAPPED",
    "MAX_FAILURES",
    "BusEvent",
    "Overlay",
    "Question",
    "parse_event",
]

log = logging.getLogger("agentlight.sources.pocketpaw")

MAPPED = frozenset(
    {
        "agent_start",
        "thinking",
        "tool_start",
        "tool_result",
        "ask_user_question",
        "error",
        "agent_end",
        "alert",
    }
)
# Known, and nothing to show: ignored without a word.
_QUIET = frozenset(
    {
        "connected",
        "token_usage",
        "thinking_done",
        "agents_md_loaded",
        "soul_state",
        "health_update",
        "inbox_update",
    }
)
_QUIET_PREFIXES = ("trace_", "pocket_", "budget_")
_ERROR_LEVELS = frozenset({"error", "critical", "fatal"})
_KEEP_EVENTS = 1024  # recent events kept to re-apply over a snapshot
_KEEP_SECONDS = 30.0  # longer than any snapshot request may take
_MESSAGE_CHARS = bounds.MESSAGE_CHARS
#: Failures remembered at once (each shows as an error session for error_ttl).
MAX_FAILURES = 256
#: Seconds what events built on a snapshot for a session lasts after that session's
#: last event, unless a newer snapshot confirms it.
#: The status stream sends a frame within about a second of any change (its throttle),
#: polling every poll_interval (2 s); ten seconds is well past both.
CONFIRM_WITHIN = 10.0
# The fields the event map reads, and how long each may be; the rest are not kept.
_FIELDS = {
    "status": bounds.NAME_CHARS,
    "name": bounds.NAME_CHARS,
    "tool": bounds.NAME_CHARS,
    "severity": bounds.NAME_CHARS,
    "alert_type": bounds.NAME_CHARS,
    "result": bounds.MESSAGE_CHARS,
    "message": bounds.MESSAGE_CHARS,
}
# Titles remembered by key after their session ended: the server reads a title from
# memory by key, so a new run of a known chat has it; the bus event carries none.
_KEEP_TITLES = 256
# Open questions kept at once (the oldest go first), and an option's text sent back.
_KEEP_QUESTIONS = 64
# Seconds after a run's end before a snapshot listing its chat means a new run.
_RUN_GAP = 2.5
_OPTION_CHARS = 1000
_MAX_OPTIONS = 16
# How PocketPaw's channels are called where a person answers them.
_CHANNEL_NAMES = {
    "telegram": "Telegram",
    "discord": "Discord",
    "slack": "Slack",
    "whatsapp": "WhatsApp",
    "signal": "Signal",
    "matrix": "Matrix",
    "teams": "Microsoft Teams",
    "gchat": "Google Chat",
    "email": "the e-mail thread",
}


@dataclass(frozen=True, slots=True)
class BusEvent:
    """One event from the bus.

    :param data: the fields the event map reads (strings, capped); nothing else is kept.
    :param at: loop time it was received (to order it against snapshots).
    :param wall: wall-clock time it was received (a session's ``since``).
    """

    type: str
    key: str
    data: dict[str, Any]
    at: float
    wall: float


def is_quiet(event_type: str) -> bool:
    """Known event types with nothing to show."""
    return event_type in _QUIET or event_type.startswith(_QUIET_PREFIXES)


def parse_event(event_type: str, payload: str, *, at: float, wall: float) -> BusEvent:
    """One frame's ``data:`` (``{"event": type, "data": {...}}``) as a :class:`BusEvent`.

    :raises ValueError: not JSON, or not the envelope.
    """
    envelope = json.loads(payload)
    if not isinstance(envelope, dict):
        raise ValueError(f"expected a JSON object, got {type(envelope).__name__}")
    data = envelope.get("data", {})
    if not isinstance(data, dict):
        raise ValueError("'data' should be an object")
    name = envelope.get("event")
    if isinstance(name, str) and name:
        event_type = name[: bounds.NAME_CHARS]
    key = data.get("session_key")
    key = key if isinstance(key, str) else ""
    if len(key) > bounds.KEY_CHARS:
        raise ValueError(f"session_key over {bounds.KEY_CHARS} characters")
    # Only what the map reads, capped: the recent-events buffer holds 1,024 of these,
    # not 1,024 payloads of up to max_frame_bytes each.
    kept: dict[str, Any] = {
        f: v[:cap] for f, cap in _FIELDS.items() if isinstance(v := data.get(f), str)
    }
    if event_type == "ask_user_question":
        # The question and its options' text (what a chosen one sends back), bounded.
        question = data.get("question")
        if isinstance(question, str):
            kept["question"] = question[: bounds.MESSAGE_CHARS]
        options = [_option_label(o, i) for i, o in enumerate(_list(data.get("options")))]
        kept["options"] = [o[:_OPTION_CHARS] for o in options if o]
    return BusEvent(event_type, key, kept, at, wall)


@dataclass(frozen=True, slots=True)
class Question:
    """An open ``ask_user_question``: what was asked and the options' own text (sent
    back as the user's message when one is chosen, as PocketPaw's dashboard does).

    :param id: this question's id on the device (``q<n>``), never reused.
    """

    id: str
    text: str
    options: tuple[str, ...]
    since: float  # wall
    until: float  # wall
    #: Loop time the run that asked ended (``agent_end``), or None while it runs.
    ended_at: float | None = None


@dataclass(slots=True)
class _Failure:
    message: str
    since: float  # wall
    until: float  # wall


class Overlay:
    """Events since the last snapshot, and failures kept for ``error_ttl``.

    :param source: the source name sessions carry.
    :param error_ttl: seconds a failure stays visible.
    :param max_sessions: most sessions a view holds (as the snapshot parser).
    """

    def __init__(
        self,
        source: str,
        error_ttl: float,
        max_sessions: int,
        *,
        question_ttl: float = 1800.0,
        answering: bool = False,
    ) -> None:
        self.source = source
        self.error_ttl = error_ttl
        self.max_sessions = max_sessions
        self.question_ttl = question_ttl
        #: Devices may answer questions and stop runs of web-dashboard chats.
        self.answering = answering
        self._questions: dict[str, Question] = {}
        self._asked = 0
        self._recent: deque[BusEvent] = deque(maxlen=_KEEP_EVENTS)
        self._sessions: dict[str, Session] = {}
        self._base: Snapshot | None = None
        self._as_of = -math.inf  # loop time the base was taken
        # Keys whose events changed the base, by when each was last heard (oldest first).
        self._heard: OrderedDict[str, float] = OrderedDict()
        # Keys that went quiet too long: their events up to this wall time have had their time.
        self._cutoff: dict[str, float] = {}
        self._touched = False  # the sessions differ from the base's
        # Oldest first: when full, the one that would expire first goes.
        self._failures: OrderedDict[str, _Failure] = OrderedDict()
        self._failures_dropped = 0  # evicted while over MAX_FAILURES, this episode
        self._titles: OrderedDict[str, str] = OrderedDict()
        self.overflow = bounds.Overflow(log, source)

    # -- input ----------------------------------------------------------------------

    def rebase(self, snapshot: Snapshot, as_of: float) -> None:
        """``snapshot`` is the truth as of loop time ``as_of``; newer events stay on top."""
        self._base = snapshot
        self._as_of = as_of
        gone = self._sessions
        self._sessions = {s.key: s for s in snapshot.sessions}
        self._touched = False
        # A run on a chat whose asking run had ended: the question was answered, even
        # if the bus missed its agent_start (a reconnect gap). Only a snapshot well after
        # the end counts: the status stream runs up to a second behind the bus.
        for key in [
            k
            for k, q in self._questions.items()
            if q.ended_at is not None and as_of > q.ended_at + _RUN_GAP and k in self._sessions
        ]:
            del self._questions[key]
        # Before the replay below: a run restarted since the snapshot needs its title.
        self._remember_titles(gone, self._sessions.keys())
        while self._recent and self._recent[0].at < as_of - _KEEP_SECONDS:
            self._recent.popleft()
        self._cutoff.clear()
        self._replay()

    def _replay(self) -> None:
        """Apply the events after the base's time that have not had their time."""
        self._heard.clear()
        cutoff = self._cutoff
        for event in self._recent:
            if event.at > self._as_of and event.wall > cutoff.get(event.key, -math.inf):
                self._hear(event, self._apply(event))

    def _hear(self, event: BusEvent, touched: bool) -> None:
        """Note that ``event`` was applied on top of the base (``touched``: it changed it)."""
        self._touched |= touched
        key = event.key
        if touched or key in self._heard:
            # A session that changed since the base lasts while its events keep coming.
            self._heard[key] = event.wall
            self._heard.move_to_end(key)

    def add(self, event: BusEvent) -> bool:
        """Apply one event; True when what :meth:`view` shows may have changed."""
        self._recent.append(event)
        changed = self._note_failure(event) | self._note_question(event)
        if self._base is not None:
            touched = self._apply(event)
            self._hear(event, touched)
            changed |= touched
        return changed

    def forget(self) -> None:
        """No snapshot holds any more (the status stream is down)."""
        self._base = None
        self._remember_titles(self._sessions)
        self._sessions = {}
        self._touched = False
        self._heard.clear()

    # -- output ---------------------------------------------------------------------

    def view(self, now_wall: float) -> Snapshot | None:
        """The snapshot with the events and live failures on top (None without a snapshot)."""
        base = self._base
        if base is None:
            return None
        live = {k: f for k, f in self._failures.items() if f.until > now_wall}
        asked = {k: q for k, q in self._questions.items() if q.until > now_wall}
        if not self._touched and not live and not asked:
            return base
        sessions = dict(self._sessions)
        for key, question in asked.items():
            session = sessions.get(key)
            if session is None:
                # The run that asked has ended: the question is still there to answer.
                session = _new_session(
                    key, self.source, question.since, self._title(key), stoppable=False
                )
            if session.state is not SessionState.ERROR:
                session = _moved(session, SessionState.WAITING_FOR_USER, None, question.since)
            sessions[key] = replace(session, ask=self._ask(key, session.channel, question))
        for key, failure in live.items():
            session = sessions.get(key) or _new_session(
                key, self.source, failure.since, self._title(key)
            )
            if session.state is not SessionState.ERROR or session.error != failure.message:
                session = replace(
                    session,
                    state=SessionState.ERROR,
                    tool=None,
                    error=failure.message,
                    since=failure.since,
                    raw_state="",
                )
            sessions[key] = session
        shown = tuple(sessions.values())[: self.max_sessions]
        if any(s.state is SessionState.ERROR for s in shown):
            state = GlobalState.DEGRADED
        elif shown:
            state = GlobalState.ACTIVE
        else:
            state = GlobalState.IDLE
        return replace(base, state=state, sessions=shown, active_sessions=len(shown))

    def next_expiry(self, now_wall: float) -> float | None:
        """Wall-clock time the view changes next by itself: a live failure or question
        ends, or a session no snapshot confirmed has been quiet :data:`CONFIRM_WITHIN`."""
        ends = min((f.until for f in self._failures.values() if f.until > now_wall), default=None)
        asked = min((q.until for q in self._questions.values() if q.until > now_wall), default=None)
        if asked is not None:
            ends = asked if ends is None else min(ends, asked)
        quiet_since = self._quietest()
        if quiet_since is not None:
            lapse = max(now_wall, quiet_since + CONFIRM_WITHIN)
            ends = lapse if ends is None else min(ends, lapse)
        return ends

    def prune(self, now_wall: float) -> None:
        """Forget failures past their time, and undo events past theirs."""
        for key in [k for k, f in self._failures.items() if f.until <= now_wall]:
            del self._failures[key]
        for key in [k for k, q in self._questions.items() if q.until <= now_wall]:
            del self._questions[key]
        if len(self._failures) < MAX_FAILURES and self._failures_dropped:
            self._failures_dropped = 0
            self.overflow.note("failures", 0, MAX_FAILURES)
        if self._base is None:
            return
        heard, expired = self._heard, False
        while heard:
            key, last = next(iter(heard.items()))
            if last + CONFIRM_WITHIN > now_wall:
                break
            del heard[key]
            self._cutoff[key] = last
            expired = True
        if expired:
            if len(self._cutoff) > 2 * _KEEP_EVENTS:
                # Only keys with events still remembered need one.
                remembered = {e.key for e in self._recent}
                self._cutoff = {k: t for k, t in self._cutoff.items() if k in remembered}
            # Back to the last snapshot, with the sessions still heard from on top.
            self._sessions = {s.key: s for s in self._base.sessions}
            self._touched = False
            self._replay()

    def _quietest(self) -> float | None:
        """When the longest-quiet session built on the base was last heard (None if none)."""
        if self._base is None or not self._heard:
            return None
        return next(iter(self._heard.values()))

    # -- questions --------------------------------------------------------------------

    def question(self, key: str, ask_id: str) -> Question | None:
        """The open question on ``key`` if it is the one with ``ask_id``."""
        question = self._questions.get(key)
        return question if question is not None and question.id == ask_id else None

    def close_question(self, key: str, ask_id: str) -> Question | None:
        """Answered or dismissed: the device stops showing it. Returns it, if it was open."""
        question = self.question(key, ask_id)
        if question is not None:
            del self._questions[key]
        return question

    def reopen_question(self, key: str, question: Question) -> bool:
        """An answer that could not be sent: the question is offered again, under a new
        id (the desk answers an id once). False when a newer one took its place."""
        if key in self._questions:
            return False
        self._questions[key] = replace(question, id=self._next_id())
        return True

    def _next_id(self) -> str:
        self._asked += 1
        return f"q{self._asked}"

    def _note_question(self, event: BusEvent) -> bool:
        key, data = event.key, event.data
        if not key:
            return False
        if event.type == "agent_start":
            # A new run on the chat: the user has said something (an answer, anywhere).
            return self._questions.pop(key, None) is not None
        if event.type == "agent_end":
            asked = self._questions.get(key)
            if asked is not None and asked.ended_at is None:
                self._questions[key] = replace(asked, ended_at=event.at)
            return False
        if event.type != "ask_user_question":
            return False
        options = data.get("options")
        labels = tuple(
            label[:_OPTION_CHARS]
            for label in (_option_label(o, i) for i, o in enumerate(_list(options)))
            if label
        )
        self._questions.pop(key, None)
        self._questions[key] = Question(
            self._next_id(),
            _text(data.get("question")) or "The agent has a question",
            labels,
            event.wall,
            event.wall + self.question_ttl,
        )
        while len(self._questions) > _KEEP_QUESTIONS:
            del self._questions[next(iter(self._questions))]
        return True

    def _ask(self, key: str, channel: str, question: Question) -> Ask:
        choices = answer_choices(question.options)
        where = ""
        if not can_stop(key):
            name = _CHANNEL_NAMES.get(channel.lower(), channel.capitalize() or "its chat")
            where = f"in {name}"
        elif not self.answering:
            where = "in PocketPaw's dashboard"
        elif not choices:
            where = "in PocketPaw's dashboard (it wants your own words)"
        return Ask(
            question.id,
            AskKind.QUESTION,
            ask_text(question.text),
            choices,
            where=where,
            expires=question.until,
        )

    # -- the event map --------------------------------------------------------------

    def _note_failure(self, event: BusEvent) -> bool:
        data, key = event.data, event.key
        if event.type == "agent_start" and key:
            # A new run on the key replaces an old failure.
            return self._failures.pop(key, None) is not None
        message: str | None = None
        if event.type == "tool_result" and data.get("status") == "error" and key:
            name = data.get("name")
            result = _text(data.get("result")) or "failed"
            message = result if name == "agent" else f"{_text(name) or 'tool'}: {result}"
        elif event.type == "alert" and str(data.get("severity", "")).lower() in _ERROR_LEVELS:
            message = _text(data.get("message")) or "alert"
            if not key:
                # An alert about no session in particular still needs to be seen.
                key = f"alert:{_text(data.get('alert_type')) or 'error'}"[: bounds.KEY_CHARS]
        if message is None:
            return False
        failures = self._failures
        if key in failures:
            failures.move_to_end(key)
        elif len(failures) >= MAX_FAILURES:
            failures.popitem(last=False)
            self._failures_dropped += 1
            self.overflow.note("failures", self._failures_dropped, MAX_FAILURES, "remembered")
        failures[key] = _Failure(message[:_MESSAGE_CHARS], event.wall, event.wall + self.error_ttl)
        return True

    def _apply(self, event: BusEvent) -> bool:
        """The server's StatusTracker transitions; True when the sessions changed."""
        key, kind, data = event.key, event.type, event.data
        if not key:
            return False
        sessions = self._sessions
        if kind == "agent_start":
            if key not in sessions and len(sessions) >= self.max_sessions:
                return False
            # Assignment keeps a restarted key in its place, as the server's dict does.
            sessions[key] = _new_session(
                key, self.source, event.wall, self._title(key), stoppable=self.answering
            )
            return True
        session = sessions.get(key)
        if session is None:
            return False
        if kind == "agent_end":
            self._remember_titles({key: sessions.pop(key)})
            return True
        new: Session | None = None
        if kind == "thinking":
            if session.state is not SessionState.THINKING:
                new = _moved(session, SessionState.THINKING, None, event.wall)
        elif kind == "tool_start":
            tool = _text(data.get("name")) or _text(data.get("tool"))
            new = _moved(session, SessionState.TOOL_RUNNING, tool, event.wall)
        elif kind == "tool_result":
            if session.state is SessionState.TOOL_RUNNING:
                new = _moved(session, SessionState.STREAMING, None, event.wall)
        elif kind == "ask_user_question":
            new = _moved(session, SessionState.WAITING_FOR_USER, None, event.wall)
        elif kind == "error":
            new = replace(
                _moved(session, SessionState.ERROR, None, event.wall),
                error=(_text(data.get("message")) or "Unknown error")[:_MESSAGE_CHARS],
            )
        if new is None or new == session:
            return False
        sessions[key] = new
        return True

    def _title(self, key: str) -> str | None:
        """The title the server gave ``key`` last (titles come from its memory, by key)."""
        old = self._sessions.get(key)
        if old is not None and old.title:
            return old.title
        return self._titles.get(key)

    def _remember_titles(self, sessions: dict[str, Session], staying: Iterable[str] = ()) -> None:
        """Keep the titles of ``sessions`` that go (all but ``staying``) for a later run.

        Only departures are noted: a live session's title is read from it, so a
        snapshot costs a set difference, not a step per session.
        """
        titles = self._titles
        for key in sessions.keys() - staying:
            title = sessions[key].title
            if title:
                titles[key] = title
                titles.move_to_end(key)
        while len(titles) > _KEEP_TITLES:
            titles.popitem(last=False)


def _new_session(
    key: str, source: str, since: float, title: str | None = None, *, stoppable: bool = False
) -> Session:
    channel, sep, session_id = key.partition(":")
    if not sep:
        channel, session_id = "unknown", key
    return Session(
        key=key,
        id=session_id,
        channel=channel,
        state=SessionState.THINKING,
        title=title,
        since=since,
        source=source,
        stoppable=stoppable and can_stop(key),
    )


def _moved(session: Session, state: SessionState, tool: str | None, wall: float) -> Session:
    if session.state is state and session.tool == tool:
        return session
    return replace(session, state=state, tool=tool, since=wall, error=None, raw_state="")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _list(value: object) -> list[object]:
    return value[:_MAX_OPTIONS] if isinstance(value, list) else []


def _option_label(option: object, index: int) -> str:
    """An option as PocketPaw's dashboard reads it: a string, or ``label``/``text``."""
    if isinstance(option, str):
        return option
    if isinstance(option, dict):
        return _text(option.get("label")) or _text(option.get("text")) or f"Option {index + 1}"
    return ""
