"""MQTT device and source against a real Mosquitto on 127.0.0.1 (see tests/mosquitto.py)."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.net.mqtt import OWN_PREFIXES
from bridge.pipeline.model import ConnectionState, GlobalState, SourceStatus
from bridge.pipeline.status_json import status_to_json
from bridge.sources.mqtt.options import Options as SourceOptions
from bridge.sources.mqtt.source import MqttSource
from devices.mqtt.publisher import MqttDriver, MqttOptions
from harness.procs import read_records, terminate
from tests.conftest import Recorder, describe, eventually
from tests.mosquitto import Broker, make_tls_files
from tests.test_mqtt_parts import PAYLOADS, status_frame, status_of

aiomqtt = pytest.importorskip("aiomqtt", reason="the mqtt extra: pip install -e '.[mqtt]'")

ROOT = Path(__file__).resolve().parent.parent
FAST: dict[str, Any] = {"reconnect_min": 0.02, "reconnect_max": 0.1, "connect_timeout": 2.0}
KINDS = ("status", "availability", "state", "status/extra")
SESSIONS = [("websocket:abc", "tool_running", "bash"), ("discord:x", "waiting_for_user")]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AGENTLIGHT_MQTT_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    before = set(OWN_PREFIXES)
    yield
    OWN_PREFIXES.intersection_update(before)


class Bridges:
    """Publishers and subscribers on one broker, all closed at the end of a test."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.drivers: list[MqttDriver] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def publisher(
        self, prefix: str = "agentlight/desk", *, own: bool = False, **options: Any
    ) -> MqttDriver:
        """An ``mqtt`` device; unless ``own``, as if on another machine."""
        opts = MqttOptions(**{**self.broker.options, **FAST, "prefix": prefix, **options})
        driver = MqttDriver("mqtt", opts)
        if not own:
            OWN_PREFIXES.discard(prefix)
        await driver.open()
        self.drivers.append(driver)
        return driver

    def subscriber(
        self, prefix: str = "agentlight/+", **options: Any
    ) -> tuple[MqttSource, Recorder]:
        recorder = Recorder()
        opts = SourceOptions(**{**self.broker.options, **FAST, "prefix": prefix, **options})
        source = MqttSource("remote", opts, recorder)
        self.tasks.append(asyncio.create_task(source.run()))
        return source, recorder

    async def close(self) -> None:
        for driver in self.drivers:
            await driver.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def bridges(broker: Broker) -> AsyncIterator[Bridges]:
    b = Bridges(broker)
    yield b
    await b.close()


async def retained(broker: Broker, topic_filter: str) -> dict[str, bytes]:
    """Every retained message under ``topic_filter`` right now.

    A marker published after subscribing comes back after the retained
    messages (the broker keeps order per client), so no waiting on a timer.
    """
    marker = f"agentlight-test/marker/{os.getpid()}"
    found: dict[str, bytes] = {}
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe([(topic_filter, 1), (marker, 1)])
        await client.publish(marker, b"end", qos=1)
        async with asyncio.timeout(5):
            async for message in client.messages:
                topic = message.topic.value
                if topic == marker:
                    return found
                if message.retain:
                    found[topic] = bytes(message.payload)
    return found


def sessions_of(status: SourceStatus) -> list[tuple[str, str, str]]:
    snapshot = status.snapshot
    assert snapshot is not None
    return [(s.source, s.key, s.state.value) for s in snapshot.sessions]


# -- publisher -> broker -> subscriber ---------------------------------------------


