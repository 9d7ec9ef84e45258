"""A driver that writes what a device would show as JSON lines.

:class:`RecordDriver` appends one line per change to a file, for tests, for
debugging a theme or mapping ("what did the light show at 14:02?"), and for
feeding other tools (``tail -f agentlight-record.jsonl | jq``). A line looks
like this (wrapped here)::

    {"t": 1718000000.5, "device": "desk", "version": 1, "global": "active",
     "look": {"color": "#ff8000", "effect": "solid", "brightness": 1.0,
              "period": 1.0, "label": "busy"},
     "focus": {"source": "pocketpaw", "key": "websocket:abc"},
     "sessions": [{"source": "pocketpaw", "key": "websocket:abc", "state": "tool_running",
                   "tool": "bash", "channel": "websocket", "seconds": 3.2, ...,
                   "look": {"color": "#ff8000", "effect": "solid"}}],
     "sources": [{"name": "pocketpaw", "connection": "connected", "state": "active", ...}]}

Apart from ``t``, ``device``, ``look``, ``focus`` and each session's ``look``,
it is the versioned JSON form of :mod:`bridge.pipeline.status_json`, so every session
says its source and every source its connection state. ``t`` is wall-clock time
(``time.time()``). ``look.color`` is the look's full color, not a sampled one:
effects are recorded as data (``"effect": "pulse"``), so the engine never
animates this driver, and animation ticks, token counts and time in state never
produce lines. A line is written only when something else differs.

When the bridge stops, the last line carries ``"end": true`` and the look the
device was left in (dark, or the configured ``on_exit`` look), so a reader of
the file knows the light is no longer being driven.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bridge.pipeline.frame import Frame
from bridge.pipeline.looks import DARK, Effect, Look
from bridge.pipeline.status_json import status_to_json
from bridge.text.textsafe import safe_json
from devices.base import Capabilities, Driver


@dataclass(frozen=True, slots=True)
class RecordOptions:
    """Options of the ``record`` driver.

    :param path: the file to append to; ``~`` is expanded and missing parent
        directories are created.
    """

    path: str = "agentlight-record.jsonl"

    def __post_init__(self) -> None:
        # Checked here so `check` finds what `run` would trip over.
        path = Path(self.path).expanduser()
        if path.is_dir():
            raise ValueError(f"path: {self.path!r} is a directory; expected a file name")
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise ValueError(
                f"path: cannot create {self.path!r}: {str(parent)!r} is not a writable directory"
            )


class RecordDriver(Driver):
    """Appends one JSON line per change of what the device shows.

    :param name: the device's name, written as ``"device"`` on every line.
    :param options: a :class:`RecordOptions`.
    """

    TYPE = "record"
    Options = RecordOptions
    # Effects are written as data, so the engine must not sample them.
    CAPS = Capabilities(native_effects=frozenset(Effect), sessions=None)

    def __init__(self, name: str, options: RecordOptions | None = None) -> None:
        super().__init__(name, options)
        opts: RecordOptions = self.options
        self.path = Path(opts.path).expanduser()
        self._file: TextIO | None = None
        self._last_body: str | None = None
        self._last_record: dict[str, Any] | None = None

    async def _open(self) -> None:
        stale, self._file = self._file, None
        if stale is not None:  # left open by forget() after a hung write
            await self.blocking(stale.close)
        self._file = await self.blocking(self._open_file)
        # A new run starts with a line even if it shows what the last run ended on.
        self._last_body = None

    def _open_file(self) -> TextIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.path.open("a", encoding="utf-8")

    async def _show(self, frame: Frame) -> None:
        now = time.time()
        record = frame_record(frame, now)
        body = _unchanged_part(record)
        if body == self._last_body:
            return
        line = safe_json({"t": now, **record})
        # Before the write: a stop that cancels us mid-write still ends the file.
        self._last_record = record
        await self.blocking(self._write, line)
        self._last_body = body

    def _write(self, line: str) -> None:
        if self._file is None:
            raise RuntimeError("record file is not open")
        self._file.write(line + "\n")
        # Readers tail the file live, and a crash must not lose the last state.
        self._file.flush()

    async def _close(self, *, blank: bool) -> None:
        last, self._last_record = self._last_record, None
        if last is not None and self._file is not None:
            # A reader of the file sees the end, and the look the device was left in:
            # dark, or the on_exit look the engine showed just before.
            end = {"t": time.time(), **last, "end": True}
            if blank:
                end["look"] = _look(DARK, full=True)
            await self.blocking(self._write, safe_json(end))
        file, self._file = self._file, None
        if file is not None:
            await self.blocking(file.close)


def frame_record(frame: Frame, now: float | None = None) -> dict[str, Any]:
    """Everything a line records about ``frame`` except its time.

    The versioned JSON form of the status (:mod:`bridge.pipeline.status_json`: every
    session with its source, each source's connection state) plus what this
    device shows: its main look, each session's look, and the focus.
    """
    doc = status_to_json(frame.status, time.time() if now is None else now)
    doc.pop("t")
    # The status is the truth about sessions; views only add their looks.
    looks = {view.ref: view.look for view in frame.sessions}
    for session, entry in zip(frame.status.sessions, doc["sessions"], strict=True):
        look = looks.get(session.ref)
        if look is not None:
            entry["look"] = _look(look, full=False)
    focus = frame.focus
    return {
        "device": frame.device,
        "version": doc.pop("version"),
        "global": doc.pop("global"),
        "look": _look(frame.look, full=True),
        "focus": {"source": focus.source, "key": focus.key} if focus is not None else None,
        **doc,
    }


def _unchanged_part(record: dict[str, Any]) -> str:
    """What must differ for a new line: not the time in state, nor token counts."""
    sessions = [
        {k: v for k, v in entry.items() if k not in _TICKING} for entry in record["sessions"]
    ]
    return safe_json({**record, "sessions": sessions})


_TICKING = frozenset({"seconds", "tokens", "usage"})


def _look(look: Look, *, full: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"color": look.color.hex, "effect": look.effect.value}
    if full:
        data.update(brightness=look.brightness, period=look.period, label=look.label)
    return data


__all__ = ["RecordDriver", "RecordOptions", "frame_record"]
