"""SSE byte streams: cap each frame's size and notice keepalive comments.

:class:`GuardedStream` wraps a response body under httpx-sse, so a multi-MiB
frame is refused before it is held in memory.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import httpx

from bridge.sources.http import BodyTooLarge

_EOL = re.compile(rb"[\r\n]")


class FrameTooLarge(BodyTooLarge):
    """A frame over ``max_frame_bytes``; rejected before it is buffered."""


class GuardedStream(httpx.AsyncByteStream):
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
