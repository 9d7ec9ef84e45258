"""Start-up order: devices show their first look before the sources are built.

Building a source imports its module and HTTP stack (httpx, httpcore, anyio), most
of the start-up on a Pi Zero; the devices need none of it. What they show first is
the look the sources start with, so nothing changes for the user but the timing.
(How long start-up takes is measured in ``benchmarks/``.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
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
from tests.conftest import Recorder


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