async def test_status_travels_from_publisher_to_subscriber(bridges: Bridges) -> None:
    publisher = await bridges.publisher("agentlight/desk")
    await publisher.show(status_frame("active", SESSIONS))
    _, recorder = bridges.subscriber()

    status = await recorder.wait_for(lambda s: s.snapshot is not None and s.snapshot.sessions)
    assert status.connection is ConnectionState.CONNECTED
    assert status.global_state is GlobalState.ACTIVE
    got = sessions_of(status)
    assert [(key, state) for _, key, state in got] == [
        ("websocket:abc", "tool_running"),
        ("discord:x", "waiting_for_user"),
    ]
    # Sessions keep their origin in their source name.
    assert all("agentlight/desk" in source for source, _, _ in got)
    tools = [s.tool for s in status.snapshot.sessions]  # type: ignore[union-attr]
    assert tools == ["bash", None]

    # A change of state travels too.
    mark = recorder.mark()
    await publisher.show(status_frame("idle"))
    idle = await recorder.wait_for(lambda s: s.global_state is GlobalState.IDLE, start=mark)
    assert sessions_of(idle) == []


async def test_retained_topics_for_a_late_subscriber(bridges: Bridges, broker: Broker) -> None:
    publisher = await bridges.publisher("agentlight/desk")
    await publisher.show(status_frame("active", SESSIONS))
    await eventually(lambda: publisher.publishes == 1)

    topics = await retained(broker, "agentlight/desk/#")
    assert topics["agentlight/desk/state"] == b"active"
    assert topics["agentlight/desk/availability"] == b"online"
    body = json.loads(topics["agentlight/desk/status"])
    assert body["version"] == 1
    assert [s["key"] for s in body["sessions"]] == ["websocket:abc", "discord:x"]

    # A subscriber that starts now gets it all from the broker alone.
    _, recorder = bridges.subscriber("agentlight/desk")
    status = await recorder.wait_for(lambda s: s.snapshot is not None)
    assert status.global_state is GlobalState.ACTIVE
    assert len(sessions_of(status)) == 2


async def test_two_publishers_stay_apart(bridges: Bridges) -> None:
    desk = await bridges.publisher("agentlight/desk")
    lab = await bridges.publisher("agentlight/lab")
    await desk.show(status_frame("active", [("websocket:abc", "thinking")]))
    await lab.show(status_frame("degraded", [("websocket:abc", "error")]))
    _, recorder = bridges.subscriber()

    status = await recorder.wait_for(
        lambda s: s.snapshot is not None and len(s.snapshot.sessions) == 2
    )
    # The same session key on two bridges is two sessions.
    sources = {source for source, _, _ in sessions_of(status)}
    assert len(sources) == 2
    assert any("desk" in s for s in sources) and any("lab" in s for s in sources)
    # The most severe bridge wins the global state.
    assert status.global_state is GlobalState.DEGRADED


async def test_a_bridge_never_reads_back_its_own_status(bridges: Bridges) -> None:
    mine = await bridges.publisher("agentlight/me", own=True)
    other = await bridges.publisher("agentlight/other")
    await mine.show(status_frame("degraded", [("websocket:mine", "error")]))
    await other.show(status_frame("active", [("websocket:theirs", "thinking")]))
    await eventually(lambda: mine.publishes == 1 and other.publishes == 1)
    source, recorder = bridges.subscriber()

    status = await recorder.wait_for(lambda s: s.snapshot is not None)
    assert [key for _, key, _ in sessions_of(status)] == ["websocket:theirs"]
    assert status.global_state is GlobalState.ACTIVE
    assert "agentlight/me" not in source._origins


async def test_state_changes_only_not_animation_frames(bridges: Bridges, broker: Broker) -> None:
    publisher = await bridges.publisher("agentlight/desk")
    # Frames that differ only in their sampled color and time: an animating look.
    for i in range(50):
        frame = status_frame(
            "active", SESSIONS, effect="pulse", sampled=f"#{i:02x}0000", t=i * 0.033
        )
        await publisher.show(frame)
    await publisher.show(status_frame("idle"))
    await eventually(lambda: publisher.publishes >= 1 and publisher._sent is not None)
    await eventually(lambda: publisher._sent is not None and publisher._sent.state.value == "idle")
    # One publish per distinct status at most (the first may be skipped as stale).
    assert publisher.publishes <= 2
    assert (await retained(broker, "agentlight/desk/state"))["agentlight/desk/state"] == b"idle"


