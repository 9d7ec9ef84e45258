"""MQTT pieces that need no broker: options, discovery payloads and templates, payload fuzz."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.infra.config import parse_config
from bridge.infra.errors import ConfigError
from bridge.infra.secret import Secret
from bridge.net.mqtt import OWN_PREFIXES, LinkOptions, check_topic_prefix, resolve_password
from bridge.pipeline.frame import Frame
from bridge.pipeline.model import AgentStatus, ConnectionState, GlobalState, Snapshot, SourceStatus
from bridge.pipeline.status_json import status_to_json
from bridge.sources.mqtt.options import Options as SourceOptions
from bridge.sources.mqtt.source import MqttSource
from devices.mqtt.discovery import discovery_messages, discovery_topics, node_id
from devices.mqtt.publisher import MqttOptions
from tests.conftest import Recorder
from tests.frames import SessionSpec, as_session, make_frame, make_status

ROOT = Path(__file__).resolve().parent.parent


# -- options ---------------------------------------------------------------------------


def _config(device: dict[str, Any] | None = None, source: dict[str, Any] | None = None) -> Any:
    return parse_config(
        {
            "sources": [{"type": "mqtt", **(source or {})}],
            "devices": [{"type": "mqtt", **(device or {})}],
        },
        file="t.toml",
    )


def test_five_lines_of_toml_are_enough() -> None:
    config = _config({"host": "192.168.1.10"})
    device = config.devices[0].options
    assert device.prefix.startswith("agentlight/")
    assert device.homeassistant is True
    assert device.discovery_prefix == "homeassistant"
    assert device.effective_port == 1883 and device.qos == 1
    assert config.sources[0].options.prefix == "agentlight/+"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"prefix": "agentlight/#"}, "devices[0].prefix: '#' cannot come before /status"),
        ({"prefix": "agentlight/+"}, "devices[0].prefix: got 'agentlight/+'; '+' is not allowed"),
        ({"prefix": "/agentlight"}, "devices[0].prefix: got '/agentlight', expected levels"),
        ({"prefix": "$SYS/x"}, "topics starting with $ belong to the broker"),
        ({"port": 0}, "devices[0].port: got 0, expected 1 to 65535"),
        ({"qos": 3}, "devices[0].qos: got 3, expected 0, 1 or 2"),
        ({"host": "mqtt://broker"}, "devices[0].host: got 'mqtt://broker', expected a host"),
        ({"password": "pw"}, "devices[0].password: set username too"),
        ({"tls_ca": "/nonexistent/ca.pem"}, "devices[0].tls_ca: cannot read '/nonexistent/"),
        ({"reconnect_min": 5.0, "reconnect_max": 1.0}, "reconnect_max: expected a value >= "),
        ({"homeassistant": "yes"}, "devices[0].homeassistant: got 'yes'"),
    ],
)
def test_bad_device_options_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _config(table)
    assert message in str(info.value)


def test_source_prefix_allows_whole_level_wildcards_only() -> None:
    assert check_topic_prefix("agentlight/+", wildcards=True) == "agentlight/+"
    assert check_topic_prefix("+/+", wildcards=True) == "+/+"
    with pytest.raises(ConfigError, match=r"sources\[0\]\.prefix: .* '\+' must be a whole level"):
        _config(source={"prefix": "agentlight/desk+"})
    with pytest.raises(ConfigError, match="'#' cannot come before /status"):
        _config(source={"prefix": "#"})
    with pytest.raises(ConfigError, match="max_payload_bytes"):
        _config(source={"max_payload_bytes": 10})


def test_tls_files_imply_tls_and_its_port(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    options = LinkOptions(host="broker.lan", tls_ca=str(ca))
    assert options.tls and options.effective_port == 8883
    assert LinkOptions(host="b", tls=True, port=8884).broker == "b:8884"


def test_password_never_shows_and_resolves_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTLIGHT_MQTT_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    options = MqttOptions(username="u", password="hunter2-secret")  # type: ignore[arg-type]
    assert isinstance(options.password, Secret)
    assert "hunter2" not in repr(options) + str(options)
    assert resolve_password(options) == Secret("hunter2-secret")

    bare = LinkOptions(username="u")
    assert resolve_password(bare) is None
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt_password").write_text("from-credential\n")
    monkeypatch.setenv("AGENTLIGHT_MQTT_PASSWORD", "from-env")
    assert resolve_password(bare) == Secret("from-env")
    # The systemd credential comes before the environment (bridge.infra.credentials).
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert resolve_password(bare) == Secret("from-credential")
    (creds / "mqtt_password").chmod(0)
    if os.geteuid() != 0:  # root reads it anyway
        with pytest.raises(ConfigError, match="mqtt_password"):
            resolve_password(bare)


def test_check_hides_the_password(tmp_path: Path) -> None:
    from bridge.commands.check import describe_config

    text = describe_config(_config({"username": "u", "password": "hunter2-secret"}))
    assert "hunter2" not in text
    assert "password=***" in text


# -- Home Assistant discovery ------------------------------------------------------------


def test_discovery_messages_shape() -> None:
    messages = discovery_messages(
        prefix="agentlight/desk-1", discovery_prefix="ha", device_name="Desk"
    )
    topics = [topic for topic, _ in messages]
    assert topics == discovery_topics(prefix="agentlight/desk-1", discovery_prefix="ha")
    assert node_id("agentlight/desk-1") == "agentlight_desk-1"
    assert "ha/sensor/agentlight_desk-1/state/config" in topics
    assert "ha/binary_sensor/agentlight_desk-1/needs_you/config" in topics
    for _, config in messages:
        json.dumps(config)  # JSON-ready
        assert config["unique_id"].startswith("agentlight_desk-1_")
        assert config["device"]["identifiers"] == ["agentlight_desk-1"]
        assert config["payload_available"] == "online"
    state = dict(messages)["ha/sensor/agentlight_desk-1/state/config"]
    assert state["options"] == [g.value for g in GlobalState]


def _render(template: str, doc: dict[str, Any]) -> str:
    jinja2 = pytest.importorskip("jinja2")
    # Home Assistant renders with loop controls on and value_json bound.
    env = jinja2.Environment(extensions=["jinja2.ext.loopcontrols"])
    return str(env.from_string(template).render(value_json=doc)).strip()


def _templates() -> dict[str, str]:
    messages = discovery_messages(prefix="p", discovery_prefix="ha", device_name="D")
    return {
        topic.split("/")[3]: config["value_template"]
        for topic, config in messages
        if "value_template" in config
    }


def _doc(sessions: list[Any], connections: tuple[ConnectionState, ...]) -> dict[str, Any]:
    sources = tuple(SourceStatus(f"s{i}", c) for i, c in enumerate(connections))
    status = make_status("active", sessions, sources)
    return json.loads(json.dumps(status_to_json(status, time.time())))


@pytest.mark.parametrize(
    ("sessions", "connections", "expected"),
    [
        (
            [("websocket:a", "thinking"), ("websocket:b", "tool_running", "bash")],
            (ConnectionState.CONNECTED,),
            {
                "active_sessions": "2",
                "needs_you": "OFF",
                "current_tool": "bash",
                "connection": "connected",
            },
        ),
        (
            [("websocket:a", "waiting_for_user")],
            (ConnectionState.CONNECTED, ConnectionState.DISCONNECTED),
            {
                "active_sessions": "1",
                "needs_you": "ON",
                "current_tool": "none",
                "connection": "disconnected",
            },
        ),
        (
            [("websocket:a", "error"), ("websocket:b", "tool_running", None)],
            (ConnectionState.AUTH_FAILED, ConnectionState.CONNECTING),
            {
                "active_sessions": "2",
                "needs_you": "ON",
                "current_tool": "none",
                "connection": "auth_failed",
            },
        ),
        (
            [],
            (),
            {
                "active_sessions": "0",
                "needs_you": "OFF",
                "current_tool": "none",
                "connection": "connecting",
            },
        ),
    ],
)
def test_discovery_templates_read_the_status_json(
    sessions: list[Any], connections: tuple[ConnectionState, ...], expected: dict[str, str]
) -> None:
    doc = _doc(sessions, connections)
    got = {name: _render(template, doc) for name, template in _templates().items()}
    assert got == expected


# -- payload fuzz on the source ----------------------------------------------------------


def _source(**options: Any) -> tuple[MqttSource, Recorder]:
    recorder = Recorder()
    return MqttSource("remote", SourceOptions(**options), recorder), recorder


def status_of(state: str, sessions: Iterable[SessionSpec] = ()) -> AgentStatus:
    """A status as the engine makes it: one connected source "pp" holding the sessions."""
    own = tuple(dataclasses.replace(as_session(s), source="pp") for s in sessions)
    snapshot = Snapshot(GlobalState(state), own, active_sessions=len(own))
    return AgentStatus.fold((SourceStatus("pp", ConnectionState.CONNECTED, snapshot),))


def status_frame(state: str, sessions: Iterable[SessionSpec] = (), **kw: Any) -> Frame:
    """A frame whose status is consistent (what a real engine hands a driver)."""
    return dataclasses.replace(make_frame(state, sessions, **kw), status=status_of(state, sessions))


def _good(state: str = "active") -> bytes:
    status = status_of(state, [("websocket:a", "thinking")])
    return json.dumps(status_to_json(status, time.time())).encode()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=30,
)
_STATUS_KEYS = st.sampled_from(["version", "global", "t", "sessions", "sources", "state"])
STATUS_LIKE = st.fixed_dictionaries(
    {"version": st.one_of(st.just(1), st.integers(-2, 5), JSON)},
    optional={
        "global": st.one_of(st.sampled_from([g.value for g in GlobalState]), JSON),
        "sessions": st.lists(st.dictionaries(_STATUS_KEYS | st.text(max_size=8), JSON), max_size=3),
        "sources": st.lists(st.dictionaries(_STATUS_KEYS | st.text(max_size=8), JSON), max_size=3),
        "t": JSON,
    },
)
PAYLOADS = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    JSON.map(lambda v: json.dumps(v).encode()),
    STATUS_LIKE.map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    topic=st.sampled_from(
        ["agentlight/desk/status", "agentlight/desk/availability", "x/status", "status", "/status"]
    )
    | st.text(max_size=40),
    payloads=st.lists(PAYLOADS, min_size=1, max_size=6),
)
def test_fuzz_handle_never_raises_and_keeps_the_last_good_status(
    topic: str, payloads: list[bytes]
) -> None:
    source, recorder = _source(max_payload_bytes=1024)
    source.handle("agentlight/desk/status", _good())
    assert recorder.last.global_state is GlobalState.ACTIVE
    for payload in payloads:
        source.handle(topic, payload)
    last = recorder.last
    assert last.connection in set(ConnectionState)
    assert isinstance(last.global_state, GlobalState)
    if topic == "agentlight/desk/status" and last.snapshot is not None:
        for session in last.snapshot.sessions:
            assert session.source.startswith("agentlight/desk/")


def test_refusals_log_one_line_per_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agentlight.sources.mqtt")
    source, recorder = _source(max_payload_bytes=1024)
    source.handle("agentlight/desk/status", _good())
    for _ in range(20):
        source.handle("agentlight/desk/status", b"{not json")
        source.handle("agentlight/desk/status", b"x" * 2000)
        source.handle("agentlight/desk/status", json.dumps({"version": 2}).encode())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert source.refused == 60
    # One line per kind of refusal, not per payload.
    assert len(warnings) == 3
    assert any("version" in w for w in warnings)
    assert any("over max_payload_bytes" in w for w in warnings)
    assert recorder.last.global_state is GlobalState.ACTIVE


def test_same_bad_payload_repeated_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agentlight.sources.mqtt")
    source, _ = _source()
    for _ in range(50):
        source.handle("agentlight/desk/status", b"garbage\x1b[2J")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "\x1b" not in warnings[0]


def test_cleared_retained_messages_forget_a_bridge() -> None:
    source, recorder = _source()
    source.handle("agentlight/desk/status", _good())
    source.handle("agentlight/desk/availability", b"offline")
    assert recorder.last.connection is ConnectionState.DISCONNECTED
    source.handle("agentlight/desk/availability", b"")
    assert recorder.last.global_state is GlobalState.ACTIVE
    source.handle("agentlight/desk/status", b"")
    assert recorder.last.connection is ConnectionState.CONNECTED
    assert recorder.last.snapshot is None
    assert source._origins == {}


def test_own_prefix_is_skipped() -> None:
    source, recorder = _source()
    OWN_PREFIXES.add("agentlight/me")
    try:
        source.handle("agentlight/me/status", _good("degraded"))
        assert recorder.statuses == []
    finally:
        OWN_PREFIXES.discard("agentlight/me")


def test_example_config_documents_every_mqtt_option() -> None:
    import dataclasses as dc
    import tomllib

    from bridge.infra.config import load_config

    # Active, it would fail (and log) for anyone who copies the file without a
    # broker: documented commented out, like the record device.
    config = load_config(ROOT / "config.example.toml")
    assert "mqtt" not in {d.type for d in config.devices}
    text = (ROOT / "config.example.toml").read_text()
    for options in (MqttOptions, SourceOptions):
        for f in dc.fields(options):
            assert f"# {f.name} = " in text or f"\n{f.name} = " in text, f.name
    assert 'prefix = "agentlight/+"' in text
    # The commented device block, uncommented, is a valid mqtt device as written
    # (but for the TLS files, which name the user's own certificates).
    block = text[text.index('# [[devices]]\n# type = "mqtt"') :].split("\n\n")[0]
    setting = re.compile(r"# (?!tls_(ca|cert|key) )[a-z_]+ = ")
    settings = [line[2:] for line in block.splitlines() if setting.match(line)]
    table = tomllib.loads("\n".join(settings))
    parsed = parse_config({"sources": [{"type": "pocketpaw"}], "devices": [table]}, file="example")
    (device,) = parsed.devices
    assert device.type == "mqtt" and isinstance(device.options, MqttOptions)
    assert device.options.host == "localhost" and device.options.homeassistant is True


async def test_without_the_extra_both_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import sys

    from bridge.infra.errors import DriverError
    from devices.mqtt.publisher import MqttDriver

    monkeypatch.setitem(sys.modules, "aiomqtt", None)  # import aiomqtt now fails
    source, recorder = _source()
    task = asyncio.create_task(source.run())
    try:
        status = await recorder.wait_for(lambda s: s.connection is ConnectionState.DISCONNECTED)
        assert status.detail is not None and "pip install 'agentlight[mqtt]'" in status.detail
        assert not task.done()  # waits, not crashes into a restart loop
    finally:
        task.cancel()
    driver = MqttDriver("mqtt", MqttOptions(prefix="agentlight/x"))
    with pytest.raises(DriverError, match=r"agentlight\[mqtt\]"):
        await driver.open()
