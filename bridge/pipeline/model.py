"""The normalized status model every source produces and every mapping reads.

A source turns what it reads into a :class:`Snapshot`; the bridge keeps one
:class:`SourceStatus` per source (its connection state plus its last snapshot)
and folds them into one :class:`AgentStatus`. Nothing here knows about HTTP,
PocketPaw's JSON or LEDs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple


class GlobalState(StrEnum):
    """What the whole agent (or the bridge's view of it) is doing."""

    IDLE = "idle"
    ACTIVE = "active"
    DEGRADED = "degraded"
    # The bridge's own states: the server says nothing, so we say why.
    CONNECTING = "connecting"
    DISCONNECTED = "disconnected"
    AUTH_FAILED = "auth_failed"

    @property
    def from_bridge(self) -> bool:
        return self in _BRIDGE_STATES


_BRIDGE_STATES = frozenset(
    {GlobalState.CONNECTING, GlobalState.DISCONNECTED, GlobalState.AUTH_FAILED}
)

# Most severe first: what one indicator shows when sources disagree. A credential
# problem needs the user, a lost server hides everything behind it, a session
# error is next; "connecting" only wins over sources that have nothing to say.
GLOBAL_SEVERITY: tuple[GlobalState, ...] = (
    GlobalState.AUTH_FAILED,
    GlobalState.DISCONNECTED,
    GlobalState.DEGRADED,
    GlobalState.CONNECTING,
    GlobalState.ACTIVE,
    GlobalState.IDLE,
)


class SessionState(StrEnum):
    """What one conversation is doing."""

    THINKING = "thinking"
    TOOL_RUNNING = "tool_running"
    STREAMING = "streaming"
    WAITING_FOR_USER = "waiting_for_user"
    ERROR = "error"
    # Queued: accepted by the server, not started (AgP's "pending").
    PENDING = "pending"
    # Finished well; shown briefly by the source before the session leaves.
    DONE = "done"
    # Stopped before it finished (AgP's "interrupted"): not a success, not an error.
    INTERRUPTED = "interrupted"
    # A state this version does not know; the raw name is kept on the session.
    UNKNOWN = "unknown"

    @property
    def needs_user(self) -> bool:
        """Someone must look: a question is waiting, or the session broke."""
        return self in (SessionState.WAITING_FOR_USER, SessionState.ERROR)


# Most urgent first: which session a single-LED device shows.
SESSION_URGENCY: tuple[SessionState, ...] = (
    SessionState.ERROR,
    SessionState.WAITING_FOR_USER,
    SessionState.TOOL_RUNNING,
    SessionState.STREAMING,
    SessionState.THINKING,
    SessionState.PENDING,
    SessionState.INTERRUPTED,
    SessionState.DONE,
    SessionState.UNKNOWN,
)
_URGENCY_RANK = {state: rank for rank, state in enumerate(SESSION_URGENCY)}


class ConnectionState(StrEnum):
    """How a source is doing at reaching its server."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    AUTH_FAILED = "auth_failed"


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token counts; ``reasoning`` is counted apart from ``output`` where a server says it."""

    input: int
    output: int
    reasoning: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.reasoning

    @classmethod
    def sum(cls, usage: tuple[ModelUsage, ...]) -> TokenUsage | None:
        """The sum over models, or None when there are none."""
        if not usage:
            return None
        total = cls(0, 0)
        for row in usage:
            total = total + row.tokens
        return total

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input + other.input, self.output + other.output, self.reasoning + other.reasoning
        )


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """Tokens one model used in a session (AgP reports one row per model)."""

    name: str
    tokens: TokenUsage


#: The action that stops a session's current run (``Session.stoppable``).
STOP = "stop"
#: Question options are named ``answer:1``, ``answer:2``… (1-based, in the agent's order).
ANSWER_PREFIX = "answer:"


class AskKind(StrEnum):
    """A question (choose an answer) or a permission request (allow or deny a tool)."""

    QUESTION = "question"
    PERMISSION = "permission"


class ChoiceKind(StrEnum):
    ALLOW = "allow"
    #: Allow, and let the agent stop asking for this (its "always allow").
    ALWAYS = "always"
    DENY = "deny"
    ANSWER = "answer"
    #: Not answered here: the device stops offering it (a held request gets "no decision").
    DISMISS = "dismiss"


