"""``check`` says what ``run`` will fail on, and the example config runs as copied.

The class: for a device, ``check`` warns exactly when opening it fails (each
config below is tried both ways); for a source, when it cannot authenticate.
Every warning names its fix.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bridge.commands.check import preflight
from bridge.infra.config import load_config, parse_config
from bridge.infra.errors import DriverError
from devices import driver_class

pytest.importorskip("gpiozero")
pytest.importorskip("serial")
pytest.importorskip("StreamDeck")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"

SECRET_VARS = ("POCKETPAW_STATUS_API_KEY", "POCKETPAW_TOKEN", "H_API_KEY", "CREDENTIALS_DIRECTORY")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import devices.led.gpio as gpio

    for var in (*SECRET_VARS, "GPIOZERO_PIN_FACTORY", "GPIOZERO_MOCK_PIN_CLASS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(gpio, "_factories", {})  # each case picks its own mock pins


def _no_freetype(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import features

    real = features.check
    monkeypatch.setattr(features, "check", lambda f: False if f == "freetype2" else real(f))


# (id, device table, environment, what makes it fail or None, the fix's words)
DEVICES: list[tuple[str, dict[str, Any], dict[str, str], str | None]] = [
    ("gpio mock pwm", {"type": "gpio", "pin_factory": "mock"}, {}, None),
    ("gpio env mock", {"type": "gpio"}, {"GPIOZERO_PIN_FACTORY": "mock"}, None),
    (
        "gpio mock no pwm",
        {"type": "gpio", "pin_factory": "mock"},
        {"GPIOZERO_MOCK_PIN_CLASS": "mockpin"},
        "set pwm = false",
    ),
    ("gpio no such factory", {"type": "gpio", "pin_factory": "nope"}, {}, "known:"),
    ("serial loop", {"type": "serial", "port": "loop://", "leds": 3}, {}, None),
    ("serial gone", {"type": "serial", "port": "/dev/ttyNOPE9", "leds": 3}, {}, "unplugged"),
    ("serial by id", {"type": "serial", "vid": 0x1234, "leds": 3}, {}, "agentlight devices"),
    ("record ok", {"type": "record", "path": "{tmp}/r/r.jsonl"}, {}, None),
    ("deck dummy", {"type": "streamdeck", "dummy": True}, {}, None),
    ("deck no freetype", {"type": "streamdeck", "dummy": True}, {"NO_FREETYPE": "1"},
     "libfreetype-dev"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("table", "env", "fix"), [d[1:] for d in DEVICES], ids=[d[0] for d in DEVICES]
)
async def test_check_warns_exactly_when_a_device_cannot_open(
    table: dict[str, Any],
    env: dict[str, str],
    fix: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "file").write_text("")
    for var, value in env.items():
        if var == "NO_FREETYPE":
            _no_freetype(monkeypatch)
        else:
            monkeypatch.setenv(var, value)
    table = {k: v.format(tmp=tmp_path) if isinstance(v, str) else v for k, v in table.items()}
    config = parse_config({"sources": [{"type": "pocketpaw"}], "devices": [table]}, file="t")
    warnings = preflight(config)
    device = config.devices[0]
    driver = driver_class(device.type)(device.name, device.options)
    try:
        await driver.open()
        opened = True
    except DriverError:
        opened = False
    finally:
        await driver.close()
    assert opened == (not warnings), warnings
    if fix is not None:
        assert len(warnings) == 1 and warnings[0].startswith(f"device {device.name}: ")
        assert fix in warnings[0]


@pytest.mark.parametrize(
    ("source", "env", "fix"),
    [
        ({"type": "agp", "sessions": ["s1"]}, {}, "set api_key, the H_API_KEY variable"),
        ({"type": "agp", "sessions": ["s1"]}, {"H_API_KEY": "k-1"}, None),
        ({"type": "agp", "sessions": ["s1"], "api_key": "k-1"}, {}, None),
        ({"type": "pocketpaw", "url": "http://192.0.2.7:8888"}, {}, "set token_file"),
        ({"type": "pocketpaw", "url": "http://192.0.2.7:8888"}, {"POCKETPAW_TOKEN": "t"}, None),
        ({"type": "pocketpaw", "url": "http://127.0.0.1:8888"}, {}, None),
        ({"type": "pocketpaw", "url": "http://localhost:8888"}, {}, None),
    ],
)
def test_check_warns_when_a_source_cannot_authenticate(
    source: dict[str, Any], env: dict[str, str], fix: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is sent anywhere: the 192.0.2.x address (TEST-NET) is only looked at."""
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    config = parse_config({"sources": [source], "devices": [{"type": "terminal"}]}, file="t")
    warnings = preflight(config)
    if fix is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and fix in warnings[0]
        assert warnings[0].startswith(f"source {source['type']}: ")
        assert "k-1" not in warnings[0] and warnings[0] != "t"


def test_the_example_config_runs_as_copied_without_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "config.toml"
    copy.write_text(EXAMPLE.read_text())
    monkeypatch.chdir(tmp_path)
    assert preflight(load_config(copy)) == []


def test_every_commented_source_of_the_example_is_valid_once_uncommented() -> None:
    """The AgP, MQTT and hooks sources are commented out; uncommented (with a key) they load."""
    text = EXAMPLE.read_text()
    toml_line = re.compile(r"^# (\[\[sources\]\]|[a-z_]+ = .*)$")
    section = text.split("# The local HTTP API")[0]  # the sources part of the file
    lines = [m.group(1) for line in section.splitlines() if (m := toml_line.match(line))]
    blocks = "\n".join(lines).split("[[sources]]")[1:]
    tables = [tomllib.loads(block) for block in blocks]
    assert {t["type"] for t in tables} >= {"agp", "mqtt"}
    for table in tables:
        if table["type"] == "agp":
            table = {**table, "api_key": "k-1", "sessions": ["s1"]}
        config = parse_config({"sources": [table], "devices": [{"type": "terminal"}]}, file="t")
        if table["type"] == "agp":  # given a key and a session, nothing stops it
            assert preflight(config) == []


def test_check_prints_the_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bridge.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text('[[sources]]\ntype = "agp"\nsessions = ["s1"]\n[[devices]]\ntype = "terminal"\n')
    assert main(["check", "-c", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("warning: source agp: no AgP API key")
