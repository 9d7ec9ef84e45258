"""A one-line status indicator in the terminal, for people without hardware.

On a terminal, :class:`TerminalDriver` keeps one line up to date in place::

    ● Running bash — “Fix the flaky deploy script” 12s · discord guild-7 thinking

The dot and the label take the colour the device would show (the dot animates
with pulses and blinks; both keep a floor of brightness so a dim look stays
readable on a dark background). The label is the theme's word for the look,
with what the session is doing in words a person uses, its title and how long
it has been at it, then the other sessions. 24-bit colour where the terminal
says it has it, else 256 or 16 colours; ``TERM=dumb`` gets no colour and no
cursor movement. When the output is not a terminal (a pipe, systemd's
journal) it prints one plain line per change instead: no escape codes, no
redraws and nothing for animation ticks, so logs stay readable.
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

from bridge.pipeline.frame import Frame
from bridge.pipeline.looks import BLACK, Effect
from bridge.pipeline.mapping import NO_TOOL
from bridge.pipeline.model import Session, SessionRef, SessionState
from bridge.text.statusline import (
    ask_words,
    duration,
    global_words,
    session_name,
    session_words,
)
from bridge.text.textsafe import clean, cut, tail, width
from devices.ansi import RESET, Depth, color_depth, fg, visible
from devices.base import Capabilities, Driver

log = logging.getLogger("agentlight.devices.terminal")

_CLEAR_TO_END = "\x1b[K"
_CLEAR_LINE = "\r\x1b[K"
# Server text is cut to this before it is measured; no line is wider.
_TEXT_LIMIT = 200
# Sessions listed after the focused one; the rest are counted.
_MAX_LISTED = 8
# Minimum brightness (0-255, brightest channel) of the dot and of the label.
_DOT_FLOOR = 120
_LABEL_FLOOR = 170


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
    dash: str = " — "
    quotes: tuple[str, str] = ("“", "”")


_UNICODE = _Glyphs("●", "○", " · ", "…")
_ASCII = _Glyphs("*", "o", " | ", "~", " - ", ('"', '"'))


class TerminalDriver(Driver):
    """Draws the status as one line on a terminal, or logs it line by line.

    :param name: the device's name.
    :param options: a :class:`TerminalOptions`.
    :param stream: write here instead of ``options.stream`` (for tests).
    :param clock: wall-clock time, for session durations (for tests).
    """

    TYPE = "terminal"
    Options = TerminalOptions
    #: Seconds between redraws that only advance the duration or follow a resize.
    REFRESH_INTERVAL: ClassVar[float] = 1.0
    # Every session is named on the line; what it animates is decided on open.
    CAPS = Capabilities(fps=10.0, sessions=None)

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
        self._encoding: str | None = None
        self._animate = False  # redrawn in place: sampled colours and a ticking duration
        self._depth: Depth = 24
        # The words only change with the sessions; pulses redraw at 10 fps.
        self._words_key: object = None
        self._words_cache: _Words = _Words("", "", None)

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
        look = frame.look
        if self._animate:
            dot = frame.color
        else:
            dot = BLACK if look.effect is Effect.OFF else look.color.scaled(look.brightness)
        lit = dot != BLACK
        words = self._words(frame)
        head, rest, focus = words.head, words.rest, words.focus
        if focus is not None and self._animate and focus.since > 0:
            # The clock moves on between frames: only on a redrawn terminal line.
            head += " " + duration(focus.duration(self._clock()))
        glyph = g.on if lit else g.off
        tail = (g.sep + rest) if rest else ""
        if self._width and focus is None and frame.state.from_bridge and g.dash in head:
            # The bridge's own state: its cause ends with where (an address, a
            # port); a line too long loses the middle of the cause, not that end.
            label, detail = head.split(g.dash, 1)
            room = self._width - width(f"{glyph} {label}{g.dash}")
            if room > 8 and width(detail) > room:
                head = f"{label}{g.dash}{_cut_middle(detail, room, g.more)}"
        if self._width and words.ask is not None:
            # A request: where to answer it must stay on the line ("keys on …", "answer in
            # Telegram"); the request's own words give way first, kept at both ends.
            start, end, how_end = words.ask
            # One column to spare when more follows: a cut line ends with "…" there.
            more = 1 if len(head) > how_end or rest else 0
            over = width(f"{glyph} {head[:how_end]}") + more - self._width
            if over > 0:
                what = head[start:end]
                room = max(_MIN_ASK, width(what) - over)
                if room < width(what):
                    head = f"{head[:start]}{_cut_middle(what, room, g.more).rstrip()}{head[end:]}"
        if self._width:
            # Cut the plain text; colour codes go around whole pieces only.
            plain = cut(f"{glyph} {head}{tail}", self._width, g.more)
            head_len = min(len(plain), len(glyph) + 1 + len(head))
            head, tail = plain[len(glyph) + 1 : head_len], plain[head_len:]
        if not self._color or look.effect is Effect.OFF or look.color == BLACK:
            return f"{glyph} {head}{tail}"
        # The dot animates (dark in a blink's dark half); the label keeps the look's
        # own colour throughout. Both keep a floor of brightness so a dim look
        # (idle, a pulse's low point) stays readable.
        label_code = fg(visible(look.color, _LABEL_FLOOR), self._depth)
        if not lit:
            return f"{glyph} {label_code}{head}{RESET}{tail}"
        dot_code = fg(visible(dot, _DOT_FLOOR), self._depth)
        return f"{dot_code}{glyph}{RESET} {label_code}{head}{RESET}{tail}"

    def _words(self, frame: Frame) -> _Words:
        """(label with details, the other sessions, the focused session), cached."""
        key = (
            frame.status.sessions,
            self._focus_key(frame),
            frame.look.label,
            frame.state,
            frame.desk,
            # The line names why the bridge shows its own state: a new reason in the
            # same state (the broker gone after its clients' wills) is a new line.
            _reasons(frame) if frame.state.from_bridge else (),
        )
        if key != self._words_key:
            self._words_key = key
            self._words_cache = _line_words(frame, key[1], self._glyphs)
        return self._words_cache

    @staticmethod
    def _focus_key(frame: Frame) -> SessionRef | None:
        if frame.focus is not None:
            return frame.focus
        if frame.state.from_bridge:
            return None  # the bridge's own state is the news, not a session
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
        # TERM=dumb: no cursor movement either, so one plain line per change.
        dumb = os.environ.get("TERM") == "dumb"
        self._animate = self._tty and not dumb
        if dumb:
            self.caps = replace(self.caps, native_effects=frozenset(Effect), refresh=None)
        if opts.color == "auto":
            self._color = self._tty and not os.environ.get("NO_COLOR") and not dumb
        else:
            self._color = opts.color == "always"
        self._depth = color_depth()
        self._glyphs = _UNICODE if _can_encode(out, "●○·…—“”") else _ASCII
        # A stream that cannot take every character gets "?" for what it cannot
        # (a server's title in another script), never an encoding error.
        self._encoding = None if self._glyphs is _UNICODE else getattr(out, "encoding", None)
        self._fit = opts.width == 0 and self._tty
        self._width = self._terminal_width() if self._fit else opts.width
        self._frame = None
        self._written = None
        self._words_key = None

    async def _show(self, frame: Frame) -> None:
        self._frame = frame
        if self._fit:
            self._width = self._terminal_width()
        await self._draw(frame)

    async def _close(self, *, blank: bool) -> None:
        async with self._lock:
            if self._animate and self._written is not None:
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
            if self._animate:
                await self.blocking(self._write, "\r" + text + _CLEAR_TO_END)
            else:
                await self.blocking(self._write, text + "\n")
            self._written = text

    def _write(self, data: str) -> None:
        out = self._out
        if out is None:
            return
        if self._encoding:
            data = data.encode(self._encoding, "replace").decode(self._encoding)
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


def _reasons(frame: Frame) -> tuple[str | None, ...]:
    """Each source's reason (``detail``) in the state shown, which the line may name."""
    return tuple(s.detail for s in frame.status.sources if s.global_state is frame.state)


