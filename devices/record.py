"""A driver that writes what a device would show as JSON lines.

:class:`RecordDriver` appends one line per change to a file, for tests, for
debugging a theme or mapping ("what did the light show at 14:02?"), and for
feeding other tools (``tail -f agentlight-record.jsonl | jq``). A line looks
like this (wrapped here)::

    {"t": 1718000000.5, "device": "desk", "global": "active",
     "look": {"color": "#ff8000", "effect": "solid", "brightness": 1.0,
              "period": 1.0, "label": "busy"},
     "sessions": [{"key": "websocket:abc", "state": "tool_running", "tool": "bash",
                   "channel": "websocket", "source": "pocketpaw",
                   "look": {"color": "#ff8000", "effect": "solid"}}],
     "focus": null}

``t`` is wall-clock time (``time.time()``). ``look.color`` is the look's full
color, not a sampled one: effects are recorded as data (``"effect": "pulse"``),
so the engine never animates this driver and animation ticks, token counts and
durations never produce lines. A line is written only when it differs from the
last one in anything but ``t``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bridge.frame import Frame
from bridge.looks import Effect, Look
from bridge.textsafe import safe_json
from devices.base import Driver


@dataclass(frozen=True, slots=True)
class RecordOptions:
    """Options of the ``record`` driver.

    :param path: the file to append to; ``~`` is expanded and missing parent
        directories are created.
    """

    path: str = "agentlight-record.jsonl"


class RecordDriver(Driver):
    """Appends one JSON line per change of what the device shows.

    :param name: the device's name, written as ``"device"`` on every line.
    :param options: a :class:`RecordOptions`.
    """

    TYPE = "record"
    Options = RecordOptions
    # Effects are written as data, so the engine must not sample them.
    NATIVE_EFFECTS = frozenset(Effect)
    SHOWS_SESSIONS = True

    def __init__(self, name: str, options: RecordOptions | None = None) -> None:
        super().__init__(name, options)
        opts: RecordOptions = self.options
        self.path = Path(opts.path).expanduser()
        self._file: TextIO | None = None
        self._last_body: str | None = None

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
        record = frame_record(frame)
        body = safe_json(record)
        if body == self._last_body:
            return
        line = safe_json({"t": time.time(), **record})
        await self.blocking(self._write, line)
        self._last_body = body

    def _write(self, line: str) -> None:
        if self._file is None:
            raise RuntimeError("record file is not open")
        self._file.write(line + "\n")
        # Readers tail the file live, and a crash must not lose the last state.
        self._file.flush()

    async def _close(self, *, blank: bool) -> None:
        file, self._file = self._file, None
        if file is not None:
            await self.blocking(file.close)


def frame_record(frame: Frame) -> dict[str, Any]:
    """Everything a line records about ``frame`` except its time.

    Only what a device shows is kept: no sampled colors, tokens, durations or
    titles, so those changing writes nothing.
    """
    # The status is the truth about sessions; views only add their looks.
    looks = {view.session.key: view.look for view in frame.sessions}
    sessions = []
    for session in frame.status.sessions:
        entry: dict[str, Any] = {
            "key": session.key,
            "state": session.state.value,
            "tool": session.tool,
            "channel": session.channel,
            "source": session.source,
        }
        look = looks.get(session.key)
        if look is not None:
            entry["look"] = _look(look, full=False)
        sessions.append(entry)
    return {
        "device": frame.device,
        "global": frame.state.value,
        "look": _look(frame.look, full=True),
        "sessions": sessions,
        "focus": frame.focus,
    }


def _look(look: Look, *, full: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"color": look.color.hex, "effect": look.effect.value}
    if full:
        data.update(brightness=look.brightness, period=look.period, label=look.label)
    return data


__all__ = ["RecordDriver", "RecordOptions", "frame_record"]
