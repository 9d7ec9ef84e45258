"""``agentlight`` command line: the parser, and the dispatch to each command.

Only argparse is imported here: ``agentlight --help`` must stay fast on a
Raspberry Pi Zero. Each command is a module of :mod:`bridge.commands`, imported
only when it runs (its ``main(args)`` runs it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Container, Sequence

from bridge import __version__

EPILOG = """\
examples:
  agentlight demo                       simulated agent → terminal indicator
  agentlight run                        local PocketPaw (127.0.0.1:8888) → terminal
  agentlight status --format '{label}'  one short line for a shell or tmux status bar
  agentlight show waiting_for_user      one look on the devices until Ctrl-C
  agentlight run -c config.toml         sources, devices and theme from a file
  agentlight check -c config.toml       validate a config and show what would run
  agentlight simulate --port 8888       serve the simulated PocketPaw API alone
  agentlight demo --agp                 simulated H Company AgP sessions → terminal
  agentlight devices                    list attached LEDs, lights, decks, GPIO
  agentlight test-pattern -c FILE       every look of the theme on the devices
  agentlight hooks install claude       wire Claude Code (also codex, gemini, cursor, opencode)
  agentlight run --hooks                coding agents' hooks → terminal
  agentlight notify --session ci --state tool_running --tool pytest
                                        any script as a session