# Columns a request's words keep at least when a line is cut to keep where to answer it.
_MIN_ASK = 12


@dataclass(frozen=True, slots=True)
class _Words:
    """A line's words: the label with its details, the other sessions, the focused session.

    :param ask: where the focused session's request is in ``head``: its words from
        ``[0]`` to ``[1]``, then where to answer it up to ``[2]``.
    """

    head: str
    rest: str
    focus: Session | None
    ask: tuple[int, int, int] | None = None


def _line_words(frame: Frame, focus_ref: SessionRef | None, g: _Glyphs) -> _Words:
    """The label with its details, the other sessions, and the focused session.

    Everything from a server goes through :func:`clean` (via the statusline
    helpers), so the result can be written to a terminal as is.
    """
    sessions = frame.status.sessions
    focus = next((s for s in sessions if s.ref == focus_ref), None) if focus_ref else None
    label = clean(frame.look.label, _TEXT_LIMIT) if frame.look.label else ""
    span: tuple[int, int, int] | None = None
    if focus is None:
        head = label or global_words(frame.state).capitalize()
        if frame.state.from_bridge:
            detail = next(
                (
                    s.detail
                    for s in frame.status.sources
                    if s.detail and s.global_state is frame.state
                ),
                None,
            )
            if detail:
                head += f"{g.dash}{clean(detail, _TEXT_LIMIT)}"
    else:
        head = _focus_words(focus, label)
        if focus.ask is not None:
            what, how = _asking(focus, frame, g)
            start = len(head) + 2
            head += f": {what}{how}"
            span = (start, start + len(what), len(head))
        lq, rq = g.quotes
        if focus.title:
            head += f"{g.dash}{lq}{clean(focus.title, _TEXT_LIMIT)}{rq}"
        elif len(sessions) > 1:
            head += f"{g.dash}{session_name(focus)}"  # which of them
    others = [s for s in sessions if s is not focus]
    rest = g.sep.join(f"{session_name(s)} {session_words(s)}" for s in others[:_MAX_LISTED])
    if len(others) > _MAX_LISTED:
        rest += f"{g.sep}+{len(others) - _MAX_LISTED} more"
    return _Words(head, rest, focus, span)


