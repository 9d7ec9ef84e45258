"""HTTP for every source: one client shape, one reading of status codes, capped bodies.

A source builds its client with :func:`make_client`, reads capped bodies with
:func:`get_body` (or checks a streamed response itself with :func:`check`) and,
on failure, asks :func:`retry_delay` how long to wait. Everything a server can
answer becomes one of a few errors, so every source shows the same thing for
the same trouble::

    client = make_client(url, connect_timeout=5, request_timeout=10,
                         headers={"Authorization": f"Bearer {key.reveal()}"})
    try:
        body = await get_body(client, "/sessions/x/status", limit=1 << 20,
                              within=10, auth=lambda code: "check `api_key`")
    except AuthFailed as err:          # 401/403; message from your ``auth`` hint
        ...publish AUTH_FAILED, wait long
    except (SourceError, httpx.HTTPError, OSError) as err:
        delay = retry_delay(err, backoff)   # Retry-After on 429, else back-off
        ...publish DISCONNECTED with describe(err), sleep delay

Errors (all :class:`~bridge.infra.errors.SourceError`):

- :class:`~bridge.infra.errors.AuthFailed` on 401/403, worded by the source's
  ``auth(code) -> str`` hint (name the credential, never show it);
- :class:`RateLimited` on 429, with ``retry_after`` seconds (capped at
  :data:`MAX_RETRY_AFTER`) or None when the header is missing or unusable (a
  date in the past, negative, NaN): then the back-off decides;
- :class:`NotFound` on 404 (the source says what is missing);
- :class:`ServerError` on 5xx and any other unexpected status, with ``code``;
- :class:`BodyTooLarge` past the body cap, refused before it is held;
- :class:`~bridge.infra.errors.SourceUnavailable` for a compressed body (we ask for
  ``identity`` so size caps count what is held) or the wrong content type.

The client never follows redirects (credentials go only to the configured
host) and sends ``Accept-Encoding: identity``. Everything, the SSE streams too,
goes through httpx's own transport (its proxy settings, TLS and HTTP parsing).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping

import httpx

from bridge import __version__
from bridge.infra.backoff import Backoff
from bridge.infra.errors import AuthFailed, SourceError, SourceUnavailable

__all__ = [
    "MAX_RETRY_AFTER",
    "AuthHint",
    "BodyTooLarge",
    "NotFound",
    "RateLimited",
    "ServerError",
    "check",
    "describe",
    "get_body",
    "honour_cancel",
    "make_client",
    "open_event_stream",
    "parse_retry_after",
    "retry_delay",
]

MAX_RETRY_AFTER = 300.0
"""The longest ``Retry-After`` honoured, seconds; a server cannot park us for hours."""

AuthHint = Callable[[int], str]
"""Given 401 or 403, the message naming the credential to check (never its value)."""


class RateLimited(SourceUnavailable):
    """429: the server asks us to slow down."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("rate limited (429)")
        self.retry_after = retry_after


class NotFound(SourceError):
    """404 for a path the source asked for."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} not found (404)")
        self.path = path


class ServerError(SourceUnavailable):
    """5xx or another status the source did not expect.

    ``retry_after``: seconds from the reply's Retry-After (a 503 may say), or None.
    """

    def __init__(self, code: int, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {code} from the server")
        self.code = code
        self.retry_after = retry_after


class BodyTooLarge(SourceError):
    """A body or frame over its cap; refused before it is held in memory."""


def make_client(
    base_url: str,
    *,
    connect_timeout: float,
    request_timeout: float,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient for one server: timeouts, no redirects, uncompressed bodies.

    :param headers: extra headers for every request (credentials go here, so
        they reach only ``base_url``'s host).
    :param transport: an httpx transport for tests; the default talks real HTTP.
    """
    return httpx.AsyncClient(
        base_url=base_url,
        headers={
            "User-Agent": f"agentlight/{__version__}",
            # Uncompressed, so a size cap counts what is really held in memory and
            # stream comments (keepalives) are seen as they arrive.
            "Accept-Encoding": "identity",
            **(headers or {}),
        },
        timeout=httpx.Timeout(request_timeout, connect=connect_timeout),
        transport=transport,
        follow_redirects=False,
        verify=_tls_for(base_url),
    )


