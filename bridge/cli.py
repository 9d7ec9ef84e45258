"""``agentlight`` command line.

Only argparse and logging are imported here: ``agentlight --help`` must stay
fast on a Raspberry Pi Zero. Each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bridge import __version__

EPILOG = """\
examples:
  agentlight demo                       simulated agent → terminal indicator
  agentlight run                        local PocketPaw (127.0.0.1:8888) → terminal
  agentlight run -c config.toml         sources, devices and theme from a file
  agentlight check -c config.toml       validate a config and show what would run
  agentlight simulate --port 8888       serve the simulated PocketPaw API alone
  agentlight demo --agp                 simulated H Company AgP sessions → terminal
  agentlight devices                    list attached LEDs, lights, decks, GPIO
  agentlight test-pattern -c FILE       every look of the theme on the devices
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentlight",
        description="Show what AI agents are doing on LEDs, Stream Deck keys or a terminal line.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"agentlight {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    common.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", parents=[common], help="run the bridge (config file or built-in default)"
    )
    run.add_argument("-c", "--config", metavar="FILE", help="config TOML (see config.example.toml)")
    run.add_argument(
        "--url",
        metavar="URL",
        help="PocketPaw URL when no config is given (default http://127.0.0.1:8888)",
    )

    check = sub.add_parser("check", parents=[common], help="validate a config and print the plan")
    check.add_argument("-c", "--config", metavar="FILE", help="config TOML to check")

    demo = sub.add_parser(
        "demo", parents=[common], help="simulated agent on 127.0.0.1 → terminal (no server needed)"
    )
    demo.add_argument("--speed", type=float, default=1.0, help="scenario speed factor (default 1)")
    demo.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="use this config's devices and theme (its sources are ignored)",
    )
    demo.add_argument("--record", metavar="FILE", help="also record every change as JSON lines")
    demo.add_argument(
        "--agp", action="store_true", help="simulated H Company AgP sessions instead of PocketPaw"
    )
    demo.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until Ctrl-C)",
    )

    sim = sub.add_parser(
        "simulate", parents=[common], help="serve the simulated PocketPaw status API alone"
    )
    sim.add_argument("--port", type=int, default=8888, help="port on 127.0.0.1 (default 8888)")
    sim.add_argument("--speed", type=float, default=1.0, help="scenario speed factor (default 1)")
    sim.add_argument(
        "--api-key", metavar="KEY", help="require this status API key (X-Status-Key or ?key=)"
    )
    sim.add_argument(
        "--agp",
        action="store_true",
        help="serve the simulated H Company AgP session status API instead (--api-key: Bearer)",
    )
    sim.add_argument(
        "--sessions-dir",
        metavar="DIR",
        help="with --agp: list the scenario's session IDs as files here (for sessions_from)",
    )
    _hardware_commands(sub, common)
    return parser


def _hardware_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    devices = sub.add_parser(
        "devices",
        parents=[common],
        help="list attached serial ports, USB lights, Stream Decks and GPIO, and what to fix",
    )
    devices.add_argument("--json", action="store_true", help="machine-readable output")
    devices.add_argument(
        "--udev-rules",
        action="store_true",
        help="print udev rules giving users access to USB lights and Stream Decks",
    )
    pattern = sub.add_parser(
        "test-pattern",
        parents=[common],
        help="show every look of the theme on the configured devices (no server needed)",
    )
    pattern.add_argument("-c", "--config", metavar="FILE", required=True, help="config TOML")
    pattern.add_argument("--device", metavar="NAME", help="only this device")
    pattern.add_argument(
        "--step", type=float, default=2.0, metavar="SECONDS", help="seconds per look (default 2)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    # First thing: a stop signal during start-up (the imports below take a
    # while on a Pi Zero) is remembered and ends the start cleanly, instead of
    # killing the process with its devices lit or printing a traceback.
    from bridge.signals import SIGNALS

    SIGNALS.reset()
    SIGNALS.install()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if SIGNALS.stop_requested:
            return 0  # stopped before anything started
        from bridge import app  # the heavy part, only once a command runs

        if SIGNALS.stop_requested:
            return 0
        return app.dispatch(args)
    except BrokenPipeError:
        # `agentlight status | head -1`: the reader left; that is not an error.
        _quiet_stdout()
        return 0
    finally:
        SIGNALS.uninstall()


def _quiet_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
