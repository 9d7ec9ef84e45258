"""HTTP/1.1 chunked transfer coding (RFC 9112 §7.1), decoded a whole read at a time.

A server such as PocketPaw (uvicorn) writes each SSE frame as its own chunk, so a
burst of 1,000 status frames is 1,000 chunks. h11 hands those over one event per
chunk, about 20 µs each on a small machine: 20 ms of pure framing for a burst
whose last frame must be on the light within 20 ms (issue 13). This decoder takes
a whole socket read (dozens of chunks), finds each chunk header with ``bytes.find``
and a compiled regex, and returns the payload of every chunk it completed as one
``bytes``: a couple of µs a chunk.

It accepts what h11 accepts (the same chunk-header grammar: 1 to 20 hex digits,
extensions ignored, trailing blanks tolerated) and refuses the rest with
:class:`ChunkError`, after handing over what came before the error, as h11 does;
the tests hold it to h11 as the reference. One difference, on the safe side: a
chunk-header line may be 4 KiB here (extensions and all), where httpx lets h11
wait for 100 KiB; a partial line is re-joined on every read, and no server sends
extensions anywhere near that long. Trailers after the last chunk are not read:
the caller closes the connection there, it is never reused.
"""

from __future__ import annotations

import re

__all__ = ["MAX_HEADER_LINE", "ChunkError", "ChunkedDecoder"]

# h11's chunk header: chunk-size [ ";" chunk-ext ] OWS, then CRLF.
_HEADER = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;.*)?[ \t]*")
MAX_HEADER_LINE = 4096
"""The longest chunk-header line accepted, extensions included (bytes, CRLF excluded)."""


class ChunkError(ValueError):
    """The body is not valid chunked coding.

    :param payload: what the same :meth:`ChunkedDecoder.feed` decoded before the
        error: complete frames in it are the server's, and still count.
    """

    def __init__(self, message: str, payload: bytes = b"") -> None:
        super().__init__(message)
        self.payload = payload


class ChunkedDecoder:
    """Feed it what was read; it returns the chunk payloads completed or begun so far.

    Payload bytes are handed back as soon as they are read, so a chunk larger than
    a read never waits whole in here: only a partial chunk header or the CRLF after
    a chunk's data is held between reads.
    """

    __slots__ = ("_crlf", "_held", "_left", "done")

    def __init__(self) -> None:
        self._held = b""  # an incomplete header line or CRLF
        self._left = 0  # payload bytes of the current chunk still to come
        self._crlf = False  # the CRLF that ends a chunk's data is next
        self.done = False  # the last (zero-size) chunk was read

    def feed(self, data: bytes) -> bytes:
        """The payload in ``data`` (may be empty). Raises :class:`ChunkError`."""
        if self.done or not data:
            return b""
        out: list[bytes] = []
        try:
            return self._decode(data, out)
        except ChunkError as err:
            self.done = True  # nothing after a framing error is data
            err.payload = b"".join(out)
            raise

    def _decode(self, data: bytes, out: list[bytes]) -> bytes:
        buf = self._held + data if self._held else data
        end = len(buf)
        pos = 0
        while pos < end:
            if self._left:
                take = min(self._left, end - pos)
                out.append(buf[pos : pos + take])
                pos += take
                self._left -= take
                self._crlf = not self._left
            elif self._crlf:
                if end - pos < 2:
                    if buf[pos:end] != b"\r":
                        raise ChunkError("malformed chunk footer (expected CRLF after the data)")
                    break
                if buf[pos : pos + 2] != b"\r\n":
                    raise ChunkError("malformed chunk footer (expected CRLF after the data)")
                pos += 2
                self._crlf = False
            else:
                eol = buf.find(b"\r\n", pos, pos + MAX_HEADER_LINE + 2)
                if eol < 0:
                    if end - pos > MAX_HEADER_LINE + 1:
                        raise ChunkError(f"chunk header over {MAX_HEADER_LINE} bytes")
                    break
                match = _HEADER.fullmatch(buf, pos, eol)
                if match is None:
                    raise ChunkError(f"illegal chunk header: {buf[pos:eol][:40]!r}")
                pos = eol + 2
                size = int(match[1], 16)
                if not size:
                    self.done = True
                    break
                self._left = size
        self._held = buf[pos:] if pos < end and not self.done else b""
        if len(out) == 1:
            return out[0]
        return b"".join(out)
