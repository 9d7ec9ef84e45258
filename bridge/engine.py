"""The engine: sources publish, the mapping runs once per change, devices show.

One task per source (supervised: a crash is logged and the source restarted)
and one task per device. A device task sleeps until the status changes or its
next effect step is due, so nothing runs while every look is static. A device
that fails is logged once per episode, marked unhealthy and reopened with
back-off; the others never wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bridge.backoff import Backoff
from bridge.frame import Frame
from bridge.looks import Look
from bridge.mapping import Mapped, Mapper, ShowMode, frame_for, next_wake
from bridge.model import AgentStatus, ConnectionState, SourceStatus
from bridge.sources.base import Source
from bridge.theme import Theme
from devices.base import Driver

log = logging.getLogger("agentlight.engine")
T = TypeVar("T")


@dataclass
class Device:
    """A driver plus how the engine feeds it."""

    driver: Driver
    show: ShowMode = "session"


class Engine:
    """Runs sources and devices until ``stop`` is set.

    :param clock: monotonic time, for effects; tests may pass a fake one.
    :param device_retry: (first, max) seconds between reopen attempts.
    :param on_exit: the look left on devices when stopping; None = dark.
    """

    def __init__(
        self,
        devices: Sequence[Device],
        theme: Theme,
        *,
        on_exit: Look | None = None,
        shutdown_timeout: float = 0.8,
        device_retry: tuple[float, float] = (0.5, 30.0),
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.devices = list(devices)
        self.mapper = Mapper(theme)
        self.on_exit = on_exit
        self.shutdown_timeout = shutdown_timeout
        self.clock = clock
        self._rand = rand
        self._device_retry = device_retry
        self._sources: dict[str, SourceStatus] = {}
        self.status = AgentStatus.fold(())
        self.mapped: Mapped = self.mapper.map(self.status, clock())
        self.version = 0
        self._runners = [_DeviceRunner(self, d) for d in self.devices]
        self.ready = asyncio.Event()
        self._pending_first = {r.device.driver.name for r in self._runners}

    # -- status in ----------------------------------------------------------

    def publish(self, status: SourceStatus) -> None:
        """Called by sources whenever their connection state or snapshot changes."""
        self._sources[status.name] = status
        agent = AgentStatus.fold(tuple(self._sources.values()))
        if agent == self.status:
            return
        if agent.state != self.status.state:
            detail = next(
                (
                    s.detail
                    for s in agent.sources
                    if s.connection is not ConnectionState.CONNECTED and s.detail
                ),
                None,
            )
            log.info(
                "agent: %s%s%s",
                agent.state.value,
                f" ({len(agent.sessions)} sessions)" if agent.sessions else "",
                f" — {detail}" if detail and agent.state.from_bridge else "",
            )
        elif log.isEnabledFor(logging.DEBUG):
            log.debug(
                "sessions: %s",
                ", ".join(
                    f"{s.key} {s.state.value}{f'({s.tool})' if s.tool else ''}"
                    for s in agent.sessions
                )
                or "none",
            )
        self.status = agent
        self._remap()

    def set_theme(self, theme: Theme) -> None:
        """Swap the theme at run time; devices redraw, sources are untouched."""
        self.mapper = Mapper(theme)
        self._remap()

    def _remap(self) -> None:
        try:
            self.mapped = self.mapper.map(self.status, self.clock())
        except Exception:
            # A mapping bug must not take the source down with it: keep the
            # last looks and say so.
            log.exception("mapping failed for %s; keeping the last looks", self.status.state)
            return
        self.version += 1
        for runner in self._runners:
            runner.wake.set()

    def _first_attempt_done(self, name: str) -> None:
        self._pending_first.discard(name)
        if not self._pending_first:
            self.ready.set()

    # -- lifecycle ----------------------------------------------------------

    async def run(self, sources: Sequence[Source], stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then leave devices dark (or ``on_exit``)."""
        if not self._runners:
            self.ready.set()
        tasks = [
            asyncio.create_task(self._supervise(source), name=f"source:{source.name}")
            for source in sources
        ]
        tasks += [
            asyncio.create_task(runner.run(), name=f"device:{runner.device.driver.name}")
            for runner in self._runners
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._shutdown_devices()

    async def _supervise(self, source: Source) -> None:
        backoff = Backoff(1.0, 60.0, rand=self._rand)
        while True:
            try:
                await source.run()
                log.error("source %s stopped by itself; restarting", source.name)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.exception("source %s crashed: %s", source.name, err)
            # Through the source, so its own record of what it published stays true.
            source.publish(ConnectionState.DISCONNECTED, None, "crashed")
            await asyncio.sleep(backoff.next())

    async def _shutdown_devices(self) -> None:
        async def leave(runner: _DeviceRunner) -> None:
            driver = runner.device.driver
            if not driver.is_open:
                return
            try:
                if self.on_exit is not None:
                    frame = runner.exit_frame(self.on_exit)
                    await driver.show(frame)
                    await driver.close(blank=False)
                else:
                    await driver.close(blank=True)
            except Exception as err:
                log.warning("device %s: could not leave it dark: %s", driver.name, err)

        pending = [
            asyncio.create_task(leave(r), name=r.device.driver.name) for r in self._runners
        ]
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=self.shutdown_timeout)
        for task in still:
            log.warning("device %s did not close in time", task.get_name())
            task.cancel()


