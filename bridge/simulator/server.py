"""A local HTTP server that speaks PocketPaw's agent status API like the real one.

Routes, auth order, SSE bytes, debounce, dedupe and keepalive follow PocketPaw 0.4.10-0.4.18
as described in status-feeds.md; :class:`Fault` hooks let tests break it on purpose.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import logging
from typing import Any

import h11

from bridge.simulator import sse
from bridge.simulator.agent import SimAgent
from bridge.simulator.faults import Fault
from bridge.simulator.listener import Listener
from bridge.simulator.wire import Connection, Request, json_body

__all__ = ["EVENTS_PATH", "STATUS_PATH", "STREAM_PATH", "Fault", "SimServer"]

log = logging.getLogger(__name__)

STATUS_PATH = "/api/v1/agent/status"
STREAM_PATH = "/api/v1/agent/status/stream"
EVENTS_PATH = "/api/v1/events/stream"

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
    ) -> None:
        super().__init__(host, port)
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
        fault = self._take_fault(request.path)
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

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(path):
                self.faults.remove(fault)
                return fault
        return None

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
        if fault.kind == "status":
            await conn.respond(fault.status, fault.body, fault.headers)
        elif fault.kind == "reset":
            conn.abort(rst=True)
        elif fault.kind == "hang":
            await conn.until_peer_closes()
        elif request.path in (STREAM_PATH, EVENTS_PATH):
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


def _bearer(value: str | None) -> str:
    scheme, _, credentials = (value or "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def _same(offered: str, expected: str) -> bool:
    return bool(offered) and hmac.compare_digest(offered.encode(), expected.encode())


