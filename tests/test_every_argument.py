"""No command prints a traceback for any value of any argument.

Every option of every command, as the parser lists them (a new option is fed
too without touching this file), gets boundary and nonsense values, each on top
of a command line that is otherwise valid and short. A value the parser takes
runs the command for real, in this process (a command that keeps running gets a
Ctrl-C after a moment); whatever happens, the answer is an exit status of 0, 1
or 2 and at most a line or two, never a traceback or an "internal error".

Only loopback addresses are ever given: a URL-like value is one of ours.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.cli import _COMMANDS, build_parser, main
from bridge.infra.logsetup import SafeFormatter
from tests.bridge_proc import unanswered_config

pytest.importorskip("gpiozero")

# Numbers around every bound the options have, and what no number parser takes.
NUMBERS = [
    "0", "-0", "-1", "1", "0.1", "1.5", "2", "4", "5", "50", "1000", "1001",
    "65535", "65536", "1e309", "-1e309", "nan", "inf", "0x10", "99999999999999999999",
]  # fmt: skip
# Text: empty, blank, an option look-alike, escapes, bidi, an undecodable byte
# (argv strings can carry one as a surrogate), a very long one.
TEXT = [
    "", " ", "-", "--", "x", "{", "{nope}", "\x1b[31mred", "\u202eevil", "\udcff", "é💥",
    "x" * 5000,
]  # fmt: skip
# URL-shaped values: malformed, or on this machine only (never a name to resolve).
URLS = [
    "", "http://", "ftp://127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:99999",
    "http://user:pw@127.0.0.1:1/api/v1/agent/status?key=s", "127.0.0.1:1", "http://[::1]:1",
    "http://127.0.0.1:1/%zz", "http://127.0.0.1:-1",
]  # fmt: skip
# The states `show` takes, and near misses.
STATES = ["off", "idle", "tool_running", "Waiting-For-User", "auth_failed", "unknown", "tool"]


@dataclass(frozen=True)
class Option:
    command: str
    flag: str  # "" for a positional argument
    takes_value: bool
    metavar: str
    numeric: bool  # its parser turns "1" into a number

    def __str__(self) -> str:
        return f"{self.command} {self.flag or self.metavar}"


def options() -> list[Option]:
    """Every option of every command, from the parser itself."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for name, *_ in _COMMANDS:
        for action in sub.choices[name]._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            flag = max(action.option_strings, key=len) if action.option_strings else ""
            takes_value = action.nargs != 0
            metavar = str(action.metavar or action.dest)
            numeric = False
            if callable(action.type):
                with contextlib.suppress(ValueError, argparse.ArgumentTypeError):
                    numeric = isinstance(action.type("1"), int | float)
            found.append(Option(name, flag, takes_value, metavar, numeric))
    return found


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Configs for the commands' valid parts: a record device, a source nobody answers."""
    config, _ = unanswered_config(tmp_path)
    existing = tmp_path / "a-file.txt"
    existing.write_text("not a config\n")
    (tmp_path / "a-dir").mkdir()
    return {"config": str(config), "file": str(existing), "dir": str(tmp_path / "a-dir")}


def base_argv(command: str, files: dict[str, str], tmp: Path) -> list[str]:
    """A valid, short command line for ``command``."""
    cfg = files["config"]
    return {
        "run": ["-c", cfg],
        "check": ["-c", cfg],
        "status": ["--url", "http://127.0.0.1:1", "--timeout", "0.2"],
        "show": ["idle", "-c", cfg, "--duration", "0.1"],
        "demo": ["-c", cfg, "--duration", "0.2", "--speed", "20"],
        "simulate": ["--port", "0"],
        "devices": [],
        "test-pattern": ["-c", cfg, "--step", "0.1"],
        "preview": ["--out", str(tmp / "previews"), "--zoom", "1", "--model", "mini"],
        # Read-only (never install into the real home) and no bridge to reach.
        "hooks": ["status"],
        "hook": ["claude"],
        "notify": ["--session", "x", "--state", "done"],
    }[command]


