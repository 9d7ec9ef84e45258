"""An asyncio event loop on a virtual clock, for tests of timing over hours.

``loop.time()`` stands still while anything can run and jumps straight to the
next timer when the loop would otherwise sleep, so ``asyncio.sleep(3600)``
returns at once and back-offs, timeouts and effect steps happen at exact,
repeatable times. Real sockets still work: before jumping, the loop polls them
and, while a socket still holds bytes it has not sent (Linux ``SIOCOUTQNSD``),
waits briefly in real time, so a frame a server just wrote reaches its reader
before any timeout the jump would fire. Work on other threads is not waited
for: keep drivers that block in threads (``record``) out of these tests.

Use it from a plain (non-async) test::

    def test_something() -> None:
        async def main() -> None:
            ...
        run_virtual(main)
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import selectors
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

_SIOCOUTQNSD = 0x894B  # bytes a socket holds that it has not sent yet (Linux)
_IN_FLIGHT_POLL = 0.001  # real seconds per wait for bytes in flight
_IN_FLIGHT_TRIES = 50  # then jump anyway: a peer that stopped reading never drains


class _Selector(selectors.DefaultSelector):
    """Polls without blocking; when idle, advances the loop's clock instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualClockLoop | None = None
        self._waits = 0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self.loop
        assert loop is not None
        loop.check_budget()
        ready = super().select(0)
        if ready or timeout == 0:
            self._waits = 0
            return ready
        if timeout is None:
            # Nothing scheduled: only I/O or another thread can wake us. Wait for real.
            return super().select(min(0.05, loop.real_left()))
        if self._waits < _IN_FLIGHT_TRIES and self._in_flight():
            self._waits += 1
            return super().select(_IN_FLIGHT_POLL)
        self._waits = 0
        loop.advance(timeout)
        loop.jumps += 1
        return []

    def _in_flight(self) -> bool:
        queued = bytearray(4)
        for fd in self.get_map():  # the registered file descriptors
            try:
                fcntl.ioctl(fd, _SIOCOUTQNSD, queued)
            except OSError:
                continue  # not a TCP socket
            if any(queued):
                return True
        return False


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """A selector loop whose ``time()`` is virtual (starts at 0, jumps when idle).

    :param real_budget: real seconds the loop may run before it fails the test
        (a deadlock then fails fast instead of hanging CI).
    """

    def __init__(self, *, real_budget: float = 60.0) -> None:
        self._now = 0.0
        self.jumps = 0
        self._real_deadline = time.monotonic() + real_budget
        self._over_budget = False
        selector = _Selector()
        super().__init__(selector)
        selector.loop = self

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, seconds)

    def real_left(self) -> float:
        return max(0.0, self._real_deadline - time.monotonic())

    def check_budget(self) -> None:
        if not self._over_budget and time.monotonic() > self._real_deadline:
            self._over_budget = True  # once: let the loop clean up afterwards
            raise TimeoutError("the virtual-clock test ran over its real-time budget")


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]], *, real_budget: float = 60.0) -> T:
    """Run ``main()`` to completion on a fresh :class:`VirtualClockLoop`."""
    with asyncio.Runner(loop_factory=lambda: VirtualClockLoop(real_budget=real_budget)) as runner:
        return runner.run(main())


def vloop() -> VirtualClockLoop:
    """The running virtual-clock loop (fails loudly on an ordinary loop)."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualClockLoop), "this helper needs run_virtual()"
    return loop


def gaps(times: Sequence[float]) -> list[float]:
    """Seconds between successive loop times, rounded to the µs so they compare exactly."""
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]
