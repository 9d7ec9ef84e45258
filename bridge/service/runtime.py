"""The service side of ``agentlight run``: systemd notification plus reload on SIGHUP.

``run_bridge`` creates one :class:`ServiceRuntime` per engine, runs
:meth:`ServiceRuntime.run` beside it and hands :meth:`ServiceRuntime.request_reload`
to the SIGHUP handler. Without ``$NOTIFY_SOCKET`` nothing is sent anywhere and
SIGHUP still reloads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bridge.service.notify import Notifier
from bridge.service.reload import Reloader
from bridge.service.supervisor import ServiceSupervisor

if TYPE_CHECKING:
    from bridge.api.options import ApiOptions
    from bridge.engine import Engine
    from bridge.infra.config import Config

log = logging.getLogger("agentlight.service")


class ServiceRuntime:
    """Ties the engine to systemd and to reloads.

    :param load: reads the config file again; None when the bridge runs the
        built-in config (then SIGHUP has nothing to re-read).
    :param notifier: where sd_notify messages go; default ``$NOTIFY_SOCKET``.
    """

    def __init__(
        self,
        engine: Engine,
        config: Config,
        *,
        load: Callable[[], Config] | None = None,
        notifier: Notifier | None = None,
        watchdog: float | None = None,
        on_log_level: Callable[[str], None] | None = None,
        on_api: Callable[[ApiOptions | None], Awaitable[None]] | None = None,
        **supervisor_options: float,
    ) -> None:
        self.engine = engine
        self.supervisor = ServiceSupervisor(
            engine,
            notifier if notifier is not None else Notifier.from_environ(),
            watchdog=watchdog,
            **supervisor_options,
        )
        self.reloader = (
            Reloader(engine, config, load, on_log_level=on_log_level, on_api=on_api)
            if load is not None
            else None
        )
        self._reload_task: asyncio.Task[None] | None = None
        self._again = False

    async def run(self, stop: asyncio.Event) -> None:
        """Report to systemd until ``stop`` (STOPPING=1 then); finish a reload under way."""
        try:
            await self.supervisor.run(stop)
        finally:
            task = self._reload_task
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def request_reload(self) -> None:
        """From the SIGHUP handler: reload now, or once more after the one under way."""
        if self._reload_task is not None and not self._reload_task.done():
            self._again = True
            return
        self._reload_task = asyncio.create_task(self._reload_loop(), name="service:reload")

    async def reload(self) -> str | None:
        """Re-read and apply the config (RELOADING=1 … READY=1); None or why it was refused."""
        reloader = self.reloader
        if reloader is None:

            async def nothing() -> str | None:
                log.warning("reload: started without -c, so there is no config file to re-read")
                return None

            return await self.supervisor.reload(nothing)
        return await self.supervisor.reload(reloader.reload)

    async def _reload_loop(self) -> None:
        while True:
            self._again = False
            try:
                await self.reload()
            except Exception:
                log.exception("reload failed; the running config carries on")
            if not self._again:
                return