def _asking(session: Session, frame: Frame, g: _Glyphs) -> tuple[str, str]:
    """The request with its choices, and where to answer it: the devices that can, or
    the place a device cannot reach ("in Telegram"), and what the desk just did."""
    ask = session.ask
    assert ask is not None
    words = ask_words(ask)
    how = ""
    if not ask.answerable and ask.where:
        # ask_words ends with "(answer in Telegram)": that is where to answer.
        where = f" (answer {clean(ask.where, 60)})"
        if words.endswith(where):
            words, how = words[: -len(where)], where
    desk = frame.desk
    if ask.answerable:
        ways = desk.ways if desk is not None else ()
        if ways:
            way = "; ".join(clean(w, 80) for w in ways)
            if any(c.deliberate for c in ask.choices) and not ask.locked:
                way += "; hold Allow or press it twice"
            how = f" ({way})"
        else:
            how = " (answer it where the agent runs)"
    note = desk.note_for(session.ref) if desk is not None else None
    if note is not None:
        how += f" [{clean(note.text, 80)}]"
    return words, how


def _focus_words(session: Session, label: str) -> str:
    """The theme's label, said the way a person would, with the detail that matters."""
    words = session_words(session)
    if not label:
        return words[:1].upper() + words[1:]
    tool = clean(session.tool, _TEXT_LIMIT) if session.tool else ""
    if session.state is SessionState.TOOL_RUNNING and label == (tool or NO_TOOL):
        return f"Running {label}"  # the default label is just "{tool}"
    if session.state is SessionState.ERROR and session.error:
        return f"{label}: {clean(session.error, _TEXT_LIMIT)}"
    raw = clean(session.raw_state, 40) if session.raw_state else ""
    if session.state is SessionState.UNKNOWN:
        name = raw if raw and raw.lower() not in label.lower() else ""
        return f"{label} ({name + ', ' if name else ''}a state agentlight does not know)"
    if raw and raw != session.state.value and raw.lower() not in label.lower():
        return f"{label} ({raw.replace('_', ' ')})"
    if session.steps and str(session.steps) not in label:
        return f"{label}, step {session.steps}"
    return label


def _cut_middle(text: str, columns: int, more: str) -> str:
    """``text`` in ``columns`` columns, its start and its end kept, ``more`` between."""
    if width(text) <= columns:
        return text
    keep = columns - width(more)
    start = cut(text, keep - keep // 2, "")
    end = tail(text, keep // 2)
    return f"{start}{more}{' ' * (keep // 2 - width(end))}{end}"  # exactly ``columns``


def _can_encode(stream: TextIO, sample: str) -> bool:
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True  # in-memory text streams take any character
    try:
        sample.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


__all__ = ["TerminalDriver", "TerminalOptions"]
