"""Reading what an agent appends to its transcript, cheaply: one ``stat`` per poll.

Claude Code fires no hook when the user presses Esc. What it does (observed on
2.1.332, see ``tests/fixtures/hooks/README.md``): about 0.2 s after Esc it appends
a user record whose text starts with ``[Request interrupted by user`` to the
JSONL transcript named in every payload (``transcript_path``), while a reply
streams, while a tool runs and on the permission dialog alike. An Esc *before
the model sent its first byte* leaves no record at all: nothing to read there.

A :class:`Tail` keeps the size it has read up to. :meth:`Tail.poll` costs one
``stat`` when nothing changed; when the file grew it reads the new bytes (at most
:data:`MAX_READ`, the end of them when there are more: the markers are near the
end), and looks at whole lines only. Lines are matched as text before any is
parsed, so a busy transcript costs a substring search, not a JSON parse per line;
and the newest lines are looked at first, at most :data:`MAX_PARSED` of them
parsed per poll, so a transcript full of look-alike lines (the path comes with
any local process's hook payload) costs a bounded amount of work per second.
Only a regular file is read, opened non-blocking: a path naming a FIFO or a
device is watched as if it were missing.
Other agents' transcripts (Codex, Gemini, Cursor) are read for growth only: a
file that grows is news that the session lives.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bridge.pipeline import bounds
from bridge.pipeline.model import TokenUsage

#: Most bytes read per poll.
MAX_READ = 256 * 1024
#: A line longer than this is skipped unparsed (a pasted file, a big tool result).
MAX_LINE = 64 * 1024
#: Most lines parsed as JSON per poll (the newest first): an interrupt marker or a
#: token count is among the last few lines a real agent wrote in a second.
MAX_PARSED = 32
T = TypeVar("T")
_INTERRUPT = "[Request interrupted by user"
_INTERRUPT_BYTES = _INTERRUPT.encode()


@dataclass(frozen=True, slots=True)
class News:
    """What a transcript said since the last poll (it grew, at least)."""

    interrupted: bool = False
    tokens: TokenUsage | None = None


class Tail:
    """The unread end of one transcript file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._offset: int | None = None  # None: not armed, no baseline yet
        self._partial = b""
        self._usage: TokenUsage | None = None
        self.stats = 0  # stat calls, for the cost tests

    def arm(self) -> None:
        """Read from the current end on: what is there already is an earlier turn's."""
        size = self._size()
        self._offset = size if size is not None else 0
        self._partial = b""

    def poll(self) -> News | None:
        """None when the file did not grow (or is not there); else what the new lines say."""
        size = self._size()
        if size is None:
            return None
        if self._offset is None or size < self._offset:
            # First look, or the file was replaced or truncated: start from its end.
            self._offset = size
            self._partial = b""
            return None
        if size == self._offset:
            return None
        start = max(self._offset, size - MAX_READ)
        chunk = _read(self.path, start, size - start)
        if chunk is None:
            return None
        if start > self._offset:
            self._partial = b""  # skipped a stretch: the first line is a fragment
            chunk = chunk[chunk.find(b"\n") + 1 :] if b"\n" in chunk else b""
        self._offset = size
        data = self._partial + chunk
        cut = data.rfind(b"\n")
        whole, self._partial = data[: max(cut, 0)], data[cut + 1 :]
        if len(self._partial) > MAX_LINE:
            self._partial = b""
        # Newest first, found by searching the bytes (never a Python loop over every
        # line: 256 KiB of empty lines is 262,144 of them): any interrupt since the
        # last poll counts, the latest token count is the one kept.
        interrupted = _newest(whole, _INTERRUPT_BYTES, _is_interrupt) is True
        usage = _newest(whole, b'"usage"', _usage)
        if usage is not None:
            self._usage = usage
        return News(interrupted, self._usage)

    def _size(self) -> int | None:
        """The file's size; None when it is missing or not a regular file."""
        self.stats += 1
        try:
            st = os.stat(self.path)
        except (OSError, ValueError):
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None


def _read(path: str, start: int, length: int) -> bytes | None:
    """``length`` bytes of regular file ``path`` from ``start``; None when it cannot.

    Opened non-blocking: a path swapped for a FIFO since its ``stat`` must not block
    the loop in ``open`` (O_NONBLOCK changes nothing for a regular file).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.pread(fd, length, start)
    except OSError:
        return None
    finally:
        os.close(fd)


def _newest(data: bytes, needle: bytes, read: Callable[[bytes], T | None]) -> T | None:
    """What ``read`` makes of the newest whole line of ``data`` holding ``needle`` that
    it reads as something; at most ``MAX_PARSED // 2`` such lines are tried."""
    high = len(data)
    for _ in range(MAX_PARSED // 2):
        at = data.rfind(needle, 0, high)
        if at < 0:
            return None
        start = data.rfind(b"\n", 0, at) + 1
        stop = data.find(b"\n", at)
        line = data[start : stop if stop >= 0 else len(data)]
        if len(line) <= MAX_LINE:
            found = read(line)
            if found is not None and found is not False:
                return found
        high = start
    return None


def _record(line: bytes) -> dict[str, object] | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def _is_interrupt(line: bytes) -> bool:
    """A user record whose text is the interrupt marker (not a later echo of it)."""
    record = _record(line)
    if record is None or record.get("type") != "user":
        return False
    message = record.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content.startswith(_INTERRUPT)
    if isinstance(content, list):
        return any(
            isinstance(part, dict)
            and isinstance(part.get("text"), str)
            and part["text"].startswith(_INTERRUPT)
            for part in content
        )
    return False


def _usage(line: bytes) -> TokenUsage | None:
    """Tokens of the context of an assistant record: input (cached included) and output."""
    record = _record(line)
    if record is None or record.get("type") != "assistant":
        return None
    message = record.get("message")
    usage = message.get("usage") if isinstance(message, dict) else None
    if not isinstance(usage, dict):
        return None
    numbers = [
        usage.get(k)
        for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    ]
    output = usage.get("output_tokens")
    if not all(isinstance(n, int) and n >= 0 for n in (*numbers, output) if n is not None):
        return None
    if not isinstance(output, int):
        return None
    # Clamped before and after summing: a transcript's 4,300-digit count must still
    # print, and a division by it still give a float.
    total = sum(bounds.count(n) or 0 for n in numbers if isinstance(n, int))
    return TokenUsage(bounds.count(total) or 0, bounds.count(output) or 0)


__all__ = ["MAX_PARSED", "MAX_READ", "News", "Tail"]
