"""One HTTP/1.1 server connection: h11 does the framing, asyncio streams move the bytes."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import http
import json
import socket
import struct
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import h11

__all__ = ["Connection", "Request", "json_body"]

# Enough for any sane request line + headers; h11 rejects bigger ones with a 431-style error.
_MAX_HEAD = 64 * 1024
# A request body kept for the handler (a chat message); more is read and dropped.
_MAX_BODY = 1024 * 1024
_READ_SIZE = 64 * 1024


def json_body(payload: Any) -> bytes:
    """Starlette's JSONResponse encoding: compact, UTF-8."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    # Last value wins for a repeated parameter, as in Starlette's QueryParams.get().
    query: dict[str, str] = field(default_factory=dict)
    # Lower-case names; the first value wins, as in Starlette's Headers.get().
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def from_h11(cls, event: h11.Request, body: bytes = b"") -> Request:
        target = urlsplit(event.target.decode("latin-1"))
        headers: dict[str, str] = {}
        for name, value in event.headers:
            headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        return cls(
            method=event.method.decode("ascii", "replace"),
            path=target.path or "/",
            query=dict(parse_qsl(target.query, keep_blank_values=True)),
            headers=headers,
            body=body,
        )


class Connection:
    """A server-side HTTP connection; every byte that is not a deliberate fault goes
    through h11 so the framing (chunked, content-length, close) is always legal."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)

    def __repr__(self) -> str:
        peer = self._writer.get_extra_info("peername")
        return f"Connection(peer={peer!r}, state={self._h11.our_state!r})"

    @property
    def reusable(self) -> bool:
        """True when the last exchange finished cleanly and keep-alive allows another."""
        return self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE

    async def read_request(self) -> Request | None:
        """Next request on this connection, or None once the client has gone."""
        if self.reusable:
            self._h11.start_next_cycle()
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = self._h11.next_event()
            if event is h11.NEED_DATA:
                self._h11.receive_data(await self._reader.read(_READ_SIZE))
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                if len(body) < _MAX_BODY:
                    body += event.data[: _MAX_BODY - len(body)]
            elif isinstance(event, h11.EndOfMessage) and head is not None:
                return Request.from_h11(head, bytes(body))
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return None

    async def respond(
        self, status: int, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        """A complete response with a content-length."""
        await self.start(status, _with_defaults(headers, body))
        await self.send(body)
        await self.end()

    async def start(self, status: int, headers: dict[str, str]) -> None:
        """Send the status line and headers; no content-length means chunked (or close)."""
        merged = {"date": email.utils.formatdate(usegmt=True), "server": "uvicorn", **headers}
        self._write(
            h11.Response(
                status_code=status,
                headers=list(merged.items()),
                reason=_reason(status),
            )
        )
        await self._writer.drain()

    async def send(self, data: bytes) -> None:
        """Body bytes, framed by h11 (a chunk, or raw under content-length/close)."""
        if data:
            self._write(h11.Data(data=data))
            await self._writer.drain()

    async def end(self) -> None:
        self._write(h11.EndOfMessage())
        await self._writer.drain()

    async def send_error(self, status: int) -> None:
        """Best effort answer to a request h11 could not parse."""
        body = json_body({"detail": _reason(status).decode()})
        with contextlib.suppress(h11.LocalProtocolError, OSError):
            await self.respond(status, body, {"connection": "close"})

    async def until_peer_closes(self, work: Awaitable[None] | None = None) -> None:
        """Run ``work`` (or just wait) until it ends or the client disconnects.

        This is how a stream notices a client that went away even while it has
        nothing to write.
        """
        watch = asyncio.ensure_future(self._wait_eof())
        tasks = {watch}
        if work is not None:
            tasks.add(asyncio.ensure_future(work))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            # A write to a vanished client is the normal way a stream ends; anything
            # else is a simulator bug and must be loud.
            if isinstance(result, Exception) and not isinstance(result, OSError):
                raise result

    def abort(self, *, rst: bool = False) -> None:
        """Drop the connection now; with ``rst`` the peer sees a reset, not a FIN."""
        if rst:
            sock = self._writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._writer.transport.abort()

    def close(self) -> None:
        self._writer.close()

    async def _wait_eof(self) -> None:
        with contextlib.suppress(OSError):
            while await self._reader.read(_READ_SIZE):
                pass  # pipelined bytes after a stream request mean nothing to us

    def _write(self, event: h11.Event) -> None:
        # Passthrough hands big Data payloads to the transport without copying them.
        self._writer.writelines(self._h11.send_with_data_passthrough(event) or [])


def _with_defaults(headers: dict[str, str] | None, body: bytes) -> dict[str, str]:
    merged = {"content-type": "application/json", "content-length": str(len(body))}
    for name, value in (headers or {}).items():
        merged[name.lower()] = value
    return merged


def _reason(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""
