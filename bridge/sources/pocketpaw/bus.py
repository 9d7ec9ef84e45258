"""The PocketPaw event bus as a transport: ``GET /api/v1/events/stream``, followed.

Part of the PocketPaw source (a second source would show every session twice):
:class:`BusFollower` reads the stream and feeds each event to the source's
:class:`~bridge.sources.pocketpaw.events.Overlay`, then tells the source that
what it shows changed. Held to the status stream's standard: its own stale
window (complete frames and keepalives, never bytes), reconnect with back-off,
frame size cap, tolerant parsing (unknown event types ignored, logged once),
401 naming the dashboard token; its failures never touch the status side.

What the real server (0.4.18) sends: ``event: connected`` first, then one
``event: <type>`` frame per bus event with ``data: {"event": type, "data": {...}}``,
no snapshot, no ids, ``: keepalive`` after 30 s of nothing. It ignores the
status key: only genuine localhost, or the dashboard token, gets in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import httpx

from bridge.infra.backoff import Backoff
from bridge.infra.errors import AuthFailed, SourceError, SourceUnavailable
from bridge.infra.logutil import OnceLog
from bridge.sources.http import (
    NotFound,
    describe,
    honour_cancel,
    open_event_stream,
    retry_delay,
)
from bridge.sources.pocketpaw.events import MAPPED, Overlay, is_quiet, parse_event
from bridge.sources.pocketpaw.options import Options, is_local
from bridge.sources.sse import batches, decode

__all__ = ["EVENTS_PATH", "BusFollower", "events_wanted"]

log = logging.getLogger("agentlight.sources.pocketpaw")

EVENTS_PATH = "/api/v1/events/stream"
# A stream that lived this long was healthy: reconnect at once, back-off reset.
_HEALTHY_STREAM = 5.0


def events_wanted(name: str, options: Options, *, token_set: bool) -> bool:
    """``events = "auto"``: on for a server on this machine or with a dashboard token."""
    if options.events != "auto":
        return options.events == "on"
    if is_local(options.url) or token_set:
        return True
    log.info(
        "%s: not following PocketPaw's event bus (the server is on another machine and "
        "no dashboard token is set), so changes show about a second late; set `token` "
        "or `token_file` for the fast path",
        name,
    )
    return False


class BusFollower:
    """Follows the event bus until cancelled.

    :param overlay: where events go.
    :param on_change: called after a batch of events changed what the overlay shows.
    :param clock: wall-clock time (a session's ``since``).
    """

    def __init__(
        self,
        name: str,
        options: Options,
        overlay: Overlay,
        *,
        token_set: bool,
        clock: Callable[[], float],
        rand: Callable[[], float],
        on_change: Callable[[], None],
        status_live: Callable[[], bool] = lambda: True,
        status_answered: Callable[[], int] = lambda: 0,
    ) -> None:
        self.name = name
        self.o = options
        self.overlay = overlay
        self._token_set = token_set
        self._clock = clock
        self._rand = rand
        self._on_change = on_change
        # While the status side cannot reach the server either, its line says so:
        # the bus's own failure is then no news (logged at debug, said again later).
        self._status_live = status_live
        # Requests the status side made that the server answered: after the bus could
        # not connect, proof that the server still takes connections.
        self._status_answered = status_answered
        self._once = OnceLog(log)
        self._problem = ""
        # When the bus lost the server: the status side's count of answered requests
        # then. Said only once the server has answered the status side since.
        self._lost_at: int | None = None
        self.live = False  # connected and following right now
        self.requests = 0  # stream requests made
        self.events = 0  # bus events read (``connected`` not counted), for benchmarks and tests

    async def run(self, client: httpx.AsyncClient) -> None:
        backoff = Backoff(self.o.reconnect_min, self.o.reconnect_max, rand=self._rand)
        while True:
            honour_cancel()
            delay = 0.0
            try:
                lived = await self._stream(client)
                if lived >= _HEALTHY_STREAM:
                    backoff.reset()
                else:
                    delay = backoff.next()
                self._trouble("closed", "the server closed the event stream", delay)
            except NotFound:
                if self.o.events == "auto":
                    log.log(
                        logging.INFO if self._status_live() else logging.DEBUG,
                        "%s: the server has no event bus (404): no fast path, changes show "
                        "as the status updates",
                        self.name,
                    )
                    return
                delay = self.o.stream_retry
                self._trouble("404", f"no event stream at {EVENTS_PATH} (404)", delay)
            except AuthFailed as err:
                delay = self.o.auth_retry
                self._trouble("auth", str(err), delay, level=logging.ERROR)
            except (SourceError, httpx.HTTPError, OSError) as err:
                delay = retry_delay(err, backoff)
                # No HTTP answer at all (refused, reset, cut off mid-stream); our own
                # errors are ConnectionErrors too, but each is about an answer.
                lost = not isinstance(err, SourceError) and isinstance(
                    err, httpx.TransportError | OSError
                )
                self._trouble(type(err).__name__, describe(err), delay, lost=lost)
            except Exception as err:
                log.exception("%s: event stream: unexpected error: %s", self.name, describe(err))
                delay = backoff.next()
            finally:
                self.live = False
            if delay:
                await asyncio.sleep(delay)

    def _trouble(
        self,
        kind: str,
        text: str,
        delay: float,
        *,
        level: int = logging.WARNING,
        lost: bool = False,
    ) -> None:
        # Said once per kind of trouble, not on every retry; a network failure only
        # while the status side has the agent (else its own line covers the server;
        # a refusal is the bus's own and always said).
        if not lost:
            self._lost_at = None
        elif self._lost_at is None:
            self._lost_at = self._status_answered()
        if level < logging.ERROR and not self._status_live():
            # The status side's own line covers this episode. Its end also ends the
            # bus's wait for proof: the status side's first answer after the server
            # is back precedes the bus's next loss, so it proves nothing about that
            # one (a server up for a moment, gone again before the bus got in, gave
            # a second warning, "status updates go on", in one episode).
            self._lost_at = None
            log.debug("%s: event stream: %s; retrying in %.1f s", self.name, text, delay)
            return
        lost_at = self._lost_at
        if lost_at is not None and self._status_answered() <= lost_at:
            # No answer: the whole server may be gone (the status side's stream, still
            # open, proves nothing: it is cut a moment later), and then the status
            # side's line says so, and "status updates go on" would be untrue. Said
            # once the server has answered a new request of the status side since.
            log.debug("%s: event stream: %s; retrying in %.1f s", self.name, text, delay)
            return
        if kind == self._problem:
            level = logging.DEBUG
        self._problem = kind
        log.log(
            level,
            "%s: event stream: %s; status updates go on without the fast path, retrying in %.1f s",
            self.name,
            text,
            delay,
        )

    async def _stream(self, client: httpx.AsyncClient) -> float:
        """Read the stream until it ends; returns how long it lived."""
        loop = asyncio.get_running_loop()
        self.requests += 1
        opened = loop.time()
        stale_after = self.o.stale_after
        try:
            async with asyncio.timeout(self.o.connect_timeout + self.o.request_timeout) as deadline:
                async with open_event_stream(
                    client, EVENTS_PATH, connect_within=self.o.connect_timeout, auth=self._auth_hint
                ) as body:
                    opened = loop.time()
                    following = batches(body, self.o.max_frame_bytes, deadline, stale_after)
                    async with contextlib.aclosing(following):
                        async for batch in following:
                            if batch.frames:
                                self._on_frames(batch.frames)
        except TimeoutError:
            honour_cancel()
            raise SourceUnavailable(
                f"no complete frame or keepalive for {stale_after:g} s"
            ) from None
        return loop.time() - opened

    def _on_frames(self, frames: list[bytes]) -> None:
        """Apply every event of a batch in order (each one is a change), then tell once."""
        loop = asyncio.get_running_loop()
        changed = False
        for raw in frames:
            event = decode(raw)
            if event is None:
                continue
            name = event.event
            if name == "connected":
                self.live = True
                self._problem = ""
                self._lost_at = None
                log.info("%s: following PocketPaw's event bus at %s", self.name, self.o.url)
                continue
            self.events += 1
            if name not in MAPPED:
                if not is_quiet(name):
                    self._once.info(
                        f"bus:{name[:40]}", "%s: ignoring %r bus events", self.name, name[:40]
                    )
                continue
            try:
                bus_event = parse_event(name, event.data, at=loop.time(), wall=self._clock())
            except (ValueError, RecursionError) as err:
                self._once.warning(
                    "bus-malformed",
                    "%s: skipping a malformed bus event (%s): %.80r",
                    self.name,
                    describe(err),
                    event.data,
                )
                continue
            changed |= self.overlay.add(bus_event)
        if changed:
            self._on_change()

    def _auth_hint(self, code: int) -> str:
        if code == 401:
            return (
                "PocketPaw rejected the dashboard token on its event stream (401); "
                "check `token`/`token_file`"
                if self._token_set
                else "PocketPaw's event stream wants its dashboard token from clients not on "
                'its own machine (401): set `token` or `token_file`, or events = "off"'
            )
        return f"PocketPaw refused the event stream ({code})"