def values_for(option: Option, files: dict[str, str], tmp: Path) -> list[str]:
    if option.metavar in ("FILE", "DIR"):
        return [
            *TEXT[:3], "\udcff", files["file"], files["dir"], files["config"], "/dev/null",
            "/proc/nope/x", str(tmp / "new" / "deeper"), str(tmp / ("n" * 300)),
        ]  # fmt: skip
    if option.metavar == "URL":
        return URLS
    if option.metavar == "STATE":
        return STATES + TEXT[:4]
    if option.metavar == "TEMPLATE":
        return ["{label}", "{seconds}s", "{", "}", "{0}", "{label.__class__}", "{label!r}", *TEXT]
    if option.numeric:
        return NUMBERS + TEXT[:6]
    # Names, keys, a model: text, and a few numbers.
    return [*TEXT, "0", "-1", "1e309"]


def argv_with(option: Option, value: str | None, base: list[str]) -> list[str]:
    """``base`` with ``option`` set to ``value`` (replacing what base gave it)."""
    argv = list(base)
    if option.flag in argv:
        i = argv.index(option.flag)
        del argv[i : i + 2]
    if option.flag == "--url" and "-c" in argv:  # --url applies only without -c
        i = argv.index("-c")
        del argv[i : i + 2]
    if not option.flag:  # a positional: replace the first word
        return [option.command, value or "", *argv[1:]]
    extra = [option.flag] if value is None else [option.flag, value]
    return [option.command, *argv, *extra]


@pytest.fixture
def ctrl_c_later() -> Iterator[None]:
    """A Ctrl-C that comes late (after the command returned) is harmless here; what the
    commands set on logging (levels, handlers) is put back for the tests after these."""
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    levels = {n: logging.getLogger(n).level for n in ["", *logging.root.manager.loggerDict]}
    handlers = list(logging.getLogger().handlers)
    yield
    signal.signal(signal.SIGINT, previous)
    for name in ["", *logging.root.manager.loggerDict]:  # those made meanwhile too
        logging.getLogger(name).setLevel(levels.get(name, logging.NOTSET))
    for handler in logging.getLogger().handlers[:]:
        if handler not in handlers:
            logging.getLogger().removeHandler(handler)


def run_cli(argv: list[str], patience: float) -> int:
    """``agentlight ARGV`` in this process; a Ctrl-C after ``patience`` seconds if it runs on."""
    # As in a new process: the command sets up its own log handler, on this
    # capture's stderr (an earlier one's would write to a closed capture).
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h.formatter, SafeFormatter)]:
        root.removeHandler(handler)
    done = threading.Event()

    def interrupt() -> None:
        if not done.wait(patience):
            os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Thread(target=interrupt, daemon=True)
    timer.start()
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse: exit 2 with its usage line, or --help
        return int(exit_.code or 0)
    finally:
        done.set()
        timer.join()


ALL = options()


def test_every_command_has_options_here() -> None:
    commands = {o.command for o in ALL}
    assert commands == {name for name, *_ in _COMMANDS}
    assert len(ALL) > 30


@pytest.mark.parametrize("option", ALL, ids=str)
def test_no_value_of_any_option_gets_a_traceback(
    option: Option,
    files: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    ctrl_c_later: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative value lands here
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setenv("COLUMNS", "80")
    for var in ("POCKETPAW_STATUS_API_KEY", "POCKETPAW_TOKEN", "H_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    base = base_argv(option.command, files, tmp_path)
    values: list[str | None] = (
        list(values_for(option, files, tmp_path)) if option.takes_value else [None]
    )
    problems = []
    for value in values:
        argv = argv_with(option, value, base)
        caplog.clear()
        code = run_cli(argv, patience=0.2)
        out, err = capsys.readouterr()
        logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.CRITICAL]
        shown = out + err
        if (
            code not in (0, 1, 2)
            or "Traceback" in shown
            or "internal error" in shown
            or logged
            or len(err.splitlines()) > 12
        ):
            problems.append((argv, code, err[-800:], [r.getMessage() for r in logged]))
    assert problems == []
