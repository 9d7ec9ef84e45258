"""What the CLI commands do: run, check, demo, simulate."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bridge.engine import Device, Engine
from bridge.infra.config import DEFAULT_URL, Config, default_config, load_config, parse_config
from bridge.infra.errors import ConfigError
from bridge.infra.logsetup import setup_logging
from bridge.infra.signals import SIGNALS

if TYPE_CHECKING:
    from bridge.pipeline.model import SourceStatus

log = logging.getLogger("agentlight")


def dispatch(args: argparse.Namespace) -> int:
    command: Callable[[argparse.Namespace], int] = {
        "run": cmd_run,
        "check": cmd_check,
        "demo": cmd_demo,
        "simulate": cmd_simulate,
        "status": cmd_status,
        "show": cmd_show,
        "devices": cmd_devices,
        "test-pattern": cmd_test_pattern,
        "preview": cmd_preview,
    }[args.command]
    try:
        return command(args)
    except UsageError as err:
        print(f"agentlight {args.command}: error: {err}", file=sys.stderr)
        return 2
    except ConfigError as err:
        for one in getattr(err, "errors", [err]):
            print(f"agentlight: config error: {one}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


class UsageError(Exception):
    """A command-line mistake: ``agentlight CMD: error: …``, exit 2 (as argparse does)."""


def _load(args: argparse.Namespace) -> Config:
    if getattr(args, "config", None):
        if getattr(args, "url", None):
            raise UsageError("--url applies only without -c; set url in the config's [[sources]]")
        config = load_config(args.config)
    else:
        config = default_config(getattr(args, "url", None) or DEFAULT_URL)
    record = getattr(args, "record", None)
    if record:
        config = with_record(config, record)
    return config


def with_record(config: Config, path: str) -> Config:
    """``config`` plus a record device writing to ``path`` (``--record``)."""
    names = {d.name for d in config.devices}
    name = "record" if "record" not in names else "record-cli"
    extra = parse_config(
        {
            "sources": [{"type": "pocketpaw"}],
            "devices": [{"type": "record", "name": name, "path": path}],
        },
        file="--record",
    )
    return dataclasses.replace(config, devices=config.devices + extra.devices)


def log_default() -> int:
    """Quiet on a terminal (the status line stays readable), detailed in a journal."""
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    return logging.WARNING if tty else logging.INFO


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args)
    setup_logging(args.verbose, args.quiet, config.log_level, default=log_default())
    from bridge.infra.credentials import warn_if_exposed

    warn_if_exposed(config)

    def on_log_level(level: str) -> None:
        setup_logging(0, False, level, default=log_default())

    fixed = args.verbose or args.quiet  # -v/-q win over the file, also after a reload
    return asyncio.run(
        run_bridge(config, hints=True, on_log_level=None if fixed else on_log_level)
    )


def cmd_status(args: argparse.Namespace) -> int:
    from bridge import status_cmd

    config = _load(args)
    setup_logging(args.verbose, args.quiet, None, default=logging.ERROR)
    if args.verbose == 0:
        # The answer (or its absence) is the output; the sources need not add to it.
        logging.getLogger("agentlight.sources").setLevel(logging.CRITICAL)
    return status_cmd.main(args, config)


def cmd_show(args: argparse.Namespace) -> int:
    from bridge import show_cmd

    config = load_config(args.config) if args.config else default_config()
    setup_logging(args.verbose, args.quiet or args.verbose == 0)
    return show_cmd.main(args, config)


def cmd_check(args: argparse.Namespace) -> int:
    config = _load(args)
    print(describe_config(config))
    return 0


def describe_config(config: Config) -> str:
    lines = [f"{config.file or '<built-in config>'}: OK", "sources:"]
    for s in config.sources:
        lines.append(f"  {s.name} ({s.type}){_options(s.options)}")
    lines.append("devices:")
    for d in config.devices:
        lines.append(f"  {d.name} ({d.type}) show={d.show}{_options(d.options)}")
    lines.append(f"theme: {config.theme.source}")
    if config.on_exit is None:
        lines.append("on exit: devices go dark")
    else:
        lines.append(f"on exit: {config.on_exit.color.hex} {config.on_exit.effect.value}")
    return "\n".join(lines)


def _options(options: Any) -> str:
    if not dataclasses.is_dataclass(options):
        return ""
    parts = []
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        if value != f.default:
            # Secret's str() is "***": credentials never reach the terminal.
            parts.append(f"{f.name}={value}")
    return ("  " + " ".join(parts)) if parts else ""


def build_engine(config: Config, *, hints: bool = False) -> tuple[Engine, list[Any]]:
    """Drivers, engine and sources for ``config`` (raises ConfigError before anything starts).

    :param hints: say once what to try when a source cannot reach its server.
    """
    engine = build_devices(config)
    return engine, build_sources(config, source_publish(config, engine, hints=hints))


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
    )


def source_publish(
    config: Config, engine: Engine, *, hints: bool = False
) -> Callable[[SourceStatus], None]:
    """Where the sources of ``config`` publish: the engine, through :class:`Hints` if asked."""
    if not hints:
        return engine.publish
    from bridge.sources.hints import Hints

    return Hints(config, engine.publish)


def build_sources(config: Config, publish: Callable[[SourceStatus], None]) -> list[Any]:
    """The sources of ``config`` (this imports their modules: HTTP stacks, MQTT)."""
    from bridge.sources import source_class

    return [source_class(s.type)(s.name, s.options, publish) for s in config.sources]


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
) -> int:
    """Run ``config`` until SIGINT/SIGTERM (or ``stop``); devices are left dark.

    Devices show their first look ("connecting") before the sources are built:
    importing a source's HTTP stack is most of the start-up on a Pi Zero, and the
    devices need none of it. Until the sources run, each is shown with the status
    it starts with, so what the devices show is the same, only sooner.

    Under systemd the bridge reports READY, STATUS and watchdog pings, and
    SIGHUP re-reads the config file (``on_log_level`` gets a changed log level).
    """
    from bridge.service.notify import under_service_manager
    from bridge.service.runtime import ServiceRuntime
    from bridge.sources import starting_status

    stop = stop or asyncio.Event()
    if SIGNALS.stop_requested:
        return 0  # asked to stop while starting: nothing was opened yet
    engine = build_devices(config)
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
    )
    # systemctl reload; in a terminal SIGHUP still stops (the terminal went away).
    reloads = service.reloader is not None and under_service_manager()
    asked: list[bool] = []
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
                except Exception:
                    # A source that cannot start (its credentials, a missing
                    # library) ends the run as it did before anything was shown:
                    # devices dark, whatever on_exit says.
                    engine.on_exit = None
                    raise
                if reloads:
                    SIGNALS.set_reload(service.request_reload)
                    if asked:
                        service.request_reload()
                await running
            finally:
                stop.set()
                await asyncio.gather(running, return_exceptions=True)
                await reporter
    finally:
        SIGNALS.set_reload(None)
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
    for source in build_sources(config, source_publish(config, engine, hints=hints)):
        await engine.add_source(source)


# Commands that run an engine of their own stop on the same signals.
_signals = SIGNALS.attached


def cmd_demo(args: argparse.Namespace) -> int:
    # The live line owns the terminal; only warnings unless asked.
    setup_logging(args.verbose, args.quiet or args.verbose == 0)
    if args.verbose == 0:
        # The tour's outages are staged: the line shows them, the log need not.
        logging.getLogger("agentlight.sources").setLevel(logging.CRITICAL)
    from bridge import demo

    return demo.main(args)


def cmd_simulate(args: argparse.Namespace) -> int:
    setup_logging(args.verbose, args.quiet)
    from bridge.simulator import SimServer, serve

    if getattr(args, "agp", False):
        from bridge.simulator.agp_demo import serve_agp

        serve = functools.partial(serve_agp, sessions_dir=args.sessions_dir)

    def ready(server: SimServer) -> None:
        print(f"simulated PocketPaw status API on {server.url}", file=sys.stderr, flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            serve(args.port, speed=args.speed, api_key=args.api_key, ready=ready)
        )
        with SIGNALS.attached(stop):
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for t in (task, waiter):
            t.cancel()
        results = await asyncio.gather(task, waiter, return_exceptions=True)
        for result in results:
            if isinstance(result, OSError):
                raise result

    try:
        asyncio.run(main())
    except OSError as err:
        print(f"agentlight: cannot serve on port {args.port}: {err.strerror}", file=sys.stderr)
        return 1
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    from devices import inventory

    if args.udev_rules:
        print(inventory.udev_rules(), end="")
        return 0
    sections = inventory.survey()
    if args.json:
        import json

        print(json.dumps(inventory.render_json(sections), indent=2))
    else:
        print(inventory.render_text(sections))
    return 0


def cmd_test_pattern(args: argparse.Namespace) -> int:
    from bridge.testpattern import run_test_pattern

    config = load_config(args.config)
    setup_logging(args.verbose, args.quiet, "warning")
    if not 0.1 <= args.step <= 60:
        raise ConfigError(f"--step must be from 0.1 to 60 seconds, got {args.step:g}")
    return asyncio.run(run_test_pattern(config, device=args.device, step=args.step))


def cmd_preview(args: argparse.Namespace) -> int:
    from devices.streamdeck.preview import run_preview

    return run_preview(args)
