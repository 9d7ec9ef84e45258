"""H Company AgP source: polls ``GET {url}/sessions/{id}/status`` for the sessions it watches.

As the AgP docs recommend (seed 003 and ``status-feeds.md``): every ``interval``
seconds (2-5), every ``long_interval`` (10-15) once a session has run past
``long_after``, and never again once it is final (completed, failed, timed_out,
interrupted). Subagents each session reports are followed as sessions of their
own. One scheduler wakes for the earliest due poll; polls share one HTTP client
with at most ``max_in_flight`` requests at once.

Failures, and what the source shows:

- 401/403: ``auth_failed``, naming where the key came from; retried every ``auth_retry``;
- 404 for one session: that session shows ``not_found`` briefly and leaves (a listed
  one is checked again every ``gone_retry``);
- 429: every poll waits (``Retry-After`` honoured, else back-off), the last state stays;
- 5xx twice in a row, or the network: ``disconnected`` with back-off, this source only.

After a failure one request probes the server before the rest follow, so an
outage never ends in a burst of ``max_sessions`` requests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from bridge.infra.backoff import Backoff
from bridge.infra.errors import AuthFailed, ConfigError, SourceError
from bridge.infra.logutil import OnceLog
from bridge.infra.secret import Secret
from bridge.infra.threads import FILES, Runner, Strand
from bridge.pipeline.bounds import Overflow
from bridge.pipeline.model import ConnectionState, GlobalState, Session, SessionState, Snapshot
from bridge.sources.agp.options import API_KEY_ENV, credential
from bridge.sources.agp.options import Options as AgpOptions
from bridge.sources.agp.parse import (
    MAX_SUBAGENTS,
    UNREADABLE,
    AgpStatus,
    StatusError,
    not_found,
    parse_status,
    to_session,
    unreadable,
)
from bridge.sources.agp.sessions import WatchList
from bridge.sources.base import Publish, Source
from bridge.sources.http import (
    BodyTooLarge,
    NotFound,
    RateLimited,
    ServerError,
    describe,
    get_body,
    honour_cancel,
    make_client,
)
from bridge.sources.pocketpaw.options import env_secret

if TYPE_CHECKING:
    from bridge.pipeline.inputs import InputEvent

log = logging.getLogger("agentlight.sources.agp")

_NEVER = math.inf
# A rate-limit pause longer than this shows "connecting" instead of a state nobody reads.
_SHOW_STALE_FOR = 30.0
# Polls finish one by one; changes within this many seconds go out as one status, so
# 100 sessions cost a few remaps a second, not one per reply. Small beside the interval.
_PUBLISH_GAP = 0.25
# The first status waits (this long at most) until every session has answered once, so
# `agentlight status` and a fresh device never show half the sessions.
_FIRST_ROUND = 2.0
_BUSY = frozenset(
    {
        SessionState.PENDING,
        SessionState.THINKING,
        SessionState.TOOL_RUNNING,
        SessionState.STREAMING,
        SessionState.WAITING_FOR_USER,
        SessionState.UNKNOWN,
    }
)


@dataclass
class _Watch:
    """One watched session and when it is polled next (times are the loop's)."""

    id: str
    parent: str | None
    listed: bool
    next_at: float = 0.0
    in_flight: bool = False
    started: float | None = None  # first seen not final
    status: AgpStatus | None = None
    session: Session | None = None
    ended_at: float | None = None  # final, or gone (404): shown until ended_at + linger
    linger: float | None = 0.0  # None: until it leaves the watch list
    bad_replies: int = 0

    def visible(self, now: float) -> bool:
        if self.session is None:
            return False
        if self.ended_at is None or self.linger is None:
            return True
        return now < self.ended_at + self.linger

    def hides_at(self) -> float | None:
        if self.ended_at is None or self.linger is None:
            return None
        return self.ended_at + self.linger


class AgpSource(Source):
    """Polls AgP session status for a list of sessions and their subagents.

    :param transport: an httpx transport for tests; the default talks real HTTP.
    :param clock: wall-clock time, for session start times.
    :param files: where ``sessions_from`` is read: a thread of the files pool by
        default; :class:`~bridge.infra.threads.Inline` for tests on a virtual clock.
    """

    TYPE = "agp"
    Options = AgpOptions

    def __init__(
        self,
        name: str,
        options: AgpOptions,
        publish: Publish,
        *,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        transport: httpx.AsyncBaseTransport | None = None,
        files: Runner | None = None,
    ) -> None:
        super().__init__(name, options, publish)
        self.o = options
        self._clock = clock
        self._transport = transport
        self._key, self._key_origin = resolve_key(options)
        self._backoff = Backoff(min(1.0, options.retry_max), options.retry_max, rand=rand)
        self._list = (
            WatchList(options.sessions_from, source=name, limit=options.max_sessions)
            if options.sessions_from
            else None
        )
        self._list_due = 0.0
        # One read of sessions_from at a time, on a thread: a slow mount or a huge
        # directory never holds the loop.
        self._list_read: asyncio.Task[None] | None = None
        self._list_strand = files or Strand(FILES)
        self._watches: dict[str, _Watch] = {}
        self._wake: asyncio.Event | None = None
        self._sem: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = 0  # polls started and not finished
        self._pause_until = 0.0
        self._probing = False  # after a failure: one request at a time until one succeeds
        self._failures = 0  # 5xx/network failures in a row
        self._connection = ConnectionState.CONNECTING
        self._detail: str | None = f"connecting to {options.url}"
        self._dirty = True
        self._published_at = -math.inf
        self._once = OnceLog(log)
        self._overflow = Overflow(log, name)
        self.requests = 0  # every HTTP request made, for benchmarks and tests

    # -- the loop -----------------------------------------------------------

    async def run(self) -> None:
        self._wake = asyncio.Event()
        self._sem = asyncio.Semaphore(self.o.max_in_flight)
        self.publish(ConnectionState.CONNECTING, None, self._detail)
        if self._key is None:
            detail = (
                f"no AgP API key: set api_key, the {API_KEY_ENV} variable or the systemd "
                f"credential {self.o.credential!r}"
            )
            log.error("%s: %s", self.name, detail)
            self.publish(ConnectionState.AUTH_FAILED, None, detail)
            await asyncio.Event().wait()  # nothing to do until the config changes
        self._warn_plain_http()
        assert self._key is not None
        # No redirects: the key goes to the configured host only. The semaphore
        # keeps the pool at max_in_flight connections.
        async with make_client(
            self.o.url,
            connect_timeout=self.o.connect_timeout,
            request_timeout=self.o.request_timeout,
            headers={
                "Accept": "application/json",
                "Authorization": f"Bearer {self._key.reveal()}",
            },
            transport=self._transport,
        ) as client:
            try:
                await self._loop(client)
            finally:
                # Before the client closes: a poll still queued would find it closed.
                tasks = list(self._tasks)
                if self._list_read is not None:
                    tasks.append(self._list_read)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, client: httpx.AsyncClient) -> None:
        loop = asyncio.get_running_loop()
        wake = self._wake
        assert wake is not None
        self._set_listed(self._listed_ids(), loop.time())
        first_round_ends = loop.time() + _FIRST_ROUND
        while True:
            honour_cancel()
            wake.clear()
            now = loop.time()
            if self._list is not None and now >= self._list_due and self._list_read is None:
                self._list_due = now + self.o.interval
                self._list_read = asyncio.create_task(self._read_list(self._list))
            self._launch(client, now)
            if self._hid_since(now):
                self._dirty = True
            publish_at = self._published_at + _PUBLISH_GAP
            if now < first_round_ends and any(
                w.session is None and w.ended_at is None for w in self._watches.values()
            ):
                publish_at = max(publish_at, first_round_ends)  # a reply wakes us sooner
            if self._dirty and now >= publish_at:
                self._dirty = False
                self._publish_status(now)
            wake_at = self._next_wake(now)
            if self._dirty:
                wake_at = publish_at if wake_at is None else min(wake_at, publish_at)
            timeout = None if wake_at is None else max(0.0, wake_at - now)
            try:
                async with asyncio.timeout(timeout):
                    await wake.wait()
            except TimeoutError:
                pass

    def _launch(self, client: httpx.AsyncClient, now: float) -> None:
        if now < self._pause_until:
            return
        for watch in list(self._watches.values()):
            if self._probing and self._running:
                return
            if not watch.in_flight and watch.next_at <= now:
                watch.in_flight = True
                self._running += 1
                task = asyncio.create_task(self._poll(client, watch))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _read_list(self, watch_list: WatchList) -> None:
        try:
            changed = await self._list_strand.run(watch_list.check)
        finally:
            self._list_read = None
        if changed:
            self._set_listed(self._listed_ids(), asyncio.get_running_loop().time())
        if self._wake is not None:
            self._wake.set()

    def _next_wake(self, now: float) -> float | None:
        times: list[float] = []
        if self._list is not None and self._list_read is None:
            times.append(self._list_due)
        if not (self._probing and self._running):
            due = [w.next_at for w in self._watches.values() if not w.in_flight]
            if due:
                times.append(max(min(due), self._pause_until))
        for watch in self._watches.values():
            hides = watch.hides_at()
            if hides is not None and hides > now and watch.session is not None:
                times.append(hides)
        finite = [t for t in times if t != _NEVER]
        return min(finite) if finite else None

    # -- input --------------------------------------------------------------

    async def on_input(self, event: InputEvent) -> None:
        """A press on an ended session's key dismisses it (a failed one stays until then)."""
        ref = event.target.session
        if not event.pressed or ref is None or ref.source != self.name:
            return
        watch = self._watches.get(ref.key)
        if watch is None or watch.ended_at is None or watch.session is None:
            return  # still running: AgP's status API has nothing to act with
        log.info("%s: session %s dismissed from %s", self.name, ref.key, event.device)
        watch.linger = 0.0
        self._dirty = True
        self._published_at = -math.inf  # at once, not after the publish gap
        if self._wake is not None:
            self._wake.set()

    # -- the watch list -----------------------------------------------------

    def _listed_ids(self) -> list[str]:
        ids = list(self.o.sessions)
        if self._list is not None:
            ids += [i for i in self._list.ids if i not in ids]
        return ids[: self.o.max_sessions]

    def _set_listed(self, ids: list[str], now: float) -> None:
        listed = set(ids)
        for sid in ids:
            watch = self._watches.get(sid)
            if watch is None:
                self._watches[sid] = _Watch(sid, None, listed=True, next_at=now)
            else:
                watch.listed = True
        for watch in self._watches.values():
            if watch.id not in listed:
                watch.listed = False
        self._prune()
        if not ids and self._connection is ConnectionState.CONNECTING:
            # Nothing to ask the server about: show "idle", not "connecting" forever.
            log.info("%s: no sessions to watch yet", self.name)
            self._connection = ConnectionState.CONNECTED
            self._detail = "watching no sessions"
        self._dirty = True

    def _prune(self) -> None:
        """Keep listed sessions and the subagents below them, each listed session followed
        by its subagents (depth first); forget the rest."""
        children: dict[str | None, list[_Watch]] = {}
        for watch in self._watches.values():
            children.setdefault(watch.parent, []).append(watch)
        ordered: dict[str, _Watch] = {}
        # A stack, not recursion: a server can nest subagents deeper than Python recurses.
        stack = [w for w in reversed(self._watches.values()) if w.listed]
        while stack:
            watch = stack.pop()
            if watch.id in ordered:
                continue
            ordered[watch.id] = watch
            stack.extend(reversed(children.get(watch.id, [])))
        self._watches = ordered

    def _follow(self, parent: _Watch, ids: tuple[str, ...], now: float) -> None:
        added = False
        live: int | None = None  # counted once a new ID needs it, not on every reply
        for sid in ids:
            if sid in self._watches:
                continue
            if live is None:
                # Ended subagents stay known (so they are not polled again) but no
                # longer count: a long task may run thousands, one after another.
                live = sum(1 for w in self._watches.values() if w.ended_at is None)
            if live >= self.o.max_sessions or len(self._watches) >= 10 * self.o.max_sessions:
                self._once.warning(
                    "max_sessions",
                    "%s: watching max_sessions (%d) already; not following more subagents",
                    self.name,
                    self.o.max_sessions,
                )
                break
            self._watches[sid] = _Watch(sid, parent.id, listed=False, next_at=now)
            live += 1
            added = True
        if added:
            self._prune()  # puts the new subagents right below their parent

    # -- one poll -----------------------------------------------------------

    async def _poll(self, client: httpx.AsyncClient, watch: _Watch) -> None:
        loop = asyncio.get_running_loop()
        assert self._sem is not None and self._wake is not None
        try:
            async with self._sem:
                if loop.time() < self._pause_until or self._watches.get(watch.id) is not watch:
                    return  # paused meanwhile, or no longer watched
                self.requests += 1
                body = await get_body(
                    client,
                    f"/sessions/{watch.id}/status",
                    limit=self.o.max_body_bytes,
                    within=self.o.connect_timeout + self.o.request_timeout,
                    auth=lambda code: self._auth_hint(code, watch),
                )
            self._on_body(watch, body, loop.time())
        except NotFound:
            self._healthy()
            self._gone(watch, loop.time())
        except AuthFailed as err:
            self._auth_failed(str(err), watch, loop.time())
        except RateLimited as err:
            self._rate_limited(err.retry_after, loop.time())
        except ServerError as err:
            if 500 <= err.code < 600:
                self._server_error(err.code, err.retry_after, loop.time())
            else:
                self._bad_reply(watch, err, loop.time())
        except BodyTooLarge as err:
            self._bad_reply(watch, err, loop.time())
        except (httpx.HTTPError, OSError, SourceError) as err:
            # Refused or unresolvable is certain; a dropped or slow reply may be a blip.
            certain = isinstance(err, httpx.ConnectError | OSError)
            self._unreachable(_describe(err), loop.time(), certain=certain)
        except Exception as err:
            # A bug or a surprise from a library: say so, show it, keep going.
            log.exception("%s: unexpected error: %s", self.name, _describe(err))
            self._unreachable(f"unexpected error: {type(err).__name__}", loop.time())
        finally:
            watch.in_flight = False
            self._running -= 1
            if watch.next_at <= loop.time() and self._pause_until <= loop.time():
                # Nothing set a later time (a skipped poll): try again next interval.
                watch.next_at = loop.time() + self._interval(watch, loop.time())
            self._wake.set()

    def _on_body(self, watch: _Watch, body: bytes, now: float) -> None:
        try:
            status = parse_status(json.loads(body))
        except (ValueError, RecursionError) as err:
            self._bad_reply(watch, err, now)
            return
        self._healthy()
        self._update(watch, status, now)

    def _server_error(self, code: int, retry_after: float | None, now: float) -> None:
        # One 5xx may be a hiccup: keep showing what we know; two in a row are an outage.
        self._failures += 1
        delay = self._pause(retry_after, now)
        if self._failures >= 2 or self._connection is not ConnectionState.CONNECTED:
            self._disconnected(f"AgP answered HTTP {code}; retrying in {delay:.0f} s")
        else:
            log.info("%s: AgP answered HTTP %d; retrying in %.1f s", self.name, code, delay)

    def _update(self, watch: _Watch, status: AgpStatus, now: float) -> None:
        previous = watch.status
        watch.bad_replies = 0
        if previous is None or previous.status != status.status or watch.ended_at is not None:
            since = self._clock()
            if not status.final:
                watch.ended_at = None
        else:
            assert watch.session is not None
            since = watch.session.since
        if watch.started is None and not status.final:
            watch.started = now
        watch.status = status
        session = to_session(watch.id, status, source=self.name, since=since, parent=watch.parent)
        if session != watch.session:
            watch.session = session
            self._dirty = True
        if status.final:
            if watch.ended_at is None or previous is None or previous.status != status.status:
                watch.ended_at = now
                watch.linger = self._linger(status.status)
                self._dirty = True
                log.info("%s: session %s is %s", self.name, watch.id, status.status)
            watch.next_at = _NEVER
        else:
            watch.next_at = now + self._interval(watch, now)
        if self.o.subagents and status.subagents:
            self._follow(watch, status.subagents, now)
        if status.subagents:
            # Followed (or not) already; 200 sessions keeping 1,000 IDs each held 11 MB.
            watch.status = replace(status, subagents=())

    def _gone(self, watch: _Watch, now: float) -> None:
        if not urlsplit(self.o.url).path.rstrip("/").endswith("/api/v2"):
            self._once.warning(
                "api-path",
                "%s: AgP answers 404; url is usually the API base ending in /api/v2 (%s)",
                self.name,
                "https://agp.eu.hcompany.ai/api/v2",
            )
        if watch.status is not None or watch.ended_at is None:
            self._once.warning(
                f"gone:{watch.id}",
                "%s: AgP does not know session %s (404)%s",
                self.name,
                watch.id,
                f"; checking again every {self.o.gone_retry:.0f} s" if watch.listed else "",
            )
            watch.status = None
            watch.session = not_found(
                watch.id, source=self.name, since=self._clock(), parent=watch.parent
            )
            watch.ended_at = now
            watch.linger = self.o.show_done_for
            watch.started = None
            self._dirty = True
        watch.next_at = now + self.o.gone_retry if watch.listed else _NEVER

    def _bad_reply(self, watch: _Watch, err: BaseException, now: float) -> None:
        watch.bad_replies += 1
        reason = _unreadable_reason(err)
        self._once.warning(
            f"bad:{watch.id}",
            "%s: cannot read session %s: %s; showing it as unreadable",
            self.name,
            watch.id,
            reason,
        )
        # Shown as an error naming why, never dropped: a session that vanished would
        # leave the light saying Idle while AgP answers garbage.
        since = (
            self._clock()
            if watch.session is None or watch.session.raw_state != UNREADABLE
            else watch.session.since
        )
        session = unreadable(watch.id, reason, source=self.name, since=since, parent=watch.parent)
        if session != watch.session:
            watch.session = session
            watch.status = None  # the next good reply starts its state afresh
            watch.ended_at = None
            self._dirty = True
        # The server answered, so it is there; ask this one session less often.
        self._healthy()
        # The exponent capped: 2**1024 would not convert to a float after ~17 h of garbage.
        delay = min(self.o.retry_max, self._interval(watch, now) * 2 ** min(watch.bad_replies, 16))
        watch.next_at = now + delay

    # -- source-wide states -------------------------------------------------

    def _healthy(self) -> None:
        self._failures = 0
        self._probing = False
        self._backoff.reset()
        if self._connection is not ConnectionState.CONNECTED:
            log.info("%s: polling %s", self.name, self.o.url)
            self._connection = ConnectionState.CONNECTED
            self._detail = "polling"
            self._dirty = True

    def _auth_hint(self, code: int, watch: _Watch) -> str:
        if code == 401:
            return f"AgP rejected the API key from {self._key_origin} (401); check it"
        return (
            f"AgP refused the API key from {self._key_origin} for session {watch.id} (403); "
            "check the key's access"
        )

    def _auth_failed(self, detail: str, watch: _Watch, now: float) -> None:
        if self._connection is not ConnectionState.AUTH_FAILED:
            log.error(
                "%s: %s; trying again in %.0f s%s",
                self.name,
                detail,
                self.o.auth_retry,
                self.advice(ConnectionState.AUTH_FAILED, detail),
            )
        self._pause_until = now + self.o.auth_retry
        self._probing = True
        watch.next_at = self._pause_until
        self._set_connection(ConnectionState.AUTH_FAILED, detail)

    def _rate_limited(self, retry_after: float | None, now: float) -> None:
        delay = self._pause(retry_after, now)
        log.warning("%s: AgP asks us to slow down (429); polling again in %.1f s", self.name, delay)
        if delay > _SHOW_STALE_FOR or self._connection is not ConnectionState.CONNECTED:
            self._set_connection(ConnectionState.CONNECTING, "rate limited (429)")

    def _unreachable(self, detail: str, now: float, *, certain: bool = True) -> None:
        self._failures += 1
        delay = self._pause(None, now)
        if certain or self._failures >= 2 or self._connection is not ConnectionState.CONNECTED:
            self._disconnected(f"{detail}; retrying in {delay:.0f} s")
        else:
            log.info("%s: %s; retrying in %.1f s", self.name, detail, delay)

    def _pause(self, retry_after: float | None, now: float) -> float:
        """Hold every poll for Retry-After or the next back-off delay; returns it."""
        delay = retry_after if retry_after is not None else self._backoff.next()
        delay = max(delay, 0.5)
        self._pause_until = max(self._pause_until, now + delay)
        self._probing = True
        return self._pause_until - now

    def _disconnected(self, detail: str) -> None:
        if self._connection is not ConnectionState.DISCONNECTED:
            self.warn_unreachable(log, self.o.url, detail)
        self._set_connection(ConnectionState.DISCONNECTED, detail)

    def _set_connection(self, connection: ConnectionState, detail: str) -> None:
        if (connection, detail) != (self._connection, self._detail):
            self._connection = connection
            self._detail = detail
            self._dirty = True
            self._publish_status(asyncio.get_running_loop().time())

    def _hid_since(self, now: float) -> bool:
        """Has a session's time on show ended since the last publish?"""
        last = self._published_at
        return any(
            (hides := w.hides_at()) is not None and last < hides <= now
            for w in self._watches.values()
        )

    def _publish_status(self, now: float) -> None:
        self._published_at = now
        if self._connection is not ConnectionState.CONNECTED:
            self.publish(self._connection, None, self._detail)
            return
        sessions = tuple(
            w.session for w in self._watches.values() if w.session is not None and w.visible(now)
        )
        dropped = sum(w.status.subagents_dropped for w in self._watches.values() if w.status)
        self._overflow.note("subagent IDs", dropped, MAX_SUBAGENTS, "per reply")
        bad = sum(1 for s in sessions if s.raw_state == UNREADABLE)
        unread = f"{bad} session{'s' if bad != 1 else ''} unreadable" if bad else ""
        detail = "; ".join(part for part in (self._detail, unread, self._overflow.detail()) if part)
        self.publish(ConnectionState.CONNECTED, _snapshot(sessions), detail)

    # -- timing -------------------------------------------------------------

    def _interval(self, watch: _Watch, now: float) -> float:
        if watch.started is not None and now - watch.started >= self.o.long_after:
            return self.o.long_interval
        return self.o.interval

    def _linger(self, status: str) -> float | None:
        if status == "completed":
            return self.o.show_done_for
        if status == "interrupted":
            return self.o.show_interrupted_for
        return self.o.show_failed_for

    # -- HTTP ---------------------------------------------------------------

    def _warn_plain_http(self) -> None:
        parts = urlsplit(self.o.url)
        host = parts.hostname or ""
        if parts.scheme == "http" and host not in ("127.0.0.1", "::1", "localhost"):
            log.warning(
                "%s: %s is plain http: the API key crosses the network unencrypted", self.name, host
            )


