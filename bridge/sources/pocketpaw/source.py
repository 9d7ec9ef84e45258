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
  asks us to slow down;
- the stream runs ~1 s behind (a throttle): with ``events`` on, the event bus
  (``pocketpaw_bus.py``) brings each change within milliseconds, applied onto
  the last snapshot (``pocketpaw_events.py``); snapshots stay the truth;
- a question (``ask_user_question`` on the bus) stays open past the run that
  asked it; a device answers it, or stops a run, through PocketPaw's chat API
  (``chat.py``) for chats of its web dashboard.

This module is the status transport (stream, polling, re-reads); what the
source believes lives in ``pocketpaw_state.py`` (snapshot, re-read timers) and
``pocketpaw_events.py`` (events and failures on top); HTTP and SSE plumbing in
``http.py`` and ``sse.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import httpx
from httpx_sse import ServerSentEvent

from bridge.infra.backoff import Backoff
from bridge.infra.errors import AuthFailed, ConfigError, SourceError, SourceUnavailable
from bridge.infra.logutil import OnceLog
from bridge.infra.secret import Secret
from bridge.pipeline.model import ANSWER_PREFIX, STOP, ChoiceKind, ConnectionState, Snapshot
from bridge.sources.base import Publish, Source
from bridge.sources.http import (
    BodyTooLarge,
    NotFound,
    RateLimited,
    describe,
    get_body,
    honour_cancel,
    make_client,
    open_event_stream,
    retry_delay,
)
from bridge.sources.pocketpaw.bus import BusFollower, events_wanted
from bridge.sources.pocketpaw.chat import Chat
from bridge.sources.pocketpaw.events import Overlay, Question
from bridge.sources.pocketpaw.options import (
    API_KEY_ENV,
    TOKEN_ENV,
    credential,
    read_token_file,
)
from bridge.sources.pocketpaw.options import Options as PocketPawOptions
from bridge.sources.pocketpaw.parse import can_stop, parse_capped
from bridge.sources.pocketpaw.state import PocketPawState
from bridge.sources.sse import FrameTooLarge, Newest, batches, decode

if TYPE_CHECKING:
    from bridge.pipeline.answers import Decision

__all__ = ["FrameTooLarge", "PocketPawSource"]

log = logging.getLogger("agentlight.sources.pocketpaw")

STATUS_PATH = "/api/v1/agent/status"
STREAM_PATH = "/api/v1/agent/status/stream"
# A stream that lived this long was healthy: reconnect at once, back-off reset.
_HEALTHY_STREAM = 5.0
# How long a rate-limit pause may keep showing the last known state.
_SHOW_STALE_FOR = 10.0
_STATUS_EVENTS = frozenset({"status", "message", ""})
# Bus events read this long before a status frame are applied again on top of it.
_EVENT_OVERLAP = 0.02


class _Parsed(NamedTuple):
    snapshot: Snapshot
    dropped: int  # sessions over max_sessions, not shown
    as_of: float  # loop time the server took it (bus events after it stay on top)


class _Answered(SourceUnavailable):
    """The server answered, but not as PocketPaw does: its line must not say "cannot reach"."""


class _NoFrame(_Answered):
    """The server answered but sent no complete frame in time (a dribbling stream)."""


