"""Blocking calls off the event loop: strands of ordered calls on a bounded pool.

A :class:`Strand` runs its calls one at a time, in order (a device's writes must
not overtake each other), on whichever thread of its :class:`Pool` is free. The
pool starts threads as calls need them, up to ``size``, and a thread idle for
``idle`` seconds exits, so an idle bridge holds none and a reload never leaks
one per device it replaced.

Why not ``asyncio.to_thread``: a call that hangs there pins a thread of the
default executor, every retry pins another, and ``asyncio.run`` waits for all
of them on exit (with no timeout on Python 3.11). Here every thread is a daemon
(a hung call never holds the process at exit), a strand holds at most one thread
however many calls queue behind a hung one, and the pool never grows past ``size``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["FILES", "Inline", "Pool", "Runner", "Strand"]

log = logging.getLogger("agentlight.threads")
T = TypeVar("T")

_Call = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]", asyncio.AbstractEventLoop]


class Pool:
    """At most ``size`` daemon threads, started on demand, shared by strands.

    :param name: thread name prefix (``ps -L`` shows it).
    :param idle: seconds a thread waits for work before it exits.
    """

    def __init__(self, size: int, name: str, *, idle: float = 10.0) -> None:
        if size < 1:
            raise ValueError("size: expected at least 1 thread")
        self.size = size
        self.name = name
        self.idle = idle
        self._cond = threading.Condition()
        self._ready: collections.deque[Strand] = collections.deque()
        self._threads = 0
        self._waiting = 0
        self._started = 0
        self._full_said = False

    @property
    def threads(self) -> int:
        """Threads alive now (running a call or waiting for one)."""
        with self._cond:
            return self._threads

    @property
    def started(self) -> int:
        """Threads ever started, for tests."""
        return self._started

    def _submit(self, strand: Strand) -> None:
        with self._cond:
            self._ready.append(strand)
            if self._waiting > len(self._ready) - 1:
                self._cond.notify()
                return
            if self._threads < self.size:
                self._threads += 1
                self._started += 1
                thread = threading.Thread(
                    target=self._serve, name=f"{self.name}-{self._started}", daemon=True
                )
                thread.start()
                return
            full = not self._full_said
            self._full_said = True
        if full:
            # Every thread is busy: the call waits its turn (a hung device holds one).
            log.warning(
                "all %d %s threads are busy; blocking calls wait their turn", self.size, self.name
            )

    def _serve(self) -> None:
        while True:
            with self._cond:
                while not self._ready:
                    self._waiting += 1
                    woke = self._cond.wait(self.idle)
                    self._waiting -= 1
                    if not woke and not self._ready:
                        self._threads -= 1
                        return
                strand = self._ready.popleft()
                if not self._ready:
                    self._full_said = False
            if strand._step():
                # More calls wait: to the back of the queue (fair to other strands),
                # taken by this thread or a free one, never by a new one.
                with self._cond:
                    self._ready.append(strand)


class Strand:
    """Blocking calls that run in order, one at a time, on a :class:`Pool`."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._calls: collections.deque[_Call] = collections.deque()
        self._scheduled = False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a pool thread, after the calls queued before it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            self._calls.append((fn, args, future, loop))
            schedule = not self._scheduled
            self._scheduled = True
        if schedule:
            self._pool._submit(self)
        return await future

    def _step(self) -> bool:
        """Run the next call; True when more wait (the pool queues the strand again)."""
        with self._lock:
            fn, args, future, loop = self._calls.popleft()
        try:
            result, error = fn(*args), None
        except BaseException as err:  # handed to the awaiting task
            result, error = None, err
        # RuntimeError: the loop is gone, so nobody is waiting.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, future, result, error)
        with self._lock:
            more = bool(self._calls)
            self._scheduled = more
        return more


class Inline:
    """Runs each call at once, on the loop: a :class:`Strand` stand-in for tests on a
    virtual clock, which cannot wait for other threads."""

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args)


Runner = Strand | Inline


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled by a timeout meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


#: Reading files a config names (``sessions_from``, a reloaded config): a hung
#: network mount holds one thread, never the loop.
FILES = Pool(2, "agentlight-files")
