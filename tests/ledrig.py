"""Helpers for LED driver tests: statuses in one line, and an engine on virtual time.

The drivers are the real ones on their libraries' own test harnesses (gpiozero's
MockFactory, a pty, busylight-core Hardware records); only the clock is fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bridge.engine import Device, Engine
from bridge.pipeline.model import ConnectionState, SourceStatus
from bridge.pipeline.theme import default_theme
from devices.base import Driver
from tests.frames import make_source

SOURCE = "pp"


def status(
    *sessions: tuple[str, str] | tuple[str, str, str], state: str = "active"
) -> SourceStatus:
    """A connected source with these ``(key, state[, tool])`` sessions."""
    return make_source(SOURCE, state, sessions)


def disconnected() -> SourceStatus:
    return make_source(SOURCE, connection=ConnectionState.DISCONNECTED, detail="test")


class EngineRun:
    """An engine over ``drivers`` running on the current (virtual) loop until ``stop()``."""

    def __init__(
        self,
        drivers: Sequence[Driver],
        show: str = "session",
        *,
        retry: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        loop = asyncio.get_running_loop()
        self.engine = Engine(
            [Device(d, show) for d in drivers],  # type: ignore[arg-type]
            default_theme(),
            clock=loop.time,
            device_retry=retry,
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def publish(self, source_status: SourceStatus) -> None:
        self.engine.publish(source_status)

    def start(self) -> None:
        self._task = asyncio.create_task(self.engine.run([], self._stop))

    async def stop(self) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task
