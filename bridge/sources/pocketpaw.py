"""PocketPaw source: the status SSE stream, with the REST snapshot as a safety net.

What the real server does that its docs don't say (``status-feeds.md``), and
what this source does about it:

- no ``id:``/``retry:``, so no resume: after any reconnect the first frame is a
  full snapshot, and reconnecting is cheap;
- a live stream can be silent for ~79 s (deduped changes restart the 30 s
  keepalive timer): past ``stale_after`` the source re-reads the snapshot so
  the device stays right, then reconnects;
- an errored session is dropped 30 s later with no frame: the source re-reads
  the snapshot once a session has been in error for ``error_ttl`` (and on a
  keepalive while one is), so "degraded" never sticks;
- 401 means the dashboard token is missing or wrong, 403 the status key; 429
  asks us to slow down.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError

from bridge import __version__
from bridge.backoff import Backoff
from bridge.errors import AuthFailed, ConfigError, SourceError, SourceUnavailable
from bridge.logutil import OnceLog
from bridge.model import ConnectionState, SessionState, Snapshot
from bridge.secret import Secret
from bridge.sources.base import Publish, Source
from bridge.sources.pocketpaw_options import API_KEY_ENV, TOKEN_ENV, credential
from bridge.sources.pocketpaw_options import Options as PocketPawOptions
from bridge.sources.pocketpaw_parse import fingerprint, parse_status

log = logging.getLogger("agentlight.sources.pocketpaw")

STATUS_PATH = "/api/v1/agent/status"
STREAM_PATH = "/api/v1/agent/status/stream"
# After error_ttl the server should have dropped the session; give it a moment
# (a tenth of the ttl, at most a second).
_RECONCILE_MARGIN = 1.0
_MAX_RETRY_AFTER = 300.0
# A stream that lived this long was healthy: reconnect at once, back-off reset.
_HEALTHY_STREAM = 5.0
# How long a rate-limit pause may keep showing the last known state.
_SHOW_STALE_FOR = 10.0
_EOL = re.compile(rb"[\r\n]")


class FrameTooLarge(SourceError):
    """A frame or snapshot over ``max_frame_bytes``; rejected before it is buffered."""


class _StreamMissing(SourceError):
    """The server has no status stream (404): an older or stripped-down server."""


class _RateLimited(SourceUnavailable):
    def __init__(self, retry_after: float | None) -> None:
        super().__init__("rate limited (429)")
        self.retry_after = retry_after


class _StreamLost(SourceError):
    """A stream that delivered frames ended; keep showing what we know and reconnect."""

    def __init__(self, message: str, lived: float) -> None:
        super().__init__(message)
        self.lived = lived


class _GuardedStream(httpx.AsyncByteStream):
    """Wraps a response body: reports activity and comment lines, caps frame size.

    Sits under httpx-sse so every byte (keepalive comments included) proves the
    stream alive, and a multi-MiB frame is refused before it is held in memory.
    """

    def __init__(
        self,
        inner: httpx.AsyncByteStream,
        *,
        limit: int,
        on_activity: Callable[[], None],
        on_comment: Callable[[], None],
    ) -> None:
        self._inner = inner
        self._limit = limit
        self._on_activity = on_activity
        self._on_comment = on_comment
        self._line_len = 0
        self._frame_len = 0
        self._comment = False
        self._after_cr = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._on_activity()
            self._scan(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()

    def _scan(self, chunk: bytes) -> None:
        # Lines end in LF, CRLF or a lone CR, as httpx-sse reads them (a CRLF may be
        # split across chunks); a blank line ends a frame.
        start, end = 0, len(chunk)
        if not end:
            return
        if self._after_cr and chunk[0] == 0x0A:  # "\n"
            start = 1
            if self._frame_len:
                self._frame_len += 1
        self._after_cr = False
        while start < end:
            eol = _EOL.search(chunk, start)
            stop = end if eol is None else eol.start()
            if self._line_len == 0 and stop > start and chunk[start] == 0x3A:  # ":"
                self._comment = True
            self._line_len += stop - start
            if eol is None:
                self._frame_len += stop - start
                break
            width = 1
            if chunk[stop] == 0x0D:  # "\r"
                if stop + 1 == end:
                    self._after_cr = True
                elif chunk[stop + 1] == 0x0A:
                    width = 2
            blank = self._line_len == 0
            self._frame_len = 0 if blank else self._frame_len + stop - start + width
            if self._comment:
                self._on_comment()
            self._line_len = 0
            self._comment = False
            start = stop + width
        if self._frame_len > self._limit:
            raise FrameTooLarge(
                f"frame larger than max_frame_bytes ({self._limit} bytes); rejected"
            )


class PocketPawSource(Source):
    """Reads PocketPaw's agent status: SSE stream first, REST snapshot as fallback.

    :param transport: an httpx transport for tests; the default talks real HTTP.
    :param clock: wall-clock time, for session start times.
    """

    TYPE = "pocketpaw"
    Options = PocketPawOptions

    def __init__(
        self,
        name: str,
        options: PocketPawOptions,
        publish: Publish,
        *,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(name, options, publish)
        self.o = options
        self._clock = clock
        self._transport = transport
        self._api_key = options.api_key or _env_secret(API_KEY_ENV)
        self._token = options.token or _env_secret(TOKEN_ENV) or _read_token(options.token_file)
        self._backoff = Backoff(options.reconnect_min, options.reconnect_max, rand=rand)
        self._snapshot: Snapshot | None = None
        self._stream_frames = 0
        self._errored_due: dict[str, float] = {}
        self._wake_reconciler = asyncio.Event()
        self._reconcile_requested = False
        self._once = OnceLog(log)
        self._margin = min(_RECONCILE_MARGIN, options.error_ttl / 10)
        self._poll_reason = ""
        self.requests = 0  # every HTTP request made, for benchmarks and tests
        self.keepalives = 0

    # -- the loop -----------------------------------------------------------

    async def run(self) -> None:
        self.publish(ConnectionState.CONNECTING, None, f"connecting to {self.o.url}")
        async with httpx.AsyncClient(
            base_url=self.o.url,
            headers=self._headers(),
            timeout=httpx.Timeout(self.o.request_timeout, connect=self.o.connect_timeout),
            transport=self._transport,
            follow_redirects=False,
        ) as client:
            await self._loop(client)

    async def _loop(self, client: httpx.AsyncClient) -> None:
        failures = 0  # stream attempts in a row that failed
        poll_reason: str | None = None
        while True:
            _honour_cancel()
            delay = 0.0
            try:
                if poll_reason is not None:
                    reason, poll_reason = poll_reason, None
                    await self._poll(client, reason)
                    failures = self.o.fallback_after - 1  # one more failure and we poll again
                    continue
                await self._stream(client)
            except _StreamLost as err:
                if err.lived >= _HEALTHY_STREAM:
                    log.info("%s: stream ended (%s); reconnecting", self.name, err)
                    failures = 0
                    self._backoff.reset()
                else:
                    # A stream that dies young (a proxy, a crashing server) must not
                    # turn into a reconnect storm against PocketPaw's shared rate limit.
                    delay = self._backoff.next()
                    log.info(
                        "%s: stream ended after %.1f s (%s); reconnecting in %.1f s",
                        self.name,
                        err.lived,
                        err,
                        delay,
                    )
            except _StreamMissing:
                poll_reason = "the server has no status stream (404)"
            except AuthFailed as err:
                await self._auth_failed(err)
            except _RateLimited as err:
                await self._rate_limited(err)
            except (SourceError, httpx.HTTPError, OSError, SSEError) as err:
                failures += 1
                if failures >= self.o.fallback_after:
                    try:
                        self._apply(await self._get(client), "polling")
                    except AuthFailed as auth:
                        await self._auth_failed(auth)
                        continue
                    except _RateLimited as limited:
                        await self._rate_limited(limited)
                        continue
                    except (SourceError, httpx.HTTPError, OSError):
                        pass
                    else:
                        poll_reason = f"the stream failed {failures} times in a row"
                        continue
                self._disconnected(_describe(err), reachable=isinstance(err, FrameTooLarge))
                delay = self._backoff.next()
                log.info("%s: retrying in %.1f s", self.name, delay)
            except Exception as err:
                # A bug or a surprise from a library: say so, show it, keep going.
                log.exception("%s: unexpected error: %s", self.name, _describe(err))
                self._disconnected(f"unexpected error: {type(err).__name__}")
                delay = self._backoff.next()
            if delay:
                await asyncio.sleep(delay)

    async def _stream(self, client: httpx.AsyncClient) -> None:
        """Read the stream until it ends; always raises."""
        loop = asyncio.get_running_loop()
        frames = 0
        first_frame_at = 0.0
        self.requests += 1
        try:
            async with asyncio.timeout(self.o.connect_timeout + self.o.request_timeout) as deadline:
                async with client.stream(
                    "GET",
                    STREAM_PATH,
                    headers={"Accept": "text/event-stream", "Cache-Control": "no-store"},
                    timeout=httpx.Timeout(None, connect=self.o.connect_timeout),
                ) as response:
                    self._check(response, stream=True)

                    def alive() -> None:
                        deadline.reschedule(loop.time() + self.o.stale_after)

                    alive()
                    response.stream = _GuardedStream(
                        response.stream,  # type: ignore[arg-type]
                        limit=self.o.max_frame_bytes,
                        on_activity=alive,
                        on_comment=self._on_keepalive,
                    )
                    reconciler = asyncio.create_task(self._reconcile_loop(client))
                    try:
                        async for event in EventSource(response).aiter_sse():
                            if self._on_event(event):
                                frames += 1
                                if frames == 1:
                                    first_frame_at = loop.time()
                                    log.info("%s: streaming status from %s", self.name, self.o.url)
                    finally:
                        reconciler.cancel()
                        await asyncio.gather(reconciler, return_exceptions=True)
        except TimeoutError:
            if not frames:
                raise SourceUnavailable("no answer from the server in time") from None
            log.warning(
                "%s: no frame or keepalive for %.0f s; checking the snapshot, then reconnecting",
                self.name,
                self.o.stale_after,
            )
            self._apply(await self._get(client), "stream")
            raise _StreamLost("stream went silent", loop.time() - first_frame_at) from None
        except (httpx.HTTPError, OSError, SSEError) as err:
            if frames:
                raise _StreamLost(_describe(err), loop.time() - first_frame_at) from err
            raise
        if frames:
            raise _StreamLost("the server closed the stream", loop.time() - first_frame_at)
        raise SourceUnavailable("the server closed the stream before the first frame")

    async def _poll(self, client: httpx.AsyncClient, reason: str) -> None:
        """Poll the snapshot until it is time to try the stream again."""
        # Said once per reason, not on every return to polling (once a minute).
        level = logging.DEBUG if reason == self._poll_reason else logging.WARNING
        self._poll_reason = reason
        log.log(
            level,
            "%s: %s; polling %s every %.1f s, trying the stream again every %.0f s",
            self.name,
            reason,
            STATUS_PATH,
            self.o.poll_interval,
            self.o.stream_retry,
        )
        loop = asyncio.get_running_loop()
        retry_stream_at = loop.time() + self.o.stream_retry
        while True:
            try:
                self._apply(await self._get(client), "polling")
                self._backoff.reset()
                delay = self.o.poll_interval
            except _RateLimited as err:
                delay = max(self.o.poll_interval, err.retry_after or self._backoff.next())
                log.warning("%s: rate limited (429); next poll in %.1f s", self.name, delay)
            except AuthFailed:
                raise
            except (SourceError, httpx.HTTPError, OSError) as err:
                self._disconnected(_describe(err))
                delay = max(self.o.poll_interval, self._backoff.next())
            remaining = retry_stream_at - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(delay, remaining))

    async def _auth_failed(self, err: AuthFailed) -> None:
        if self.status is None or self.status.connection is not ConnectionState.AUTH_FAILED:
            log.error("%s: %s", self.name, err)
        self._forget_snapshot()
        self.publish(ConnectionState.AUTH_FAILED, None, str(err))
        log.info("%s: trying again in %.0f s", self.name, self.o.auth_retry)
        await asyncio.sleep(self.o.auth_retry)

    async def _rate_limited(self, err: _RateLimited) -> None:
        delay = max(1.0, err.retry_after if err.retry_after is not None else self._backoff.next())
        log.warning(
            "%s: the server asks us to slow down (429); retrying in %.1f s", self.name, delay
        )
        # A short pause keeps the last state on show; a long one would show a
        # state nobody is reading any more, so say "connecting" instead.
        if self._snapshot is None or delay > _SHOW_STALE_FOR:
            self._forget_snapshot()
            self.publish(ConnectionState.CONNECTING, None, "rate limited (429)")
        await asyncio.sleep(delay)

    def _disconnected(self, detail: str, *, reachable: bool = False) -> None:
        if self.status is None or self.status.connection is not ConnectionState.DISCONNECTED:
            if reachable:  # the server answered, but with something we refuse to read
                log.warning("%s: %s from %s; retrying with back-off", self.name, detail, self.o.url)
            else:
                log.warning("%s: cannot reach %s: %s", self.name, self.o.url, detail)
        self._forget_snapshot()
        self.publish(ConnectionState.DISCONNECTED, None, detail)

    def _forget_snapshot(self) -> None:
        """Nothing we know still holds: no snapshot, no error timers to chase."""
        self._snapshot = None
        self._errored_due.clear()

    # -- frames -------------------------------------------------------------

    def _on_event(self, event: ServerSentEvent) -> bool:
        """Handle one SSE event; True when it was a good status frame."""
        if event.event not in ("status", "message", ""):
            self._once.info(
                f"event:{event.event[:40]}", "%s: ignoring %r events", self.name, event.event[:40]
            )
            return False
        try:
            data = json.loads(event.data)
            snapshot = parse_status(
                data, source=self.name, received_at=self._clock(), previous=self._snapshot
            )
        except (ValueError, RecursionError) as err:
            log.warning(
                "%s: skipping a malformed frame (%s): %.80r", self.name, _describe(err), event.data
            )
            return False
        self._stream_frames += 1
        self._apply(snapshot, "stream")
        return True

    def _apply(self, snapshot: Snapshot, via: str) -> None:
        self._snapshot = snapshot
        now_due = {}
        for session in snapshot.sessions:
            if session.state is SessionState.ERROR:
                now_due[session.key] = session.since + self.o.error_ttl + self._margin
        # Keep timers of sessions that left "error": the server still drops them
        # by key when the timer fires (a new run with the same key vanishes too).
        if any(self._errored_due.get(k) != due for k, due in now_due.items()):
            self._errored_due.update(now_due)
            self._wake_reconciler.set()
        self.publish(ConnectionState.CONNECTED, snapshot, via)

    def _on_keepalive(self) -> None:
        self.keepalives += 1
        if self._errored_due:
            self._reconcile_requested = True
            self._wake_reconciler.set()

    async def _reconcile_loop(self, client: httpx.AsyncClient) -> None:
        while True:
            _honour_cancel()
            due = min(self._errored_due.values(), default=None)
            delay = None if due is None else max(0.0, due - self._clock())
            try:
                async with asyncio.timeout(delay):
                    await self._wake_reconciler.wait()
            except TimeoutError:
                pass
            self._wake_reconciler.clear()
            now = self._clock()
            if not self._reconcile_requested and (due is None or now < due):
                continue  # woken to reschedule: a new errored session
            self._reconcile_requested = False
            for key in [k for k, at in self._errored_due.items() if at <= now]:
                del self._errored_due[key]
            await self._reconcile(client)

    async def _reconcile(self, client: httpx.AsyncClient) -> None:
        """Re-read the snapshot; use it if it disagrees and the stream said nothing meanwhile."""
        frames_before = self._stream_frames
        try:
            snapshot = await self._get(client)
        except (SourceError, httpx.HTTPError, OSError) as err:
            log.debug("%s: reconcile failed: %s", self.name, _describe(err))
            return
        if self._stream_frames != frames_before or self._snapshot is None:
            return
        if fingerprint(snapshot) != fingerprint(self._snapshot):
            log.info(
                "%s: the snapshot disagrees with the stream's last frame (%s vs %s); "
                "using the snapshot",
                self.name,
                snapshot.state.value,
                self._snapshot.state.value,
            )
            self._apply(snapshot, "stream")

    # -- HTTP ---------------------------------------------------------------

    async def _get(self, client: httpx.AsyncClient) -> Snapshot:
        """One snapshot from the REST endpoint, size-capped."""
        self.requests += 1
        body = bytearray()
        try:
            async with asyncio.timeout(self.o.request_timeout):
                async with client.stream("GET", STATUS_PATH) as response:
                    self._check(response, stream=False)
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > self.o.max_frame_bytes:
                            raise FrameTooLarge(
                                f"snapshot larger than max_frame_bytes ({self.o.max_frame_bytes})"
                            )
        except TimeoutError:
            raise SourceUnavailable("no snapshot from the server in time") from None
        try:
            data = json.loads(body)
            return parse_status(
                data, source=self.name, received_at=self._clock(), previous=self._snapshot
            )
        except (ValueError, RecursionError) as err:
            raise SourceUnavailable(f"bad snapshot: {_describe(err)}") from err

    def _check(self, response: httpx.Response, *, stream: bool) -> None:
        code = response.status_code
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if code == 200 and encoding not in ("", "identity"):
            raise SourceUnavailable(
                f"the server sent {encoding!r}-compressed data though asked for none"
            )
        if code == 200:
            if stream:
                ctype = response.headers.get("content-type", "")
                if "text/event-stream" not in ctype:
                    raise SourceUnavailable(f"expected an event stream, got {ctype or 'no type'!r}")
            return
        if code == 401:
            raise AuthFailed(
                "PocketPaw rejected the dashboard token (401); check `token`/`token_file`"
                if self._token
                else "PocketPaw wants its dashboard token from clients not on its own machine "
                "(401): set `token` or `token_file` (the server's ~/.pocketpaw/access_token)"
            )
        if code == 403:
            raise AuthFailed(
                f"PocketPaw rejected the status API key (403); check `api_key` or {API_KEY_ENV}"
                if self._api_key
                else f"PocketPaw requires a status API key (403): set `api_key` or {API_KEY_ENV}"
            )
        if code == 429:
            raise _RateLimited(_retry_after(response.headers.get("retry-after")))
        if code == 404:
            if stream:
                raise _StreamMissing("no status stream")
            raise SourceUnavailable(
                f"no status API at {self.o.url}{STATUS_PATH} (404): "
                "is this PocketPaw 0.4.10 or newer?"
            )
        raise SourceUnavailable(f"HTTP {code} from the server")

    def _headers(self) -> dict[str, str]:
        headers = {
            "User-Agent": f"agentlight/{__version__}",
            # Uncompressed, so max_frame_bytes counts what is really held in
            # memory and keepalive comments are seen as they arrive.
            "Accept-Encoding": "identity",
        }
        if self._api_key:
            headers["X-Status-Key"] = self._api_key.reveal()
        if self._token:
            # The token goes one way only: a wrong ?token= would beat a right header.
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return headers


def _honour_cancel() -> None:
    """Re-raise a cancel that Python 3.11's asyncio.timeout swallowed as it expired."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _describe(err: BaseException) -> str:
    text = str(err)
    name = type(err).__name__
    if isinstance(err, httpx.ConnectError):
        return f"cannot connect ({text or name})"
    return f"{name}: {text}" if text and not isinstance(err, SourceError) else (text or name)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(_MAX_RETRY_AFTER, max(0.0, seconds))


def _env_secret(name: str) -> Secret | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return credential(Secret(value), name)
    except ValueError as err:
        raise ConfigError(str(err), file="environment", key=name) from None


def _read_token(path: str | None) -> Secret | None:
    if not path:
        return None
    try:
        value = Path(path).expanduser().read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read the token file {path!r}: {err}", key="token_file") from err
    try:
        return credential(Secret(value), "token_file") if value else None
    except ValueError as err:
        raise ConfigError(str(err), key="token_file") from None
