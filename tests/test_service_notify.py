"""sd_notify against a real unix datagram socket: READY, STATUS, WATCHDOG, RELOADING, STOPPING."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bridge.engine import Device, Engine
from bridge.pipeline.model import ConnectionState, SourceStatus
from bridge.pipeline.theme import default_theme
from bridge.service.notify import STATUS_MAX, Notifier, clean_status, watchdog_interval
from bridge.service.supervisor import ServiceSupervisor, status_text
from devices.mock import MockDriver, MockOptions
from harness.vclock import run_virtual, vloop
from tests.frames import make_source


class Manager:
    """The service manager's end: a bound datagram socket that keeps every message."""

    def __init__(self, address: str, sock: socket.socket) -> None:
        self.address = address
        self.sock = sock
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def listen(self) -> None:
        """Collect datagrams on the running loop, stamped with the loop's time."""
        self._loop = asyncio.get_running_loop()
        self.sock.setblocking(False)
        self._loop.add_reader(self.sock.fileno(), self._read)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())

    def _read(self) -> None:
        assert self._loop is not None
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().split("\n"))
            self.messages.append((self._loop.time(), fields))
            event, self._event = self._event, asyncio.Event()
            event.set()

    def with_key(self, key: str) -> list[dict[str, str]]:
        return [m for _, m in self.messages if key in m]

    def times(self, key: str) -> list[float]:
        return [t for t, m in self.messages if key in m]

    async def wait_for(self, key: str, count: int = 1, within: float = 5.0) -> dict[str, str]:
        async with asyncio.timeout(within):
            while len(self.with_key(key)) < count:
                await self._event.wait()
        return self.with_key(key)[count - 1]


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[Manager]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    yield Manager(path, sock)
    sock.close()


def receive(sock: socket.socket) -> str:
    sock.settimeout(2.0)
    return sock.recv(4096).decode()


# -- the protocol ---------------------------------------------------------------------


def test_notifier_sends_one_datagram_of_assignments(manager: Manager) -> None:
    notifier = Notifier(manager.address)
    assert notifier.ready("idle; 1 device ok")
    assert receive(manager.sock) == "READY=1\nSTATUS=idle; 1 device ok"
    assert notifier.watchdog()
    assert receive(manager.sock) == "WATCHDOG=1"
    before = time.monotonic_ns() // 1000
    assert notifier.reloading()
    fields = dict(line.split("=", 1) for line in receive(manager.sock).split("\n"))
    after = time.monotonic_ns() // 1000
    assert fields["RELOADING"] == "1"
    # CLOCK_MONOTONIC in µs, as Type=notify-reload matches it.
    assert before <= int(fields["MONOTONIC_USEC"]) <= after
    assert notifier.stopping()
    assert receive(manager.sock) == "STOPPING=1"
    notifier.close()


def test_abstract_namespace_address() -> None:
    name = f"agentlight-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": "@" + name})
        assert notifier.enabled
        assert notifier.status("connecting")
        assert receive(sock) == "STATUS=connecting"
        notifier.close()


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert not notifier.ready()
    assert notifier.sent == 0


def test_a_vanished_manager_is_logged_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(str(tmp_path / "gone"))
    assert not notifier.watchdog()
    assert not notifier.watchdog()
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "NOTIFY_SOCKET" in warnings[0].getMessage()


def test_unsupported_address_disables_notification(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier("vsock:2:1234")
    assert not notifier.enabled
    assert "not a unix socket path" in caplog.text


def test_status_is_one_printable_line() -> None:
    assert clean_status("idle\nREADY=1\r\x1b[31m") == "idle READY=1 [31m"
    assert len(clean_status("x" * 1000)) == STATUS_MAX


def test_watchdog_interval_from_environment() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    me = os.getpid()
    mine = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(me)}
    assert watchdog_interval(mine) == 2.0
    # Meant for another process (we inherited the environment): not ours to ping.
    assert watchdog_interval({**mine, "WATCHDOG_PID": str(me + 1)}) is None


# -- the supervisor beside a real engine ------------------------------------------------


