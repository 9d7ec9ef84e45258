"""Shared pieces for AgP tests: a source on the running loop, wired to a recorder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bridge.infra.threads import Inline
from bridge.pipeline.model import Session, SourceStatus
from bridge.simulator.agp import AgpServer, SimAgp
from bridge.sources.agp.options import Options
from bridge.sources.agp.source import AgpSource
from harness.vclock import VirtualClockLoop
from tests.conftest import Recorder
from tests.rig import TimedTransport

KEY = "test-key-5f1c"


def keys(status: SourceStatus) -> list[str]:
    return [s.key for s in status.snapshot.sessions] if status.snapshot else []


def session(status: SourceStatus, key: str) -> Session | None:
    if status.snapshot is None:
        return None
    return next((s for s in status.snapshot.sessions if s.key == key), None)


def raw(status: SourceStatus) -> dict[str, str]:
    """Session key -> AgP status name, for the sessions a status shows."""
    return {s.key: s.raw_state for s in status.snapshot.sessions} if status.snapshot else {}


@dataclass
class Watcher:
    source: AgpSource
    rec: Recorder
    transport: TimedTransport
    task: asyncio.Task[None]

    def times(self, session_id: str) -> list[float]:
        return self.transport.times(f"/api/v2/sessions/{session_id}/status")


@asynccontextmanager
async def watching(
    server: AgpServer, *, rand: float = 1.0, **options: Any
) -> AsyncIterator[Watcher]:
    """An AgpSource polling ``server``; the wall clock is the loop's (virtual) clock."""
    loop = asyncio.get_running_loop()
    rec = Recorder()
    transport = TimedTransport()
    options = {"url": server.url, "api_key": KEY, **options}
    source = AgpSource(
        "agp",
        Options(**options),
        rec,
        clock=loop.time,
        rand=lambda: rand,
        transport=transport,
        # The virtual clock cannot wait for a thread; the thread is tested on a real one.
        files=Inline() if isinstance(loop, VirtualClockLoop) else None,
    )
    task = asyncio.create_task(source.run())
    try:
        yield Watcher(source, rec, transport, task)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def agp_server(agp: SimAgp | None = None, **kw: Any) -> AsyncIterator[AgpServer]:
    async with AgpServer(agp or SimAgp(), api_key=kw.pop("api_key", KEY), **kw) as server:
        yield server


@asynccontextmanager
async def watched(
    states: dict[str, str], **options: Any
) -> AsyncIterator[tuple[SimAgp, AgpServer, Watcher]]:
    """Sessions ``{id: AgP status}`` on a simulator, watched by a source that has seen them."""
    agp = SimAgp()
    for session_id, status in states.items():
        agp.create(session_id, status)
    async with agp_server(agp) as server, watching(server, sessions=tuple(states), **options) as w:
        await w.rec.wait_for(lambda s: raw(s) == states, within=10)
        yield agp, server, w
