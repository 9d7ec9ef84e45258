"""A local HTTP server that speaks PocketPaw's agent status API like the real one.

Routes, auth order, SSE bytes, debounce, dedupe and keepalive follow PocketPaw 0.4.10-0.4.18
as described in status-feeds.md; :class:`Fault` hooks let tests break it on purpose.

It also takes what a device sends back, as PocketPaw 0.4.18's chat API does: ``POST
/api/v1/chat`` (a message to a web chat: recorded in :attr:`SimServer.chats`, handed to
:attr:`SimServer.on_chat`; ``/kill`` cancels the chat's run) and ``POST
/api/v1/chat/stop?session_id=…`` (recorded in :attr:`SimServer.stops`; 404 "No active
stream for this session" unless the run was started by the chat stream API, which
tests say with :attr:`SimServer.chat_streams`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import h11

from bridge.simulator import sse
from bridge.simulator.agent import SimAgent
from bridge.simulator.faults import Fault, run_common, take
from bridge.simulator.listener import Listener
from bridge.simulator.wire import Connection, Request, json_body

__all__ = [
    "CHAT_PATH",
    "CHAT_STOP_PATH",
    "EVENTS_PATH",
    "STATUS_PATH",
    "STREAM_PATH",
    "ChatMessage",
    "Fault",
    "SimServer",
]

log = logging.getLogger(__name__)

STATUS_PATH = "/api/v1/agent/status"
STREAM_PATH = "/api/v1/agent/status/stream"
EVENTS_PATH = "/api/v1/events/stream"
CHAT_PATH = "/api/v1/chat"
CHAT_STOP_PATH = "/api/v1/chat/stop"
_WS_PREFIX = "websocket_"
# The agent loop's own test for a stop command (pocketpaw/agents/loop.py).
_KILL = re.compile(r"^[/!]kill(?:@\S+)?(?:\s.*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class ChatMessage:
    """A message that arrived on ``POST /api/v1/chat``.

    :param session_key: the chat it goes to (``websocket:<id>``).
    :param session_id: what the client sent as ``session_id``.
    :param at: ``time.monotonic()`` when its body had arrived.
    """

    session_key: str
    session_id: str | None
    content: str
    at: float

_UNAUTHORIZED = {"detail": "Unauthorized"}
_BAD_KEY = {"detail": "Invalid or missing status API key"}
_NOT_FOUND = {"detail": "Not Found"}
_NOT_ALLOWED = {"detail": "Method Not Allowed"}


class SimServer(Listener):
    """PocketPaw's status endpoints on 127.0.0.1, driven by a :class:`SimAgent`.

    :param api_key: the status key (``X-Status-Key`` / ``?key=``); None leaves it open.
    :param token: the dashboard token; when set the server acts as seen from another
        host, so every request needs ``Authorization: Bearer`` or ``?token=``.
    :param debounce: seconds the stream sleeps after a change before it looks (a throttle).
    :param keepalive: seconds without a tracker change before ``: keepalive``.
    :param stream_enabled: False answers the stream path with 404, like servers before
        the SSE endpoint existed; may be flipped at runtime.
    :param bus_skip: event types left off the event bus (the demo leaves out
        ``agent_start``, whose bus event carries no title, so a new chat first shows
        from the status stream, titled); empty sends every event, as the real server does.
    """

    def __init__(
        self,
        agent: SimAgent,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        token: str | None = None,
        debounce: float = 1.0,
        keepalive: float = 30.0,
        stream_enabled: bool = True,
        bus_skip: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(host, port)
        self.bus_skip = bus_skip
        self.agent = agent
        self.debounce = debounce
        self.keepalive = keepalive
        self.stream_enabled = stream_enabled
        self.faults: collections.deque[Fault] = collections.deque()
        self.requests: collections.Counter[str] = collections.Counter()
        self._api_key = api_key
        self._token = token
        self._streams: set[Connection] = set()
        self._event_streams: set[Connection] = set()
        #: Messages ``POST /api/v1/chat`` got, in order; stops ``/chat/stop`` got.
        self.chats: list[ChatMessage] = []
        self.stops: list[str] = []
        #: Chats whose run the chat stream API started (``/chat/stop`` works for these).
        self.chat_streams: set[str] = set()
        #: Called with every chat message but ``/kill`` (the demo answers questions with it).
        self.on_chat: Callable[[ChatMessage], Awaitable[None] | None] | None = None
        self._chat_waiters: list[asyncio.Future[None]] = []

    def __repr__(self) -> str:
        # Credentials stay out: only whether they are set.
        return (
            f"SimServer(url={self.url!r}, api_key={'set' if self._api_key else None}, "
            f"token={'set' if self._token else None}, open_streams={self.open_streams})"
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    # -- test hooks -------------------------------------------------------------------

    def set_api_key(self, api_key: str | None) -> None:
        """Ask for another status key from now on (the demo refuses the bridge's once)."""
        self._api_key = api_key

    async def wait_for_chat(self, count: int = 1, timeout: float = 5.0) -> ChatMessage:  # noqa: ASYNC109
        """Wait until ``count`` chat messages have arrived; returns the last."""
        async with asyncio.timeout(timeout):
            while len(self.chats) < count:
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._chat_waiters.append(waiter)
                await waiter
        return self.chats[count - 1]

    @property
    def open_event_streams(self) -> int:
        return len(self._event_streams)

    async def drop_streams(self, *, events: bool = True) -> None:
        """Cut every open stream connection (event streams too unless ``events=False``);
        the listener keeps accepting."""
        conns = set(self._streams) | (set(self._event_streams) if events else set())
        tasks = [self._conns[c] for c in conns if c in self._conns]
        for conn in conns:
            conn.abort()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)

    async def send_raw(self, data: bytes) -> None:
        """Write ``data`` into the body of every open stream (malformed frames etc.)."""
        for conn in list(self._streams):
            with contextlib.suppress(OSError, h11.LocalProtocolError):
                await conn.send(data)

    async def send_frame(self, payload: str, event: str = "status") -> None:
        """Write one SSE frame to every open stream now, skipping debounce and dedupe."""
        await self.send_raw(sse.frame(payload, event))

    # -- request handling -------------------------------------------------------------

    def _forget(self, conn: Connection) -> None:
        self._streams.discard(conn)
        self._event_streams.discard(conn)

    async def _handle(self, conn: Connection, request: Request) -> bool:
        """Answer one request; False means the connection must not be reused."""
        self.requests[request.path] += 1
        # Path only: the query string may carry the key or the token.
        log.debug("simulator: %s %s", request.method, request.path)
        fault = take(self.faults, request.path)
        if fault is not None:
            log.debug("simulator: injecting %s fault", fault.kind)
            await self._run_fault(conn, request, fault)
            return False
        # The token check is middleware upstream, so it runs before routing and the key.
        if not self._token_ok(request):
            await conn.respond(401, json_body(_UNAUTHORIZED))
            return True
        if request.path == EVENTS_PATH and request.method == "GET":
            # The event bus ignores the status key: localhost or the token only.
            await self._events(conn)
            return False
        if request.path in (CHAT_PATH, CHAT_STOP_PATH):
            if request.method != "POST":
                await conn.respond(405, json_body(_NOT_ALLOWED), {"allow": "POST"})
            elif request.path == CHAT_PATH:
                await self._chat(conn, request)
            else:
                await self._chat_stop(conn, request)
            return True
        if request.path not in (STATUS_PATH, STREAM_PATH) or (
            request.path == STREAM_PATH and not self.stream_enabled
        ):
            await conn.respond(404, json_body(_NOT_FOUND))
            return True
        if request.method != "GET":
            await conn.respond(405, json_body(_NOT_ALLOWED), {"allow": "GET"})
            return True
        if not self._key_ok(request):
            await conn.respond(403, json_body(_BAD_KEY))
            return True
        if request.path == STATUS_PATH:
            await conn.respond(200, json_body(self.agent.snapshot()))
            return True
        await self._stream(conn)
        return False

    def _token_ok(self, request: Request) -> bool:
        if self._token is None:
            return True
        # A non-empty ?token= is the only one looked at, so a wrong one beats a right header.
        offered = request.query.get("token") or _bearer(request.headers.get("authorization"))
        return _same(offered, self._token)

    def _key_ok(self, request: Request) -> bool:
        if not self._api_key:
            return True
        offered = request.query.get("key") or request.headers.get("x-status-key", "")
        return _same(offered, self._api_key)

    # -- the chat API -----------------------------------------------------------------

    async def _chat(self, conn: Connection, request: Request) -> None:
        """``POST /api/v1/chat``: a message for a web chat (``ChatRequest``'s checks)."""
        try:
            body = json.loads(request.body)
        except ValueError:
            await conn.respond(422, json_body({"detail": "JSON decode error"}))
            return
        content = body.get("content") if isinstance(body, dict) else None
        session_id = body.get("session_id") if isinstance(body, dict) else None
        if not isinstance(content, str) or not 1 <= len(content) <= 100_000 or not (
            session_id is None or isinstance(session_id, str)
        ):
            await conn.respond(422, json_body({"detail": "content: 1 to 100000 characters"}))
            return
        chat = _chat_id(session_id)
        key = f"websocket:{chat}"
        message = ChatMessage(key, session_id, content, time.monotonic())
        self.chats.append(message)
        for waiter in self._chat_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._chat_waiters.clear()
        if _KILL.match(content.strip()):
            live = key in self.agent.snapshot_keys()
            if live:
                self.agent.agent_end(key)  # the cancelled run ends as the real loop ends it
            reply = (
                "Agent run cancelled for this session."
                if live
                else "No active agent run for this session."
            )
        else:
            reply = ""
            if self.on_chat is not None:
                result = self.on_chat(message)
                if result is not None:
                    await result
        await conn.respond(
            200, json_body({"session_id": f"{_WS_PREFIX}{chat}", "content": reply, "usage": {}})
        )

    async def _chat_stop(self, conn: Connection, request: Request) -> None:
        """``POST /api/v1/chat/stop?session_id=…``: only runs the chat stream API started."""
        session_id = request.query.get("session_id", "")
        if not session_id:
            await conn.respond(400, json_body({"detail": "session_id is required"}))
            return
        self.stops.append(session_id)
        key = f"websocket:{_chat_id(session_id)}"
        if key not in self.chat_streams:
            await conn.respond(404, json_body({"detail": "No active stream for this session"}))
            return
        self.chat_streams.discard(key)
        if key in self.agent.snapshot_keys():
            self.agent.agent_end(key)
        await conn.respond(200, json_body({"status": "ok", "session_id": session_id}))

    # -- the stream -------------------------------------------------------------------

    async def _stream(self, conn: Connection, prefix: bytes = b"") -> None:
        await self._open_stream(conn)
        await conn.until_peer_closes(self._stream_loop(conn, prefix))

    async def _open_stream(self, conn: Connection) -> None:
        self._streams.add(conn)
        await conn.start(200, sse.STREAM_HEADERS)

    async def _stream_loop(self, conn: Connection, prefix: bytes) -> None:
        agent = self.agent
        await conn.send(prefix)
        version = agent.version
        snapshot = agent.snapshot()
        last = agent.fingerprint(snapshot)
        await conn.send(sse.status_frame(snapshot))
        while True:
            if not await agent.wait_for_change(version, self.keepalive):
                await conn.send(sse.KEEPALIVE)
                continue
            # A throttle, not a sliding window: one sleep, then whatever is true by then.
            await asyncio.sleep(self.debounce)
            version = agent.version
            snapshot = agent.snapshot()
            fingerprint = agent.fingerprint(snapshot)
            # A change that dedupes away sends nothing and restarts the keepalive wait;
            # that is how the real server goes quiet for over a minute.
            if fingerprint != last:
                last = fingerprint
                await conn.send(sse.status_frame(snapshot))

    # -- the event bus ----------------------------------------------------------------

    async def _events(self, conn: Connection) -> None:
        """``/api/v1/events/stream`` as PocketPaw 0.4.18 serves it: ``event: connected``
        first, then one frame per bus event, no snapshot, no ids, a keepalive comment
        after ``keepalive`` seconds of nothing."""
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

        def on_event(event_type: str, data: dict[str, Any]) -> None:
            if event_type not in self.bus_skip:
                queue.put_nowait((event_type, data))

        self.agent.subscribe(on_event)
        self._event_streams.add(conn)
        try:
            await conn.start(200, sse.STREAM_HEADERS)
            await conn.until_peer_closes(self._events_loop(conn, queue))
        finally:
            self.agent.unsubscribe(on_event)

    async def _events_loop(
        self, conn: Connection, queue: asyncio.Queue[tuple[str, dict[str, Any]]]
    ) -> None:
        await conn.send(sse.event_frame("connected", {"status": "ok"}))
        while True:
            try:
                event_type, data = await asyncio.wait_for(queue.get(), self.keepalive)
            except TimeoutError:
                await conn.send(sse.KEEPALIVE)
                continue
            await conn.send(sse.event_frame(event_type, {"event": event_type, "data": data}))

    # -- faults -----------------------------------------------------------------------

    async def _run_fault(self, conn: Connection, request: Request, fault: Fault) -> None:
        if await run_common(conn, fault):
            return
        if request.path in (STREAM_PATH, EVENTS_PATH):
            await self._stream_fault(conn, fault)
        else:
            await self._rest_fault(conn, fault)

    async def _stream_fault(self, conn: Connection, fault: Fault) -> None:
        if fault.kind == "garbage":
            await self._stream(conn, prefix=fault.payload)
            return
        await self._open_stream(conn)
        if fault.kind == "dribble":
            await conn.until_peer_closes(_dribble(conn, fault))
            return
        first = sse.status_frame(self.agent.snapshot())
        if fault.kind == "half_frame":
            await conn.send(first + sse.HALF_FRAME)
        elif fault.kind == "die_mid_frame":
            await conn.send(first[: len(first) // 2])
            conn.abort()
            return
        elif fault.kind == "huge_frame":
            for chunk in sse.huge_frame(fault.size):
                await conn.send(chunk)
        await conn.until_peer_closes()

    async def _rest_fault(self, conn: Connection, fault: Fault) -> None:
        body = json_body(self.agent.snapshot())
        if fault.kind == "dribble":
            await conn.start(200, {"content-type": "application/json"})
            await conn.until_peer_closes(_dribble(conn, fault))
        elif fault.kind == "garbage":
            await conn.respond(200, fault.payload)
        elif fault.kind == "huge_frame":
            headers = {"content-type": "application/json", "content-length": str(fault.size)}
            await conn.start(200, headers)
            for chunk in sse.filler(fault.size):
                await conn.send(chunk)
            await conn.end()
        else:  # half_frame / die_mid_frame: a truncated body under a full content-length
            headers = {"content-type": "application/json", "content-length": str(len(body))}
            await conn.start(200, headers)
            await conn.send(body[: len(body) // 2])
            if fault.kind == "die_mid_frame":
                conn.abort()
            else:
                await conn.until_peer_closes()


async def _dribble(conn: Connection, fault: Fault) -> None:
    payload = fault.payload or b"x"
    while True:
        for i in range(len(payload)):
            await conn.send(payload[i : i + 1])
            await asyncio.sleep(fault.interval)


def _chat_id(session_id: str | None) -> str:
    """PocketPaw's ``_extract_chat_id``: ``websocket_<id>`` or a bare id; a new one if none."""
    if not session_id:
        import uuid

        return uuid.uuid4().hex[:12]
    return session_id[len(_WS_PREFIX) :] if session_id.startswith(_WS_PREFIX) else session_id


def _bearer(value: str | None) -> str:
    scheme, _, credentials = (value or "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def _same(offered: str, expected: str) -> bool:
    return bool(offered) and hmac.compare_digest(offered.encode(), expected.encode())


