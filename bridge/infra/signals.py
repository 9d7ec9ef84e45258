"""Signals at any moment: stop cleanly, whenever they arrive.

:data:`SIGNALS` is installed first thing in ``main()``, before the heavy
imports, so a SIGINT, SIGTERM or SIGHUP during start-up is remembered instead
of killing the process (devices left lit) or printing a traceback; the command
then ends its start cleanly with exit 0. Once the event loop runs,
:meth:`Signals.attached` routes the same signals to an :class:`asyncio.Event`.

A command uses :data:`SIGNALS`: ``until_stopped(work)`` runs its work with a stop
event the signals set; ``stop_requested`` and ``attached(stop)`` are the parts of it.

SIGHUP means "the controlling terminal went away": stop, like SIGTERM. A
service manager that wants SIGHUP to mean *reload* plugs a callback in with
:meth:`Signals.set_reload` (it runs on the event loop); a second stop signal
while stopping exits at once (exit 1), for a device that hangs.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType

# Not typing's: importing typing costs --help ~4 ms, and this module is loaded
# first thing (mypy treats any name TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:  # asyncio is not imported before it is needed: --help stays fast
    import asyncio
    from typing import Any, TypeVar

    T = TypeVar("T")

__all__ = ["SIGNALS", "STOP_SIGNALS", "Signals"]

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Signals:
    """The process's stop (and reload) requests, from its first moment on."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._on_stop: Callable[[], None] | None = None
        self._on_reload: Callable[[], None] | None = None
        self._saved: dict[int, Any] = {}

    @property
    def stop_requested(self) -> bool:
        return bool(self.received)

    def install(self) -> None:
        """Catch stop signals from now on (plain handlers; before any event loop)."""
        for sig in STOP_SIGNALS:
            try:
                previous = signal.signal(sig, self._handler)
            except (ValueError, OSError):  # not the main thread
                continue
            self._saved.setdefault(sig, previous)

    def uninstall(self) -> None:
        """Put back what was there before :meth:`install` (for embedding and tests)."""
        for sig, previous in self._saved.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, previous)
        self._saved.clear()

    def set_reload(self, callback: Callable[[], None] | None) -> None:
        """Make SIGHUP call ``callback`` instead of stopping (None: stop again)."""
        self._on_reload = callback

    def reset(self) -> None:
        """Forget past requests (a new run in the same process, or a test)."""
        self.received.clear()

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.dispatch(signum)

    def dispatch(self, signum: int) -> None:
        """Act on ``signum``: reload, stop, or — asked twice — exit now."""
        if signum == signal.SIGHUP and self._on_reload is not None:
            self._on_reload()
            return
        if self.received:
            # Asked twice: the user means it, even if a device is stuck.
            os.write(2, b"\r\nagentlight: second signal: exiting now\n")
            os._exit(1)
        self.received.append(signum)
        if self._on_stop is not None:
            self._on_stop()

    @contextlib.contextmanager
    def attached(self, stop: asyncio.Event) -> Iterator[None]:
        """While the running loop lasts, a stop signal sets ``stop``.

        A signal that came before (during start-up) sets it at once.
        """
        import asyncio

        loop = asyncio.get_running_loop()
        installed = []
        for sig in STOP_SIGNALS:
            try:
                loop.add_signal_handler(sig, self.dispatch, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread, or not a Unix loop: the caller stops us
        self._on_stop = stop.set
        if self.received:
            stop.set()
        try:
            yield
        finally:
            self._on_stop = None
            for sig in installed:
                loop.remove_signal_handler(sig)
            if installed and self._saved:
                # remove_signal_handler put the defaults back; keep catching.
                self.install()

    async def until_stopped(
        self, work: Callable[[asyncio.Event], Awaitable[T]], *, or_else: T
    ) -> T:
        """``await work(stop)``, a stop signal setting ``stop``; ``or_else`` when a stop
        signal came before (during start-up): then ``work`` is not started, so nothing
        is opened only to be closed again."""
        import asyncio

        if self.stop_requested:
            return or_else
        stop = asyncio.Event()
        with self.attached(stop):
            return await work(stop)


#: The process's signals; ``bridge.cli.main`` installs it first thing.
SIGNALS = Signals()