"""


def build_parser(commands: Container[str] | None = None) -> argparse.ArgumentParser:
    """The command line; with ``commands``, only those commands get their options.

    Every command is listed either way (what ``--help`` shows): the options of
    commands that are not run are work ``agentlight run`` or ``--help`` would
    only throw away (:func:`commands_in` says which are needed).
    """
    parser = argparse.ArgumentParser(
        prog="agentlight",
        description="Show what AI agents are doing on LEDs, Stream Deck keys or a terminal line.",
        epilog=EPILOG,
        formatter_class=_RawHelp,
    )
    parser.add_argument("--version", action="version", version=f"agentlight {__version__}")
    # -v/-q work before the command (`agentlight -v demo`) and after it.
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    common = argparse.ArgumentParser(add_help=False, formatter_class=_Help)
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        dest="sub_verbose",
        default=argparse.SUPPRESS,
        help="more log output (-vv for debug)",
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        dest="sub_quiet",
        default=argparse.SUPPRESS,
        help="only warnings and errors",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary, description, env, add_options in _COMMANDS:
        epilog = None
        if env:
            width = max(len(var) for var, _ in env)
            epilog = "environment variables:\n" + "\n".join(
                f"  {var:<{width}}  {what}" for var, what in env
            )
        one = sub.add_parser(
            name,
            parents=[common],
            help=summary,
            description=description,
            epilog=epilog,
            formatter_class=_RawHelp if description else _Help,
        )
        if commands is None or name in commands:
            add_options(one)
    return parser


def _config_option(parser: argparse.ArgumentParser, help: str, *, required: bool = False) -> None:
    """``-c/--config FILE``: every command that reads a config names it the same way."""
    parser.add_argument(
        "-c", "--config", type=path_arg, metavar="FILE", required=required, help=help
    )


def _run_options(run: argparse.ArgumentParser) -> None:
    _config_option(run, "config TOML (see config.example.toml)")
    run.add_argument(
        "--url",
        metavar="URL",
        type=url_arg,
        help="PocketPaw URL when no config is given (default http://127.0.0.1:8888)",
    )
    run.add_argument(
        "--record",
        type=new_file_arg,
        metavar="FILE",
        help="also record every change as JSON lines to FILE",
    )
    run.add_argument(
        "--hooks",
        action="store_true",
        help="without -c: coding agents' hooks (agentlight hooks install …) → this terminal",
    )


def _check_options(check: argparse.ArgumentParser) -> None:
    _config_option(check, "config TOML to check")
    check.add_argument("--url", metavar="URL", type=url_arg, help="check this URL without -c")


def _status_options(status: argparse.ArgumentParser) -> None:
    _config_option(status, "read the sources of this config")
    status.add_argument(
        "--url", metavar="URL", type=url_arg, help="PocketPaw URL (default http://127.0.0.1:8888)"
    )
    shape = status.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="the versioned JSON form")
    shape.add_argument("--format", metavar="TEMPLATE", type=format_arg, help="one line")
    status.add_argument(
        "--watch", action="store_true", help="print again on every change until Ctrl-C"
    )
    status.add_argument(
        "--timeout",
        type=seconds_arg,
        default=5.0,
        metavar="SECONDS",
        help="how long to wait for an answer (default 5)",
    )


def _show_options(show: argparse.ArgumentParser) -> None:
    show.add_argument("state", metavar="STATE", type=state_arg, help="the state to show")
    show.add_argument("--tool", metavar="NAME", help="with tool_running: the tool (e.g. bash)")
    show.add_argument("--title", metavar="TEXT", help="a session title, for labels")
    _config_option(show, "devices and theme (default: this terminal)")
    show.add_argument(
        "--duration", type=seconds_arg, metavar="SECONDS", help="stop after this many seconds"
    )


def _demo_options(demo: argparse.ArgumentParser) -> None:
    demo.add_argument(
        "--speed", type=speed_arg, default=1.0, help="scenario speed factor (default 1)"
    )
    _config_option(demo, "use this config's devices and theme (its sources are ignored)")
    demo.add_argument(
        "--record", type=new_file_arg, metavar="FILE", help="also record every change as JSON lines"
    )
    demo.add_argument(
        "--agp", action="store_true", help="simulated H Company AgP sessions instead of PocketPaw"
    )
    demo.add_argument(
        "--duration",
        type=seconds_arg,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until Ctrl-C)",
    )


def _simulate_options(sim: argparse.ArgumentParser) -> None:
    sim.add_argument(
        "--port", type=port_arg, default=8888, help="port on 127.0.0.1 (default 8888; 0: any free)"
    )
    sim.add_argument(
        "--speed", type=speed_arg, default=1.0, help="scenario speed factor (default 1)"
    )
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
        type=path_arg,
        metavar="DIR",
        help="with --agp: list the scenario's session IDs as files here (for sessions_from)",
    )


def _devices_options(devices: argparse.ArgumentParser) -> None:
    devices.add_argument("--json", action="store_true", help="machine-readable output")
    devices.add_argument(
        "--udev-rules",
        action="store_true",
        help="print udev rules giving users access to USB lights and Stream Decks",
    )


def _test_pattern_options(pattern: argparse.ArgumentParser) -> None:
    _config_option(pattern, "config TOML", required=True)
    pattern.add_argument("--device", metavar="NAME", help="only this device")
    pattern.add_argument(
        "--step",
        type=step_arg,
        default=2.0,
        metavar="SECONDS",
        help="seconds per look, 0.1 to 60 (default 2)",
    )


def _preview_options(preview: argparse.ArgumentParser) -> None:
    _config_option(preview, "config TOML (its streamdecks)")
    preview.add_argument(
        "--out", type=path_arg, metavar="DIR", required=True, help="directory for the PNGs"
    )
    preview.add_argument(
        "--model",
        choices=["mini", "original", "mk2", "xl", "neo", "plus", "plus_xl", "studio"],
        help="draw this model (default: each deck's dummy_model, else mk2)",
    )
    preview.add_argument(
        "--zoom",
        type=zoom_arg,
        default=2,
        metavar="N",
        help=f"scale factor, 1 to {MAX_ZOOM} (default 2)",
    )


def _hook_options(hook: argparse.ArgumentParser) -> None:
    hook.add_argument(
        "agent", metavar="AGENT", help="claude, codex, gemini, cursor, opencode, generic"
    )
    hook.add_argument(
        "payload",
        metavar="JSON",
        nargs="?",
        help="the payload as an argument (Codex notify); default: read stdin",
    )


def _notify_options(notify: argparse.ArgumentParser) -> None:
    notify.add_argument("--session", required=True, metavar="NAME", help="the session's name")
    notify.add_argument(
        "--state",
        required=True,
        metavar="STATE",
        type=notify_state_arg,
        help="thinking, tool_running, waiting_for_user, done, interrupted, error, idle, end",
    )
    notify.add_argument("--tool", metavar="NAME", help="with tool_running: the tool")
    notify.add_argument("--title", metavar="TEXT", help="the session's title")
    notify.add_argument("--error", metavar="TEXT", help="with error: what failed")
    notify.add_argument("--detail", metavar="TEXT", help="what the tool does, or the question")
    notify.add_argument(
        "--pid", type=int, metavar="PID", help="the session leaves when this process exits"
    )


def _hooks_options(hooks: argparse.ArgumentParser) -> None:
    hooks.add_argument("action", choices=["install", "uninstall", "status"], help="what to do")
    hooks.add_argument(
        "agent",
        metavar="AGENT",
        nargs="?",
        choices=["claude", "codex", "gemini", "cursor", "opencode"],
        help="claude, codex, gemini, cursor or opencode (status: all when left out)",
    )
    hooks.add_argument(
        "--project", metavar="DIR", help="this project's settings instead of the user's"
    )
    hooks.add_argument(
        "--dry-run", action="store_true", help="print the change as a diff; change nothing"
    )


_DEVICE_ENV = (
    ("GPIOZERO_PIN_FACTORY", "gpio devices without pin_factory: gpiozero's (mock: try a config)"),
    ("NO_COLOR", "set: no colours on the terminal line"),
)
_SECRET_ENV = (
    ("POCKETPAW_STATUS_API_KEY", "the status API key (when the config sets no api_key)"),
    ("POCKETPAW_TOKEN", "PocketPaw's dashboard token (when the config sets no token)"),
    ("H_API_KEY", "the H Company AgP API key (when the config sets no api_key)"),
    ("AGENTLIGHT_MQTT_PASSWORD", "the MQTT broker's password (when the config sets none)"),
    ("AGENTLIGHT_API_TOKEN", "the local API's token (when [api] sets none)"),
    ("CREDENTIALS_DIRECTORY", "systemd credentials, read before the variables above"),
)
_RUN_ENV = (*_SECRET_ENV, *_DEVICE_ENV)

_AddOptions = Callable[[argparse.ArgumentParser], None]

#: Every command in the order ``--help`` lists them: name, summary, description
#: (None: none), the environment variables it reads, and what adds its options.
_COMMANDS: tuple[tuple[str, str, str | None, tuple[tuple[str, str], ...], _AddOptions], ...] = (
    (
        "run",
        "run the bridge (config file or built-in default)",
        "Read the agent's status and show it on the configured devices until Ctrl-C.\n"
        "Without -c: PocketPaw on http://127.0.0.1:8888 → a line in this terminal.\n"
        "On a terminal only warnings are logged (-v for more).",
        _RUN_ENV,
        _run_options,
    ),
    (
        "check",
        "validate a config and print the plan",
        "Check a config file (every error at once) and print what `run` would start.\n"
        "Reads what run reads: token files and the environment variables below.",
        _RUN_ENV,
        _check_options,
    ),
    (
        "status",
        "print the agent's status once (or on every change) and exit",
        "Read the agent's status through the same sources as `run` and print it: one\n"
        "line per session, the versioned JSON form (--json), or one short line for a\n"
        "shell or tmux status bar (--format). Exit 0 when every source answered, 1 if not.\n"
        "\n"
        "--format fields: {state} {label} {sessions} {focus} {tool} {title} {error} {seconds}\n"
        "  e.g. agentlight status --format '{label} ({sessions})'",
        _SECRET_ENV,
        _status_options,
    ),
    (
        "show",
        "put one look on the configured devices until Ctrl-C",
        "Show the look of one state on the devices of a config (no server needed), to try\n"
        "a theme or a device. STATE is a global state (idle, active, degraded, connecting,\n"
        "disconnected, auth_failed) or a session state (thinking, tool_running, streaming,\n"
        "waiting_for_user, error, pending, done, interrupted, unknown), or off.",
        _DEVICE_ENV,
        _show_options,
    ),
    (
        "demo",
        "simulated agent on 127.0.0.1 → terminal (no server needed)",
        "A built-in PocketPaw simulator walks through every state agentlight can show,\n"
        "the bridge's own (disconnected, auth failed) included; Ctrl-C stops it.",
        _DEVICE_ENV,
        _demo_options,
    ),
    (
        "simulate",
        "serve the simulated PocketPaw status API alone",
        "Serve PocketPaw's status API on 127.0.0.1 with the demo's scenario, for trying\n"
        "hardware or another agentlight (`agentlight run --url http://127.0.0.1:PORT`).",
        (),
        _simulate_options,
    ),
    (
        "devices",
        "list attached serial ports, USB lights, Stream Decks and GPIO, and what to fix",
        "List what is attached (serial ports, USB status lights, Stream Decks, GPIO and its\n"
        "pin factory) with what to put in a config, and what to fix: a missing library, a\n"
        "missing permission (the group to join, or the udev rules --udev-rules prints).",
        _DEVICE_ENV[:1],
        _devices_options,
    ),
    (
        "test-pattern",
        "show every look of the theme on the configured devices (no server needed)",
        "Walk the devices of a config through every look of its theme (each global state,\n"
        "each session state, each tool), naming each as it shows it; then leave them dark.\n"
        "Exit 0, or 1 when a device could not show it (said at once).",
        _DEVICE_ENV,
        _test_pattern_options,
    ),
    (
        "hooks",
        "wire coding agents (Claude Code, Codex, Gemini CLI, Cursor, OpenCode) to agentlight",
        "Add agentlight's hook to an agent's settings file (install), take it out again\n"
        "(uninstall), or list each agent: wired or not, and the last event agentlight saw\n"
        "(status). Nothing else in the file changes; a backup is kept as <file>.agentlight.bak.\n"
        'A running bridge needs a hooks source: [[sources]] type = "hooks".',
        (),
        _hooks_options,
    ),
    (
        "hook",
        "what an agent's command hook runs: forward its event to the running bridge",
        "Read a hook's JSON from stdin (or the last argument, for Codex's notify), add the\n"
        "agent's process id, and POST it to the running bridge. Prints nothing, always\n"
        "exits 0, gives up after 1 s: an agent is never disturbed by it.",
        (),
        _hook_options,
    ),
    (
        "notify",
        "show any script as a session (a CI job, a cron script, an agent of your own)",
        "Send one state of a session to the running bridge (POST /v1/hooks/generic).\n"
        "Exit 1 when agentlight is not running (add `|| true` where that must not matter).",
        (),
        _notify_options,
    ),
    (
        "preview",
        "draw each Stream Deck in a config as PNGs, one per state (no hardware needed)",
        "Draw each Stream Deck of a config (default: one MK.2) as it would look in each\n"
        "state: idle, working, waiting, an error, paging, a key's details and the bridge's\n"
        "own states; one PNG per deck and state in --out.",
        (),
        _preview_options,
    ),
)


def commands_in(argv: Sequence[str]) -> tuple[str, ...] | None:
    """The commands whose options parsing ``argv`` needs: its command, none when it
    names none (``--help``), or None (all) when that is not certain before parsing.

    Only flags that take no value may come before the command (``-v``, ``-q``,
    ``-h``, ``--version`` and their long forms, unabbreviated).
    """
    for arg in argv:
        short_flags = len(arg) > 1 and arg[0] == "-" and not arg[1:].strip("vqh")  # -vv, -vq
        if short_flags or arg in ("--verbose", "--quiet", "--help", "--version"):
            continue
        return (arg,) if any(arg == name for name, *_ in _COMMANDS) else None
    return ()


def _columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil (and bz2, lzma)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    stdout = sys.__stdout__
    try:
        return (os.get_terminal_size(stdout.fileno()).columns if stdout else 0) or 80
    except (AttributeError, ValueError, OSError):
        return 80


class _Help(argparse.HelpFormatter):
    """argparse's help, sized as argparse sizes it, minus its shutil import (~3 ms)."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(
            prog, indent_increment, max_help_position, _columns() - 2 if width is None else width
        )