class _DeviceRunner:
    """Feeds one device: show on change, step effects, reopen on failure."""

    def __init__(self, engine: Engine, device: Device) -> None:
        self.engine = engine
        self.device = device
        self.wake = asyncio.Event()
        retry_first, retry_max = engine._device_retry
        self._backoff = Backoff(retry_first, retry_max, rand=engine._rand)
        self._failing = False
        self._first = True

    # Read from the driver each time: a driver may decide at open time (a
    # terminal that turns out to be a pipe animates nothing).
    def frame(self, now: float) -> Frame:
        driver = self.device.driver
        return frame_for(
            driver.name,
            self.engine.mapped,
            now,
            show=self.device.show,
            with_sessions=driver.SHOWS_SESSIONS,
            native=driver.NATIVE_EFFECTS,
        )

    def exit_frame(self, look: Look) -> Frame:
        frame = self.frame(self.engine.clock())
        return Frame(
            device=frame.device,
            status=frame.status,
            look=look,
            color=look.color.scaled(look.brightness),
            global_look=look,
            sessions=(),
            focus=None,
            t=frame.t,
        )

    async def run(self) -> None:
        driver = self.device.driver
        timeout = driver.WRITE_TIMEOUT
        me = asyncio.current_task()
        while True:
            if me is not None and me.cancelling():
                # Python 3.11's timeouts can swallow a cancel that lands as
                # they expire; honour it here so shutdown never hangs.
                raise asyncio.CancelledError
            if not driver.is_open:
                try:
                    await _bounded(driver.open(), timeout)
                except Exception as err:
                    self._fail("cannot open", err)
                    await self._retry_pause()
                    continue
            self.wake.clear()
            now = self.engine.clock()
            try:
                frame = self.frame(now)
            except Exception:
                log.exception("device %s: cannot build a frame; waiting for a change", driver.name)
                await self.wake.wait()
                continue
            try:
                await _bounded(driver.show(frame), timeout)
            except Exception as err:
                self._fail("cannot show", err)
                await self._drop()
                await self._retry_pause()
                continue
            if self._failing:
                log.info("device %s: working again", driver.name)
                self._failing = False
                self._backoff.reset()
            if self._first:
                self._first = False
                self.engine._first_attempt_done(driver.name)
            try:
                wake_at = next_wake(
                    self.engine.mapped,
                    now,
                    show=self.device.show,
                    with_sessions=driver.SHOWS_SESSIONS,
                    max_fps=max(0.1, float(driver.MAX_FPS)),
                    native=driver.NATIVE_EFFECTS,
                )
            except Exception:
                log.exception("device %s: cannot step effects; showing them still", driver.name)
                wake_at = None
            await self._wait(wake_at)

    async def _wait(self, wake_at: float | None) -> None:
        if wake_at is None:
            await self.wake.wait()
            return
        # A timer that sets the same event, rather than asyncio.timeout(): on
        # Python 3.11 a timeout expiring as the task is cancelled can swallow
        # the cancel, and this wait runs at every effect step.
        loop = asyncio.get_running_loop()
        delay = max(0.0, wake_at - self.engine.clock())
        handle = loop.call_later(delay, self.wake.set)
        try:
            await self.wake.wait()
        finally:
            handle.cancel()

    async def _retry_pause(self) -> None:
        # Status changes don't shorten this: a dead device gains nothing from them.
        await asyncio.sleep(self._backoff.next())

    def _fail(self, what: str, err: BaseException) -> None:
        driver = self.device.driver
        reason = "timed out" if isinstance(err, TimeoutError) else str(err) or type(err).__name__
        driver.mark_unhealthy(f"{what}: {reason}")
        if not self._failing:
            self._failing = True
            log.warning(
                "device %s: %s: %s; retrying with back-off (other devices carry on)",
                driver.name,
                what,
                reason,
            )
        else:
            log.debug("device %s: still failing: %s", driver.name, reason)
        if self._first:
            self._first = False
            self.engine._first_attempt_done(driver.name)

    async def _drop(self) -> None:
        """Let go of a device that failed; closing may hang too, so bound it."""
        driver = self.device.driver
        detail = driver.health.detail
        try:
            await _bounded(driver.close(blank=False), driver.WRITE_TIMEOUT)
        except Exception as err:
            log.debug("device %s: close after failure: %s", driver.name, err)
        driver.forget()
        driver.mark_unhealthy(detail)  # the failure, not "closed", is the news


async def _bounded(aw: Awaitable[T], seconds: float) -> T:
    """Await ``aw`` for at most ``seconds`` (TimeoutError after), in this task.

    Not ``asyncio.wait_for``: on Python 3.11 it runs ``aw`` in a new task and
    swallows a cancel that arrives as ``aw`` completes.
    """
    async with asyncio.timeout(seconds):
        return await aw