#: What needs the deliberate gesture (hold, or a second press): approvals, and a stop.
DELIBERATE = frozenset({ChoiceKind.ALLOW.value, ChoiceKind.ALWAYS.value, STOP})


@dataclass(frozen=True, slots=True)
class Choice:
    """One thing a device may answer.

    :param id: the action a press names (``allow``, ``answer:2``); unique in its ask.
    :param label: what a key shows ("Allow", the option's text).
    """

    id: str
    label: str
    kind: ChoiceKind

    @property
    def deliberate(self) -> bool:
        """Needs the deliberate gesture (an approval); a deny or an answer is one press."""
        return self.kind in (ChoiceKind.ALLOW, ChoiceKind.ALWAYS)


@dataclass(frozen=True, slots=True)
class Ask:
    """An open request on a session.

    :param id: the request's own id: a press answers this request, never a newer one
        that took its place between the press and its handling.
    :param text: the question, or what the tool wants to do.
    :param tool: the tool asking (``Bash``, ``Write``), for a permission request.
    :param command: the command or file it wants to run or write, sanitised
        (:func:`sanitise`: secrets masked; cut at 2,000 characters, and then
        dangerous, as nobody can check what was cut).
    :param paths: files the tool would write (checked against ``cwd``).
    :param cwd: the project directory, where the agent runs.
    :param risky: the agent's own verdict that this is dangerous ("" when it gave none).
    :param where: set when this request cannot be answered from a device: where to
        answer it instead ("in Telegram", "in Claude Code's terminal").
    :param expires: wall-clock time the request is let go with no decision (the agent's
        own timeout, less a margin), or None.
    :param danger: why agentlight's rules find it dangerous ("" when they do not);
        filled in by :func:`bridge.pipeline.answers.annotate`.
    :param locked: why approvals (Allow/Always) are refused from devices ("" when
        they are allowed); filled in likewise.
    """

    id: str
    kind: AskKind
    text: str
    choices: tuple[Choice, ...]
    tool: str | None = None
    command: str | None = None
    paths: tuple[str, ...] = ()
    cwd: str | None = None
    risky: str = ""
    where: str = ""
    expires: float | None = None
    danger: str = ""
    locked: str = ""

    def choice(self, action: str) -> Choice | None:
        for choice in self.choices:
            if choice.id == action:
                return choice
        return None

    @property
    def answerable(self) -> bool:
        """Whether a device may answer it at all (see ``where``)."""
        return not self.where and bool(self.choices)

    def summary(self) -> str:
        """One line for a log or a terminal: the tool and its command, or the question."""
        if self.kind is AskKind.PERMISSION and self.tool:
            return f"{self.tool}: {self.command}" if self.command else self.tool
        return self.text


class SessionRef(NamedTuple):
    """Which session, bridge-wide: two sources may both have a ``websocket:abc``."""

    source: str
    key: str

    def __str__(self) -> str:
        return f"{self.source}/{self.key}" if self.source else self.key