@pytest.fixture
async def listening(manager: Manager) -> AsyncIterator[Manager]:
    manager.listen()
    yield manager
    manager.stop()


@asynccontextmanager
async def supervised(
    engine: Engine, manager: Manager, **options: Any
) -> AsyncIterator[ServiceSupervisor]:
    """``engine`` (no sources) and a supervisor notifying ``manager``, until the block ends."""
    stop = asyncio.Event()
    supervisor = ServiceSupervisor(engine, Notifier(manager.address), **options)
    tasks = (asyncio.create_task(engine.run([], stop)), asyncio.create_task(supervisor.run(stop)))
    try:
        yield supervisor
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_ready_only_after_every_device_showed_its_first_look(listening: Manager) -> None:
    slow = MockDriver("slow")
    fast = MockDriver("fast")
    gate = asyncio.Event()
    real_show = slow._show

    async def held_show(frame):  # type: ignore[no-untyped-def]
        await gate.wait()
        await real_show(frame)

    slow._show = held_show  # type: ignore[method-assign]
    engine = Engine([Device(slow), Device(fast)], default_theme())
    async with supervised(engine, listening, watchdog=0):
        await listening.wait_for("STATUS")  # "starting: …"
        await fast.wait_for(lambda f: True)
        for _ in range(20):  # let everything that can run, run: the slow device holds READY
            await asyncio.sleep(0)
        assert listening.with_key("READY") == []
        gate.set()
        ready = await listening.wait_for("READY")
        assert slow.shown and fast.shown
        assert "2 devices ok" in ready["STATUS"]
    stopping = await listening.wait_for("STOPPING")
    assert stopping["STOPPING"] == "1"


async def test_a_missing_device_does_not_hold_ready_and_is_named(listening: Manager) -> None:
    missing = MockDriver("deck", MockOptions(fail_open=1000))
    led = MockDriver("led")
    engine = Engine([Device(missing), Device(led)], default_theme(), device_retry=(60, 60))
    async with supervised(engine, listening, watchdog=0):
        ready = await listening.wait_for("READY")
        assert led.shown
        assert "not ready: deck" in ready["STATUS"]
        assert "unhealthy: deck (" in ready["STATUS"]


