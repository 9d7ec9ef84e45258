"""A serial device at the far end of a pseudo-terminal, for serial driver tests.

The driver opens a real tty path with pyserial (through a symlink, like udev's
``/dev/serial/by-id/...``); the test reads every byte it writes from the pty's
master side. :class:`Board` can also answer like the agentlight sketch (its
hello line), and be "unplugged" (the pty goes away) and "plugged in" again
behind the same link.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sys
import termios
import tty
from collections.abc import Callable
from pathlib import Path


class Board:
    """One pty; ``received`` holds every byte the driver wrote to it.

    :param link: a symlink pointed at this pty's tty path (replaced if present).
    :param sketch: answer ``?`` with the agentlight hello, as the Arduino sketch does.
    :param leds: the LED count the hello reports.
    """

    def __init__(self, link: Path, *, sketch: bool = False, leds: int = 1) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no newline translation, before the driver opens it
        self.tty = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(self.master, False)
        self.link = link
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to(self.tty)
        self.sketch = sketch
        self.leds = leds
        self.received = bytearray()
        self.lines: list[bytes] = []
        self._partial = bytearray()
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master, self._on_readable)
        self.alive = True

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:
            # EIO: nobody has the tty open right now (between the driver's opens).
            data = b""
            self._loop.remove_reader(self.master)
            self._loop.call_later(0.01, self._rearm)
        if not data:
            return
        self.received += data
        self._partial += data
        while b"\n" in self._partial:
            line, _, rest = bytes(self._partial).partition(b"\n")
            self._partial = bytearray(rest)
            self.lines.append(line)
            if self.sketch and line.strip() == b"?":
                self.say(f"agentlight 1 leds={self.leds}\n".encode())
        self._changed.set()

    def _rearm(self) -> None:
        if self.alive:
            self._loop.add_reader(self.master, self._on_readable)

    def say(self, data: bytes) -> None:
        os.write(self.master, data)

    async def wait_for(self, condition: Callable[[], object], within: float = 5.0) -> None:
        """Until ``condition()`` holds (AssertionError after ``within`` seconds)."""
        try:
            async with asyncio.timeout(within):
                while not condition():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"condition not met; received {bytes(self.received)!r}") from None

    async def delivered(self, within: float = 5.0) -> None:
        """Until what :meth:`say` wrote can be read at the driver's end of the pty.

        A pty hands bytes from the master to the tty a moment later (the kernel's
        flush work), so a driver that reads only when it writes could miss them.
        """
        fd = os.open(self.tty, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            queued = bytearray(4)
            async with asyncio.timeout(within):
                while True:
                    fcntl.ioctl(fd, termios.FIONREAD, queued)
                    if int.from_bytes(queued, sys.byteorder):
                        return
                    await asyncio.sleep(0.001)  # a kernel queue: no event to wait on
        finally:
            os.close(fd)

    def unplug(self) -> None:
        """The device goes away: its tty path disappears, the driver's writes fail."""
        self.alive = False
        self._loop.remove_reader(self.master)
        os.close(self.master)
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()

    def close(self) -> None:
        if self.alive:
            self.unplug()
