"""Shared fixtures: the built-in simulator on 127.0.0.1 and a source wired to a recorder."""

from __future__ import annotations

import asyncio
import io
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from hypothesis import settings

from bridge.pipeline.model import ConnectionState, GlobalState, SourceStatus
from bridge.simulator import SimAgent, SimServer
from bridge.sources.pocketpaw.options import API_KEY_ENV, TOKEN_ENV, Options
from bridge.sources.pocketpaw.source import PocketPawSource

# CI runs the same examples every time: a failure there is one anybody can replay.
settings.register_profile("ci", derandomize=True, print_blob=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Short enough for a fast suite, long enough for a loaded CI machine.
FAST = {
    "reconnect_min": 0.01,
    "reconnect_max": 0.05,
    "poll_interval": 0.05,
    "stream_retry": 0.3,
    "auth_retry": 0.05,
    "connect_timeout": 2.0,
    "request_timeout": 2.0,
    # These tests are about the status stream; the event-bus fast path has its own
    # (test_pocketpaw_events.py) and is switched on there.
    "events": "off",
}


class Recorder:
    """Collects what a source publishes; ``wait_for`` checks past and future statuses."""

    def __init__(self) -> None:
        self.statuses: list[SourceStatus] = []
        self._event = asyncio.Event()

    def __call__(self, status: SourceStatus) -> None:
        self.statuses.append(status)
        event, self._event = self._event, asyncio.Event()
        event.set()

    @property
    def last(self) -> SourceStatus:
        return self.statuses[-1]

    def mark(self) -> int:
        return len(self.statuses)

    async def wait_for(
        self, predicate: Callable[[SourceStatus], object], within: float = 5.0, start: int = 0
    ) -> SourceStatus:
        index = start
        try:
            async with asyncio.timeout(within):
                while True:
                    event = self._event
                    while index < len(self.statuses):
                        status = self.statuses[index]
                        index += 1
                        if predicate(status):
                            return status
                    await event.wait()
        except TimeoutError:
            seen = [describe(s) for s in self.statuses[start:]]
            raise AssertionError(f"no matching status; seen: {seen}") from None

    async def wait_state(self, state: str, start: int = 0, **kw: Any) -> SourceStatus:
        want = GlobalState(state)
        return await self.wait_for(lambda s: s.global_state is want, start=start, **kw)


def describe(status: SourceStatus) -> str:
    sessions = status.snapshot.sessions if status.snapshot else ()
    inner = ",".join(
        f"{s.key}:{s.state.value}" + (f"({s.tool})" if s.tool else "") for s in sessions
    )
    return f"{status.connection.value}/{status.global_state.value}[{inner}] {status.detail or ''}"


class ManualClock:
    """The one hand-moved clock, for code that reads a clock but runs no event loop
    (code on an event loop gets the virtual one, :mod:`harness.vclock`).

    ``t`` is seconds since the start; :meth:`mono` (also the call) counts from
    1000, :meth:`wall` from ``epoch``, so code that reads both sees one time.
    """

    def __init__(self, epoch: float = 1_700_000_000.0) -> None:
        self.t = 0.0
        self.epoch = epoch

    def __call__(self) -> float:
        return self.mono()

    def mono(self) -> float:
        return 1000.0 + self.t

    def wall(self) -> float:
        return self.epoch + self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class FakeTTY(io.StringIO):
    """The one fake terminal: a StringIO that says it is a tty and signals every write."""

    def __init__(self) -> None:
        super().__init__()
        self.written = threading.Event()

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        n = super().write(s)
        self.written.set()
        return n


async def eventually(condition: Callable[[], object], within: float = 5.0) -> None:
    """Wait until ``condition()`` holds, for counters that have no event to wait on.

    Checks every few milliseconds and fails after ``within`` seconds; it never
    decides a result by how long something took.
    """
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - a counter, not an event
            await asyncio.sleep(0.005)


def connected(status: SourceStatus) -> bool:
    return status.connection is ConnectionState.CONNECTED


@pytest.fixture(autouse=True)
def _no_credentials_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)


@pytest.fixture
async def agent() -> SimAgent:
    return SimAgent()


@pytest.fixture
async def server(agent: SimAgent) -> AsyncIterator[SimServer]:
    async with SimServer(agent, debounce=0.01, keepalive=0.1) as srv:
        yield srv


#: What the ``run_source`` fixture gives a test: ``await run_source(url, **options)``.
RunSource = Callable[..., Awaitable[tuple[PocketPawSource, "Recorder"]]]


@pytest.fixture
async def run_source() -> AsyncIterator[RunSource]:
    tasks: list[asyncio.Task[None]] = []

    async def start(url: str, **options: Any) -> tuple[PocketPawSource, Recorder]:
        recorder = Recorder()
        source = PocketPawSource("pp", Options(url=url, **{**FAST, **options}), recorder)
        tasks.append(asyncio.create_task(source.run()))
        return source, recorder

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
