"""A whole bridge for fault tests: a PocketPaw source and mock devices behind the Engine.

:class:`Rig` wires :class:`~bridge.sources.pocketpaw.source.PocketPawSource` to an
:class:`~bridge.engine.Engine` with mock drivers, records every status the
source publishes (with the loop's time) and every request it makes, and on
:meth:`Rig.finish` checks that nothing crashed on the way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bridge.engine import Device, Engine
from bridge.pipeline.frame import Frame
from bridge.pipeline.model import GlobalState, SourceStatus
from bridge.pipeline.theme import default_theme
from bridge.simulator import STREAM_PATH, Fault, SimAgent, SimServer
from bridge.sources.pocketpaw.options import Options
from bridge.sources.pocketpaw.source import PocketPawSource
from devices.base import Driver
from devices.mock import MockDriver
from harness.vclock import run_virtual, vloop
from tests.conftest import eventually


class TimedTransport(httpx.AsyncHTTPTransport):
    """Real HTTP, plus the loop time and path of every request sent."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent: list[tuple[float, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((asyncio.get_running_loop().time(), request.url.path))
        return await super().handle_async_request(request)

    def times(self, path: str) -> list[float]:
        return [t for t, p in self.sent if p == path]


class CrashWatch(logging.Handler):
    """Keeps engine and source records that mean something crashed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.crashes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info or "crashed" in text or "stopped by itself" in text:
            self.crashes.append(text)


@dataclass
class Rig:
    engine: Engine
    source: PocketPawSource
    transport: TimedTransport
    stop: asyncio.Event
    task: asyncio.Task[None]
    watch: CrashWatch
    published: list[tuple[float, SourceStatus]] = field(default_factory=list)

    @property
    def mock(self) -> MockDriver:
        driver = self.engine.devices[0].driver
        assert isinstance(driver, MockDriver)
        return driver

    def mark(self) -> int:
        """Index into the first device's frames, to wait only for what comes next."""
        return len(self.mock.shown)

    async def shows(
        self,
        state: str,
        *,
        start: int = 0,
        within: float = 5.0,
        where: Callable[[Frame], object] = lambda f: True,
    ) -> Frame:
        """The first frame of the first device in ``state`` (and matching ``where``)."""
        want = GlobalState(state)
        return await self.mock.wait_for(
            lambda f: f.state is want and where(f), timeout=within, start=start
        )

    def states(self) -> list[str]:
        """Global states the first device showed, repeats collapsed."""
        out: list[str] = []
        for frame in self.mock.frames:
            if not out or out[-1] != frame.state.value:
                out.append(frame.state.value)
        return out

    async def finish(self, within: float = 2.0) -> None:
        """Stop the bridge; fail if it does not stop in time or anything crashed."""
        self.stop.set()
        async with asyncio.timeout(within):
            await self.task
        logging.getLogger("agentlight").removeHandler(self.watch)
        assert not self.watch.crashes, self.watch.crashes


async def start_rig(
    url: str,
    *,
    devices: Sequence[Driver] | None = None,
    device_retry: tuple[float, float] = (0.01, 0.05),
    clock: Callable[[], float] | None = None,
    wall: Callable[[], float] | None = None,
    rand: Callable[[], float] | None = None,
    **options: Any,
) -> Rig:
    """Start Engine + PocketPawSource(url) on the running loop."""
    loop = asyncio.get_running_loop()
    watch = CrashWatch()
    logging.getLogger("agentlight").addHandler(watch)
    drivers = list(devices) if devices is not None else [MockDriver("mock")]
    engine_kw: dict[str, Any] = {"device_retry": device_retry}
    if clock is not None:
        engine_kw["clock"] = clock
    if rand is not None:
        engine_kw["rand"] = rand
    engine = Engine([Device(d) for d in drivers], default_theme(), **engine_kw)
    published: list[tuple[float, SourceStatus]] = []

    def publish(status: SourceStatus) -> None:
        published.append((loop.time(), status))
        engine.publish(status)

    transport = TimedTransport()
    source_kw: dict[str, Any] = {"transport": transport}
    if wall is not None:
        source_kw["clock"] = wall
    if rand is not None:
        source_kw["rand"] = rand
    options.setdefault("events", "off")  # the status stream alone unless a test asks
    source = PocketPawSource("pp", Options(url=url, **options), publish, **source_kw)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run([source], stop))
    return Rig(engine, source, transport, stop, task, watch, published)


async def start_bus_rig(url: str, clock: Callable[[], float], **options: Any) -> Rig:
    """:func:`start_rig` on ``clock`` (engine and source alike), reading PocketPaw's event
    bus too: returned once it shows idle and the bus is live."""
    rig = await start_rig(url, clock=clock, wall=clock, events="on", **options)
    await rig.shows("idle", within=60)
    await eventually(lambda: rig.source.events_live)
    return rig


def stream_back_off(faults: Iterable[Fault], **options: Any) -> tuple[Rig, Frame]:
    """A bridge on the virtual clock whose status stream meets ``faults`` first.

    Runs until the bridge shows idle; returns the rig (stopped) and that frame.
    Back-off delays are at their full value (``rand`` = 1) and the source stays
    on the stream (no REST fallback): what is measured is the stream's back-off.
    """

    async def main() -> tuple[Rig, Frame]:
        loop = vloop()
        agent = SimAgent(clock=loop.time)
        async with SimServer(agent, debounce=1.0, keepalive=30.0) as server:
            for fault in faults:
                fault.path = STREAM_PATH
                server.faults.append(fault)
            rig = await start_rig(
                server.url,
                clock=loop.time,
                rand=lambda: 1.0,
                reconnect_min=0.5,
                reconnect_max=30.0,
                fallback_after=100,
                **options,
            )
            frame = await rig.shows("idle", within=600)
            await rig.finish()
            return rig, frame

    return run_virtual(main)
