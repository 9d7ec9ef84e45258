"""The newest status document, and a wake-up for every event stream when it changes.

The engine says "something changed" (``Engine.watch``); the hub builds the
document once, on the next turn of the loop (so a burst of changes in one turn
costs one document), and wakes every stream. Each stream then writes the newest
document it has not sent: a client that reads slowly skips the states it was too
slow for and gets the latest one, so nothing queues up per client. With no stream
open, nothing is built until someone asks.

One keepalive timer serves every stream, and runs only while one is open: an
idle bridge with no clients has nothing scheduled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from bridge.api.documents import encode, status_document

if TYPE_CHECKING:
    from bridge.engine import Engine

_EVENT = b"event: status\ndata: "
KEEPALIVE = b": keepalive\n\n"


class Hub:
    """The status document of ``engine``, rebuilt after each change.

    :param keepalive: seconds between the keepalive ticks streams turn into comments.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        keepalive: float = 15.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._keepalive = keepalive
        self._wall = wall
        #: Bumped on every change; a stream has sent the document of one version.
        self.version = 0
        #: Bumped on every keepalive tick.
        self.tick = 0
        self._json: bytes | None = None
        self._event: bytes | None = None
        self._wake = asyncio.Event()
        self._scheduled = False
        self._streams = 0
        self._counted = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None
        self.closed = False
        self._unwatch = engine.watch(self._changed)

    # -- the document ---------------------------------------------------------

    def _changed(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._publish)

    def _publish(self) -> None:
        self._scheduled = False
        self.version += 1
        self._json = self._event = None
        if self._streams:
            self.event()  # built once here, not once per stream
        self._wake_all()

    def document(self) -> bytes:
        """The status document (JSON) of the current version."""
        if self._json is None:
            engine = self._engine
            self._json = encode(
                status_document(engine.mapped, self._wall(), engine.clock(), engine.desk.options)
            )
        return self._json

    def event(self) -> bytes:
        """The document as one SSE event."""
        if self._event is None:
            self._event = _EVENT + self.document() + b"\n\n"
        return self._event

    # -- streams --------------------------------------------------------------

    async def wait(self, version: int, tick: int) -> None:
        """Until the document is newer than ``version``, a keepalive is due after ``tick``,
        or the hub is closed."""
        while self.version == version and self.tick == tick and not self.closed:
            await self._wake.wait()

    def _wake_all(self) -> None:
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()

    @contextlib.contextmanager
    def stream(self) -> Iterator[None]:
        """Count an open stream (and keep the keepalive timer running) while inside."""
        self._streams += 1
        self._notify_count()
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick(), name="api:keepalive")
        try:
            yield
        finally:
            self._streams -= 1
            self._notify_count()
            if not self._streams and self._ticker is not None:
                self._ticker.cancel()
                self._ticker = None

    @property
    def streams(self) -> int:
        return self._streams

    async def wait_streams(self, predicate: Callable[[int], bool]) -> int:
        """Until the number of open streams satisfies ``predicate`` (tests, benchmarks)."""
        while not predicate(self._streams):
            counted = self._counted
            await counted.wait()
        return self._streams

    def _notify_count(self) -> None:
        counted, self._counted = self._counted, asyncio.Event()
        counted.set()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive)
            self.tick += 1
            self._wake_all()

    def close(self) -> None:
        """Stop listening to the engine; wake every stream (they end as the server stops)."""
        self.closed = True
        self._unwatch()
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self._wake_all()


__all__ = ["KEEPALIVE", "Hub"]