def test_ready_is_sent_anyway_when_the_engine_never_gets_there(
    manager: Manager, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        manager.listen()
        hung = MockDriver("hung", MockOptions(hang_show=True, write_timeout=600))
        engine = Engine([Device(hung)], default_theme())
        async with supervised(engine, manager, watchdog=0):
            await manager.wait_for("READY", within=100)
            assert not engine.ready.is_set()
        manager.stop()

    run_virtual(main)
    assert manager.times("READY") == pytest.approx([30.0])  # READY_TIMEOUT
    assert "no look yet: hung" in manager.with_key("READY")[0]["STATUS"]
    assert "ready anyway" in caplog.text


def test_status_follows_the_agent_state_and_is_sent_only_on_change(manager: Manager) -> None:
    async def main() -> None:
        manager.listen()
        led = MockDriver("led")
        engine = Engine([Device(led)], default_theme(), clock=lambda: vloop().time())
        async with supervised(engine, manager, watchdog=0, status_every=5):
            await manager.wait_for("READY")
            engine.publish(
                SourceStatus("pp", ConnectionState.DISCONNECTED, None, "connection refused")
            )
            await asyncio.sleep(60)  # one change, told by the engine, not polled
        manager.stop()

    run_virtual(main)
    statuses = [m["STATUS"] for m in manager.with_key("STATUS")]
    assert statuses[0].startswith("starting")
    assert statuses[2].startswith("disconnected (connection refused); 1 device ok")
    assert len(statuses) == 4  # starting, READY, the change, STOPPING
    assert manager.times("STATUS")[2] == pytest.approx(5.0)


def test_an_idle_bridge_under_systemd_wakes_for_the_watchdog_alone(manager: Manager) -> None:
    async def main() -> None:
        manager.listen()
        loop = vloop()
        led = MockDriver("led")
        engine = Engine([Device(led)], default_theme(), clock=loop.time)
        async with supervised(engine, manager, watchdog=30.0):
            await manager.wait_for("READY")
            engine.publish(make_source("pp", "idle"))  # a static look
            await asyncio.sleep(10)
            jumps, pings = loop.jumps, len(manager.times("WATCHDOG"))
            await asyncio.sleep(3600)
            # A ping every 15 s and nothing else: no status polling, no device wake-up.
            assert len(manager.times("WATCHDOG")) - pings == 240
            assert loop.jumps - jumps == 240 + 1  # + the jump that ends this sleep
            # A device that starts failing is news: told within status_every (5 s).
            led.options = dataclasses.replace(led.options, fail_show=-1)
            led.invalidate()
            failed_at = loop.time()
            await manager.wait_for("STATUS", count=len(manager.with_key("STATUS")) + 1, within=10)
            assert loop.time() - failed_at == pytest.approx(5.0)
            assert "unhealthy: led (cannot show" in manager.with_key("STATUS")[-1]["STATUS"]
        manager.stop()

    run_virtual(main)


def test_status_text_names_unhealthy_devices() -> None:
    async def main() -> str:
        led = MockDriver("led")
        led.mark_unhealthy("cannot open: no such device")
        engine = Engine([Device(led)], default_theme())
        return status_text(engine)

    assert asyncio.run(main()).endswith("unhealthy: led (cannot open: no such device)")


def test_watchdog_pings_at_half_the_interval_on_a_virtual_clock(manager: Manager) -> None:
    async def main() -> None:
        manager.listen()
        led = MockDriver("led")
        engine = Engine([Device(led)], default_theme())
        async with supervised(engine, manager, watchdog=30.0):
            await asyncio.sleep(100)  # virtual seconds
        manager.stop()
        assert vloop().time() >= 100

    run_virtual(main)
    pings = manager.times("WATCHDOG")
    assert pings == pytest.approx([15.0, 30.0, 45.0, 60.0, 75.0, 90.0])


def test_watchdog_pings_stop_when_an_engine_task_dies(
    manager: Manager, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        manager.listen()
        led = MockDriver("led")
        engine = Engine([Device(led)], default_theme())
        async with supervised(engine, manager, watchdog=10.0):
            await asyncio.sleep(12)
            # A device task that ended is a bridge that no longer works: no more pings.
            engine._device_tasks["led"].cancel()
            await asyncio.sleep(60)
        manager.stop()

    run_virtual(main)
    assert manager.times("WATCHDOG") == pytest.approx([5.0, 10.0])
    assert "withholding watchdog pings" in caplog.text


async def test_reload_is_bracketed_by_reloading_and_ready(listening: Manager) -> None:
    led = MockDriver("led")
    engine = Engine([Device(led)], default_theme())
    async with supervised(engine, listening, watchdog=0) as sup:
        await listening.wait_for("READY")
        added = MockDriver("added")

        async def apply() -> str | None:
            await engine.add_device(Device(added))
            return None

        assert await sup.reload(apply) is None
        reloading = await listening.wait_for("RELOADING")
        assert "MONOTONIC_USEC" in reloading
        ready = await listening.wait_for("READY", count=2)
        # READY after the reload waited for the new device's first look.
        assert added.shown
        assert "2 devices ok" in ready["STATUS"]
        order = [k for _, m in listening.messages for k in m if k in ("RELOADING", "READY")]
        assert order == ["READY", "RELOADING", "READY"]

        async def refuse() -> str | None:
            return "last reload refused (see the log)"

        await sup.reload(refuse)
        ready = await listening.wait_for("READY", count=3)
        assert ready["STATUS"].endswith("last reload refused (see the log)")


def test_sighup_means_reload_only_under_systemd() -> None:
    from bridge.service.notify import under_service_manager

    assert under_service_manager({"INVOCATION_ID": "5f0c"})
    assert under_service_manager({"NOTIFY_SOCKET": "/run/systemd/notify"})
    # In a terminal SIGHUP is the terminal going away: the bridge stops (bridge/infra/signals.py).
    assert not under_service_manager({})
