"""The one engine harness: an Engine over drivers (and sources) on the running loop.

Its clock is the loop's, so on :func:`harness.vclock.run_virtual` effects, refresh
and back-off run on virtual time, and on an ordinary loop on real time. Statuses
for it in one line: :func:`status` and :func:`disconnected`. LED driver tests run
the real drivers on their libraries' own test harnesses (gpiozero's MockFactory, a
pty, busylight-core Hardware records); only the clock is the loop's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from bridge.engine import Device, Engine
from bridge.pipeline.answers import Decision
from bridge.pipeline.mapping import ShowMode
from bridge.pipeline.model import ConnectionState, GlobalState, Session, Snapshot, SourceStatus
from bridge.pipeline.theme import default_theme
from bridge.sources.base import Source
from devices.base import Driver
from tests.frames import make_source

SOURCE = "pp"


def status(
    *sessions: tuple[str, str] | tuple[str, str, str | None], state: str = "active"
) -> SourceStatus:
    """A connected source with these ``(key, state[, tool])`` sessions."""
    return make_source(SOURCE, state, sessions)


def disconnected() -> SourceStatus:
    return make_source(SOURCE, connection=ConnectionState.DISCONNECTED, detail="test")


class Recording(Source):
    """A source that publishes the sessions it is given and records the decisions
    the engine hands it (answering each with ``fail``: None is sent)."""

    TYPE = "answering"

    def __init__(
        self,
        publish: Callable[[SourceStatus], None],
        name: str = "hooks",
        *,
        fail: str | None = None,
    ) -> None:
        super().__init__(name, None, publish)
        self.decisions: list[Decision] = []
        self.fail = fail
        self._got = asyncio.Event()

    async def run(self) -> None:
        await asyncio.Event().wait()

    def show(self, *sessions: Session) -> None:
        snapshot = Snapshot(GlobalState.ACTIVE, sessions, len(sessions))
        self.publish(ConnectionState.CONNECTED, snapshot)

    async def answer(self, decision: Decision) -> str | None:
        self.decisions.append(decision)
        self._got.set()
        return self.fail

    async def decided(self, within: float = 5.0) -> Decision:
        """The next decision the source is handed (TimeoutError after ``within`` seconds)."""
        async with asyncio.timeout(within):
            await self._got.wait()
        self._got.clear()
        return self.decisions[-1]


class EngineRun:
    """An engine over ``drivers`` until :meth:`stop` (or the end of ``async with``).

    :param drivers: drivers shown ``show``, or :class:`Device` entries of their own.
    :param retry: the engine's device back-off (first, max) seconds.
    :param sources: run beside the devices.
    :param engine_options: more ``Engine`` keywords (``rand``, ``on_exit``, …).
    """

    def __init__(
        self,
        drivers: Sequence[Driver | Device],
        show: ShowMode = "session",
        *,
        retry: tuple[float, float] = (0.5, 30.0),
        sources: Sequence[Source] = (),
        **engine_options: Any,
    ) -> None:
        engine_options.setdefault("clock", asyncio.get_running_loop().time)
        self.engine = Engine(
            [d if isinstance(d, Device) else Device(d, show) for d in drivers],
            default_theme(),
            device_retry=retry,
            **engine_options,
        )
        self.sources = list(sources)
        #: Set by :meth:`stop`; what else runs beside the engine may stop on it too.
        self.stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def publish(self, source_status: SourceStatus) -> None:
        self.engine.publish(source_status)

    def start(self) -> EngineRun:
        self._task = asyncio.create_task(self.engine.run(self.sources, self.stopping))
        return self

    async def stop(self, within: float = 5.0) -> None:
        """Stop it and wait (a hung shutdown fails the test after ``within`` seconds)."""
        self.stopping.set()
        if self._task is not None and not self._task.done():
            async with asyncio.timeout(within):
                await self._task

    async def __aenter__(self) -> EngineRun:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