async def test_close_says_offline(bridges: Bridges, broker: Broker) -> None:
    publisher = await bridges.publisher("agentlight/desk")
    await publisher.show(status_frame("active"))
    await eventually(lambda: publisher.publishes == 1)
    await publisher.close()
    topics = await retained(broker, "agentlight/desk/#")
    assert topics["agentlight/desk/availability"] == b"offline"


async def test_subscriber_shows_a_bridge_that_went_offline(bridges: Bridges) -> None:
    publisher = await bridges.publisher("agentlight/desk")
    await publisher.show(status_frame("active", SESSIONS))
    _, recorder = bridges.subscriber()
    await recorder.wait_for(lambda s: s.global_state is GlobalState.ACTIVE)
    mark = recorder.mark()
    await publisher.close()
    status = await recorder.wait_for(
        lambda s: s.connection is ConnectionState.DISCONNECTED, start=mark
    )
    assert status.detail is not None and "agentlight/desk" in status.detail
    assert status.global_state is GlobalState.DISCONNECTED


# -- the will, a killed publisher ------------------------------------------------------


def _bridge_config(path: Path, broker: Broker, prefix: str, port: int) -> Path:
    path.write_text(
        f"""
[[sources]]
type = "pocketpaw"
url = "http://127.0.0.1:{port}"
reconnect_min = 0.05
reconnect_max = 0.2

[[devices]]
type = "mqtt"
host = "{broker.host}"
port = {broker.port}
prefix = "{prefix}"
homeassistant = false
keepalive = 5
"""
    )
    return path


async def test_will_says_offline_when_the_publisher_is_killed(
    bridges: Bridges, broker: Broker, tmp_path: Path
) -> None:
    from bridge.simulator import SimAgent, SimServer

    log = tmp_path / "publisher.log"
    async with SimServer(SimAgent(), debounce=0.01, keepalive=0.1) as server:
        port = int(server.url.rsplit(":", 1)[1])
        config = _bridge_config(tmp_path / "pub.toml", broker, "agentlight/killed", port)
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "bridge", "run", "-v", "-c", str(config)),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        try:
            _, recorder = bridges.subscriber("agentlight/killed")
            await recorder.wait_for(lambda s: s.global_state is GlobalState.IDLE, within=30)
            assert proc.returncode is None, log.read_text()
            mark = recorder.mark()
            proc.send_signal(signal.SIGKILL)  # no chance to say goodbye
            status = await recorder.wait_for(
                lambda s: s.connection is ConnectionState.DISCONNECTED, start=mark, within=15
            )
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
    said = log.read_text()
    # asyncio reports 255 when the child's status was reaped before its watcher
    # saw it (seen once in CI); either way it died without saying goodbye, which
    # is what the will below is about.
    assert proc.returncode in (-signal.SIGKILL, 255), said
    assert status.detail is not None and "agentlight/killed offline" in status.detail, said
    topics = await retained(broker, "agentlight/killed/#")
    assert topics["agentlight/killed/availability"] == b"offline", (topics, said)
    # The last word stays, marked offline.
    assert topics["agentlight/killed/state"] == b"idle", (topics, said)