def _tls_for(base_url: str) -> ssl.SSLContext | bool:
    """Certificate checks for https; for plain http a context that trusts nothing.

    httpx builds its default context (loading the whole CA bundle, ~70 ms here
    and far more on a Pi Zero) even for a client that never speaks TLS. With
    redirects off, an ``http://`` client never reaches an https URL; if it
    somehow did, an empty trust store fails the handshake instead of skipping it.
    """
    if base_url.lower().startswith("https:"):
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def check(
    response: httpx.Response,
    *,
    auth: AuthHint,
    content_type: str | None = None,
    now: Callable[[], float] = time.time,
) -> None:
    """Raise the matching error unless ``response`` is a usable 200.

    :param content_type: when given, a 200 must carry it (e.g. ``text/event-stream``).
    :param now: wall-clock time, to read a ``Retry-After`` date.
    """
    code = response.status_code
    if code == 200:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise SourceUnavailable(
                f"the server sent {encoding[:40]!r}-compressed data though asked for none"
            )
        if content_type is not None:
            ctype = response.headers.get("content-type", "")
            if content_type not in ctype:
                raise SourceUnavailable(f"expected {content_type}, got {ctype[:60] or 'no type'!r}")
        return
    if code in (401, 403):
        raise AuthFailed(auth(code))
    if code == 429:
        raise RateLimited(parse_retry_after(response.headers.get("retry-after"), now=now()))
    if code == 404:
        raise NotFound(response.request.url.path)
    raise ServerError(code, parse_retry_after(response.headers.get("retry-after"), now=now()))


async def get_body(
    client: httpx.AsyncClient,
    path: str,
    *,
    limit: int,
    within: float,
    auth: AuthHint,
    params: Mapping[str, str] | None = None,
) -> bytes:
    """GET ``path`` and return its body, at most ``limit`` bytes, within ``within`` seconds.

    :raises BodyTooLarge: past ``limit`` (checked as the body arrives).
    :raises SourceUnavailable: no complete answer within ``within`` seconds.
    """
    body = bytearray()
    try:
        async with asyncio.timeout(within):
            async with client.stream("GET", path, params=params) as response:
                check(response, auth=auth)
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise BodyTooLarge(f"body larger than {limit} bytes; rejected")
    except TimeoutError:
        honour_cancel()
        raise SourceUnavailable("no answer from the server in time") from None
    return bytes(body)


@contextlib.asynccontextmanager
async def open_event_stream(
    client: httpx.AsyncClient, path: str, *, connect_within: float, auth: AuthHint
) -> AsyncIterator[AsyncIterator[bytes]]:
    """GET an SSE stream and give its body, as read, once the answer checks out.

    The body is what the server sent (identity, checked), through httpx's
    ``aiter_raw``: no decoder, each item as httpx read it (for a chunked body, a
    chunk, which is one frame from PocketPaw). No read timeout: the caller decides
    when a stream is stale (by frames, not bytes).
    """
    async with client.stream(
        "GET",
        path,
        headers={"Accept": "text/event-stream", "Cache-Control": "no-store"},
        timeout=httpx.Timeout(None, connect=connect_within),
    ) as response:
        check(response, auth=auth, content_type="text/event-stream")
        body = response.aiter_raw()
        try:
            yield body
        finally:
            # A reader that stops early (stale, cancelled) leaves it suspended: close it
            # now rather than whenever the garbage collector gets to it.
            if isinstance(body, AsyncGenerator):
                await body.aclose()


def retry_delay(err: BaseException, backoff: Backoff, *, minimum: float = 1.0) -> float:
    """Seconds to wait after ``err``: the back-off, or a 429's usable Retry-After.

    A 429 waits at least ``minimum``, with or without advice; a missing or
    unusable Retry-After falls back to the back-off, which grows on every call,
    so odd answers still slow us down.
    """
    if isinstance(err, RateLimited):
        advice = err.retry_after
        return max(minimum, advice if advice is not None else backoff.next())
    return backoff.next()


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta or HTTP date), capped.

    None when missing or unusable: not a number or date, NaN, negative, or a
    date not in the future. A server that says "retry in the past" gives no
    advice, so the caller's exponential back-off decides.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        try:
            seconds = when.timestamp() - now
        except (OverflowError, ValueError, OSError):
            return None
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return min(MAX_RETRY_AFTER, seconds)


def describe(err: BaseException) -> str:
    """A short, secret-free description of a transport error for logs and ``detail``."""
    text = str(err)
    name = type(err).__name__
    if isinstance(err, httpx.ConnectError):
        return f"cannot connect ({text or name})"
    return f"{name}: {text}" if text and not isinstance(err, SourceError) else (text or name)


def honour_cancel() -> None:
    """Re-raise a cancel that Python 3.11's asyncio.timeout swallowed as it expired."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