class _RawHelp(_Help, argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written (their line breaks are the layout)."""


# -- values: each checked here, so a bad one is an exit 2 naming its option --------------


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a finite number")
    return value


def speed_arg(text: str) -> float:
    value = _finite(text)
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a factor above 0 (up to 1000)")
    return value


def seconds_arg(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected seconds above 0")
    return value


def port_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a port from 1 to 65535")
    return value


#: ``preview --zoom``: a Stream Deck + XL at 4 is 5,000 px wide (2.4 s, 84 MB to draw);
#: the work grows with the square, so 50 took 86 s and 1.3 GB.
MAX_ZOOM = 4


def zoom_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_ZOOM:
        raise argparse.ArgumentTypeError(
            f"got {text!r}, expected a whole number from 1 to {MAX_ZOOM}"
        )
    return value


def path_arg(text: str) -> str:
    """A file or directory name: not empty (that would mean the current directory)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a file or directory name")
    if "\0" in text:
        raise argparse.ArgumentTypeError("got a name with a NUL character in it")
    return text


def new_file_arg(text: str) -> str:
    """A file to write (``--record``): a name, not a directory."""
    import os.path

    path_arg(text)
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"got {text!r}, a directory; expected a file name")
    return text


def step_arg(text: str) -> float:
    value = _finite(text)
    if not 0.1 <= value <= 60:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected seconds from 0.1 to 60")
    return value