async def test_two_bridges_as_users_run_them(broker: Broker, tmp_path: Path) -> None:
    """``agentlight run`` next to the agent, ``agentlight run`` in the hallway, one broker."""
    from bridge.simulator import SimAgent, SimServer

    record = tmp_path / "hallway.jsonl"
    hallway = tmp_path / "hallway.toml"
    hallway.write_text(
        f"""
[[sources]]
type = "mqtt"
host = "{broker.host}"
port = {broker.port}
reconnect_min = 0.05
reconnect_max = 0.2

[[devices]]
type = "record"
path = "{record}"
"""
    )
    agent = SimAgent()
    async with SimServer(agent, debounce=0.01, keepalive=0.1) as server:
        port = int(server.url.rsplit(":", 1)[1])
        desk = _bridge_config(tmp_path / "desk.toml", broker, "agentlight/desk", port)
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "bridge", "run", "-q", "-c", str(config)),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for config in (hallway, desk)
        ]
        try:
            agent.agent_start("websocket:abc", title="Fix the build")
            agent.tool_start("websocket:abc", "bash")

            def shows_bash(r: dict[str, Any]) -> bool:
                return any(s.get("tool") == "bash" for s in r.get("sessions", []))

            await eventually(lambda: any(shows_bash(r) for r in read_records(record)), within=20)
            line = next(r for r in read_records(record) if shows_bash(r))
            assert line["global"] == "active"
            session = next(s for s in line["sessions"] if s.get("tool") == "bash")
            assert session["source"] == "agentlight/desk/pocketpaw"
            assert session["key"] == "websocket:abc"

            # The desk bridge stops cleanly: it says offline, the hallway shows it.
            procs[1].send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(procs[1].wait(), 10) == 0
            await eventually(
                lambda: read_records(record)[-1]["global"] == "disconnected", within=10
            )
        finally:
            for proc in procs:
                await terminate(proc, 10)
    assert procs[0].returncode == 0
    topics = await retained(broker, "agentlight/desk/#")
    assert topics["agentlight/desk/availability"] == b"offline"


# -- the broker goes away --------------------------------------------------------------


async def test_broker_restart_in_the_middle(bridges: Bridges, broker: Broker) -> None:
    publisher = await bridges.publisher("agentlight/desk")
    await publisher.show(status_frame("active", SESSIONS))
    _, recorder = bridges.subscriber()
    await recorder.wait_for(lambda s: s.global_state is GlobalState.ACTIVE)
    connects = publisher.link.connects

    mark = recorder.mark()
    broker.stop()
    # Mosquitto may first pass on the publisher's will ("offline") as it stops.
    await recorder.wait_for(
        lambda s: (
            s.connection is ConnectionState.DISCONNECTED
            and f"broker 127.0.0.1:{broker.port}" in (s.detail or "")
        ),
        start=mark,
    )
    await eventually(lambda: not publisher.health.ok)
    # States while the broker is away: only the latest one is sent later.
    await publisher.show(status_frame("degraded", [("websocket:abc", "error")]))
    await publisher.show(status_frame("idle"))
    sent_before = publisher.publishes
    # Showing a status while the broker is away is no sign of health.
    assert not publisher.health.ok
    assert f"127.0.0.1:{broker.port}" in publisher.health.detail

    mark = recorder.mark()
    broker.start()  # retained messages were lost with it (persistence off)
    back = await recorder.wait_for(
        lambda s: s.global_state is GlobalState.IDLE, start=mark, within=10
    )
    assert back.connection is ConnectionState.CONNECTED
    await eventually(lambda: publisher.link.connects > connects and publisher.health.ok)
    assert publisher.publishes == sent_before + 1
    seen = [s.global_state for s in recorder.statuses[mark:]]
    assert GlobalState.DEGRADED not in seen
    topics = await retained(broker, "agentlight/desk/#")
    assert topics["agentlight/desk/availability"] == b"online"
    assert topics["agentlight/desk/state"] == b"idle"


async def test_no_broker_at_start_then_it_comes(tmp_path: Path) -> None:
    broker = Broker(tmp_path)  # configured, not started
    bridges = Bridges(broker)
    try:
        publisher = await bridges.publisher("agentlight/desk")
        OWN_PREFIXES.discard("agentlight/desk")
        await publisher.show(status_frame("active", SESSIONS))  # never waits on the network
        _, recorder = bridges.subscriber()
        await recorder.wait_for(lambda s: s.connection is ConnectionState.DISCONNECTED)
        await eventually(lambda: not publisher.health.ok)
        broker.start()
        await recorder.wait_for(lambda s: s.global_state is GlobalState.ACTIVE, within=10)
    finally:
        await bridges.close()
        broker.stop()


