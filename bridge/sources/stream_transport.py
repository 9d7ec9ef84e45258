"""An httpx transport that reads long-lived event streams a whole socket read at a time.

httpx (through httpcore and h11) yields a chunked body one chunk at a time, with
a few layers of Python per chunk. A status stream whose server writes each frame
as a chunk then costs ~25 to 40 µs per frame before the frame is even looked at: a
burst of 1,000 frames keeps the reader busy for tens of ms after the server's
last write (issue 13 budgets 20 ms). This transport serves only the requests that
ask for it (``extensions={BULK: True}``, the SSE streams); everything else goes to
httpx's own transport, untouched.

For those, it opens a connection of its own (TLS with the same context as the
client), writes the request and parses the response head with h11 (so header
rules, sizes and errors are h11's), then reads the body in large blocks: chunked
bodies through :class:`~bridge.sources.chunked.ChunkedDecoder`, the others as
they come. Each item the body yields is everything one read completed. The
connection is never reused: it is closed when the body ends or is closed.

Errors are httpx's (``ConnectError``, ``ReadTimeout``, ``RemoteProtocolError``,
...), so callers handle both transports alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator

import h11
import httpx

from bridge.sources.chunked import ChunkedDecoder, ChunkError

__all__ = ["BULK", "BulkStreamTransport", "target"]

BULK = "agentlight.bulk_stream"
"""Request extension: set it to True to have a GET served by the bulk reader."""

READ_SIZE = 1 << 18
# A response head larger than this is refused (h11's own default is 16 KiB).
MAX_HEAD = 64 * 1024


class BulkStreamTransport(httpx.AsyncBaseTransport):
    """Serves ``BULK`` GET requests itself; hands every other request to ``inner``.

    :param inner: the transport for ordinary requests (httpx's own).
    :param tls: the context for ``https`` URLs (the client's, so both verify alike).
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, tls: ssl.SSLContext | None) -> None:
        self._inner = inner
        self._tls = tls
        self._open: set[asyncio.StreamWriter] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.extensions.get(BULK) or request.method != "GET":
            return await self._inner.handle_async_request(request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        reader, writer = await self._connect(request, timeouts.get("connect"))
        self._open.add(writer)
        try:
            conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
            await self._send(request, conn, writer, timeouts.get("write"))
            head, held = await self._receive_head(request, conn, reader, timeouts.get("read"))
        except BaseException:
            self._close(writer)
            raise
        body = _Body(self, request, reader, writer, _framing(head), held, timeouts.get("read"))
        return httpx.Response(
            head.status_code,
            headers=head.headers.raw_items(),
            stream=body,
            extensions={"http_version": b"HTTP/" + head.http_version, "reason_phrase": head.reason},
        )

    async def aclose(self) -> None:
        for writer in list(self._open):
            self._close(writer)
        await self._inner.aclose()

    # -- steps ----------------------------------------------------------------

    async def _connect(
        self, request: httpx.Request, within: float | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, port, sni = target(request)
        if sni is not None and self._tls is None:
            raise httpx.ConnectError("https without a TLS context", request=request)
        try:
            async with asyncio.timeout(within):
                return await asyncio.open_connection(
                    host,
                    port,
                    ssl=self._tls if sni is not None else None,
                    server_hostname=sni,
                    limit=READ_SIZE,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("timed out connecting", request=request) from None
        except (OSError, ValueError) as err:
            # ValueError: a name the socket module cannot encode (UnicodeError), which
            # httpx reports as a connect error too.
            raise httpx.ConnectError(str(err) or type(err).__name__, request=request) from err

    async def _send(
        self,
        request: httpx.Request,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        within: float | None,
    ) -> None:
        try:
            data = conn.send(
                h11.Request(
                    method=request.method,
                    target=request.url.raw_path,
                    headers=list(request.headers.raw),
                )
            )
            data = (data or b"") + (conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as err:
            raise httpx.LocalProtocolError(str(err), request=request) from err
        try:
            writer.write(data)
            async with asyncio.timeout(within):
                await writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request", request=request) from None
        except OSError as err:
            raise httpx.WriteError(str(err) or type(err).__name__, request=request) from err

    async def _receive_head(
        self,
        request: httpx.Request,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        within: float | None,
    ) -> tuple[h11.Response, bytes]:
        """The response head, and the body bytes read along with it."""
        read = 0
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as err:
                raise httpx.RemoteProtocolError(str(err), request=request) from err
            if isinstance(event, h11.Response):
                held, _ = conn.trailing_data
                # h11 bounds only a head it is still waiting for; one read may hold it whole.
                if read - len(held) > MAX_HEAD:
                    raise _head_too_large(request)
                return event, held
            if event is h11.NEED_DATA:
                if read > MAX_HEAD:
                    raise _head_too_large(request)
                data = await _read(request, reader, within)
                if not data:
                    raise httpx.RemoteProtocolError(
                        "Server disconnected without sending a response.", request=request
                    )
                read += len(data)
                conn.receive_data(data)
            # else an informational (1xx) response: the real one follows

    def _close(self, writer: asyncio.StreamWriter) -> None:
        self._open.discard(writer)
        # close() starts the shutdown (TLS's too); the loop finishes it, nothing to await.
        with contextlib.suppress(Exception):
            writer.close()


class _Body(httpx.AsyncByteStream):
    """The response body: each item is everything one socket read completed."""

    def __init__(
        self,
        transport: BulkStreamTransport,
        request: httpx.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        framing: tuple[str, int],
        held: bytes,
        timeout: float | None,
    ) -> None:
        self._transport = transport
        self._request = request
        self._reader = reader
        self._writer = writer
        self._framing = framing
        self._held = held
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        kind, length = self._framing
        held, self._held = self._held, b""
        if kind == "chunked":
            blocks = self._chunked(held)
        elif kind == "length":
            blocks = self._counted(held[:length], length)
        else:
            blocks = self._until_close(held)
        try:
            async for block in blocks:
                yield block
        finally:
            await self.aclose()

    async def _chunked(self, data: bytes) -> AsyncIterator[bytes]:
        decoder = ChunkedDecoder()
        while True:
            try:
                payload = decoder.feed(data)
            except ChunkError as err:
                if err.payload:  # what came before the error is the server's, as with h11
                    yield err.payload
                raise httpx.RemoteProtocolError(str(err), request=self._request) from None
            if payload:
                yield payload
            if decoder.done:
                return
            data = await _read(self._request, self._reader, self._timeout)
            if not data:
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body "
                    "(incomplete chunked read)",
                    request=self._request,
                )

    async def _counted(self, data: bytes, length: int) -> AsyncIterator[bytes]:
        left = length
        while left:
            if data:
                left -= len(data)
                yield data
            if not left:
                return
            data = (await _read(self._request, self._reader, self._timeout))[:left]
            if not data:
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body "
                    f"(received {length - left} bytes, expected {length})",
                    request=self._request,
                )

    async def _until_close(self, data: bytes) -> AsyncIterator[bytes]:
        while True:
            if data:
                yield data
            data = await _read(self._request, self._reader, self._timeout)
            if not data:
                return

    async def aclose(self) -> None:
        self._transport._close(self._writer)


def _head_too_large(request: httpx.Request) -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(f"response head larger than {MAX_HEAD} bytes", request=request)


def target(request: httpx.Request) -> tuple[str, int, str | None]:
    """Host, port and TLS server name to connect to, exactly as httpx's own transport.

    The host is the URL's ASCII form (IDNA 2008, as httpx writes the Host header),
    never the Unicode one: the socket module would encode that with IDNA 2003,
    under which a name like ``faß.de`` becomes another domain (``fass.de``).
    """
    url = request.url
    host = url.raw_host.decode("ascii")
    https = url.scheme == "https"
    port = url.port or (443 if https else 80)
    if not https:
        return host, port, None
    sni = request.extensions.get("sni_hostname")
    if isinstance(sni, bytes):
        sni = sni.decode("ascii")
    return host, port, sni or host


async def _read(
    request: httpx.Request, reader: asyncio.StreamReader, within: float | None
) -> bytes:
    try:
        async with asyncio.timeout(within):
            return await reader.read(READ_SIZE)
    except TimeoutError:
        raise httpx.ReadTimeout("timed out reading", request=request) from None
    except OSError as err:
        raise httpx.ReadError(str(err) or type(err).__name__, request=request) from err


def _framing(head: h11.Response) -> tuple[str, int]:
    """How the body ends: ("chunked", 0), ("length", n) or ("close", 0).

    h11 has already refused a transfer coding other than chunked and a bad or
    conflicting Content-Length; the rules are RFC 9112 §6.3's, as in h11.
    """
    if head.status_code in (204, 304):
        return ("length", 0)
    names: dict[bytes, bytes] = {}
    for name, value in head.headers:
        names.setdefault(name, value)
    if b"transfer-encoding" in names:
        return ("chunked", 0)
    if b"content-length" in names:
        return ("length", int(names[b"content-length"].split(b",")[0].strip()))
    return ("close", 0)
