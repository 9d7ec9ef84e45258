"""A real-time deadline that interrupts even a blocked system call, for tests of hangs.

A test of "this must not block" would itself hang on the bug it guards against
(an ``open`` of a FIFO never returns, and no asyncio timeout fires while the
loop is blocked). :func:`deadline` arms ``SIGALRM``: its handler raises in the
main thread, which interrupts the blocked call, so the test fails instead.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType


class Hung(AssertionError):
    """The guarded code was still running at the deadline."""


@contextlib.contextmanager
def deadline(seconds: float, what: str = "the call") -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hung(f"{what} still ran after {seconds:g} s (blocked?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def memory_cap(extra: int = 512 * 1024 * 1024) -> Iterator[None]:
    """Let the guarded code map at most ``extra`` more bytes (a read of ``/dev/zero``
    then fails with MemoryError instead of taking the machine's memory)."""
    import resource

    size = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                size = int(line.split()[1]) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
