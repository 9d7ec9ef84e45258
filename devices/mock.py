"""A driver that shows nothing and remembers everything, for tests.

:class:`MockDriver` keeps a history of what it was asked to do, the way
gpiozero's ``MockPin.states`` does, so tests of the mapping and the engine can
check what a device would have shown without hardware and without sleeping::

    mock = MockDriver("desk")
    await mock.open()
    ...  # run the engine
    await mock.wait_for(lambda f: f.state == "idle")
    mock.assert_looks("connecting", "active", "idle")

Its options can also inject faults (failing opens and shows, a hanging show),
and they are plain config keys, so a whole bridge can be started with
``type = "mock"`` devices to exercise its error handling.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeAlias

from bridge.infra.errors import DriverUnavailable
from bridge.pipeline.frame import Frame
from bridge.pipeline.inputs import GLOBAL, InputEvent, Target
from bridge.pipeline.looks import Color, Effect, Look
from bridge.pipeline.model import GlobalState
from devices.base import Driver

#: What :meth:`MockDriver.assert_looks` accepts for one expected entry.
Expected: TypeAlias = str | GlobalState | Effect | Color | Look | tuple["Expected", ...]

_ASPECTS = ("state", "color", "effect", "look")


@dataclass(frozen=True, slots=True)
class MockOptions:
    """Options of the ``mock`` driver; all of them exist to test error handling.

    :param fail_open: the first N calls of ``open`` fail.
    :param fail_show: the first N calls of ``show`` fail; -1 makes every one fail.
    :param hang_show: every ``show`` waits forever (until cancelled), like a
        device that stopped answering.
    :param fault: what an injected failure raises: ``"unavailable"`` raises
        :class:`~bridge.infra.errors.DriverUnavailable` (a device that went away),
        ``"error"`` a plain ``RuntimeError`` (a driver bug, which the base
        class wraps in ``DriverError``).
    :param fps: the driver's ``caps.fps``, so tests can make pulses cheap or dense.
    :param write_timeout: the driver's ``caps.write_timeout`` in seconds, so a test
        of ``hang_show`` need not wait the default two seconds.
    :param refresh: seconds after which the engine re-sends an unchanged frame; 0 never.
    :param slots: room for sessions: 0 none, N stable slots, -1 a slot for every session.
    """

    fail_open: int = 0
    fail_show: int = 0
    hang_show: bool = False
    fault: Literal["unavailable", "error"] = "unavailable"
    fps: float = 30.0
    write_timeout: float = 2.0
    refresh: float = 0.0
    slots: int = 0

    def __post_init__(self) -> None:
        if self.fail_open < 0:
            raise ValueError(f"fail_open must be >= 0, got {self.fail_open!r}")
        if self.fail_show < -1:
            raise ValueError(f"fail_show must be >= -1, got {self.fail_show!r}")
        if self.fps <= 0:
            raise ValueError(f"fps must be > 0, got {self.fps!r}")
        if self.write_timeout <= 0:
            raise ValueError(f"write_timeout must be > 0, got {self.write_timeout!r}")
        if self.refresh < 0:
            raise ValueError(f"refresh must be >= 0, got {self.refresh!r}")
        if self.slots < -1:
            raise ValueError(f"slots must be >= -1, got {self.slots!r}")


class MockDriver(Driver):
    """Records every call; shows nothing.

    :param name: the device's name.
    :param options: a :class:`MockOptions`.

    After use:

    - ``calls`` lists every hook call in order (``"open"``, ``"show"``,
      ``"close"``), including the ones that failed or hung. Frames equal to the
      last one never reach the hook (the base class skips them), so they are
      not listed.
    - ``shown`` holds ``(time.monotonic(), frame)`` for every frame shown.
    - ``closed_blank`` is None until closed, then the ``blank`` of the last close.
    - ``inputs`` holds every input event the engine handed back to this driver;
      :meth:`press` emits one, as a key's callback would.
    """

    TYPE = "mock"
    Options = MockOptions

    def __init__(self, name: str, options: MockOptions | None = None) -> None:
        super().__init__(name, options)
        opts: MockOptions = self.options
        # Per instance, so one test can have a fast and a slow mock side by side.
        self.caps = replace(
            self.caps,
            fps=opts.fps,
            write_timeout=opts.write_timeout,
            refresh=opts.refresh or None,
            sessions=None if opts.slots == -1 else opts.slots,
        )
        self.inputs: list[InputEvent] = []
        self._new_input = asyncio.Event()
        self.calls: list[str] = []
        self.shown: list[tuple[float, Frame]] = []
        self.closed_blank: bool | None = None
        self.open_attempts = 0
        self.show_attempts = 0
        # Replaced on every show, so each waiter wakes once per new frame.
        self._new_frame = asyncio.Event()
        self._never = asyncio.Event()

    # -- history ------------------------------------------------------------

    @property
    def frames(self) -> list[Frame]:
        """The frames shown, without their times."""
        return [frame for _, frame in self.shown]

    def clear(self) -> None:
        """Forget the history (not the fault counters)."""
        self.calls.clear()
        self.shown.clear()
        self.closed_blank = None

    async def wait_for(
        self,
        predicate: Callable[[Frame], object],
        # A timeout argument, like asyncio.wait_for, keeps one-line test waits.
        timeout: float = 1.0,  # noqa: ASYNC109
        *,
        start: int = 0,
    ) -> Frame:
        """The first shown frame matching ``predicate``, waiting for it if needed.

        Frames already shown count, so there is no race between starting
        something and waiting for its result.

        :param start: index into ``shown`` to search from; ``len(mock.shown)``
            waits for a frame not shown yet.
        :raises TimeoutError: after ``timeout`` seconds, listing what was shown.
        """
        index = start
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = self._new_frame
                    while index < len(self.shown):
                        frame = self.shown[index][1]
                        index += 1
                        if predicate(frame):
                            return frame
                    await event.wait()
        except TimeoutError as err:
            rows = [[str(i), _describe(f)] for i, f in enumerate(self.frames[start:], start)]
            raise TimeoutError(
                f"{self.name}: no matching frame within {timeout}s; shown:\n"
                + _table(["#", "shown"], rows)
            ) from err

    def assert_looks(self, *expected: Expected) -> None:
        """Check the sequence of what was shown, with runs of repeats collapsed.

        Each expected entry may be a global state name (``"idle"``), an effect
        name (``"pulse"``), a color (``"#ff8000"``, ``"orange"``, a
        :class:`Color`), a whole :class:`Look`, or a tuple of those that must
        all match. The frames are compared only on what the entries mention
        (state, ``look.color``, ``look.effect`` or the whole look), so animation
        samples and changes the test does not name do not count::

            mock.assert_looks("connecting", ("active", "#ff8000"), "idle")

        :raises AssertionError: with both sequences side by side.
        """
        parsed = [_parse_expected(item) for item in expected]
        aspects = tuple(a for a in _ASPECTS if any(a in p for p in parsed))
        actual: list[tuple[object, ...]] = []
        for frame in self.frames:
            key = tuple(_aspect(frame, a) for a in aspects)
            if not actual or actual[-1] != key:
                actual.append(key)
        rows: list[list[str]] = []
        ok = len(actual) == len(parsed)
        for i in range(max(len(actual), len(parsed))):
            want = parsed[i] if i < len(parsed) else None
            got = dict(zip(aspects, actual[i], strict=True)) if i < len(actual) else None
            match = (
                want is not None and got is not None and all(got[a] == v for a, v in want.items())
            )
            ok = ok and match
            rows.append(
                [
                    str(i),
                    _show_entry(want) if want is not None else "-",
                    " " if match else "!",
                    _show_entry(got) if got is not None else "-",
                ]
            )
        if not ok:
            raise AssertionError(
                f"{self.name}: shown looks differ from expected "
                f"(compared on {', '.join(aspects) or 'nothing'}):\n"
                + _table(["#", "expected", "", "shown"], rows)
            )

    # -- input --------------------------------------------------------------

    def press(self, control: str = "key:0", target: Target = GLOBAL) -> InputEvent:
        """Emit a press of ``control`` (which showed ``target``) to the engine."""
        event = InputEvent(self.name, control, True, target, time.monotonic())
        self.emit_input(event)
        return event

    async def wait_for_input(self, count: int = 1, timeout: float = 1.0) -> InputEvent:  # noqa: ASYNC109
        """The ``count``-th input event handed back to this driver, waiting for it."""
        async with asyncio.timeout(timeout):
            while len(self.inputs) < count:
                event = self._new_input
                await event.wait()
        return self.inputs[count - 1]

    # -- hooks --------------------------------------------------------------

    async def _on_input(self, event: InputEvent) -> None:
        self.inputs.append(event)
        done, self._new_input = self._new_input, asyncio.Event()
        done.set()

    async def _open(self) -> None:
        self.calls.append("open")
        self.open_attempts += 1
        opts: MockOptions = self.options
        if self.open_attempts <= opts.fail_open:
            self._fail(f"injected open failure {self.open_attempts}/{opts.fail_open}")

    async def _show(self, frame: Frame) -> None:
        self.calls.append("show")
        self.show_attempts += 1
        opts: MockOptions = self.options
        if opts.hang_show:
            await self._never.wait()
        if opts.fail_show == -1 or self.show_attempts <= opts.fail_show:
            self._fail(f"injected show failure {self.show_attempts}")
        self.shown.append((time.monotonic(), frame))
        event, self._new_frame = self._new_frame, asyncio.Event()
        event.set()

    async def _close(self, *, blank: bool) -> None:
        self.calls.append("close")
        self.closed_blank = blank

    def _fail(self, detail: str) -> None:
        opts: MockOptions = self.options
        if opts.fault == "error":
            raise RuntimeError(detail)
        raise DriverUnavailable(f"{self.name}: {detail}")


# -- assert_looks helpers -----------------------------------------------------


def _parse_expected(item: Expected) -> dict[str, object]:
    """What one expected entry says, by aspect."""
    if isinstance(item, tuple):
        merged: dict[str, object] = {}
        for part in item:
            merged.update(_parse_expected(part))
        return merged
    if isinstance(item, Look):
        return {"look": item}
    if isinstance(item, Color):
        return {"color": item.hex}
    if isinstance(item, GlobalState):
        return {"state": item}
    if isinstance(item, Effect):
        return {"effect": item}
    if isinstance(item, str):
        text = item.strip().lower()
        if text in GlobalState._value2member_map_:
            return {"state": GlobalState(text)}
        if text in Effect._value2member_map_ or text == "breathe":
            return {"effect": Effect.parse(text)}
        return {"color": Color.parse(text).hex}
    raise TypeError(f"cannot compare a look to {item!r}")


def _aspect(frame: Frame, aspect: str) -> object:
    if aspect == "state":
        return frame.state
    if aspect == "color":
        return frame.look.color.hex
    if aspect == "effect":
        return frame.look.effect
    return frame.look


def _show_entry(entry: dict[str, object]) -> str:
    return " ".join(_show_value(entry[a]) for a in _ASPECTS if a in entry)


def _show_value(value: object) -> str:
    if isinstance(value, Look):
        return f"Look({value.color.hex} {value.effect.value} x{value.brightness:g})"
    return str(value)


def _describe(frame: Frame) -> str:
    look = frame.look
    sessions = ", ".join(f"{s.key}={s.state.value}" for s in frame.status.sessions)
    return f"{frame.state.value} {look.color.hex} {look.effect.value} [{sessions}]"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


__all__ = ["Expected", "MockDriver", "MockOptions"]