@dataclass(frozen=True, slots=True)
class Session:
    """One agent conversation as the bridge sees it.

    :param key: unique within its source (PocketPaw's ``session_key``).
    :param since: wall-clock time (``time.time()``) the session entered ``state``;
        stored instead of a duration so repeated snapshots compare equal.
    :param raw_state: the server's own name for the state (themable by name).
    :param steps: work cycles so far, where the server counts them (AgP).
    :param usage: tokens per model; ``tokens`` is their sum when a source gives both.
    :param parent: the key of the session that started this one (a subagent), same source.
    :param extra: a few source-specific fields as (name, text) pairs, for drivers that show them.
    :param ask: the question or permission request the session waits on, where the
        source can answer it (or say where to); None otherwise.
    :param stoppable: the source can stop the session's current run (``stop``).
    """

    key: str
    id: str
    channel: str
    state: SessionState
    title: str | None = None
    tool: str | None = None
    since: float = 0.0
    tokens: TokenUsage | None = None
    error: str | None = None
    source: str = ""
    raw_state: str = ""
    steps: int | None = None
    usage: tuple[ModelUsage, ...] = ()
    parent: str | None = None
    extra: tuple[tuple[str, str], ...] = ()
    ask: Ask | None = None
    stoppable: bool = False

    @property
    def ref(self) -> SessionRef:
        return SessionRef(self.source, self.key)

    @property
    def urgency(self) -> int:
        """Lower is more urgent (see :data:`SESSION_URGENCY`)."""
        return _URGENCY_RANK[self.state]

    def duration(self, now: float) -> float:
        """Seconds in the current state at wall-clock time ``now``."""
        return max(0.0, now - self.since)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one source said at one moment."""

    state: GlobalState
    sessions: tuple[Session, ...] = ()
    active_sessions: int = 0
    max_concurrent: int | None = None
    # Ticks on every snapshot; never a reason to redraw anything.
    uptime_seconds: float | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One source's connection state and its last snapshot (None when not connected)."""

    name: str
    connection: ConnectionState
    snapshot: Snapshot | None = None
    detail: str | None = None

    @classmethod
    def connected(
        cls,
        name: str,
        sessions: Iterable[Session] = (),
        *,
        state: GlobalState | None = None,
        detail: str | None = None,
        limit: int | None = None,
    ) -> SourceStatus:
        """A connected source showing ``sessions``: a status made up (``show``, ``preview``, tests).

        :param state: the snapshot's global state; by default what the sessions
            say: idle with none, degraded when one has failed, else active.
        :param limit: the snapshot's ``max_concurrent``.
        """
        shown = tuple(sessions)
        if state is None:
            state = GlobalState.ACTIVE if shown else GlobalState.IDLE
            if any(s.state is SessionState.ERROR for s in shown):
                state = GlobalState.DEGRADED
        snapshot = Snapshot(state, shown, len(shown), limit)
        return cls(name, ConnectionState.CONNECTED, snapshot, detail)

    @property
    def global_state(self) -> GlobalState:
        if self.connection is ConnectionState.CONNECTED and self.snapshot is not None:
            return self.snapshot.state
        return _CONNECTION_TO_GLOBAL[self.connection]


_CONNECTION_TO_GLOBAL = {
    ConnectionState.CONNECTING: GlobalState.CONNECTING,
    ConnectionState.CONNECTED: GlobalState.CONNECTING,  # connected, no snapshot yet
    ConnectionState.DISCONNECTED: GlobalState.DISCONNECTED,
    ConnectionState.AUTH_FAILED: GlobalState.AUTH_FAILED,
}


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """Everything the bridge knows, folded over all sources."""

    state: GlobalState
    sessions: tuple[Session, ...] = ()
    sources: tuple[SourceStatus, ...] = field(default=())

    @classmethod
    def fold(cls, sources: tuple[SourceStatus, ...]) -> AgentStatus:
        """The global state is the most severe over sources; sessions keep source order."""
        if not sources:
            return cls(GlobalState.CONNECTING, (), ())
        states = {s.global_state for s in sources}
        state = next(g for g in GLOBAL_SEVERITY if g in states)
        sessions = tuple(
            session
            for source in sources
            if source.connection is ConnectionState.CONNECTED and source.snapshot is not None
            for session in source.snapshot.sessions
        )
        return cls(state, sessions, sources)

    def find(self, ref: SessionRef) -> Session | None:
        """The session ``ref`` names, or None when it is gone."""
        for session in self.sessions:
            if session.source == ref.source and session.key == ref.key:
                return session
        return None

    def most_urgent(self) -> Session | None:
        """The session a single indicator should show, or None when there is none.

        Ties go to the session that started first (sessions keep start order).
        """
        best: Session | None = None
        for session in self.sessions:
            if best is None or session.urgency < best.urgency:
                best = session
        return best


__all__ = [
    "ANSWER_PREFIX",
    "DELIBERATE",
    "GLOBAL_SEVERITY",
    "SESSION_URGENCY",
    "STOP",
    "AgentStatus",
    "Ask",
    "AskKind",
    "Choice",
    "ChoiceKind",
    "ConnectionState",
    "GlobalState",
    "ModelUsage",
    "Session",
    "SessionRef",
    "SessionState",
    "Snapshot",
    "SourceStatus",
    "TokenUsage",
]
