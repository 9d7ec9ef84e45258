"""The API's HTTP server, on aiohttp (imported only when ``[api]`` is configured).

Why aiohttp: every limit the API needs is one of its documented settings
(``client_max_size``; ``max_line_size``/``max_field_size``/``max_headers``; a
``keepalive_timeout`` that also closes a connection whose request never
completes; ``handler_cancellation`` to see an event stream's client go), it
serves event streams without a framework on top, and an idle server schedules
nothing. What it lacks is added here: a connection cap (the protocol factory
answers 503 once the cap is reached), a per-client request rate, an early 413
on ``Content-Length``, a write deadline for event streams, and the guard's rules
(:mod:`bridge.api.guard`). Measured against uvicorn+starlette and hypercorn on
this project's machine: see the README's API section.

Endpoints (JSON in and out): ``GET /v1/status``, ``GET /v1/status/stream`` (SSE),
``GET /v1/health``, ``POST /v1/input``, ``POST /v1/hooks/<agent>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web, web_response
from aiohttp.http_exceptions import HttpProcessingError

from bridge.api.documents import InputError, health_document, input_event
from bridge.api.guard import Complaints, Guard, RateLimit, Refusal, peer_text
from bridge.api.hooks import AGENT_NAME, HookRequest, HookRoutes
from bridge.api.hub import KEEPALIVE, Hub
from bridge.api.options import ApiOptions
from bridge.infra.secret import Secret
from bridge.text.textsafe import safe_json

if TYPE_CHECKING:
    from bridge.engine import Engine

log = logging.getLogger("agentlight.api")

# Headers per request: more than any real client sends, few enough to parse cheaply.
_MAX_HEADERS = 64
# Connections answered 503 and waiting for their client to read it and go: more
# than this at once are dropped without an answer (a connection flood).
_MAX_REFUSING = 64
_REFUSED_LINGER = 1.0
# An event stream's socket keeps at most about this much in the kernel (Linux
# doubles it): left alone, Linux grows a stalled reader's send buffer to 4 MB,
# a queue of stale events the reader would still be handed.
_STREAM_SNDBUF = 32 * 1024
# Events go to the connection in slices, each once the connection has room: a
# reader that stalls holds a slice or so, not a whole document (which grows with
# the sessions: ~1 MB for 1,000 with long names).
_SLICE = 16 * 1024
_JSON = "application/json"
#: The ``Server`` header: aiohttp's default names Python's and its own version.
SERVER_NAME = "agentlight"

# aiohttp has no setting for the header; every response it prepares (its own
# answers to malformed requests too, which no app hook sees) takes this default.
# Only the API's server runs on aiohttp in this process.
web_response.SERVER_SOFTWARE = SERVER_NAME


class ApiServer:
    """The API of one running engine.

    :param token: required on every request when set (see :class:`~bridge.api.guard.Guard`).
    :param input_token: required on ``POST /v1/input``.
    :param started: the engine's start, ``time.monotonic()``, for ``uptime``.
    """

    def __init__(
        self,
        engine: Engine,
        options: ApiOptions,
        *,
        token: Secret | None,
        input_token: Secret,
        hooks: HookRoutes,
        started: float,
        clock: Any = time.monotonic,
    ) -> None:
        self.engine = engine
        self.options = options
        self.hooks = hooks
        self._token = token
        self._input_token = input_token
        self._started = started
        self._clock = clock
        self.hub = Hub(engine, keepalive=options.keepalive)
        self.rate = RateLimit(options.rate, options.burst, clock=clock)
        self.complaints = Complaints(log, clock=clock)
        self.guard: Guard | None = None
        self.port = 0
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self._refusing = 0
        self._closing = False

    # -- life cycle -----------------------------------------------------------

    async def start(self) -> None:
        """Listen (raises OSError when the address is taken or not this machine's)."""
        o = self.options
        app = web.Application(client_max_size=o.max_body, middlewares=[self._middleware])
        app.router.add_get("/v1/status", self._status)
        app.router.add_get("/v1/status/stream", self._stream, allow_head=False)
        app.router.add_get("/v1/health", self._health)
        app.router.add_post("/v1/input", self._input)
        app.router.add_post("/v1/hooks/{agent}", self._hook)
        runner = web.AppRunner(
            app,
            handler_cancellation=True,  # a stream's handler ends when its client goes
            # Also the deadline for a request's line and headers: aiohttp's default
            # keeps an idle or dribbling connection for an hour.
            keepalive_timeout=o.client_timeout,
            max_line_size=o.max_header,
            max_field_size=o.max_header,
            max_headers=_MAX_HEADERS,
            lingering_time=1.0,
            access_log=None,
            logger=_ProtocolLog(self.complaints),
            shutdown_timeout=1.0,
        )
        await runner.setup()
        self._runner = runner
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(self._protocol, o.host, o.port, backlog=128)
        except BaseException:
            await runner.cleanup()
            self._runner = None
            raise
        sock = self._server.sockets[0].getsockname()
        self.port = int(sock[1])
        self.guard = Guard(o, self.port, self._token, self._input_token)
        self.url = f"http://{_url_host(o.host)}:{self.port}"

    async def stop(self) -> None:
        """Stop listening, end every event stream and close every connection."""
        self._closing = True
        self.hub.close()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        if server is not None:
            await server.wait_closed()

    def transports(self) -> list[asyncio.BaseTransport]:
        """The open connections' transports (tests, benchmarks)."""
        runner = self._runner
        if runner is None or runner.server is None:
            return []
        return [c.transport for c in runner.server.connections if c.transport is not None]

    # -- the connection cap ---------------------------------------------------

    def _protocol(self) -> asyncio.BaseProtocol:
        """aiohttp's protocol for a new connection, or a 503 once the cap is reached."""
        runner = self._runner
        assert runner is not None and runner.server is not None
        server = runner.server
        if len(server.connections) < self.options.max_connections:
            return server()
        self.complaints.note(
            "connections",
            "api: %d connections open, the most allowed (max_connections); answering 503",
            self.options.max_connections,
        )
        return _Refused(self)

    # -- the guard ------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        assert self.guard is not None
        host = request.headers.get("Host")
        # aiohttp's host is the target's when the request line has an absolute URL
        # (RFC 9112 3.2.2): then that must name this API as well.
        target = request.url.host_port_subcomponent if host and request.host != host else None
        refusal = self.guard.check(request.method, request.path, request.headers, target)
        # Requests the guard refuses are counted apart: on loopback every local
        # process (and the browser) shares one address, and a page's refused
        # requests must not use up the rate of the user's own clients.
        peer = request.remote or "?"
        bucket = peer if refusal is None else f"{peer} (refused)"
        if not self.rate.allow(bucket):
            self.complaints.note(
                "rate",
                "api: %s sends more than %g requests a second (rate, burst); answering 429",
                peer_text(peer),
                self.options.rate,
            )
            return _error(
                429, "too many requests", (("Retry-After", str(self.rate.retry_after(bucket))),)
            )
        origin = request.headers.get("Origin")
        cors = origin if self.guard.origin_allowed(origin) else None
        if refusal is not None:
            self._complain(request, refusal)
            response = _error(refusal.status, refusal.message, refusal.headers)
            if cors is not None:  # an allowed page may read why (a missing token, say)
                _cors(response, cors)
            return response
        if request.method == "OPTIONS":
            if cors is None:
                return _error(405, "OPTIONS is for a browser's preflight from an allowed origin")
            return _preflight(cors)
        length = request.content_length
        if length is not None and length > self.options.max_body:
            # Said up front: no need to read a body that will be refused.
            self._complain(
                request, Refusal(413, f"body over {self.options.max_body} bytes", "body")
            )
            response = _error(413, f"the body is larger than {self.options.max_body} bytes")
            response.force_close()
            return response
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status == 413:
                self._complain(request, Refusal(413, "body over max_body", "body"))
            response = _error(exc.status, exc.reason)
            if exc.status >= 400 and request.method == "POST":
                response.force_close()
        if cors is not None and not response.prepared:
            _cors(response, cors)
        return response

    def _complain(self, request: web.Request, refusal: Refusal) -> None:
        self.complaints.note(
            refusal.kind,
            "api: refused %s %s from %s: %s (%d)",
            request.method,
            peer_text(request.path),
            peer_text(request.remote or "?"),
            refusal.message,
            refusal.status,
        )

    # -- endpoints --------------------------------------------------------------

    async def _status(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=self.hub.document(), content_type=_JSON, headers={"Cache-Control": "no-store"}
        )

    async def _health(self, request: web.Request) -> web.StreamResponse:
        engine = self.engine
        devices = {n: (h.ok, h.detail or None) for n, h in engine.device_health().items()}
        doc = health_document(engine.status, devices, self._clock() - self._started, os.getpid())
        return _json_response(doc)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # a proxy in front must not hold events back
            }
        )
        assert self.guard is not None
        origin = request.headers.get("Origin")
        if self.guard.origin_allowed(origin):
            _cors(response, origin or "")
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _STREAM_SNDBUF)
        await response.prepare(request)
        hub = self.hub
        with hub.stream():
            version, tick = hub.version, hub.tick
            # A reconnecting EventSource waits this long (ms) instead of its default 3 s.
            if not await self._send(request, response, b"retry: 1000\n" + hub.event()):
                return response
            while not self._closing:
                await hub.wait(version, tick)
                if self._closing:
                    break
                if hub.version != version:
                    version, payload = hub.version, hub.event()
                else:
                    payload = KEEPALIVE
                tick = hub.tick
                if not await self._send(request, response, payload):
                    break
        return response

    async def _send(self, request: web.Request, response: web.StreamResponse, data: bytes) -> bool:
        """Write to an event stream within ``client_timeout``; False when the client is gone."""
        try:
            async with asyncio.timeout(self.options.client_timeout):
                # aiohttp waits for the connection to drain every 64 KiB written.
                for start in range(0, len(data), _SLICE):
                    await response.write(data[start : start + _SLICE])
        except TimeoutError:
            self.complaints.note(
                "slow",
                "api: closed an event stream to %s: its reader took over %g s (client_timeout)",
                peer_text(request.remote or "?"),
                self.options.client_timeout,
            )
            if request.transport is not None:
                request.transport.abort()  # drop what it did not read: memory stays bounded
            return False
        except (ConnectionError, RuntimeError):
            return False  # it went away (RuntimeError: aiohttp's "closing transport")
        return True

    async def _input(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        engine = self.engine
        try:
            event = input_event(body, engine.status, engine.clock())
        except InputError as err:
            return _error(err.status, err.message)
        if not engine.send_input(event):
            return _error(503, "the bridge is not taking presses now; try again")
        target = event.target
        log.info(
            "api: %s %s%s%s from %s",
            "press" if event.pressed else "release",
            target.kind,
            f" {target.session}" if target.session is not None else "",
            f" ({target.name})" if target.name else "",
            peer_text(request.remote or "?"),
        )
        return _json_response({"accepted": True}, status=202)

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        agent = request.match_info.get("agent", "")
        handler = self.hooks.get(agent) if AGENT_NAME.fullmatch(agent) else None
        if handler is None:
            return _error(
                404,
                "no hook handler for this agent (a hooks source registers one)",
            )
        body = await self._body(request)
        try:
            reply = await handler(HookRequest(agent, body, request.remote))
        except Exception:
            log.exception("api: the hook handler for %s failed", agent)
            return _error(500, "the hook handler failed (see agentlight's log)")
        return _json_response(reply.body, status=reply.status)

    async def _body(self, request: web.Request) -> Any:
        """The request's JSON body, read within ``client_timeout``."""
        try:
            async with asyncio.timeout(self.options.client_timeout):
                raw = await request.read()
        except TimeoutError:
            raise web.HTTPRequestTimeout(reason="the body did not arrive in time") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise web.HTTPBadRequest(reason="the body is not JSON") from None
        except RecursionError:  # `[[[[…` nested deeper than Python's stack allows
            raise web.HTTPBadRequest(reason="the body's JSON is nested too deep") from None


class _ProtocolLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's own log for its connections: a request it cannot parse is a complaint.

    aiohttp logs every malformed request (a header too long, a control character)
    at ERROR with a traceback whose message quotes the bytes it refused: a token
    sent in a bad header went to the log, and a page could fill the log with long
    URLs. Here such a request is one line per minute, naming only the kind of
    error; anything else (a bug of ours) is logged as aiohttp would.
    """

    def __init__(self, complaints: Complaints) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self._complaints = complaints

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        exc = exc_info if isinstance(exc_info, BaseException) else None
        if exc is None and exc_info:
            exc = sys.exc_info()[1]
        if isinstance(exc, HttpProcessingError):
            what = ("api: answered %d to a malformed request (%s)", exc.code, type(exc).__name__)
            if level >= logging.WARNING:
                self._complaints.note("malformed", *what)
            else:  # what aiohttp deems noise (TLS sent to this port): debug, still one line
                self.logger.log(level, *what)
            return
        super().log(level, msg, *args, **kwargs)


class _Refused(asyncio.Protocol):
    """A connection over the cap: answered 503, then closed once the client has read it.

    Closing at once could reset the connection before the client reads the answer
    (its request still unread here); so the write side is shut and the client
    gets ``_REFUSED_LINGER`` seconds to go.
    """

    def __init__(self, api: ApiServer) -> None:
        self._api = api
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        api = self._api
        if api._refusing >= _MAX_REFUSING:
            transport.abort()
            return
        api._refusing += 1
        body = b'{"error":"too many connections"}'
        transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: 1\r\nConnection: close\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        if transport.can_write_eof():
            transport.write_eof()
        self._timer = asyncio.get_running_loop().call_later(_REFUSED_LINGER, transport.abort)

    def data_received(self, data: bytes) -> None:
        pass  # the request is not read

    def eof_received(self) -> bool:
        if self._transport is not None:
            self._transport.close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._api._refusing -= 1


def _url_host(host: str) -> str:
    """The host to put in a URL for a client on this machine."""
    if host == "0.0.0.0":
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _json_response(doc: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=safe_json(doc, separators=(",", ":")).encode("utf-8"),
        status=status,
        content_type=_JSON,
        headers={"Cache-Control": "no-store"},
    )


def _error(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> web.Response:
    response = _json_response({"error": message}, status=status)
    for name, value in headers:
        response.headers[name] = value
    return response


def _cors(response: web.StreamResponse, origin: str) -> None:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"


def _preflight(origin: str) -> web.Response:
    response = web.Response(status=204)
    _cors(response, origin)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


__all__ = ["ApiServer"]
