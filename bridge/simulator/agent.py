"""A stand-in for PocketPaw's ``StatusTracker``: bus events in, status snapshots out.

Reproduces the real tracker's quirks on purpose (see status-feeds.md): token counts never
wake the stream, and an errored session is dropped ``error_ttl`` seconds later without
waking it either.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["SimAgent"]


@dataclass
class _Session:
    key: str
    title: str | None
    state: str = "thinking"
    tool_name: str | None = None
    changed_at: float = 0.0
    tokens: dict[str, int] | None = None
    error_message: str | None = None


def _split_key(session_key: str) -> tuple[str, str]:
    """Return ``(channel, session_id)`` the way the real server splits a key."""
    channel, sep, session_id = session_key.partition(":")
    if not sep:
        return "unknown", session_key
    return channel, session_id


class SimAgent:
    """Mimics PocketPaw's StatusTracker.

    Drive it with the bus-event methods (:meth:`agent_start`, :meth:`tool_start`, …) and
    read it with :meth:`snapshot`, whose result is the exact ``GET /api/v1/agent/status``
    body. ``version`` bumps on every change that wakes the stream.

    :param clock: monotonic seconds; inject a fake one to control durations and the
        error drop.
    :param max_concurrent: echoed in ``global.max_concurrent`` (display only).
    :param error_ttl: seconds after which a session key that went to ``error`` is
        dropped, silently.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_concurrent: int = 5,
        error_ttl: float = 30.0,
    ) -> None:
        self.clock = clock
        self.max_concurrent = max_concurrent
        self.error_ttl = error_ttl
        self.version = 0
        self._started = clock()
        # Insertion order of a dict is the start order the real server lists sessions in.
        self._sessions: dict[str, _Session | dict[str, Any]] = {}
        # Like the real server's timer these go by key only, so a new run under the same
        # key started within error_ttl is dropped too.
        self._drops: list[tuple[float, str]] = []
        self._waiters: set[asyncio.Future[None]] = set()

    def __repr__(self) -> str:
        return f"SimAgent(sessions={len(self._sessions)}, version={self.version})"

    # -- bus events -------------------------------------------------------------------

    def agent_start(self, session_key: str, title: str | None = None) -> None:
        """A run starts: a new session in ``thinking``."""
        self._prune(self.clock())
        # Plain assignment: a restarted key keeps its place in the list, as in a dict upstream.
        self._sessions[session_key] = _Session(session_key, title, changed_at=self.clock())
        self._notify()

    def thinking(self, session_key: str) -> None:
        session = self._live(session_key)
        # The real tracker skips a thinking→thinking notification (it would spam the stream).
        if session is None or session.state == "thinking":
            return
        self._set_state(session, "thinking")

    def tool_start(self, session_key: str, tool_name: str) -> None:
        session = self._live(session_key)
        if session is not None:
            self._set_state(session, "tool_running", tool_name=tool_name)

    def tool_result(self, session_key: str) -> None:
        session = self._live(session_key)
        # streaming only ever follows a running tool.
        if session is not None and session.state == "tool_running":
            self._set_state(session, "streaming")

    def ask_user_question(self, session_key: str) -> None:
        session = self._live(session_key)
        if session is not None:
            self._set_state(session, "waiting_for_user")

    def error(self, session_key: str, message: str) -> None:
        session = self._live(session_key)
        if session is None:
            return
        session.error_message = message
        self._set_state(session, "error")
        self._drops.append((self.clock() + self.error_ttl, session_key))

    def agent_end(self, session_key: str) -> None:
        self._prune(self.clock())
        if self._sessions.pop(session_key, None) is not None:
            self._notify()

    def token_usage(self, session_key: str, input: int, output: int) -> None:
        """Add to the session's counts. Never wakes the stream, like the real server."""
        session = self._live(session_key)
        if session is None:
            return
        tokens = session.tokens or {"input": 0, "output": 0}
        session.tokens = {"input": tokens["input"] + input, "output": tokens["output"] + output}

    def set_raw_session(self, session: dict[str, Any]) -> None:
        """Inject a session dict verbatim (unknown states, extra fields) and notify.

        It keeps its place if its ``session_key`` already exists, else goes last.
        """
        self._prune(self.clock())
        self._sessions[str(session["session_key"])] = dict(session)
        self._notify()

    # -- reading ----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The exact ``GET /api/v1/agent/status`` body at this moment."""
        now = self.clock()
        self._prune(now)
        sessions = [self._render(s, now) for s in self._sessions.values()]
        if not sessions:
            state = "idle"
        elif any(s.get("state") == "error" for s in sessions):
            state = "degraded"
        else:
            state = "active"
        return {
            "global": {
                "state": state,
                "active_sessions": len(sessions),
                "max_concurrent": self.max_concurrent,
                "uptime_seconds": int(now - self._started),
            },
            "sessions": sessions,
        }

    # The real tracker's signature, which callers mirror, takes the timeout itself.
    async def wait_for_change(self, since_version: int, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until ``version`` moves past ``since_version``; False on timeout."""
        if self.version != since_version:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return self.version != since_version
        finally:
            self._waiters.discard(waiter)
        return True

    @staticmethod
    def fingerprint(snapshot: dict[str, Any]) -> tuple[Any, ...]:
        """The real server's dedupe key: timing and token fields never count."""
        sessions = tuple(
            (s.get("session_key"), s.get("state"), s.get("tool_name"))
            for s in snapshot.get("sessions", [])
        )
        return (snapshot["global"]["state"], sessions)

    # -- internals --------------------------------------------------------------------

    def _live(self, session_key: str) -> _Session | None:
        self._prune(self.clock())
        session = self._sessions.get(session_key)
        # Raw injected sessions are test fixtures: events leave them alone.
        return session if isinstance(session, _Session) else None

    def _set_state(self, session: _Session, state: str, tool_name: str | None = None) -> None:
        session.state = state
        session.tool_name = tool_name
        if state != "error":
            session.error_message = None
        session.changed_at = self.clock()
        self._notify()

    def _prune(self, now: float) -> None:
        # Lazy, at read time, so a fake clock alone decides when the drop happens;
        # deliberately no _notify(): the real server forgets to tell its streams.
        due = [key for deadline, key in self._drops if deadline <= now]
        if not due:
            return
        self._drops = [(d, k) for d, k in self._drops if d > now]
        for key in due:
            self._sessions.pop(key, None)

    @staticmethod
    def _render(session: _Session | dict[str, Any], now: float) -> dict[str, Any]:
        if isinstance(session, dict):
            return dict(session)
        channel, session_id = _split_key(session.key)
        return {
            "session_key": session.key,
            "session_id": session_id,
            "channel": channel,
            "title": session.title,
            "state": session.state,
            "tool_name": session.tool_name,
            "duration_seconds": round(max(0.0, now - session.changed_at), 1),
            "token_usage": dict(session.tokens) if session.tokens else None,
            "error_message": session.error_message,
        }

    def _notify(self) -> None:
        self.version += 1
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