class _StreamLost(SourceError):
    """A stream that delivered frames ended; keep showing what we know and reconnect."""

    def __init__(self, message: str, lived: float) -> None:
        super().__init__(message)
        self.lived = lived


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
        self._api_key = options.api_key or _env_secret(API_KEY_ENV, "pocketpaw-status-key")
        self._token = (
            options.token
            or _env_secret(TOKEN_ENV, "pocketpaw-token")
            or _read_token(options.token_file)
        )
        self._rand = rand
        self._backoff = Backoff(options.reconnect_min, options.reconnect_max, rand=rand)
        self.state = PocketPawState(options.error_ttl, clock)
        self._wake_reconciler = asyncio.Event()
        self._once = OnceLog(log)
        self._dropped = 0  # sessions over max_sessions in what is shown
        self._poll_reason = ""
        self.requests = 0  # every status HTTP request made, for benchmarks and tests
        self.keepalives = 0
        # Requests the server answered (a stream opened, a snapshot read): for the event
        # bus, proof that the server still takes connections after it could not connect.
        self._answered = 0
        self.overlay = Overlay(
            name,
            options.error_ttl,
            options.max_sessions,
            question_ttl=options.question_ttl,
            answering=options.answers,
        )
        self.chat = Chat(name, token_set=self._token is not None)
        self._client: httpx.AsyncClient | None = None
        self._bus: BusFollower | None = None
        self._detail = ""
        self._expiry: asyncio.TimerHandle | None = None

    # -- the loop -----------------------------------------------------------

    async def run(self) -> None:
        self.publish(ConnectionState.CONNECTING, None, f"connecting to {self.o.url}")
        async with make_client(
            self.o.url,
            connect_timeout=self.o.connect_timeout,
            request_timeout=self.o.request_timeout,
            headers=self._credential_headers(),
            transport=self._transport,
        ) as client:
            self._client = client
            events = None
            if self._events_wanted():
                self._bus = BusFollower(
                    self.name,
                    self.o,
                    self.overlay,
                    token_set=self._token is not None,
                    clock=self._clock,
                    rand=self._rand,
                    on_change=self._on_bus_change,
                    status_live=self._status_live,
                    status_answered=lambda: self._answered,
                )
                events = asyncio.create_task(self._bus.run(client))
            try:
                await self._loop(client)
            finally:
                self._client = None
                if events is not None:
                    events.cancel()
                    await asyncio.gather(events, return_exceptions=True)
                if self._expiry is not None:
                    self._expiry.cancel()
                await self.chat.close()

    async def _loop(self, client: httpx.AsyncClient) -> None:
        failures = 0  # stream attempts in a row that failed
        poll_reason: str | None = None
        while True:
            honour_cancel()
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
            except NotFound:
                poll_reason = "the server has no status stream (404)"
            except AuthFailed as err:
                await self._auth_failed(err)
            except RateLimited as err:
                await self._rate_limited(err)
            except (SourceError, httpx.HTTPError, OSError) as err:
                failures += 1
                if failures >= self.o.fallback_after:
                    try:
                        self._apply(await self._get(client), "polling")
                    except AuthFailed as auth:
                        await self._auth_failed(auth)
                        continue
                    except RateLimited as limited:
                        await self._rate_limited(limited)
                        continue
                    except (SourceError, httpx.HTTPError, OSError):
                        pass
                    else:
                        poll_reason = f"the stream failed {failures} times in a row"
                        continue
                self._disconnected(describe(err), reachable=_answered(err))
                delay = self._backoff.next()
                # Debug: the episode's one warning said it keeps trying.
                log.debug("%s: retrying in %.1f s", self.name, delay)
            except Exception as err:
                # A bug or a surprise from a library: say so, show it, keep going.
                log.exception("%s: unexpected error: %s", self.name, describe(err))
                self._disconnected(f"unexpected error: {type(err).__name__}")
                delay = self._backoff.next()
            if delay:
                await asyncio.sleep(delay)

    async def _stream(self, client: httpx.AsyncClient) -> None:
        """Read the stream until it ends; always raises."""
        loop = asyncio.get_running_loop()
        frames = 0
        first_frame_at = 0.0
        answered = False

        def handle(batch: list[bytes]) -> None:
            nonlocal frames, first_frame_at
            try:
                good = self._on_frames(batch)
            except Exception as err:  # never let a surprise escape a loop callback
                log.exception("%s: unexpected error on a frame: %s", self.name, describe(err))
                return
            if good:
                frames += 1
                if frames == 1:
                    first_frame_at = loop.time()
                    log.info("%s: streaming status from %s", self.name, self.o.url)

        # Frames are parsed when the reader waits for the network, newest only: a
        # burst already read costs one parse (issue 13).
        newest = Newest(handle)
        self.requests += 1
        try:
            async with asyncio.timeout(self.o.connect_timeout + self.o.request_timeout) as deadline:
                async with open_event_stream(
                    client, STREAM_PATH, connect_within=self.o.connect_timeout, auth=self._auth_hint
                ) as body:
                    answered = True
                    self._answered += 1
                    reconciler = asyncio.create_task(self._reconcile_loop(client))
                    try:
                        following = batches(
                            body, self.o.max_frame_bytes, deadline, self.o.stale_after
                        )
                        async with contextlib.aclosing(following):
                            async for batch in following:
                                if batch.keepalives:
                                    self._on_keepalive(batch.keepalives)
                                if batch.frames:
                                    newest.add(batch.frames)
                        newest.flush()
                    finally:
                        newest.cancel()
                        reconciler.cancel()
                        await asyncio.gather(reconciler, return_exceptions=True)
        except TimeoutError:
            honour_cancel()
            newest.flush()
            if not frames:
                if answered:
                    raise _NoFrame(
                        f"the stream sent no complete frame in {self.o.stale_after:g} s"
                    ) from None
                raise SourceUnavailable("no answer from the server in time") from None
            log.warning(
                "%s: no complete frame or keepalive for %.0f s; "
                "checking the snapshot, then reconnecting",
                self.name,
                self.o.stale_after,
            )
            self._apply(await self._get(client), "stream")
            raise _StreamLost("stream went silent", loop.time() - first_frame_at) from None
        except (httpx.HTTPError, OSError) as err:
            newest.flush()
            if frames:
                raise _StreamLost(describe(err), loop.time() - first_frame_at) from err
            raise
        if frames:
            raise _StreamLost("the server closed the stream", loop.time() - first_frame_at)
        raise SourceUnavailable("the server closed the stream before the first frame")

    def _status_live(self) -> bool:
        """Whether the status side has the agent now (the event bus's lines depend on it)."""
        return self.status is not None and self.status.connection is ConnectionState.CONNECTED

    async def _poll(self, client: httpx.AsyncClient, reason: str) -> None:
        """Poll the snapshot until it is time to try the stream again."""
        loop = asyncio.get_running_loop()
        retry_stream_at = loop.time() + self.o.stream_retry
        said = False
        while True:
            try:
                self._apply(await self._get(client), "polling")
                self._backoff.reset()
                delay = self.o.poll_interval
                if not said:
                    # Said once polling works (a poll that fails says why itself), and
                    # once per reason, not on every return to polling (once a minute).
                    said = True
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
            except RateLimited as err:
                delay = max(self.o.poll_interval, retry_delay(err, self._backoff))
                log.warning("%s: rate limited (429); next poll in %.1f s", self.name, delay)
            except AuthFailed:
                raise
            except (SourceError, httpx.HTTPError, OSError) as err:
                self._disconnected(describe(err), reachable=_answered(err))
                delay = max(self.o.poll_interval, self._backoff.next())
            remaining = retry_stream_at - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(delay, remaining))

    async def _auth_failed(self, err: AuthFailed) -> None:
        if self.status is None or self.status.connection is not ConnectionState.AUTH_FAILED:
            log.error(
                "%s: %s%s", self.name, err, self.advice(ConnectionState.AUTH_FAILED, str(err))
            )
        self._forget()
        self.publish(ConnectionState.AUTH_FAILED, None, str(err))
        log.info("%s: trying again in %.0f s", self.name, self.o.auth_retry)
        await asyncio.sleep(self.o.auth_retry)

    async def _rate_limited(self, err: RateLimited) -> None:
        delay = retry_delay(err, self._backoff)
        log.warning(
            "%s: the server asks us to slow down (429); retrying in %.1f s", self.name, delay
        )
        # A short pause keeps the last state on show; a long one would show a
        # state nobody is reading any more, so say "connecting" instead.
        if self.state.snapshot is None or delay > _SHOW_STALE_FOR:
            self._forget()
            self.publish(ConnectionState.CONNECTING, None, "rate limited (429)")
        await asyncio.sleep(delay)

    def _disconnected(self, detail: str, *, reachable: bool = False) -> None:
        if self.status is None or self.status.connection is not ConnectionState.DISCONNECTED:
            if reachable:  # the server answered, but with something we refuse to read
                where = "" if self.o.url in detail else f" from {self.o.url}"
                log.warning("%s: %s%s (retrying with back-off)", self.name, detail, where)
            else:
                self.warn_unreachable(log, self.o.url, detail)
        self._forget()
        self.publish(ConnectionState.DISCONNECTED, None, detail)

    # -- frames -------------------------------------------------------------

    def _on_frames(self, frames: list[bytes]) -> bool:
        """Apply the newest status frame of a batch; True when it was good.

        Every status frame is a full snapshot, so older ones in the same batch
        are superseded and never parsed: a burst costs one parse, not one per frame.
        """
        for raw in reversed(frames):
            event = decode(raw)
            if event is None:
                continue
            if event.event in _STATUS_EVENTS:
                return self._on_event(event)
            self._ignore(event.event)
        return False

    def _ignore(self, name: str) -> None:
        self._once.info(f"event:{name[:40]}", "%s: ignoring %r events", self.name, name[:40])

    def _on_event(self, event: ServerSentEvent) -> bool:
        """Handle one SSE event; True when it was a good status frame."""
        if event.event not in _STATUS_EVENTS:
            self._ignore(event.event)
            return False
        try:
            parsed = self._parse(json.loads(event.data))
        except (ValueError, RecursionError) as err:
            log.warning(
                "%s: skipping a malformed frame (%s): %.80r", self.name, describe(err), event.data
            )
            return False
        self._apply(parsed, "stream", from_stream=True)
        return True

    def _parse(self, data: object, as_of: float | None = None) -> _Parsed:
        if as_of is None:
            # A status frame is the server's state when it was written; a bus event
            # read just before it may be newer, so a little overlap is re-applied.
            as_of = _loop_time() - _EVENT_OVERLAP
        snapshot, dropped = parse_capped(
            data,
            source=self.name,
            received_at=self._clock(),
            previous=self.overlay.view(self._clock()) or self.state.snapshot,
            max_sessions=self.o.max_sessions,
            stoppable=self.o.answers,
        )
        return _Parsed(snapshot, dropped, as_of)

    def _forget(self) -> None:
        self.state.forget()
        self.overlay.forget()

    def _apply(self, parsed: _Parsed, via: str, *, from_stream: bool = False) -> None:
        snapshot, dropped, as_of = parsed
        if self.state.apply(snapshot, from_stream=from_stream):
            self._wake_reconciler.set()
        self.overlay.rebase(snapshot, as_of)
        if dropped and not self._dropped:
            log.warning(
                "%s: the server lists %d sessions; showing the first %d (max_sessions), "
                "dropping the rest",
                self.name,
                dropped + self.o.max_sessions,
                self.o.max_sessions,
            )
        elif self._dropped and not dropped:
            log.info("%s: sessions back under max_sessions; showing all", self.name)
        self._dropped = dropped
        if dropped:
            via = f"{via}; {dropped} sessions over max_sessions ({self.o.max_sessions}) not shown"
        self._detail = via
        self._publish_view()

    def _publish_view(self) -> None:
        now = self._clock()
        view = self.overlay.view(now)
        if view is None:
            return
        over = self.overlay.overflow.detail()  # caps the event bus bit, if any
        detail = f"{self._detail}; {over}" if over else self._detail
        self.publish(ConnectionState.CONNECTED, view, detail)
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        ends = self.overlay.next_expiry(now)
        if ends is not None:
            loop = asyncio.get_running_loop()
            # Wall-clock seconds from now, on the loop's clock.
            self._expiry = loop.call_at(loop.time() + max(0.0, ends - now), self._on_expiry)

    def _on_expiry(self) -> None:
        self._expiry = None
        self.overlay.prune(self._clock())
        self._publish_view()

    def _on_keepalive(self, count: int = 1) -> None:
        self.keepalives += count
        if self.state.on_keepalive():
            self._wake_reconciler.set()

    async def _reconcile_loop(self, client: httpx.AsyncClient) -> None:
        while True:
            honour_cancel()
            due = self.state.next_check()
            delay = None if due is None else max(0.0, due - self._clock())
            try:
                async with asyncio.timeout(delay):
                    await self._wake_reconciler.wait()
            except TimeoutError:
                pass
            self._wake_reconciler.clear()
            if self.state.take_due():
                await self._reconcile(client)

    async def _reconcile(self, client: httpx.AsyncClient) -> None:
        """Re-read the snapshot; use it if it disagrees and the stream said nothing meanwhile."""
        frames_before = self.state.frames
        try:
            parsed = await self._get(client)
        except (SourceError, httpx.HTTPError, OSError) as err:
            log.debug("%s: reconcile failed: %s", self.name, describe(err))
            return
        last = self.state.snapshot
        if self.state.frames != frames_before or last is None:
            return
        if self.state.disagrees(parsed.snapshot):
            log.info(
                "%s: the snapshot disagrees with the stream's last frame (%s vs %s); "
                "using the snapshot",
                self.name,
                parsed.snapshot.state.value,
                last.state.value,
            )
            self._apply(parsed, "stream")

    # -- the event bus ------------------------------------------------------

    @property
    def events_live(self) -> bool:
        """Whether the event bus is being followed right now."""
        return self._bus is not None and self._bus.live

    @property
    def event_requests(self) -> int:
        """Event-bus stream requests made, for benchmarks and tests."""
        return self._bus.requests if self._bus is not None else 0

    @property
    def events_read(self) -> int:
        """Event-bus events read so far, every type (``connected`` aside), for benchmarks."""
        return self._bus.events if self._bus is not None else 0

    def _events_wanted(self) -> bool:
        return events_wanted(self.name, self.o, token_set=self._token is not None)

    def _on_bus_change(self) -> None:
        self._publish_view()

    # -- answering from a device --------------------------------------------

    async def answer(self, decision: Decision) -> str | None:
        """A question answered (the option's text sent as the user's message), dismissed
        (no longer shown), or a run stopped, for a chat of PocketPaw's web dashboard."""
        key = decision.ref.key
        client = self._client
        if decision.action == STOP:
            if not (self.o.answers and can_stop(key)):
                return "PocketPaw can stop only its web chats' runs from here"
            if client is None:
                return f"not connected to {self.o.url}"
            return await self.chat.stop(client, key)
        ask = decision.ask
        question = self.overlay.question(key, ask.id) if ask is not None else None
        if ask is None or question is None:
            return "the question has gone"
        if decision.action == ChoiceKind.DISMISS.value:
            self.overlay.close_question(key, ask.id)
            self._publish_view()
            return None
        if ask.where:
            return f"answer it {ask.where}"
        label = _option(question, decision.action)
        if label is None:
            return f"no option {decision.action!r}"
        if client is None:
            return f"not connected to {self.o.url}"
        self.overlay.close_question(key, ask.id)
        self._publish_view()

        def failed(why: str) -> None:
            # Offered again (under a new id), unless a newer question took its place.
            if self.overlay.reopen_question(key, question):
                self._publish_view()

        self.chat.send(client, key, label, on_failure=failed)
        return None

    # -- HTTP ---------------------------------------------------------------

    async def _get(self, client: httpx.AsyncClient) -> _Parsed:
        """One snapshot from the REST endpoint, size-capped."""
        self.requests += 1
        asked_at = asyncio.get_running_loop().time()
        try:
            body = await get_body(
                client,
                STATUS_PATH,
                limit=self.o.max_frame_bytes,
                within=self.o.request_timeout,
                auth=self._auth_hint,
            )
        except NotFound:
            self._answered += 1
            raise _Answered(
                f"no status API at {self.o.url}{STATUS_PATH} (404): "
                "is this PocketPaw 0.4.10 or newer?"
            ) from None
        except BodyTooLarge:
            raise FrameTooLarge(
                f"snapshot larger than max_frame_bytes ({self.o.max_frame_bytes})"
            ) from None
        self._answered += 1
        try:
            return self._parse(json.loads(body), asked_at)
        except (ValueError, RecursionError) as err:
            raise _Answered(f"bad snapshot: {describe(err)}") from err

    def _auth_hint(self, code: int) -> str:
        if code == 401:
            return (
                "PocketPaw rejected the dashboard token (401); check `token`/`token_file`"
                if self._token
                else "PocketPaw wants its dashboard token from clients not on its own machine "
                "(401): set `token` or `token_file` (the server's ~/.pocketpaw/access_token)"
            )
        return (
            f"PocketPaw rejected the status API key (403); check `api_key` or {API_KEY_ENV}"
            if self._api_key
            else f"PocketPaw requires a status API key (403): set `api_key` or {API_KEY_ENV}"
        )

    def _credential_headers(self) -> dict[str, str]:
        headers = {}
        if self._api_key:
            headers["X-Status-Key"] = self._api_key.reveal()
        if self._token:
            # The token goes one way only: a wrong ?token= would beat a right header.
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return headers


