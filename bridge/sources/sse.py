"""SSE byte streams cut into complete frames, size-capped, so a source can skip stale ones.

:class:`FrameReader` takes the body's chunks as they are read and hands back the
frames each chunk completed, as raw bytes; :func:`decode` turns the one frame a
source wants into an event. A status stream (every frame a full snapshot) then
decodes only the newest complete frame of what has been read: a burst of 1,000
frames costs one JSON parse, not 1,000 (issue 13). An event stream decodes them
all, in order.

Why not httpx-sse's ``EventSource``: it decodes every line of every frame in
Python, and has no size cap, no notion of a *complete* frame (staleness is
measured in complete frames and keepalives, never in bytes: a server dribbling
one byte a second, or a ``data:`` line that never ends, must go stale) and no
way to look at a burst before decoding it. The events are still httpx-sse's
:class:`ServerSentEvent`. Cutting runs at C speed (``bytes.split``), the
WHATWG line rules kept: lines end in CRLF, LF or a lone CR, even when a CRLF is
split across chunks; a blank line ends a frame; lines starting with ``:`` are
comments; a frame of comments only is a keepalive.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from dataclasses import dataclass, field

from httpx_sse import ServerSentEvent

from bridge.sources.http import BodyTooLarge

__all__ = ["Batch", "FrameReader", "FrameTooLarge", "Newest", "batches", "decode"]


_BLANK = re.compile(rb"\n\n")
_FIND_LINES = 16


class FrameTooLarge(BodyTooLarge):
    """A frame over ``max_frame_bytes``; rejected before it is buffered."""


@dataclass(slots=True)
class Batch:
    """What one chunk completed: frames (oldest first, keepalives left out) and keepalives."""

    frames: list[bytes] = field(default_factory=list)
    keepalives: int = 0

    def __bool__(self) -> bool:
        return bool(self.frames) or self.keepalives > 0


class FrameReader:
    """Cuts a byte stream into complete SSE frames; refuses any frame over ``limit`` bytes.

    A frame's size is that of its lines joined by ``\\n``; the open (incomplete)
    frame is checked on every chunk, so an oversized one is refused before it is
    held whole.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._pending = b""  # the open frame, line ends normalised to \n
        self._after_cr = False  # the last chunk ended in CR: a leading LF is its pair

    def feed(self, chunk: bytes) -> Batch:
        """The frames and keepalives ``chunk`` completed. Raises :class:`FrameTooLarge`."""
        if self._after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._after_cr = False
        if not chunk:
            return Batch()
        self._after_cr = chunk[-1:] == b"\r"
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        pending = self._pending
        if not pending:
            chunk = chunk.lstrip(b"\n")  # blank lines between frames
            if not chunk:
                return Batch()
        # pending never holds a blank line ("\n\n"), so the search starts at its last byte.
        pos = max(0, len(pending) - 1)
        pending = pending + chunk if pending else chunk
        batch = Batch()
        start = 0  # where the open frame begins in pending
        limit = self._limit
        lines = 0
        find = pending.find
        while True:
            # Line ends are found with memchr (a frame has a few lines); a frame of
            # many short lines is handed to the C regex, so no line costs Python work.
            if lines < _FIND_LINES:
                end = find(b"\n", pos)
                if end < 0:
                    break
                if pending[end + 1 : end + 2] != b"\n":
                    pos = end + 1
                    lines += 1
                    continue
            else:
                match = _BLANK.search(pending, pos)
                if match is None:
                    break
                end = match.start()
            frame = pending[start:end]
            start = pos = end + 2
            lines = 0
            if frame[:1] == b"\n":
                # More blank lines than one between frames: not part of the next.
                frame = frame.lstrip(b"\n")
            if not frame:
                continue  # blank lines in a row: empty frames, not data
            if len(frame) > limit:
                self._pending = b""
                raise FrameTooLarge(f"frame larger than max_frame_bytes ({limit} bytes); rejected")
            if frame[:1] == b":" and _comments_only(frame):
                batch.keepalives += 1
            else:
                batch.frames.append(frame)
        if start:
            pending = pending[start:]
            if pending[:1] == b"\n":  # a blank line opening the next frame
                pending = pending[1:]
        self._pending = pending
        self._check_open()
        return batch

    def _check_open(self) -> None:
        if len(self._pending) > self._limit:
            self._pending = b""
            raise FrameTooLarge(
                f"frame larger than max_frame_bytes ({self._limit} bytes); rejected"
            )


