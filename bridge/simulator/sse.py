"""The bytes PocketPaw's SSE endpoint writes, byte for byte."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

__all__ = [
    "HALF_FRAME",
    "KEEPALIVE",
    "STREAM_HEADERS",
    "event_frame",
    "filler",
    "frame",
    "huge_frame",
    "status_frame",
]

# Starlette appends the charset to text/* media types; clients must not expect a bare value.
STREAM_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "connection": "keep-alive",
    "x-accel-buffering": "no",
}
KEEPALIVE = b": keepalive\n\n"
HALF_FRAME = b'event: status\ndata: {"glo'

_FILL_CHUNK = 64 * 1024


def status_frame(snapshot: dict[str, Any]) -> bytes:
    # The real generator uses plain json.dumps: spaces after separators, ASCII escapes.
    return f"event: status\ndata: {json.dumps(snapshot)}\n\n".encode()


def event_frame(event: str, payload: dict[str, Any]) -> bytes:
    """One event-bus frame as PocketPaw writes it (``json.dumps`` of the envelope)."""
    return f"event: {event}\ndata: {json.dumps(payload)}\n\n".encode()


def frame(payload: str, event: str = "status") -> bytes:
    """An arbitrary frame; a multi-line payload becomes several ``data:`` lines (SSE rule)."""
    data = "".join(f"data: {line}\n" for line in payload.split("\n"))
    return f"event: {event}\n{data}\n".encode()


def filler(size: int) -> Iterator[bytes]:
    """``size`` bytes of padding as 64 KiB pieces of one shared buffer, never one big string."""
    chunk = b"x" * _FILL_CHUNK
    full, rest = divmod(size, _FILL_CHUNK)
    for _ in range(full):
        yield chunk
    if rest:
        yield chunk[:rest]


def huge_frame(size: int) -> Iterator[bytes]:
    """One frame whose data line is ``size`` bytes, as chunks."""
    yield b"event: status\ndata: "
    yield from filler(size)
    yield b"\n\n"