def _answered(err: BaseException) -> bool:
    """Whether the server answered ``err``'s request, with something we refuse to read."""
    return isinstance(err, FrameTooLarge | _Answered)


def _option(question: Question, action: str) -> str | None:
    """The option's own text for ``answer:N`` (what the user would have typed)."""
    if not action.startswith(ANSWER_PREFIX):
        return None
    number = action[len(ANSWER_PREFIX) :]
    if not number.isdigit() or not 1 <= int(number) <= len(question.options):
        return None
    return question.options[int(number) - 1]


def _loop_time() -> float:
    """The running loop's clock (bus events are stamped with it), else the monotonic one."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


def _env_secret(name: str, credential_name: str) -> Secret | None:
    """The systemd credential ``credential_name``, else the environment variable ``name``."""
    from bridge.infra.credentials import resolve_secret

    value = resolve_secret(None, name, credential_name)
    if value is None:
        return None
    try:
        return credential(value, name)
    except ValueError as err:
        where = f"{name} (or the systemd credential {credential_name})"
        raise ConfigError(str(err), file="environment", key=where) from None


def _read_token(path: str | None) -> Secret | None:
    if not path:
        return None
    try:
        # The options' reader: non-blocking, regular files only, size-capped.
        return read_token_file(path)
    except ValueError as err:
        raise ConfigError(str(err).partition(": ")[2], key="token_file") from None