# -- credentials -------------------------------------------------------------------------


async def test_auth_failure_and_success(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    broker = Broker(tmp_path, users={"agent": "right-horse-battery"})
    broker.start()
    bridges = Bridges(broker)
    try:
        wrong = await bridges.publisher(
            "agentlight/wrong", username="agent", password="wrong-staple-pass"
        )
        _, denied = bridges.subscriber(username="agent", password="wrong-staple-pass")
        status = await denied.wait_for(lambda s: s.connection is ConnectionState.AUTH_FAILED)
        assert status.global_state is GlobalState.AUTH_FAILED
        assert status.detail is not None and "check username and password" in status.detail
        await eventually(lambda: "refused user 'agent'" in wrong.health.detail)
        assert not wrong.health.ok

        right = await bridges.publisher(
            "agentlight/right", username="agent", password="right-horse-battery"
        )
        await right.show(status_frame("active"))
        _, allowed = bridges.subscriber(username="agent", password="right-horse-battery")
        await allowed.wait_for(lambda s: s.global_state is GlobalState.ACTIVE)
        assert right.health.ok
    finally:
        await bridges.close()
        broker.stop()
    text = caplog.text + "".join(describe(s) for s in denied.statuses)
    assert "wrong-staple-pass" not in text and "right-horse-battery" not in text
    assert "wrong-staple-pass" not in repr(wrong.o) + str(wrong.o)


async def test_password_from_environment_and_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = Broker(tmp_path, users={"agent": "from-elsewhere"})
    broker.start()
    bridges = Bridges(broker)
    try:
        monkeypatch.setenv("AGENTLIGHT_MQTT_PASSWORD", "from-elsewhere")
        _, env = bridges.subscriber(username="agent")
        await env.wait_for(lambda s: s.connection is ConnectionState.CONNECTED)
        monkeypatch.delenv("AGENTLIGHT_MQTT_PASSWORD")
        creds = tmp_path / "creds"
        creds.mkdir()
        (creds / "mqtt_password").write_text("from-elsewhere\n")
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
        _, cred = bridges.subscriber(username="agent")
        await cred.wait_for(lambda s: s.connection is ConnectionState.CONNECTED)
    finally:
        await bridges.close()
        broker.stop()


# -- untrusted payloads on a real broker ---------------------------------------------------


async def test_bad_payloads_are_refused_once_and_never_fatal(
    bridges: Bridges, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = await bridges.publisher("agentlight/desk")
    await publisher.show(status_frame("active", SESSIONS))
    source, recorder = bridges.subscriber(max_payload_bytes=4096)
    await recorder.wait_for(lambda s: s.global_state is GlobalState.ACTIVE)
    caplog.set_level(logging.INFO, logger="agentlight.sources.mqtt")

    bad = [
        b"not json",
        b"\x1b[31mred\x1b[0m",
        json.dumps({"version": 99, "state": "idle", "sessions": []}).encode(),
        json.dumps({"version": 1, "state": "nonsense"}).encode(),
        b"[" * 5000,
        b"x" * 5000,
    ]
    async with aiomqtt.Client(broker.host, broker.port) as client:
        for payload in bad:
            await client.publish("agentlight/desk/status", payload, qos=1)
        await client.publish("agentlight/desk/availability", b"maybe", qos=1)
        await eventually(lambda: source.refused == len(bad) + 1)
    # The last good status stays; the source never stopped.
    assert recorder.last.global_state is GlobalState.ACTIVE
    assert len(sessions_of(recorder.last)) == 2
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert 1 <= len(warnings) <= len(bad) + 1
    for record in warnings:
        message = record.getMessage()
        assert "\n" not in message and "\x1b" not in message

    # A good status again is taken.
    await publisher.show(status_frame("idle"))
    await recorder.wait_for(lambda s: s.global_state is GlobalState.IDLE)


# -- Home Assistant discovery --------------------------------------------------------------


async def test_discovery_configs_birth_and_removal(bridges: Bridges, broker: Broker) -> None:
    publisher = await bridges.publisher("agentlight/desk", device_name="Desk agent")
    await publisher.show(status_frame("active", SESSIONS))
    await eventually(lambda: publisher.publishes == 1)

    configs = await retained(broker, "homeassistant/#")
    assert len(configs) == 5
    parsed = {topic: json.loads(body) for topic, body in configs.items()}
    state = parsed["homeassistant/sensor/agentlight_desk/state/config"]
    assert state["device_class"] == "enum"
    assert state["state_topic"] == "agentlight/desk/state"
    assert set(state["options"]) >= {"idle", "active", "auth_failed"}
    assert "homeassistant/binary_sensor/agentlight_desk/needs_you/config" in parsed
    for config in parsed.values():
        assert config["availability_topic"] == "agentlight/desk/availability"
        assert config["device"]["name"] == "Desk agent"
        assert config["device"]["sw_version"]
        assert config["origin"]["name"] == "agentlight"
    assert len({c["unique_id"] for c in parsed.values()}) == 5
    assert len({json.dumps(c["device"], sort_keys=True) for c in parsed.values()}) == 1

    # Home Assistant restarts (its broker lost them) and announces itself: sent again.
    async with aiomqtt.Client(broker.host, broker.port) as ha:
        for topic in configs:
            await ha.publish(topic, b"", qos=1, retain=True)
        assert await retained(broker, "homeassistant/+/+/+/config") == {}
        await ha.subscribe("homeassistant/+/+/+/config", qos=1)
        await ha.publish("homeassistant/status", b"online", qos=1)
        again: set[str] = set()
        async with asyncio.timeout(5):
            async for message in ha.messages:
                if message.payload:
                    again.add(message.topic.value)
                if len(again) == len(configs):
                    break
    assert again == set(configs)

    # Discovery turned off: the same bridge removes its entities.
    await publisher.close()
    off = await bridges.publisher("agentlight/desk", homeassistant=False)
    await off.show(status_frame("idle"))
    await eventually(lambda: off.publishes == 1)
    assert await retained(broker, "homeassistant/#") == {}


# -- TLS -----------------------------------------------------------------------------------


async def test_tls_with_a_private_ca(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path)
    broker = Broker(tmp_path, tls=files)
    broker.start()
    bridges = Bridges(broker)
    try:
        publisher = await bridges.publisher("agentlight/desk", tls_ca=str(files.ca))
        assert publisher.o.tls
        await publisher.show(status_frame("active", SESSIONS))
        _, trusted = bridges.subscriber(tls_ca=str(files.ca))
        status = await trusted.wait_for(lambda s: s.global_state is GlobalState.ACTIVE)
        assert len(sessions_of(status)) == 2
        # Without the CA the broker's certificate is not trusted: said, not fatal.
        _, untrusted = bridges.subscriber(tls=True)
        refused = await untrusted.wait_for(lambda s: s.connection is ConnectionState.DISCONNECTED)
        assert refused.detail is not None and "TLS to 127.0.0.1:" in refused.detail
        assert "check tls_ca" in refused.detail
    finally:
        await bridges.close()
        broker.stop()


# -- inside a whole bridge ----------------------------------------------------------------


async def test_second_bridge_engine_shows_the_first_bridges_sessions(
    bridges: Bridges,
) -> None:
    from bridge.engine import Device, Engine
    from bridge.pipeline.theme import default_theme
    from devices.mock import MockDriver, MockOptions

    publisher = await bridges.publisher("agentlight/desk")
    await publisher.show(status_frame("active", SESSIONS))
    led = MockDriver("hall", MockOptions(slots=4))
    engine = Engine([Device(led, "session")], default_theme())
    opts = SourceOptions(**{**bridges.broker.options, **FAST})
    source = MqttSource("remote", opts, engine.publish)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run([source], stop))
    try:
        await eventually(lambda: led.last_frame is not None and len(led.last_frame.sessions) == 2)
        frame = led.last_frame
        assert frame is not None
        # The waiting session is the one a single light shows.
        assert frame.focus is not None and frame.focus.key == "discord:x"
        assert frame.focus.source == "agentlight/desk/pp"
        assert sorted(v.slot for v in frame.sessions if v.slot is not None) == [0, 1]
    finally:
        stop.set()
        await task


async def test_a_silent_broker_holds_up_nothing() -> None:
    """A broker that takes the connection and never answers: show and close never wait."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # never a CONNACK

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    driver = MqttDriver("mqtt", MqttOptions(host="127.0.0.1", port=port, prefix="agentlight/x"))
    try:
        await driver.open()
        async with asyncio.timeout(5):  # a hang detector, not a timing check
            for state in ("active", "idle", "degraded"):
                assert await driver.show(status_frame(state))
            await eventually(lambda: bool(held))
        assert driver.link.state.value == "connecting"
        assert driver.publishes == 0
        async with asyncio.timeout(5):
            await driver.close()
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


# -- hypothesis over the real broker -------------------------------------------------------

_FUZZ: dict[int, tuple[MqttSource, Recorder, Any]] = {}
_tags = itertools.count()


@pytest.fixture
async def _fuzz_cleanup() -> AsyncIterator[None]:
    yield
    for _, _, client in _FUZZ.values():
        await client.__aexit__(None, None, None)
    _FUZZ.clear()


@settings(
    max_examples=30,
    deadline=None,
    # One broker, source and client for all examples: the source must survive them all.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(payloads=st.lists(PAYLOADS, min_size=1, max_size=4), kind=st.sampled_from(KINDS))
async def test_fuzz_over_the_broker_never_costs_the_subscription(
    payloads: list[bytes], kind: str, bridges: Bridges, broker: Broker, _fuzz_cleanup: None
) -> None:
    entry = _FUZZ.get(id(broker))
    if entry is None:
        source, recorder = bridges.subscriber("agentlight/+", max_payload_bytes=2048)
        await recorder.wait_for(lambda s: s.connection is ConnectionState.CONNECTED)
        client = aiomqtt.Client(broker.host, broker.port)
        await client.__aenter__()
        entry = _FUZZ[id(broker)] = (source, recorder, client)
    source, recorder, client = entry
    for payload in payloads:
        await client.publish(f"agentlight/fuzz/{kind}", payload, qos=1)
    # A good status after the garbage is still taken: the source never stopped.
    tag = f"t{next(_tags)}"
    good = status_of("active", [("websocket:a", "tool_running", tag)])
    body = json.dumps(status_to_json(good, time.time())).encode()
    mark = recorder.mark()
    await client.publish("agentlight/fuzz/availability", b"online", qos=1)
    await client.publish("agentlight/fuzz/status", body, qos=1)
    status = await recorder.wait_for(
        lambda s: s.snapshot is not None and any(x.tool == tag for x in s.snapshot.sessions),
        start=mark,
    )
    assert status.connection is ConnectionState.CONNECTED
    assert source.link.connects == 1  # never reconnected over it


async def test_a_bug_while_publishing_is_said_and_survived(
    bridges: Bridges,
    broker: Broker,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import bridge.pipeline.status_json

    real = bridge.pipeline.status_json.status_to_json
    calls = itertools.count()

    def flaky(status: Any, now: float) -> dict[str, Any]:
        if next(calls) == 0:
            raise RuntimeError("boom")
        return real(status, now)

    monkeypatch.setattr(bridge.pipeline.status_json, "status_to_json", flaky)
    publisher = await bridges.publisher("agentlight/desk")
    await publisher.show(status_frame("active", SESSIONS))
    await eventually(lambda: publisher.publishes == 1)
    assert "publisher failed: boom; starting over" in caplog.text
    topics = await retained(broker, "agentlight/desk/#")
    assert topics["agentlight/desk/state"] == b"active"
