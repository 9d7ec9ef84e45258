"""A stand-in for PocketPaw's ``StatusTracker``: bus events in, status snapshots out.

Reproduces the real tracker's quirks on purpose (see status-feeds.md): token counts never
wake the stream, and an errored session is dropped ``error_ttl`` seconds later without
waking it either.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_TITLES_KEPT = 64  # chats whose title a new run gets back

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
    body. ``version`` bumps on every change that wakes the stream. Every method also
    publishes the bus event the real agent loop publishes (same type and data), to
    whoever :meth:`subscribe` d: that is the ``/api/v1/events/stream`` feed.

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
        # Titles live in the real server's memory, by key: a new run of a chat has its title.
        # The recent ones only, so a long soak's thousands of chats don't grow the process.
        self._titles: OrderedDict[str, str] = OrderedDict()
        self._waiters: set[asyncio.Future[None]] = set()
        self._subscribers: set[Callable[[str, dict[str, Any]], None]] = set()

    def __repr__(self) -> str:
        return f"SimAgent(sessions={len(self._sessions)}, version={self.version})"

    # -- the event bus ----------------------------------------------------------------

    def subscribe(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        """Call ``callback(event_type, data)`` for every bus event from now on."""
        self._subscribers.add(callback)

    def unsubscribe(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        self._subscribers.discard(callback)

    def publish(self, event_type: str, data: dict[str, Any]) -> None:
        """Publish a bus event as is; the tracker (the status API) never sees it."""
        for callback in list(self._subscribers):
            callback(event_type, data)

    def backend_failure(self, session_key: str, message: str) -> None:
        """The stock loop's report of a failed backend: a ``tool_result`` named ``agent``
        with status ``error``. The tracker turns it into ``streaming`` (from a running
        tool) or nothing, exactly like the real one."""
        self.tool_result(session_key, name="agent", status="error", result=message)

    def alert(self, severity: str, message: str, alert_type: str = "backend") -> None:
        """An ``alert`` bus event (AlertManager's shape); the status API never shows it."""
        self.publish(
            "alert",
            {"alert_type": alert_type, "severity": severity, "message": message, "details": {}},
        )

    # -- bus events -------------------------------------------------------------------

    def agent_start(self, session_key: str, title: str | None = None) -> None:
        """A run starts: a new session in ``thinking``.

        :param title: the chat's title in memory from now on; without one, the title
            an earlier run of the key had (as the real server reads it from memory).
        """
        self._prune(self.clock())
        titles = self._titles
        if title is not None:
            titles[session_key] = title
            titles.move_to_end(session_key)
            if len(titles) > _TITLES_KEPT:
                titles.popitem(last=False)
        title = titles.get(session_key)
        # Plain assignment: a restarted key keeps its place in the list, as in a dict upstream.
        self._sessions[session_key] = _Session(session_key, title, changed_at=self.clock())
        self._notify()
        self.publish("agent_start", {"session_key": session_key, "backend": "sim", "model": ""})

    def thinking(self, session_key: str) -> None:
        self.publish("thinking", {"session_key": session_key})
        session = self._live(session_key)
        # The real tracker skips a thinking→thinking notification (it would spam the stream).
        if session is None or session.state == "thinking":
            return
        self._set_state(session, "thinking")

    def tool_start(self, session_key: str, tool_name: str) -> None:
        self.publish("tool_start", {"name": tool_name, "params": {}, "session_key": session_key})
        session = self._live(session_key)
        if session is not None:
            self._set_state(session, "tool_running", tool_name=tool_name)

    def tool_result(
        self,
        session_key: str,
        *,
        name: str | None = None,
        status: str = "success",
        result: str = "",
    ) -> None:
        session = self._live(session_key)
        if name is None:
            name = (session.tool_name if session is not None else None) or "unknown"
        self.publish(
            "tool_result",
            {"name": name, "result": result, "status": status, "session_key": session_key},
        )
        # streaming only ever follows a running tool.
        if session is not None and session.state == "tool_running":
            self._set_state(session, "streaming")

    def ask_user_question(
        self, session_key: str, question: str = "?", options: list[Any] | None = None
    ) -> None:
        """The agent's AskUserQuestion tool: the question and its options on the bus
        (strings, or objects with ``label``), as the real agent loop publishes them."""
        self.publish(
            "ask_user_question",
            {
                "question": question,
                "options": list(options or []),
                "session_key": session_key,
                "trace_id": f"sim-{self.version}",
            },
        )
        session = self._live(session_key)
        if session is not None:
            self._set_state(session, "waiting_for_user")

    def error(self, session_key: str, message: str) -> None:
        self.publish("error", {"message": message, "session_key": session_key})
        session = self._live(session_key)
        if session is None:
            return
        session.error_message = message
        self._set_state(session, "error")
        self._drops.append((self.clock() + self.error_ttl, session_key))

    def agent_end(self, session_key: str) -> None:
        self.publish("agent_end", {"session_key": session_key})
        self._prune(self.clock())
        if self._sessions.pop(session_key, None) is not None:
            self._notify()

    def token_usage(self, session_key: str, input: int, output: int) -> None:
        """Add to the session's counts. Never wakes the stream, like the real server."""
        self.publish("token_usage", {"input": input, "output": output, "session_key": session_key})
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

    def snapshot_keys(self) -> list[str]:
        """The keys of the sessions the status API lists now."""
        self._prune(self.clock())
        return list(self._sessions)

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
