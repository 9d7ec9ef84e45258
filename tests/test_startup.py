"""Start-up order: devices show their first look before the sources are built.

Building a source imports its module and HTTP stack (httpx, httpcore, anyio), most
of the start-up on a Pi Zero; the devices need none of it. What they show first is
the look the sources start with, so nothing changes for the user but the timing.
(How long start-up takes is measured in ``benchmarks/``.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import bridge.sources
from bridge.app import build_sources, run_bridge
from bridge.cli import build_parser, commands_in, main, parse_args
from bridge.engine import Engine
from bridge.infra.config import Config, load_config, parse_config
from bridge.infra.errors import ConfigError
from bridge.infra.signals import SIGNALS
from bridge.pipeline.frame import Frame
from bridge.pipeline.model import ConnectionState, SourceStatus
from bridge.simulator import SimAgent, SimServer
from bridge.sources import starting_status
from devices.mock import MockDriver
from harness.procs import read_records
from tests.conftest import Recorder, eventually

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _signals() -> Iterator[None]:
    SIGNALS.reset()
    yield
    SIGNALS.reset()
    SIGNALS.set_reload(None)


class Spy:
    """Stands in for ``bridge.sources.source_class``: notes what the device had
    shown by the time each source was built, then builds it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.real = bridge.sources.source_class
        self.engine: Engine | None = None
        self.shown_before: list[list[Frame]] = []
        self.then: list[Any] = []  # called when a source is built, before it is
        monkeypatch.setattr(bridge.sources, "source_class", self)

    def on_engine(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def mock(self) -> MockDriver:
        assert self.engine is not None
        driver = self.engine.devices[0].driver
        assert isinstance(driver, MockDriver)
        return driver

    def __call__(self, type_name: str) -> Any:
        self.shown_before.append(list(self.mock.frames))
        for hook in self.then:
            hook()
        return self.real(type_name)


def _config(url: str, **extra: Any) -> Config:
    return parse_config(
        {
            "sources": [{"type": "pocketpaw", "url": url, "events": "off"}],
            "devices": [{"type": "mock", "name": "led"}],
            **extra,
        },
        file="<test>",
    )


async def test_the_first_look_is_shown_before_the_source_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = Spy(monkeypatch)
    async with SimServer(SimAgent()) as server:
        stop = asyncio.Event()
        run = asyncio.create_task(run_bridge(_config(server.url), stop, on_engine=spy.on_engine))
        try:
            await asyncio.wait_for(_until_engine(spy), 10)
            await spy.mock.wait_for(lambda f: f.status.state == "idle", 10)  # the source runs
        finally:
            stop.set()
            assert await asyncio.wait_for(run, 10) == 0
    assert len(spy.shown_before) == 1
    first = spy.shown_before[0]
    assert first, "the source was built before the device showed anything"
    # The look the source starts with, with its words, as if it were already running.
    assert first[0].status.state == "connecting"
    assert first[0].status.sources == (
        SourceStatus("pocketpaw", ConnectionState.CONNECTING, None, f"connecting to {server.url}"),
    )
    # The source's own first status was the same: no second "connecting" frame.
    connecting = [f for f in spy.mock.frames if f.status.state == "connecting"]
    assert len(connecting) == 1


async def test_a_source_that_cannot_start_leaves_the_devices_dark(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A systemd credential is read when the source is built (the config check
    # reads the environment only): an unusable one ends the run as before.
    (tmp_path / "pocketpaw-status-key").write_text("not a key\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    monkeypatch.delenv("POCKETPAW_STATUS_API_KEY", raising=False)
    spy = Spy(monkeypatch)
    config = _config("http://127.0.0.1:9", bridge={"on_exit": {"color": "orange"}})
    assert config.on_exit is not None
    with pytest.raises(ConfigError, match="POCKETPAW_STATUS_API_KEY"):
        await asyncio.wait_for(run_bridge(config, on_engine=spy.on_engine), 10)
    assert spy.mock.closed_blank is True  # dark, not the on_exit look
    assert not spy.mock.is_open


async def test_a_reload_asked_while_the_sources_start_is_applied_after(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("INVOCATION_ID", "test")  # under systemd: SIGHUP reloads
    spy = Spy(monkeypatch)
    async with SimServer(SimAgent()) as server:
        path = tmp_path / "config.toml"
        text = (
            f'[[sources]]\ntype = "pocketpaw"\nurl = "{server.url}"\nevents = "off"\n'
            '[[devices]]\ntype = "mock"\nname = "led"\n'
            '[theme.global.idle]\ncolor = "{color}"\neffect = "solid"\nbrightness = 1.0\n'
        )
        path.write_text(text.replace("{color}", "#00ff00"))

        def reload_now() -> None:
            path.write_text(text.replace("{color}", "#ff0000"))
            SIGNALS.dispatch(signal.SIGHUP)  # `systemctl reload` right after READY

        spy.then.append(reload_now)
        stop = asyncio.Event()
        run = asyncio.create_task(run_bridge(load_config(path), stop, on_engine=spy.on_engine))
        try:
            await asyncio.wait_for(_until_engine(spy), 10)
            red = await spy.mock.wait_for(
                lambda f: f.status.state == "idle" and f.color.hex == "#ff0000", 10
            )
            assert not stop.is_set()  # reloaded, not stopped
        finally:
            stop.set()
            assert await asyncio.wait_for(run, 10) == 0
    assert red
    assert len(spy.shown_before) == 1  # the theme changed, the source was kept


async def _until_engine(spy: Spy) -> None:
    while spy.engine is None:  # noqa: ASYNC110 - set by a callback, not an event
        await asyncio.sleep(0)


async def test_every_source_starts_with_the_status_shown_for_it() -> None:
    """What the bridge shows for a source before building it is what the source says first
    (said before it connects anywhere: port 9 on 127.0.0.1 refuses)."""
    config = parse_config(
        {
            "sources": [
                {"type": "pocketpaw", "url": "http://127.0.0.1:9/"},
                {"type": "agp", "url": "http://127.0.0.1:9/", "api_key": "k"},
                {"type": "mqtt", "host": "127.0.0.1", "port": 9},
                {"type": "hooks"},
            ],
            "devices": [{"type": "mock"}],
        },
        file="<test>",
    )
    assert sorted(s.type for s in config.sources) == sorted(f.type for f in bridge.sources.SOURCES)
    for entry in config.sources:
        recorder = Recorder()
        (source,) = build_sources(dataclasses.replace(config, sources=(entry,)), recorder)
        task = asyncio.create_task(source.run())
        try:
            first = await recorder.wait_for(lambda s: True, 10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert first == starting_status(entry.name, entry.type, entry.options), entry.type


# -- the command line: only the command being run gets its options ----------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "-c", "x.toml", "--record", "r.jsonl"],
        ["-v", "status", "--json", "--timeout", "2"],
        ["-vq", "show", "tool_running", "--tool", "bash", "-v"],
        ["demo", "--speed", "4", "--agp"],
        ["simulate", "--port", "0"],
        ["test-pattern", "-c", "x.toml", "--step", "0.5"],
        ["preview", "--out", "d", "--model", "xl"],
        ["--quiet", "devices", "--json"],
        ["check", "--url", "127.0.0.1:8888"],
    ],
)
def test_a_parser_with_only_the_command_in_argv_parses_it_as_the_full_one(
    argv: list[str],
) -> None:
    assert commands_in(argv) == (argv[[a.startswith("-") for a in argv].index(False)],)
    lean = parse_args(build_parser(commands_in(argv)), argv)
    assert vars(lean) == vars(parse_args(build_parser(), argv))


@pytest.mark.parametrize(
    ("argv", "needed"),
    [
        (["--help"], ()),
        (["-h"], ()),
        (["--version"], ()),
        ([], ()),
        (["-5", "run"], None),  # argparse takes -5 for the command: all, for its error
        (["--verb", "run"], None),  # an abbreviation: not sure, so all
        (["bogus"], None),
        (["--", "run"], None),
    ],
)
def test_commands_in_is_sure_or_asks_for_all(
    argv: list[str], needed: tuple[str, ...] | None
) -> None:
    assert commands_in(argv) == needed


@pytest.mark.parametrize("columns", ["80", "50", "200", "", "x"])
def test_help_is_the_full_parsers_help_at_argparses_width(
    columns: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    monkeypatch.setenv("COLUMNS", columns)
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    full = build_parser()
    full.formatter_class = argparse.RawDescriptionHelpFormatter  # sized by argparse itself
    assert shown == full.format_help()


# -- what start-up imports: no HTTP, hardware or imaging library before it is needed ----

HTTP = ("httpx", "httpcore", "h11", "anyio", "httpx_sse", "sniffio", "h2")
HARDWARE = ("gpiozero", "lgpio", "serial", "hid", "busylight_core", "StreamDeck", "PIL", "aiomqtt")
# Text layout (~20 ms of imports): only once non-ASCII text is measured or cut.
LAYOUT = ("wcwidth",)

# Runs ``code`` (or the CLI with argv) and, at exit, prints the top-level packages it
# loaded. Empty stand-ins for the hardware libraries come first on the path: an import
# of one that is not installed would fail and leave no trace in sys.modules.
_PROBE = """\
import atexit, sys
_base = set(sys.modules)

@atexit.register
def _dump():
    loaded = sorted({m.split(".")[0] for m in set(sys.modules) - _base})
    sys.__stderr__.write("\\nLOADED:" + ",".join(loaded) + "\\n")

"""


def _probe_env(tmp_path: Path) -> dict[str, str]:
    tripwires = tmp_path / "tripwires"
    for name in HARDWARE:
        (tripwires / name).mkdir(parents=True, exist_ok=True)
        (tripwires / name / "__init__.py").write_text("")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tripwires), str(ROOT)])}


def _loaded(stderr: str) -> list[str]:
    return stderr.rpartition("LOADED:")[2].strip().split(",")


def _probe(tmp_path: Path, code: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE + code],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=_probe_env(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return _loaded(result.stderr)


def test_every_family_descriptor_and_options_load_without_io_libraries(tmp_path: Path) -> None:
    loaded = _probe(
        tmp_path,
        "import bridge.sources, devices\n"
        "for f in (*bridge.sources.SOURCES, *devices.DRIVERS):\n"
        "    f.options_class()\n",
    )
    assert "bridge" in loaded and "devices" in loaded  # the probe sees imports
    assert not set(loaded) & {*HTTP, *HARDWARE}


def test_check_imports_no_http_or_hardware_library(tmp_path: Path) -> None:
    loaded = _probe(
        tmp_path,
        "from bridge.cli import main\nmain(['check', '-c', 'config.example.toml'])\n",
    )
    assert "bridge" in loaded
    assert not set(loaded) & {*HTTP, *HARDWARE, *LAYOUT}


def test_help_and_ascii_text_import_no_text_layout(tmp_path: Path) -> None:
    loaded = _probe(
        tmp_path,
        "import contextlib\n"
        "from bridge.cli import main\n"
        "from bridge.text.textsafe import clean, width\n"
        "with contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "clean('a title \\x1b[2J with an escape', 10)\n"
        "assert width('plain text') == 10\n"
        "assert width('● idle · “t” — 2…') == 17\n",  # the status line's own glyphs
    )
    assert "bridge" in loaded
    assert not set(loaded) & set(LAYOUT)
    # ...and it is there once text needs it.
    assert "wcwidth" in _probe(tmp_path, "from bridge.text.textsafe import width\nwidth('日本')\n")


async def test_a_terminal_and_record_run_imports_no_hardware_library(tmp_path: Path) -> None:
    record = tmp_path / "r.jsonl"
    async with SimServer(SimAgent()) as server:
        config = tmp_path / "c.toml"
        config.write_text(
            f'[[sources]]\ntype = "pocketpaw"\nurl = "{server.url}"\n'
            f'[[devices]]\ntype = "record"\npath = "{record}"\n[[devices]]\ntype = "terminal"\n'
        )
        code = f"from bridge.cli import main\nmain(['run', '-c', {str(config)!r}])\n"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _PROBE + code,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, cwd=ROOT, env=_probe_env(tmp_path),
        )  # fmt: skip

        def idle() -> bool:
            return any(line["global"] == "idle" for line in read_records(record))

        try:
            await eventually(idle, 30)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
    loaded = _loaded(err.decode())
    assert "httpx" in loaded  # the source ran: the probe sees what it imported
    assert not set(loaded) & set(HARDWARE)