def url_arg(text: str) -> str:
    """A PocketPaw base URL; a pasted endpoint URL or a bare host:port is understood."""
    from bridge.sources.pocketpaw.urls import UrlError, base_url

    try:
        return base_url(text)
    except UrlError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def format_arg(text: str) -> str:
    from bridge.text.statusline import check_template

    try:
        check_template(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


_STATES = (
    *("idle", "active", "degraded", "connecting", "disconnected", "auth_failed"),
    *("thinking", "tool_running", "streaming", "waiting_for_user", "error"),
    *("pending", "done", "interrupted", "unknown", "off"),
)


def notify_state_arg(text: str) -> str:
    from bridge.sources.hooks.adapters import GENERIC_STATES

    value = text.strip().lower().replace("-", "_")
    if value not in GENERIC_STATES:
        raise argparse.ArgumentTypeError(
            f"got {text!r}, expected one of {', '.join(GENERIC_STATES)}"
        )
    return value


def state_arg(text: str) -> str:
    value = text.strip().lower().replace("-", "_")
    if value not in _STATES:
        import difflib

        hint = difflib.get_close_matches(value, _STATES, n=1)
        known = ", ".join(_STATES)
        extra = f"; did you mean {hint[0]!r}?" if hint else f"; expected one of {known}"
        raise argparse.ArgumentTypeError(f"got {text!r}{extra}")
    return value


def parse_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """Parse ``argv``; -v/-q given before and after the command add up."""
    args = parser.parse_args(argv)
    args.verbose += getattr(args, "sub_verbose", 0)
    args.quiet = args.quiet or getattr(args, "sub_quiet", False)
    return args


def main(argv: Sequence[str] | None = None, *, stopped: Sequence[int] = ()) -> int:
    """Parse ``argv`` and run its command; the process's exit status.

    :param stopped: stop signals that came before this function (see
        :mod:`bridge.entry`, the program's first instructions).
    """
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["hook"]:
        # A coding agent's hook, on every one of its events: no parser (whose usage
        # error would exit 2, which Claude Code takes as "block this tool"), no
        # signal handlers, nothing but the forwarding (at most 1 s).
        from bridge.commands.hook import run_argv

        return run_argv(list(argv[1:]))
    # First thing: a stop signal during start-up (the imports below take a
    # while on a Pi Zero) is remembered and ends the start cleanly, instead of
    # killing the process with its devices lit or printing a traceback.
    from bridge.infra.signals import SIGNALS

    SIGNALS.reset()
    SIGNALS.install()
    SIGNALS.received.extend(stopped)
    _never_unprintable()
    try:
        parser = build_parser(commands_in(argv))
        args = parse_args(parser, argv)
        if args.command is None:
            parser.print_help()
            return 2
        if SIGNALS.stop_requested:
            return 0  # stopped before anything started
        return run_command(args)
    except BrokenPipeError:
        # `agentlight status | head -1`: the reader left; that is not an error.
        _quiet_stdout()
        return 0
    finally:
        SIGNALS.uninstall()


def command_main(name: str) -> Callable[[argparse.Namespace], int]:
    """The ``main`` of command ``name``: its module in :mod:`bridge.commands`, imported now."""
    module = importlib.import_module(f"bridge.commands.{name.replace('-', '_')}")
    main: Callable[[argparse.Namespace], int] = module.main
    return main


def run_command(args: argparse.Namespace) -> int:
    """Run the command ``args`` names; a usage or config error is exit 2, Ctrl-C exit 0."""
    from bridge.infra.signals import SIGNALS

    command = command_main(args.command)  # the heavy part, only once a command runs
    if SIGNALS.stop_requested:
        return 0  # stopped while importing: nothing was opened yet
    from bridge.commands.common import UsageError
    from bridge.infra.errors import ConfigError

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
    except OSError as err:
        # A file or device the command needed: one line naming it, never a traceback.
        where = f" {err.filename!r}" if err.filename else ""
        print(f"agentlight {args.command}: error:{where} {err.strerror or err}", file=sys.stderr)
        return 1
    except Exception as err:
        # A bug of ours: one line for the user, the traceback with -vv (tests
        # feed every option of every command to make sure none gets here).
        print(
            f"agentlight {args.command}: internal error: {type(err).__name__}: {err} "
            "(a bug; -vv shows where)",
            file=sys.stderr,
        )
        if args.verbose >= 2:
            import traceback

            traceback.print_exc()
        return 1


def _never_unprintable() -> None:
    """Text that cannot be encoded is written escaped, never raised.

    A file name or ``--format`` given with a byte that is not UTF-8 reaches
    Python as a lone surrogate; stdout's default (strict) would stop the
    command with a ``UnicodeEncodeError`` when it is printed back.
    """
    import contextlib  # loaded already (bridge.infra.signals)

    for stream in (sys.stdout, sys.stderr):
        # Not a text stream of io's (embedded, or closed): leave it be.
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]


def _quiet_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
