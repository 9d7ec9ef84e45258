"""The composition root: sources, devices and engine built from a config, and the bridge run.

The commands (``bridge.commands``) build through here; nothing here imports a
command, so the pieces stay usable on their own (the tests, an embedding program).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bridge.engine import Device, Engine
from bridge.infra.config import Config, load_config
from bridge.infra.signals import SIGNALS

if TYPE_CHECKING:
    from bridge.api.host import ApiHost
    from bridge.api.options import ApiOptions
    from bridge.pipeline.model import SourceStatus

log = logging.getLogger("agentlight")

__all__ = [
    "FIRST_LOOK_WAIT",
    "build_devices",
    "build_engine",
    "build_sources",
    "run_bridge",
]


def build_engine(config: Config, *, hints: bool = False) -> tuple[Engine, list[Any]]:
    """Drivers, engine and sources for ``config`` (raises ConfigError before anything starts).

    :param hints: say once what to try when a source cannot reach its server.
    """
    engine = build_devices(config)
    return engine, build_sources(config, engine.publish, hints=hints)


def build_devices(config: Config) -> Engine:
    """The engine with the drivers of ``config`` and no sources yet."""
    from devices import driver_class

    devices = []
    for d in config.devices:
        driver = driver_class(d.type)(d.name, d.options)
        driver.override_caps(fps=d.fps, refresh=d.refresh)
        devices.append(Device(driver, d.show))
    return Engine(
        devices,
        config.theme,
        on_exit=config.on_exit,
        shutdown_timeout=config.shutdown_timeout,
        answers=config.answers,
    )


def build_sources(
    config: Config, publish: Callable[[SourceStatus], None], *, hints: bool = False
) -> list[Any]:
    """The sources of ``config`` (this imports their modules: HTTP stacks, MQTT).

    :param hints: a source's line about a failure ends, the first time, with what
        to try (its family's hint; see :class:`~bridge.sources.hints.Hints`).
    """
    from bridge.sources import source_class

    if not hints:
        return [source_class(s.type)(s.name, s.options, publish) for s in config.sources]
    from bridge.sources.hints import Hints

    advice = Hints(config, publish)
    sources = [source_class(s.type)(s.name, s.options, advice) for s in config.sources]
    for source in sources:
        source.advise = advice.once
    return sources


# A device that has not shown its first look by then is waiting for hardware (an
# Arduino resetting on open, a slow USB open): the sources start without it.
FIRST_LOOK_WAIT = 0.25


async def run_bridge(
    config: Config,
    stop: asyncio.Event | None = None,
    *,
    on_engine: Callable[[Engine], None] | None = None,
    hints: bool = False,
    on_log_level: Callable[[str], None] | None = None,
    on_api: Callable[[ApiHost], None] | None = None,
) -> int:
    """Run ``config`` until SIGINT/SIGTERM (or ``stop``); devices are left dark.

    Devices show their first look ("connecting") before the sources are built:
    importing a source's HTTP stack is most of the start-up on a Pi Zero, and the
    devices need none of it. Until the sources run, each is shown with the status
    it starts with, so what the devices show is the same, only sooner.

    Under systemd the bridge reports READY, STATUS and watchdog pings, and
    SIGHUP re-reads the config file (``on_log_level`` gets a changed log level).

    With ``[api]`` the local HTTP API starts once the sources run (its library
    is imported then, never without it), and a reload adds, changes or removes
    it; ``on_api`` gets its :class:`~bridge.api.host.ApiHost` when it is made.
    Returns 1 when the API cannot listen.
    """
    from bridge.service.notify import under_service_manager
    from bridge.service.runtime import ServiceRuntime
    from bridge.sources import starting_status

    stop = stop or asyncio.Event()
    if SIGNALS.stop_requested:
        return 0  # asked to stop while starting: nothing was opened yet
    started = time.monotonic()
    engine = build_devices(config)
    api: list[ApiHost] = []  # made on first use: no [api], nothing of it imported

    async def apply_api(options: ApiOptions | None) -> None:
        if not api:
            if options is None:
                return
            from bridge.api.host import ApiHost

            api.append(ApiHost(engine, started=started))
            route_hooks(api[0], engine)
            if on_api is not None:
                on_api(api[0])
        await api[0].apply(options)

    for s in config.sources:
        engine.publish(starting_status(s.name, s.type, s.options))
    if on_engine is not None:
        on_engine(engine)
    file = config.file
    service = ServiceRuntime(
        engine,
        config,
        load=(lambda: load_config(file)) if file and not file.startswith("<") else None,
        on_log_level=on_log_level,
        on_api=apply_api,
    )
    # systemctl reload; in a terminal SIGHUP still stops (the terminal went away).
    reloads = service.reloader is not None and under_service_manager()
    asked: list[bool] = []
    status = 0
    if reloads:
        # READY may go out before the sources run: a reload asked for by then
        # waits for them (a reload compares the running sources with the file).
        SIGNALS.set_reload(functools.partial(asked.append, True))
    try:
        with SIGNALS.attached(stop):
            reporter = asyncio.create_task(service.run(stop), name="service")
            running = asyncio.create_task(engine.run([], stop), name="engine")
            try:
                try:
                    await _start_sources(engine, config, hints, stop)
                    if config.api is not None and not stop.is_set():
                        status = await _start_api(apply_api, config.api)
                except Exception:
                    # A source or the API that cannot start (its credentials, a
                    # missing library) ends the run as it did before anything was
                    # shown: devices dark, whatever on_exit says.
                    engine.on_exit = None
                    raise
                if status:
                    engine.on_exit = None
                    stop.set()
                if reloads:
                    SIGNALS.set_reload(service.request_reload)
                    if asked:
                        service.request_reload()
                await running
            finally:
                stop.set()
                # The API goes first: its clients see the stream end, and the
                # discovery file goes, while the devices go dark.
                await asyncio.gather(
                    running, *(host.close() for host in api), return_exceptions=True
                )
                await reporter
    finally:
        SIGNALS.set_reload(None)
    return status


def route_hooks(host: ApiHost, engine: Engine) -> None:
    """``POST /v1/hooks/<agent>`` goes to the running source that takes ``agent`` (a
    ``hooks`` source), looked up on each request: a reload may replace the source."""
    from bridge.api.hooks import HookReply, HookRequest
    from bridge.sources.hooks.options import AGENTS

    def dispatch(agent: str) -> Callable[[HookRequest], Awaitable[HookReply]]:
        async def handler(request: HookRequest) -> HookReply:
            for source in engine.sources:
                takes = getattr(source, "takes_hooks", None)
                if takes is not None and takes(agent):
                    body = await source.handle(agent, request.payload)  # type: ignore[attr-defined]
                    return HookReply(200, body)
            return HookReply(404, {"error": f"no hooks source takes {agent!r} hooks"})

        return handler

    for agent in AGENTS:
        host.hooks.register(agent, dispatch(agent))


async def _start_api(
    apply_api: Callable[[ApiOptions | None], Awaitable[None]], options: ApiOptions
) -> int:
    """Start the API; 1 (logged) when it cannot listen, so the run ends."""
    from bridge.api.host import ApiStartError

    try:
        await apply_api(options)
    except ApiStartError as err:
        log.error("%s", err)
        return 1
    return 0


async def _start_sources(engine: Engine, config: Config, hints: bool, stop: asyncio.Event) -> None:
    """Once the devices show their first look (or after FIRST_LOOK_WAIT), start the sources."""
    waits = {asyncio.create_task(engine.ready.wait()), asyncio.create_task(stop.wait())}
    try:
        await asyncio.wait(waits, timeout=FIRST_LOOK_WAIT, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
    if stop.is_set():
        return
    for source in build_sources(config, engine.publish, hints=hints):
        await engine.add_source(source)
