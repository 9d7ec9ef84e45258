"""Reload: a changed config applies to the running bridge without dropping the server stream.

The built-in simulator on 127.0.0.1 counts requests per path, so the number of
stream requests proves whether the source kept its connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.app import build_engine
from bridge.engine import Engine
from bridge.infra.config import Config, load_config
from bridge.service.notify import Notifier
from bridge.service.reload import plan
from bridge.service.runtime import ServiceRuntime
from bridge.simulator import SimAgent, SimServer
from bridge.simulator.server import STREAM_PATH
from devices.mock import MockDriver

ROOT = Path(__file__).resolve().parent.parent

SOURCE = """\
[[sources]]
type = "pocketpaw"
name = "pp"
url = "{url}"
reconnect_min = 0.01
reconnect_max = 0.05
{source_extra}
"""

MOCK = """
[[devices]]
type = "mock"
name = "{name}"
{extra}
"""

THEME = """
[theme.global.idle]
color = "{color}"
effect = "solid"
"""


def config_text(
    url: str,
    devices: dict[str, str],
    idle: str = "#00ff40",
    source_extra: str = "",
) -> str:
    text = SOURCE.format(url=url, source_extra=source_extra)
    for name, extra in devices.items():
        text += MOCK.format(name=name, extra=extra)
    return text + THEME.format(color=idle)


@dataclass
class Bridge:
    server: SimServer
    path: Path
    engine: Engine
    runtime: ServiceRuntime
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]]

    def write(self, **kw: object) -> None:
        self.path.write_text(config_text(self.server.url, **kw))  # type: ignore[arg-type]

    def mock(self, name: str) -> MockDriver:
        for device in self.engine.devices:
            if device.driver.name == name:
                assert isinstance(device.driver, MockDriver)
                return device.driver
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [d.driver.name for d in self.engine.devices]

    @property
    def streams(self) -> int:
        return self.server.requests[STREAM_PATH]

    @property
    def config(self) -> Config:
        assert self.runtime.reloader is not None
        return self.runtime.reloader.config


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    async with SimServer(SimAgent(), debounce=0.01, keepalive=0.1) as server:
        path = tmp_path / "config.toml"
        path.write_text(config_text(server.url, {"led": "", "deck": ""}))
        config = load_config(path)
        engine, sources = build_engine(config)
        runtime = ServiceRuntime(
            engine, config, load=lambda: load_config(path), notifier=Notifier(None)
        )
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(engine.run(sources, stop)),
            asyncio.create_task(runtime.run(stop)),
        ]
        b = Bridge(server, path, engine, runtime, stop, tasks)
        await engine.ready.wait()
        for name in ("led", "deck"):
            await b.mock(name).wait_for(lambda f: f.state.value == "idle", timeout=5)
        assert b.streams == 1 and server.open_streams == 1
        yield b
        stop.set()
        await asyncio.gather(*tasks)


def untouched(mock: MockDriver) -> bool:
    """Opened once, never closed or re-shown since ``mock.clear()``."""
    return mock.open_attempts == 1 and mock.calls == []


async def test_theme_only_redraws_and_keeps_the_connection(bridge: Bridge) -> None:
    led = bridge.mock("led")
    bridge.write(devices={"led": "", "deck": ""}, idle="#ff0000")
    assert await bridge.runtime.reload() is None
    frame = await led.wait_for(lambda f: f.look.color.hex == "#ff0000", timeout=5)
    assert frame.state.value == "idle"
    assert led.open_attempts == 1 and "close" not in led.calls
    assert bridge.streams == 1 and bridge.server.open_streams == 1


async def test_device_added_removed_and_changed_leave_the_others_alone(
    bridge: Bridge,
) -> None:
    led, deck = bridge.mock("led"), bridge.mock("deck")
    led.clear()
    bridge.write(devices={"led": "", "deck": "fps = 5.0", "strip": ""})
    assert await bridge.runtime.reload() is None
    assert bridge.names == ["led", "deck", "strip"]
    new_deck, strip = bridge.mock("deck"), bridge.mock("strip")
    assert new_deck is not deck and deck.closed_blank is True  # replaced: the old one dark
    await new_deck.wait_for(lambda f: f.state.value == "idle", timeout=5)
    await strip.wait_for(lambda f: f.state.value == "idle", timeout=5)
    assert untouched(led)  # no flicker on the unchanged device

    bridge.write(devices={"led": "", "deck": "fps = 5.0"})
    assert await bridge.runtime.reload() is None
    assert bridge.names == ["led", "deck"]
    assert strip.closed_blank is True
    assert untouched(led)
    assert bridge.streams == 1 and bridge.server.open_streams == 1


async def test_invalid_config_is_refused_with_one_line_and_the_old_keeps_running(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    before = bridge.config
    led = bridge.mock("led")
    led.clear()
    caplog.clear()
    bridge.path.write_text(
        config_text(bridge.server.url, {"led": "fail_open = -3"}).replace("#00ff40", "#00ff41")
    )
    refusal = await bridge.runtime.reload()
    assert refusal is not None and "refused" in refusal
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1
    line = errors[0].getMessage()
    assert "\n" not in line
    assert line.startswith("reload refused, still running the previous config: config error:")
    assert "fail_open" in line
    assert bridge.config is before
    assert bridge.names == ["led", "deck"]
    assert untouched(led)
    # A config that is not TOML at all: the same.
    bridge.path.write_text("[[devices]\n")
    assert await bridge.runtime.reload() is not None
    assert "not valid TOML" in caplog.text
    # Still alive: the agent's next state reaches the devices.
    bridge.write(devices={"led": "", "deck": ""}, idle="#0000ff")
    assert await bridge.runtime.reload() is None
    await led.wait_for(lambda f: f.look.color.hex == "#0000ff", timeout=5)
    assert bridge.streams == 1


async def test_only_a_changed_source_is_restarted(bridge: Bridge) -> None:
    led = bridge.mock("led")
    led.clear()
    bridge.write(devices={"led": "", "deck": ""}, source_extra="stale_after = 60.0")
    assert await bridge.runtime.reload() is None
    await asyncio.wait_for(_until(lambda: bridge.streams == 2), 5)
    assert bridge.server.open_streams == 1  # the old stream was closed, a new one opened
    # The device saw the source reconnect (new looks) but was never reopened.
    assert "open" not in led.calls and "close" not in led.calls


async def _until(condition) -> None:  # type: ignore[no-untyped-def]
    while not condition():  # noqa: ASYNC110 - a request counter has no event
        await asyncio.sleep(0.005)


def test_plan_names_what_changed(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(config_text("http://127.0.0.1:1", {"a": "", "b": ""}))
    old = load_config(path)
    path.write_text(
        config_text("http://127.0.0.1:1", {"b": "fps = 2.0", "c": ""}, idle="red")
    )
    new = load_config(path)
    p = plan(old, new)
    assert (p.devices_added, p.devices_removed, p.devices_changed) == (["c"], ["a"], ["b"])
    assert p.theme and p.sources_changed == []
    assert p.describe() == "theme; devices added: c; devices removed: a; devices changed: b"
    assert plan(new, new).describe() == "nothing changed"


# -- the whole program: systemd's view through NOTIFY_SOCKET, SIGHUP, SIGTERM ------------


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[dict[str, str]] = []

    async def next_with(self, key: str, within: float = 10.0) -> dict[str, str]:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(within):
            while True:
                data = await loop.sock_recv(self.sock, 4096)
                fields = dict(line.split("=", 1) for line in data.decode().split("\n"))
                self.messages.append(fields)
                if key in fields:
                    return fields


@asynccontextmanager
async def bridge_process(
    config: Path, notify: NotifySocket, env: dict[str, str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``agentlight run -c config`` telling ``notify``; killed if the test leaves it running."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge", "run", "-c", str(config),
        cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        notify.sock.close()


@pytest.mark.skipif(sys.platform != "linux", reason="unix datagram notify socket")
async def test_the_program_reports_to_systemd_and_reloads_on_sighup(tmp_path: Path) -> None:
    notify = NotifySocket(tmp_path / "notify")
    record = tmp_path / "record.jsonl"
    async with SimServer(SimAgent(), debounce=0.01, keepalive=0.1) as server:
        path = tmp_path / "config.toml"
        base = SOURCE.format(url=server.url, source_extra="")
        record_device = f'\n[[devices]]\ntype = "record"\nname = "rec"\npath = "{record}"\n'
        path.write_text(base + record_device + THEME.format(color="#00ff40"))
        env = {
            **os.environ,
            "NOTIFY_SOCKET": str(notify.path),
            "WATCHDOG_USEC": "200000",  # pings every 0.1 s
            "WATCHDOG_PID": "",
        }
        async with bridge_process(path, notify, env) as proc:
            ready = await notify.next_with("READY")
            assert ready["STATUS"].endswith("1 device ok")
            await notify.next_with("WATCHDOG")
            # READY means the first look is shown; the source starts right after it.
            await asyncio.wait_for(_until(lambda: server.requests[STREAM_PATH] > 0), 10)
            assert server.requests[STREAM_PATH] == 1

            # A new theme and a second device, applied by SIGHUP.
            second = tmp_path / "second.jsonl"
            path.write_text(
                base
                + record_device
                + f'\n[[devices]]\ntype = "record"\nname = "rec2"\npath = "{second}"\n'
                + THEME.format(color="#ff0000")
            )
            proc.send_signal(signal.SIGHUP)
            reloading = await notify.next_with("RELOADING")
            assert int(reloading["MONOTONIC_USEC"]) > 0
            ready = await notify.next_with("READY")
            assert ready["STATUS"].endswith("2 devices ok")
            assert '"#ff0000"' in second.read_text()
            assert '"#ff0000"' in record.read_text()

            # A broken file: refused, the old config keeps running.
            path.write_text("this is not toml")
            proc.send_signal(signal.SIGHUP)
            await notify.next_with("RELOADING")
            ready = await notify.next_with("READY")
            assert "last reload refused" in ready["STATUS"]
            assert server.requests[STREAM_PATH] == 1 and server.open_streams == 1

            proc.send_signal(signal.SIGTERM)
            stopping = await notify.next_with("STOPPING")
            assert stopping["STOPPING"] == "1"
            assert await asyncio.wait_for(proc.wait(), 10) == 0
        assert proc.stderr is not None
        stderr = (await proc.stderr.read()).decode()
        refused = [line for line in stderr.splitlines() if "reload refused" in line]
        assert len(refused) == 1 and "not valid TOML" in refused[0]
        assert "reloaded" in stderr and "devices added: rec2" in stderr