async def batches(
    body: AsyncIterable[bytes], max_frame_bytes: int, deadline: asyncio.Timeout, stale_after: float
) -> AsyncGenerator[Batch, None]:
    """What each read of ``body`` completed (empty reads left out), keeping ``deadline`` alive.

    Frames are cut by a :class:`FrameReader` with ``max_frame_bytes``. Alive means
    complete frames and keepalives, never bytes: a server dribbling a byte a second,
    or a data line that never ends, lets ``deadline`` expire ``stale_after`` seconds
    after the last complete one.
    """
    reader = FrameReader(max_frame_bytes)
    loop = asyncio.get_running_loop()
    deadline.reschedule(loop.time() + stale_after)
    # Moving the deadline costs a timer; during a burst once in a while will do.
    nudge = min(1.0, stale_after / 10)
    moved_at = loop.time()
    async for chunk in body:
        batch = reader.feed(chunk)
        if not batch:
            continue
        now = loop.time()
        if now - moved_at >= nudge:
            deadline.reschedule(now + stale_after)
            moved_at = now
        yield batch


def _comments_only(frame: bytes) -> bool:
    return all(line[:1] == b":" for line in frame.split(b"\n"))


def decode(frame: bytes) -> ServerSentEvent | None:
    """One complete frame as an event (``event`` defaults to ``message``); None without fields.

    ``id`` and ``retry`` are read as the spec says, though PocketPaw sends neither.
    Invalid UTF-8 is replaced, never raised.
    """
    event = b""
    data: list[bytes] = []
    last_id = b""
    retry: int | None = None
    seen = False
    for line in frame.split(b"\n"):
        if line[:1] == b":":
            continue
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            data.append(value)
            seen = True
        elif name == b"event":
            event = value
            seen = True
        elif name == b"id" and b"\0" not in value:
            last_id = value
            seen = True
        elif name == b"retry" and value.isdigit():
            retry = int(value)
            seen = True
    if not seen:
        return None
    return ServerSentEvent(
        event=event.decode("utf-8", "replace") or "message",
        data=b"\n".join(data).decode("utf-8", "replace"),
        id=last_id.decode("utf-8", "replace"),
        retry=retry,
    )


class Newest:
    """Holds frames read but not yet handled; hands them over once the reader pauses.

    httpx hands the body over a chunk at a time (PocketPaw writes each frame as
    its own chunk), and during a burst one read holds many of them, handed over
    with no pause in between, so "what has been read" is only known when the
    reading task waits for the network: :meth:`add` schedules one
    :meth:`flush`, which runs then, with every frame added meanwhile (the newest
    ``keep``, oldest first). During a burst the hand-overs are at least
    ``min_gap`` seconds apart, so the reader keeps up instead of parsing a
    snapshot per read; after a quiet spell the first one is immediate.

    :param handle: called with the frames; must not raise.
    """

    def __init__(
        self, handle: Callable[[list[bytes]], None], keep: int = 64, min_gap: float = 0.004
    ) -> None:
        self._handle = handle
        self._frames: deque[bytes] = deque(maxlen=keep)
        self._scheduled: asyncio.Handle | None = None
        self._min_gap = min_gap
        self._last = float("-inf")

    def add(self, frames: list[bytes]) -> None:
        self._frames.extend(frames)
        if self._scheduled is None:
            loop = asyncio.get_running_loop()
            at = self._last + self._min_gap
            if at <= loop.time():
                self._scheduled = loop.call_soon(self.flush)
            else:
                self._scheduled = loop.call_at(at, self.flush)

    def flush(self) -> None:
        """Hand over what is held now (also called when the stream ends)."""
        self.cancel()
        if self._frames:
            frames = list(self._frames)
            self._frames.clear()
            self._handle(frames)
            self._last = asyncio.get_running_loop().time()

    def cancel(self) -> None:
        """Drop the scheduled hand-over (the frames stay held)."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
