"""Tell systemd how the bridge is doing: READY, STATUS, WATCHDOG, RELOADING, STOPPING.

:class:`ServiceSupervisor` runs beside the engine on the same event loop:

- ``READY=1`` once every device that opened has shown its first look
  (``engine.ready``). A device that is missing does not hold it back: the engine
  lists it in ``engine.not_ready`` and it shows up in ``STATUS=``. Should the
  engine never get there, READY is sent after ``ready_timeout`` anyway, with the
  devices still opening named in STATUS, so a slow USB hub cannot put the unit
  into a start-timeout restart loop.
- ``STATUS=`` with the agent state and the unhealthy devices, sent only when it
  changes: the engine's ``news`` event wakes the supervisor, which waits
  ``status_every`` seconds so a burst of changes is one datagram. Nothing is
  polled: an idle bridge under systemd wakes for the watchdog alone.
- ``WATCHDOG=1`` every half ``$WATCHDOG_USEC`` (sd_watchdog_enabled(3): one late
  ping is not yet a restart), from a timer on the event loop, and only while the
  engine's supervisors are alive: a hung loop or a dead engine task stops the
  pings and systemd restarts the bridge. A crashing device or source does not:
  the engine restarts those itself.
- ``RELOADING=1`` … ``READY=1`` around :meth:`reload`, ``STOPPING=1`` from
  :meth:`stopping`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bridge.pipeline.model import ConnectionState
from bridge.service.notify import Notifier, watchdog_interval

if TYPE_CHECKING:
    from bridge.engine import Engine

log = logging.getLogger("agentlight.service")

STATUS_EVERY = 5.0
READY_TIMEOUT = 30.0


def status_text(engine: Engine, note: str = "") -> str:
    """``idle; 2 devices ok`` or ``disconnected (…); unhealthy: led (cannot open: …)``."""
    status = engine.status
    head = status.state.value
    if status.sessions:
        n = len(status.sessions)
        head += f", {n} session{'s' if n != 1 else ''}"
    if status.state.from_bridge:
        detail = next(
            (
                s.detail
                for s in status.sources
                if s.connection is not ConnectionState.CONNECTED and s.detail
            ),
            None,
        )
        if detail:
            head += f" ({detail})"
    health = engine.device_health()
    bad = [name for name, h in health.items() if not h.ok]
    if bad:
        devices = "unhealthy: " + ", ".join(
            f"{name} ({_short(health[name].detail or 'not working')})" for name in bad
        )
    else:
        devices = f"{len(health)} device{'s' if len(health) != 1 else ''} ok"
    return "; ".join(part for part in (head, devices, note) if part)


def _short(text: str, limit: int = 60) -> str:
    # Room for several devices in one STATUS line; the journal has the whole message.
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ServiceSupervisor:
    """Keeps the service manager informed while ``run()`` runs (cancel it to stop).

    :param watchdog: seconds of ``$WATCHDOG_USEC`` (pings go at half of it); None
        reads the environment.
    """

    def __init__(
        self,
        engine: Engine,
        notifier: Notifier,
        *,
        watchdog: float | None = None,
        status_every: float = STATUS_EVERY,
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        self.engine = engine
        self.notifier = notifier
        self.watchdog = watchdog if watchdog is not None else watchdog_interval()
        self.status_every = status_every
        self.ready_timeout = ready_timeout
        self.note = ""  # appended to STATUS, e.g. a refused reload
        self.is_ready = False
        self.pings = 0
        self._last_status: str | None = None
        self._withheld = False
        self._lock = asyncio.Lock()

    @classmethod
    def from_environ(cls, engine: Engine) -> ServiceSupervisor:
        return cls(engine, Notifier.from_environ())

    @property
    def enabled(self) -> bool:
        return self.notifier.enabled

    async def run(self, stop: asyncio.Event) -> None:
        """Report until ``stop`` is set, then send STOPPING=1 (devices go dark next)."""
        if not self.enabled:
            return
        tasks = [asyncio.create_task(self._ready_then_status(), name="service:status")]
        if self.watchdog:
            tasks.append(asyncio.create_task(self._watchdog(self.watchdog), name="service:wd"))
        try:
            await stop.wait()
            self.stopping()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.notifier.close()

    # -- ready and status ---------------------------------------------------

    async def _ready_then_status(self) -> None:
        self.notifier.status("starting: waiting for the first look on every device")
        await self._wait_ready("starting")
        self._send_ready()
        news = self.engine.news
        while True:
            await news.wait()
            await asyncio.sleep(self.status_every)  # what else changes meanwhile joins in
            news.clear()
            self.refresh_status()

    async def _wait_ready(self, what: str) -> None:
        try:
            async with asyncio.timeout(self.ready_timeout):
                await self.engine.ready.wait()
        except TimeoutError:
            waiting = [d.driver.name for d in self.engine.devices if d.driver.last_frame is None]
            log.warning(
                "%s: no first look after %g s on %s; telling systemd the bridge is ready anyway",
                what,
                self.ready_timeout,
                ", ".join(waiting) or "no device",
            )

    def _send_ready(self) -> None:
        text = status_text(self.engine, self._notes())
        self.notifier.ready(text)
        self._last_status = text
        self.is_ready = True

    def _notes(self) -> str:
        missing = sorted(self.engine.not_ready)
        parts = [f"not ready: {', '.join(missing)}"] if missing else []
        # Opened but no look shown yet (only after ready_timeout or a slow reload).
        waiting = sorted(
            d.driver.name
            for d in self.engine.devices
            if d.driver.last_frame is None and d.driver.name not in self.engine.not_ready
        )
        if waiting:
            parts.append(f"no look yet: {', '.join(waiting)}")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)

    def refresh_status(self) -> None:
        """Send STATUS= if it changed since the last one."""
        text = status_text(self.engine, self._notes())
        if text != self._last_status:
            self._last_status = text
            self.notifier.status(text)

    # -- watchdog -----------------------------------------------------------

    async def _watchdog(self, interval: float) -> None:
        # Half the interval, as sd_watchdog_enabled(3) advises: one late ping
        # is not yet a restart.
        period = interval / 2
        while True:
            await asyncio.sleep(period)
            if self.engine.loop_alive():
                if self._withheld:
                    log.info("engine tasks alive again; watchdog pings resume")
                    self._withheld = False
                self.notifier.watchdog()
                self.pings += 1
            elif not self._withheld:
                self._withheld = True
                log.error(
                    "an engine task has stopped; withholding watchdog pings so systemd "
                    "restarts the bridge"
                )

    # -- reload and stop ----------------------------------------------------

    async def reload(self, apply: Callable[[], Awaitable[str | None]]) -> str | None:
        """RELOADING=1, run ``apply`` (returns a refusal note or None), then READY=1.

        READY=1 waits for new devices' first look (bounded like start-up), so
        ``systemctl reload`` returns once the new config shows.
        """
        async with self._lock:
            self.notifier.reloading("reloading the config")
            refusal: str | None = "reload failed"
            try:
                refusal = await apply()
            finally:
                self.note = refusal or ""
                if self.enabled:
                    await self._wait_ready("reload")
                self._send_ready()
            return refusal

    def stopping(self) -> None:
        self.notifier.stopping("stopping: devices going dark")
