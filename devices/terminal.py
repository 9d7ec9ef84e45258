"""A one-line status indicator in the terminal, for people without hardware.

On a terminal, :class:`TerminalDriver` keeps one line up to date in place::

    ● active  websocket:abc thinking 12s · discord:x tool_running(bash)

The dot takes the color the device would show now (24-bit ANSI), so pulses
and blinks animate; the focused session shows how long it has been in its
state. When the output is not a terminal (a pipe, systemd's journal) it
prints one plain line per change instead: no escape codes, no redraws and
nothing for animation ticks, so logs stay readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar, Literal, TextIO

from bridge.frame import Frame
from bridge.looks import BLACK, Color, Effect
from bridge.model import Session, SessionRef
from bridge.textsafe import clean, cut
from devices.base import Driver

log = logging.getLogger("agentlight.devices.terminal")

_RESET = "\x1b[0m"
_CLEAR_TO_END = "\x1b[K"
_CLEAR_LINE = "\r\x1b[K"
# No line is wider; a megabyte of server text is not worth measuring.
_SEGMENT_LIMIT = 400


@dataclass(frozen=True, slots=True)
class TerminalOptions:
    """Options of the ``terminal`` driver.

    :param stream: write to ``"stdout"`` or ``"stderr"``.
    :param color: ``"auto"`` colors the dot when the stream is a terminal and
        ``NO_COLOR`` is not set; ``"always"`` also colors piped output;
        ``"never"`` does not color.
    :param width: cut the line to this many characters; 0 fits it to the
        terminal (and does not cut lines that do not go to a terminal).
    """

    stream: Literal["stdout", "stderr"] = "stdout"
    color: Literal["auto", "always", "never"] = "auto"
    width: int = 0

    def __post_init__(self) -> None:
        if self.width < 0:
            raise ValueError(f"width must be >= 0, got {self.width!r}")


@dataclass(frozen=True, slots=True)
class _Glyphs:
    on: str
    off: str
    sep: str
    more: str


_UNICODE = _Glyphs("●", "○", " · ", "…")
_ASCII = _Glyphs("*", "o", " | ", "~")


class TerminalDriver(Driver):
    """Draws the status as one line on a terminal, or logs it line by line.

    :param name: the device's name.
    :param options: a :class:`TerminalOptions`.
    :param stream: write here instead of ``options.stream`` (for tests).
    :param clock: wall-clock time, for session durations (for tests).
    """

    TYPE = "terminal"
    Options = TerminalOptions
    MAX_FPS = 10.0
    SHOWS_SESSIONS = True
    #: Seconds between redraws that only advance the duration or follow a resize.
    REFRESH_INTERVAL: ClassVar[float] = 1.0

    def __init__(
        self,
        name: str,
        options: TerminalOptions | None = None,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name, options)
        self._given_stream = stream
        self._clock = clock
        self._out: TextIO | None = None
        self._tty = False
        self._color = False
        self._fit = False  # width follows the terminal
        self._width = 0  # 0: do not cut
        self._glyphs = _UNICODE
        self._frame: Frame | None = None
        self._written: str | None = None
        self._lock = asyncio.Lock()
        # Session text only changes with the sessions; pulses redraw at 10 fps.
        self._seg_key: tuple[tuple[Session, ...], SessionRef | None] | None = None
        self._segs: list[str] = []
        self._seg_focus: int | None = None

    # -- what the line says -------------------------------------------------

    @property
    def is_tty(self) -> bool:
        """Whether the output is redrawn in place (known once open)."""
        return self._tty

    def render(self, frame: Frame) -> str:
        """The line for ``frame`` as it would be written, escape codes included.

        Without a terminal the line does not depend on the sampled color or
        the time, so animation ticks render the same line.
        """
        g = self._glyphs
        if self._tty:
            dot = frame.color
        else:
            look = frame.look
            dot = BLACK if look.effect is Effect.OFF else look.color.scaled(look.brightness)
        lit = dot != BLACK
        segs = self._segments(frame)
        focus = self._seg_focus
        # since == 0 means the source did not say when the state began.
        if self._tty and focus is not None and frame.status.sessions[focus].since > 0:
            session = frame.status.sessions[focus]
            segs = list(segs)
            segs[focus] += " " + _duration(session.duration(self._clock()))
        # A label may be filled in from server text ({title}, {tool}).
        text = f"{g.on if lit else g.off} {clean(frame.look.label or frame.state.value)}"
        if segs:
            text += "  " + g.sep.join(segs)
        if self._width:
            text = cut(text, self._width, g.more)
        if self._color and lit:
            text = f"{_rgb(dot)}{text[0]}{_RESET}{text[1:]}"
        return text

    def _segments(self, frame: Frame) -> list[str]:
        key = (frame.status.sessions, self._focus_key(frame))
        if key != self._seg_key:
            sessions, focus = key
            self._segs = [_session_text(s) for s in sessions]
            self._seg_focus = next((i for i, s in enumerate(sessions) if s.ref == focus), None)
            self._seg_key = key
        return self._segs

    @staticmethod
    def _focus_key(frame: Frame) -> SessionRef | None:
        if frame.focus is not None:
            return frame.focus
        urgent = frame.status.most_urgent()
        return urgent.ref if urgent is not None else None

    # -- hooks --------------------------------------------------------------

    async def _open(self) -> None:
        opts: TerminalOptions = self.options
        out = self._given_stream or (sys.stderr if opts.stream == "stderr" else sys.stdout)
        self._out = out
        # Everything that does not change per frame is decided here, once.
        try:
            self._tty = out.isatty()
        except (AttributeError, OSError, ValueError):
            self._tty = False
        # Piped output prints changes only, so the engine need not step effects;
        # on a terminal the engine's refresh moves the duration on and follows resizes.
        self.caps = replace(
            self.caps,
            native_effects=frozenset() if self._tty else frozenset(Effect),
            refresh=self.REFRESH_INTERVAL if self._tty else None,
        )
        if opts.color == "auto":
            self._color = (
                self._tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
            )
        else:
            self._color = opts.color == "always"
        self._glyphs = _UNICODE if _can_encode(out, "●○·…") else _ASCII
        self._fit = opts.width == 0 and self._tty
        self._width = self._terminal_width() if self._fit else opts.width
        self._frame = None
        self._written = None
        self._seg_key = None

    async def _show(self, frame: Frame) -> None:
        self._frame = frame
        if self._fit:
            self._width = self._terminal_width()
        await self._draw(frame)

    async def _close(self, *, blank: bool) -> None:
        async with self._lock:
            if self._tty and self._written is not None:
                # Blank leaves an empty line for the prompt; otherwise keep the last state.
                await self.blocking(self._write, _CLEAR_LINE if blank else "\n")
            self._out = None
            self._frame = None
            self._written = None

    # -- output -------------------------------------------------------------

    async def _draw(self, frame: Frame) -> None:
        async with self._lock:
            text = self.render(frame)
            if text == self._written:
                return
            if self._tty:
                await self.blocking(self._write, "\r" + text + _CLEAR_TO_END)
            else:
                await self.blocking(self._write, text + "\n")
            self._written = text

    def _write(self, data: str) -> None:
        out = self._out
        if out is None:
            return
        out.write(data)
        out.flush()

    def _terminal_width(self) -> int:
        columns = 0
        # In-memory streams have no fileno; fall back to $COLUMNS or 80.
        with contextlib.suppress(AttributeError, OSError, ValueError):
            columns = os.get_terminal_size(self._out.fileno()).columns  # type: ignore[union-attr]
        if columns <= 0:
            columns = shutil.get_terminal_size().columns
        # One short of the edge: writing the last column makes some terminals wrap.
        return max(columns - 1, 1)


def _session_text(session: Session) -> str:
    name = session.key
    if session.channel and not name.startswith(session.channel + ":"):
        name = f"{session.channel}:{name}"
    state = session.state.value
    if session.raw_state:
        state = session.raw_state  # the server's own name (AgP: paused, timed_out)
    if session.tool:
        state += f"({session.tool})"
    if session.steps:
        state += f"·{session.steps}"
    # Everything here came from a server: shown, never obeyed.
    return clean(f"{name} {state}", _SEGMENT_LIMIT)


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _can_encode(stream: TextIO, sample: str) -> bool:
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True  # in-memory text streams take any character
    try:
        sample.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _rgb(color: Color) -> str:
    r, g, b = color.to_bytes()
    return f"\x1b[38;2;{r};{g};{b}m"


__all__ = ["TerminalDriver", "TerminalOptions"]
