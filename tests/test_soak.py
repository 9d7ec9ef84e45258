"""Issue 10 §7: a soak in simulated time.

Hours of agent activity, thousands of sessions coming and going, server
outages, dropped and broken streams, rate limits and an unplugged device run
through the real code paths (simulator on 127.0.0.1, PocketPaw source over
real HTTP, Engine, mock devices) on the virtual clock of :mod:`harness.vclock`,
so they take seconds. Between the end of the first simulated hour and the end
of the last, memory (tracemalloc), asyncio tasks and open file descriptors
must not grow, and the devices must still show the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import random
import re
import sys
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from bridge.engine import Device, Engine
from bridge.infra.errors import DriverUnavailable
from bridge.pipeline.frame import Frame
from bridge.pipeline.looks import Effect
from bridge.pipeline.model import GlobalState
from bridge.pipeline.theme import default_theme
from bridge.simulator import STATUS_PATH, STREAM_PATH, Fault, SimAgent, SimServer
from bridge.sources.pocketpaw.options import Options
from bridge.sources.pocketpaw.source import PocketPawSource
from devices.mock import MockDriver, MockOptions
from harness.vclock import run_virtual, vloop

HOUR = 3600.0
# End of hour 1 (the reference), end of hour 2 (tracing starts), ten minutes later
# (the traced baseline: every long-lived object replaced under tracing), end of hour 3.
CHECKPOINTS = (HOUR, 2 * HOUR, 2 * HOUR + 600.0, 3 * HOUR)
TRACE_AFTER = 1
CHANNELS = ("websocket", "discord", "telegram", "slack")
TOOLS = ("bash", "web_search", "read_file", "python", "edit")
WALL_EPOCH = 1_700_000_000.0


class Native(MockDriver):
    """Runs every effect itself (like the record driver): one frame per change."""

    # No room for sessions: MockDriver's own slots option (0) decides that.
    CAPS = replace(MockDriver.CAPS, native_effects=frozenset(Effect))


class Unpluggable(Native):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.plugged = True

    async def _open(self) -> None:
        if not self.plugged:
            raise DriverUnavailable(f"{self.name}: no such device")
        await super()._open()

    async def _show(self, frame: Frame) -> None:
        if not self.plugged:
            raise DriverUnavailable(f"{self.name}: device went away")
        await super()._show(frame)


@dataclass
class Checkpoint:
    blocks: int  # sys.getallocatedblocks(): every live small object, traced or not
    traced: int | None  # tracemalloc's current size, from the end of hour 1 on
    tasks: int
    fds: int
    sockets: int


@dataclass
class Tally:
    sessions: int = 0
    events: int = 0
    outages: int = 0
    faults: int = 0
    unplugs: int = 0
    checkpoints: list[Checkpoint] = field(default_factory=list)


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@contextmanager
def quiet_logs() -> Iterator[_Count]:
    """Thousands of reconnect warnings must not pile up in pytest's log capture
    (that would be growth the test made itself); count them instead."""
    counter = _Count()
    loggers = [logging.getLogger(n) for n in ("agentlight", "bridge", "httpx", "httpcore")]
    saved = [(lg, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.propagate = False
    loggers[0].addHandler(counter)
    try:
        yield counter
    finally:
        loggers[0].removeHandler(counter)
        for lg, propagate in saved:
            lg.propagate = propagate


def open_fds() -> tuple[int, int]:
    names = os.listdir("/proc/self/fd")
    sockets = 0
    for name in names:
        with contextlib.suppress(OSError):  # the listing's own fd, closed by now
            sockets += os.readlink(f"/proc/self/fd/{name}").startswith("socket:")
    return len(names), sockets


def test_hours_of_churn_reconnects_and_faults_leak_nothing() -> None:
    tally = Tally()
    with quiet_logs() as warnings:
        run_virtual(lambda: soak(tally), real_budget=90.0)
    first, baseline, last = tally.checkpoints[0], tally.checkpoints[2], tally.checkpoints[-1]
    assert baseline.traced is not None and last.traced is not None
    traced_growth = last.traced - baseline.traced
    block_growth = last.blocks - first.blocks
    report = f"{tally}; traced growth {traced_growth} B, block growth {block_growth}"
    # Real churn went through: thousands of sessions, outages, faults, unplugs.
    assert tally.sessions >= 2000, report
    assert tally.outages >= 2 and tally.faults >= 15 and tally.unplugs >= 5, report
    assert warnings.count >= 20, report  # the faults were seen (and logged) as such
    # Nothing grows from the first hour to the last: tasks, descriptors, memory.
    assert last.tasks <= first.tasks, report
    assert last.fds <= first.fds and last.sockets <= first.sockets, report
    # A leak of one small object per session would be thousands of blocks and tens
    # of KiB by now; what is left is the noise of which objects happen to be alive.
    assert block_growth < 500, report
    assert traced_growth < 32 * 1024, report


async def soak(tally: Tally) -> None:
    loop = vloop()
    rng = random.Random(20240610)
    agent = SimAgent(clock=loop.time, error_ttl=30.0)
    server = SimServer(agent, debounce=1.0, keepalive=30.0)
    await server.start()
    steady = Native("steady")
    animated = MockDriver("animated", MockOptions(fps=0.5))
    flaky = Unpluggable("flaky")
    engine = Engine(
        [Device(steady), Device(animated, show="global"), Device(flaky)],
        default_theme(),
        clock=loop.time,
        rand=rng.random,
    )
    source = PocketPawSource(
        "pp",
        Options(url=server.url),  # the real defaults: stale_after 75 s, error_ttl 30 s, ...
        engine.publish,
        clock=lambda: WALL_EPOCH + loop.time(),
        rand=rng.random,
    )
    stop = asyncio.Event()
    bridge = asyncio.create_task(engine.run([source], stop))
    live: dict[str, str] = {}  # session key -> what it is doing
    background: set[asyncio.Task[None]] = set()

    def later(coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        background.add(task)
        task.add_done_callback(background.discard)

    async def outage(seconds: float) -> None:
        await server.stop()
        await asyncio.sleep(seconds)
        await server.start()

    async def unplugged(seconds: float) -> None:
        flaky.plugged = False
        await asyncio.sleep(seconds)
        flaky.plugged = True

    def agent_event() -> None:
        tally.events += 1
        if len(live) < 2 or (len(live) < 6 and rng.random() < 0.35):
            tally.sessions += 1
            key = f"{rng.choice(CHANNELS)}:s{tally.sessions}"
            agent.agent_start(key, f"task {tally.sessions}")
            live[key] = "thinking"
            return
        key = rng.choice(list(live))
        roll = rng.random()
        if live[key] == "error" or roll < 0.3:
            agent.agent_end(key)
            del live[key]
        elif roll < 0.55:
            agent.tool_start(key, rng.choice(TOOLS))
            live[key] = "tool"
        elif roll < 0.72:
            agent.tool_result(key)
        elif roll < 0.8:
            agent.ask_user_question(key)
        elif roll < 0.9:
            agent.thinking(key)
            agent.token_usage(key, rng.randrange(5000), rng.randrange(500))
        elif roll < 0.96:
            agent.token_usage(key, rng.randrange(5000), rng.randrange(500))
        else:
            agent.error(key, "rate limited")
            live[key] = "error"  # dropped silently by the server 30 s later

    def network_fault() -> None:
        tally.faults += 1
        kind = rng.choice(["drop", "reset", "half", "die", "hang", "500", "429", "garbage", "rest"])
        if kind == "drop":
            later(server.drop_streams())
            return
        fault = {
            "reset": Fault("reset", path=STREAM_PATH),
            "half": Fault("half_frame", path=STREAM_PATH),  # caught by stale_after (75 s)
            "die": Fault("die_mid_frame", path=STREAM_PATH),
            "hang": Fault("hang"),
            "500": Fault("status", status=500),
            "429": Fault("status", status=429, headers={"Retry-After": "5"}),
            "garbage": Fault("garbage", path=STREAM_PATH, payload=b"event: status\ndata: {\n\n"),
            "rest": Fault("garbage", path=STATUS_PATH, payload=b"<html>"),
        }[kind]
        server.faults.append(fault)
        later(server.drop_streams())

    def truth() -> tuple[GlobalState, list[str]]:
        snap = agent.snapshot()
        return GlobalState(snap["global"]["state"]), [s["session_key"] for s in snap["sessions"]]

    def shows_truth(driver: MockDriver) -> bool:
        frame = driver.last_frame
        state, keys = truth()
        return (
            frame is not None
            and frame.state is state
            and [s.key for s in frame.status.sessions] == keys
        )

    async def settle() -> None:
        """End every fault, restart the server, wait until every device shows the truth.

        The restart makes each checkpoint alike: one fresh stream, no idle pooled
        connection left over from a reconcile request.
        """
        await asyncio.gather(*background)
        server.faults.clear()
        flaky.plugged = True
        await server.stop()
        await server.start()
        streams = server.requests[STREAM_PATH]

        def settled() -> bool:
            return (
                server.requests[STREAM_PATH] > streams
                and server.open_streams == 1
                and source.status is not None
                and source.status.detail == "stream"
                and all(shows_truth(d) for d in (steady, animated, flaky))
            )

        async with asyncio.timeout(600):
            while not settled():  # noqa: ASYNC110 - polled in virtual seconds, which are free
                await asyncio.sleep(1.0)
        await asyncio.sleep(5.0)  # closed connections' handler tasks finish

    async def checkpoint() -> None:
        await settle()
        for driver in (steady, animated, flaky):
            driver.clear()  # the mocks' own history is test scaffolding, not the bridge's
        # CPython's own bounded caches fill slowly over hours and look like growth:
        # the type attribute cache keeps up to 4096 attribute-name strings (httpcore's
        # `import sniffio` attempt makes a new one per request), and re's pattern cache.
        sys._clear_type_cache()
        re.purge()
        gc.collect()  # also empties the free lists
        traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None
        fds, sockets = open_fds()
        tally.checkpoints.append(
            Checkpoint(sys.getallocatedblocks(), traced, len(asyncio.all_tasks()), fds, sockets)
        )

    try:
        for index, at in enumerate(CHECKPOINTS):
            while loop.time() < at - 120:  # the last two minutes before each are calm
                await asyncio.sleep(rng.expovariate(1 / 0.6))
                agent_event()
                roll = rng.random()
                if roll < 0.002:
                    network_fault()
                elif roll < 0.0023 and server._server is not None:
                    tally.outages += 1
                    later(outage(rng.uniform(5, 180)))
                elif roll < 0.0028 and flaky.plugged:
                    tally.unplugs += 1
                    later(unplugged(rng.uniform(1, 120)))
            await checkpoint()
            if index == TRACE_AFTER:
                tracemalloc.start()
    finally:
        tracemalloc.stop()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        stop.set()
        await bridge
        await server.stop()
