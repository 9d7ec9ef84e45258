"""The sessions coding agents report through hooks, with state that never sticks.

A hook says what an agent starts doing; nothing says when it stopped if the user
pressed Esc, closed the terminal or the agent crashed. So no state here is
trusted beyond its evidence:

- **a turn that ends** (done, interrupted) shows briefly, then the session rests
  (kept, not shown) until its next prompt;
- **an interrupt** the agent fires no hook for is read from its transcript (the
  marker Claude Code writes ~0.2 s after Esc), polled at most once a second per
  working session with one ``stat``;
- **a dead agent** (its process id, from ``agentlight hook``, no longer runs)
  takes its session, and its subagents, away within a second or two;
- **silence**: a working state with no news past its ceiling is shown as stale
  (``raw_state = "stale"``: dim, "no news for 12m"), never as a confident
  "running"; waiting for the user is never stale, errors stay until the next
  event or the agent's end.

The tracker is driven by its owner (:class:`~bridge.sources.hooks.source.HooksSource`)
with explicit times, so tests run it on a virtual clock.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath

from bridge.pipeline.model import GlobalState, Session, SessionState, Snapshot, TokenUsage
from bridge.sources.hooks.events import HookEvent, Kind
from bridge.sources.hooks.transcript import Tail

log = logging.getLogger("agentlight.sources.hooks")

#: ``raw_state`` of a working session with no news past its ceiling.
STALE = "stale"
#: The title's length bound (project name and the prompt's first words).
TITLE_MAX = 60
_PROMPT_WORDS = 6

_KIND_STATE = {
    Kind.PROMPT: SessionState.THINKING,
    Kind.THINKING: SessionState.THINKING,
    Kind.TOOL: SessionState.TOOL_RUNNING,
    Kind.WAITING: SessionState.WAITING_FOR_USER,
    Kind.DONE: SessionState.DONE,
    Kind.INTERRUPTED: SessionState.INTERRUPTED,
    Kind.ERROR: SessionState.ERROR,
}
#: States a silence ceiling applies to.
WORKING = frozenset({SessionState.THINKING, SessionState.TOOL_RUNNING, SessionState.STREAMING})
#: States whose transcript is watched (an Esc on a permission dialog ends a wait too).
WATCHED = WORKING | {SessionState.WAITING_FOR_USER}


@dataclass(frozen=True, slots=True)
class Limits:
    """The tracker's timing (seconds) and bounds; see the source's ``Options``."""

    thinking_ceiling: float = 300.0
    tool_ceiling: float = 600.0
    show_done_for: float = 10.0
    show_interrupted_for: float = 10.0
    max_sessions: int = 200
    transcripts: bool = True

    def ceiling(self, state: SessionState) -> float | None:
        if state is SessionState.TOOL_RUNNING:
            return self.tool_ceiling
        if state in WORKING:
            return self.thinking_ceiling
        return None


@dataclass
class Tracked:
    """One session the agents told us about (shown, or resting)."""

    key: str
    agent: str
    parent: str | None = None
    #: None while resting: known, not shown.
    state: SessionState | None = None
    tool: str | None = None
    detail: str | None = None
    error: str | None = None
    project: str | None = None
    prompt: str | None = None
    label: str | None = None
    tokens: TokenUsage | None = None
    #: Wall time the session entered ``state`` (what a duration counts from).
    since: float = 0.0
    #: Loop time of the last evidence (a hook event, a transcript that grew).
    evidence: float = 0.0
    #: Loop time a done/interrupted session goes to rest.
    rest_at: float | None = None
    pid: int | None = None
    tail: Tail | None = None
    stale: bool = False
    last_event: str = ""
    #: Wall time of the last hook event.
    last_event_at: float = 0.0
    children: set[str] = field(default_factory=set)
    #: The shown session as last built, and whether it counts as active; dropped by
    #: any change (see __setattr__), so a snapshot rebuilds only what changed: an
    #: event costs microseconds per other session, not a Session each.
    cached: tuple[Session, bool] | None = field(default=None, compare=False, repr=False)

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        if name != "cached":
            object.__setattr__(self, "cached", None)

    @property
    def title(self) -> str | None:
        title: str | None
        if self.label and self.project:
            title = f"{self.project}: {self.label}"
        elif self.prompt and self.project:
            title = f"{self.project}: {self.prompt}"
        else:
            title = self.label or self.project or self.prompt
        if title is None:
            return None
        return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"


def _first_words(prompt: str) -> str:
    words = prompt.split()
    short = " ".join(words[:_PROMPT_WORDS])
    return short + ("…" if len(words) > _PROMPT_WORDS else "")


def _project(cwd: str) -> str | None:
    name = PurePath(cwd).name
    return name[:40] if name else None


class Tracker:
    """Hook events in, a :class:`Snapshot` out.

    :param source: the source's name (each session's ``source``).
    :param limits: ceilings, how long ends show, the session bound.
    :param alive: whether a process id still runs (injected for tests).
    """

    def __init__(
        self,
        source: str,
        limits: Limits,
        *,
        alive: Callable[[int], bool] | None = None,
        machine: str | None = None,
    ) -> None:
        self.source = source
        self.limits = limits
        self.machine = machine
        self._alive = alive or pid_alive
        self.sessions: dict[str, Tracked] = {}
        self.dropped = 0  # sessions refused or evicted past max_sessions, for tests
        #: New sessions refused since the last one there was room for (the cap's
        #: episode: the source says it once and shows the count in its detail).
        self.refusing = 0

    # -- events ----------------------------------------------------------------------

    def apply(self, event: HookEvent, now: float, wall: float) -> bool:
        """Take one event; True when what is shown may have changed."""
        tracked = self.sessions.get(event.session)
        if tracked is None:
            if event.kind is Kind.END:
                return False  # an end for a session we never saw (agentlight restarted)
            tracked = self._new(event)
            if tracked is None:
                return False
        tracked.evidence = now
        tracked.last_event = event.name or event.kind.value
        tracked.last_event_at = wall
        if event.pid is not None:
            tracked.pid = event.pid
        if event.cwd:
            tracked.project = _project(event.cwd) or tracked.project
        if event.label:
            tracked.label = event.label
        if event.prompt:
            tracked.prompt = _first_words(event.prompt)
        if event.tokens is not None:
            tracked.tokens = event.tokens
        if (
            event.transcript
            and self.limits.transcripts
            and (tracked.tail is None or tracked.tail.path != event.transcript)
        ):
            tracked.tail = Tail(event.transcript)
        kind = event.kind
        if kind is Kind.END:
            self._remove(tracked.key)
            return True
        if kind in (Kind.START, Kind.USER_TURN):
            return self._rest(tracked)
        if kind is Kind.NOTE:
            was_stale = tracked.stale
            tracked.stale = False
            return was_stale or event.tokens is not None or event.label is not None
        state = _KIND_STATE[kind]
        before = (tracked.state, tracked.tool, tracked.detail, tracked.error, tracked.stale)
        if state is not tracked.state:
            tracked.since = wall
        tracked.state = state
        tracked.stale = False
        has_tool = state in (SessionState.TOOL_RUNNING, SessionState.WAITING_FOR_USER)
        tracked.tool = event.tool if has_tool else None
        tracked.detail = event.detail if state in WATCHED else None
        tracked.error = event.error if state is SessionState.ERROR else None
        tracked.rest_at = None
        if state is SessionState.DONE:
            tracked.rest_at = now + self.limits.show_done_for
        elif state is SessionState.INTERRUPTED:
            tracked.rest_at = now + self.limits.show_interrupted_for
        if state in WATCHED and before[0] not in WATCHED and tracked.tail is not None:
            # A turn starts: news from here on, what came before is an old turn's. Not
            # on every event of the turn: an interrupt marker not yet read would be lost.
            tracked.tail.arm()
        return (tracked.state, tracked.tool, tracked.detail, tracked.error, tracked.stale) != before

    def _new(self, event: HookEvent) -> Tracked | None:
        if len(self.sessions) >= self.limits.max_sessions and not self._evict():
            self.dropped += 1
            self.refusing += 1
            return None
        self.refusing = 0
        parent = event.parent if event.parent in self.sessions else None
        tracked = Tracked(event.session, event.agent, parent=parent)
        if parent is not None:
            owner = self.sessions[parent]
            owner.children.add(event.session)
            tracked.project = owner.project
            tracked.pid = owner.pid
        self.sessions[event.session] = tracked
        return tracked

    def refused(self) -> int:
        """New sessions refused in the episode now biting (0 once there is room again)."""
        if len(self.sessions) < self.limits.max_sessions:
            self.refusing = 0
        return self.refusing

    def _evict(self) -> bool:
        """Make room by forgetting the resting session heard from least recently."""
        resting = [t for t in self.sessions.values() if t.state is None and not t.children]
        if not resting:
            return False
        oldest = min(resting, key=lambda t: t.evidence)
        self._remove(oldest.key)
        self.dropped += 1
        return True

    def _rest(self, tracked: Tracked) -> bool:
        shown = tracked.state is not None
        tracked.state = None
        tracked.tool = tracked.detail = tracked.error = None
        tracked.rest_at = None
        tracked.stale = False
        if tracked.parent is not None:
            self._remove(tracked.key)  # a subagent that finished has nothing left to say
        return shown

    def _remove(self, key: str) -> None:
        tracked = self.sessions.pop(key, None)
        if tracked is None:
            return
        for child in list(tracked.children):
            self._remove(child)
        if tracked.parent is not None and tracked.parent in self.sessions:
            self.sessions[tracked.parent].children.discard(key)

    # -- time ------------------------------------------------------------------------

    def tick(self, now: float, wall: float) -> bool:
        """Ends that rest, agents that died, transcripts that say more, silences that
        pass a ceiling. Call about once a second; True when what is shown changed."""
        changed = False
        dead: list[str] = []
        checked: dict[int, bool] = {}
        for tracked in list(self.sessions.values()):
            if tracked.key not in self.sessions:
                continue  # removed with its parent this round
            pid = tracked.pid
            if pid is not None:
                if pid not in checked:
                    checked[pid] = self._alive(pid)
                if not checked[pid]:
                    dead.append(tracked.key)
                    continue
            if tracked.rest_at is not None and now >= tracked.rest_at:
                changed |= self._rest(tracked)
                continue
            if tracked.state in WATCHED and tracked.tail is not None:
                changed |= self._read_tail(tracked, now, wall)
            ceiling = self.limits.ceiling(tracked.state) if tracked.state else None
            stale = ceiling is not None and now - tracked.evidence >= ceiling
            if stale != tracked.stale:
                tracked.stale = stale
                changed = True
        for key in dead:
            if key in self.sessions:
                log.info("%s: %s's process is gone; its session leaves", self.source, key)
                shown = self.sessions[key].state is not None
                self._remove(key)
                changed |= shown
        return changed

    def _read_tail(self, tracked: Tracked, now: float, wall: float) -> bool:
        assert tracked.tail is not None
        news = tracked.tail.poll()
        if news is None:
            return False
        tracked.evidence = now
        changed = tracked.stale
        tracked.stale = False
        if news.tokens is not None and news.tokens != tracked.tokens:
            tracked.tokens = news.tokens
            changed = True
        if news.interrupted:
            event = HookEvent(tracked.agent, tracked.key, Kind.INTERRUPTED, name="transcript")
            return self.apply(event, now, wall) or True
        return changed

    def next_wake(self, now: float) -> float:
        """Seconds until the tracker has something to do (1 s while anything is
        watched or a process must be checked; else until a rest or a ceiling)."""
        wake = 3600.0
        for tracked in self.sessions.values():
            if tracked.pid is not None or (tracked.state in WATCHED and tracked.tail):
                return 1.0
            if tracked.rest_at is not None:
                wake = min(wake, tracked.rest_at - now)
            ceiling = self.limits.ceiling(tracked.state) if tracked.state else None
            if ceiling is not None and not tracked.stale:
                wake = min(wake, tracked.evidence + ceiling - now)
        return max(0.05, wake)

    # -- the model --------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        sessions: list[Session] = []
        active = 0
        for tracked in self.sessions.values():
            if tracked.state is None:
                continue
            cached = tracked.cached
            if cached is None:
                session = self._session(tracked)
                cached = (session, session.state in WORKING or session.state.needs_user)
                tracked.cached = cached
            sessions.append(cached[0])
            active += cached[1]
        state = GlobalState.ACTIVE if active else GlobalState.IDLE
        return Snapshot(state, tuple(sessions), active_sessions=active)

    def _session(self, tracked: Tracked) -> Session:
        assert tracked.state is not None
        title = tracked.title
        if self.machine:
            title = f"{self.machine} · {title}" if title else self.machine
        extra: list[tuple[str, str]] = []
        if tracked.detail:
            extra.append(("detail", tracked.detail))
        if tracked.stale:
            extra.append(("stale", "no news"))
        return Session(
            key=tracked.key,
            id=tracked.key.rpartition("/")[2][:8] if tracked.parent else tracked.key[:8],
            channel=tracked.agent,
            state=tracked.state,
            title=title,
            tool=tracked.tool,
            since=tracked.since,
            tokens=tracked.tokens,
            error=tracked.error,
            source=self.source,
            raw_state=STALE if tracked.stale else tracked.state.value,
            parent=tracked.parent,
            extra=tuple(extra),
        )


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs: it exists (signal 0: nothing is sent) and,
    where ``/proc`` says, is not a zombie (an agent killed with ``kill -9`` stays one
    until its parent, a terminal or tmux, reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read(512).rpartition(b")")[2].split(maxsplit=1)[:1]
    except OSError:
        return True  # no /proc (macOS): existing is all we can know
    return state != [b"Z"]


__all__ = ["STALE", "WATCHED", "WORKING", "Limits", "Tracked", "Tracker", "pid_alive"]