def _snapshot(sessions: tuple[Session, ...]) -> Snapshot:
    if any(s.state is SessionState.ERROR for s in sessions):
        state = GlobalState.DEGRADED
    elif any(s.state in _BUSY for s in sessions):
        state = GlobalState.ACTIVE
    else:
        state = GlobalState.IDLE
    active = sum(1 for s in sessions if s.state in _BUSY)
    return Snapshot(state=state, sessions=sessions, active_sessions=active)


def resolve_key(options: AgpOptions) -> tuple[Secret | None, str]:
    """The API key and where it came from (named in errors, never shown).

    The order every agentlight source uses (:mod:`bridge.infra.credentials`):
    config, systemd credential, environment.
    """
    from bridge.infra.credentials import read_credential

    if options.api_key is not None:
        return options.api_key, "api_key"
    secret = read_credential(options.credential)
    if secret is not None:
        origin = f"the systemd credential {options.credential!r}"
        try:
            return credential(secret, origin), origin
        except ValueError as err:
            raise ConfigError(str(err), key="credential") from None
    value = env_secret(API_KEY_ENV)
    if value is not None:
        return value, f"the {API_KEY_ENV} variable"
    return None, "nowhere"


def _unreadable_reason(err: BaseException) -> str:
    """Why a reply is not a session status, in words for the session's error."""
    if isinstance(err, ServerError):
        if 300 <= err.code < 400:
            return f"AgP answered HTTP {err.code}, a redirect (not followed, for the key's sake)"
        return f"AgP answered HTTP {err.code}"
    if isinstance(err, BodyTooLarge):
        return "the reply is larger than max_body_bytes"
    if isinstance(err, StatusError):
        return f"the reply is not a session status ({err})"
    if isinstance(err, RecursionError):
        return "the reply is not JSON (nested too deep)"
    if isinstance(err, ValueError):
        return "the reply is not JSON"
    return _describe(err)


def _describe(err: BaseException) -> str:
    if isinstance(err, httpx.TimeoutException):
        return "timed out"
    return describe(err)
