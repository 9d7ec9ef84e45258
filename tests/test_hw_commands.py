"""``agentlight devices`` and ``agentlight test-pattern``."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("serial")
pytest.importorskip("gpiozero")
pytest.importorskip("busylight_core")

from busylight_core import Hardware
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from bridge.cli import main
from bridge.commands import devices as devices_command
from bridge.commands.test_pattern import pattern, run_test_pattern
from bridge.infra.config import parse_config
from bridge.infra.errors import ConfigError
from bridge.pipeline.theme import default_theme
from devices.led import survey as led_survey
from devices.led.serial_protocol import adalight_header
from devices.streamdeck import survey as deck_survey
from devices.survey import udev_fix
from tests.ptyboard import Board
from tests.test_usblight import blinkstick_square


@pytest.fixture
def attached(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    ports: list[ListPortInfo] = []
    lights: list[Hardware] = []
    monkeypatch.setattr(list_ports, "comports", lambda: list(ports))
    monkeypatch.setattr(Hardware, "enumerate", classmethod(lambda cls, by_type=None: list(lights)))
    return [ports, lights]


def uno(device: str = "/dev/ttyACM0") -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number = 0x2341, 0x0043, "95032303837351F0E1D1"
    info.manufacturer, info.product = "Arduino (www.arduino.cc)", "Uno"
    return info


def test_devices_lists_ports_lights_and_gpio(
    attached: list[Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ports, lights = attached
    ports.append(uno())
    lights.append(blinkstick_square())
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "/dev/ttyACM0  2341:0043  Arduino (www.arduino.cc) Uno  serial 9503" in out
    assert "BlinkStick Square" in out and 'model = "BlinkStick Square"' in out
    assert "pin factory MockFactory (GPIOZERO_PIN_FACTORY=mock)" in out

    assert main(["devices", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["version"] == 1
    by_kind = {f["kind"]: f for f in data["families"]}
    assert by_kind["serial"]["found"][0]["usb_id"] == "2341:0043"
    assert by_kind["usblight"]["found"][0]["vid"] == 0x20A0
    assert by_kind["gpio"]["found"][0]["detail"].startswith("pin factory MockFactory")


def test_missing_libraries_and_permissions_are_one_line_each(
    attached: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ports, _ = attached
    tty = tmp_path / "ttyACM0"
    tty.touch()
    ports.append(uno(str(tty)))
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, m: False if str(p) == str(tty) else real_access(p, m)
    )
    text = devices_command.render_text([led_survey.serial_ports()])
    assert f"problem: no permission to open {tty}: sudo usermod -aG" in text

    # Submodules too: once imported (the streamdeck extra is in dev), "import
    # StreamDeck.DeviceManager" finds them in sys.modules without the parent.
    for module in (
        "serial", "serial.tools", "busylight_core", "gpiozero", "StreamDeck",
        "StreamDeck.DeviceManager",
    ):  # fmt: skip
        monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setattr(led_survey, "board_model", lambda: "Raspberry Pi 5 Model B Rev 1.0")
    sections = {s.kind: s for s in devices_command.survey()}
    assert (
        sections["serial"].problem == "pyserial is not installed: pip install 'agentlight[serial]'"
    )
    assert "pip install 'agentlight[usb]'" in sections["usblight"].problem
    assert "pip install 'agentlight[gpio]'" in sections["gpio"].problem
    assert "not installed" in sections["streamdeck"].note
    for line in devices_command.render_text(list(sections.values())).splitlines():
        assert "Traceback" not in line


def test_gpio_on_a_pi_without_lgpio_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr(led_survey, "board_model", lambda: "Raspberry Pi 5 Model B Rev 1.0")
    section = led_survey.gpio()
    assert "python3-lgpio" in section.problem
    assert section.problem.startswith("Raspberry Pi 5")


def test_udev_rules_cover_lights_and_decks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--udev-rules"]) == 0
    rules = capsys.readouterr().out
    assert 'ATTRS{idVendor}=="20a0", ATTRS{idProduct}=="41e5"' in rules  # BlinkStick
    assert 'ATTRS{idVendor}=="0fd9"' in rules  # Elgato


def test_udev_rules_printed_are_the_shipped_files(capsys: pytest.CaptureFixture[str]) -> None:
    # One policy: what the command prints is what systemd/ ships, byte for byte.
    systemd = Path(__file__).resolve().parent.parent / "systemd"
    shipped = [
        (systemd / name).read_text()
        for name in ("70-agentlight-usblights.rules", "70-agentlight-streamdeck.rules")
    ]
    assert main(["devices", "--udev-rules"]) == 0
    assert capsys.readouterr().out == "\n".join(shipped)
    for text in shipped:
        modes = [line for line in text.splitlines() if "MODE=" in line and line[0] != "#"]
        assert modes and all(
            line.endswith('MODE="0660", GROUP="plugdev", TAG+="uaccess"') for line in modes
        )


def test_udev_hints_name_a_file_udev_reads_before_uaccess() -> None:
    from devices.led.usblight import explain_usb_error

    # 73-seat-late.rules applies uaccess: a 99- file would come too late for it.
    for hint in (udev_fix("/dev/hidraw0"), explain_usb_error(PermissionError("x"))):
        assert "/etc/udev/rules.d/70-agentlight.rules" in hint, hint


# -- test-pattern ----------------------------------------------------------------------


def test_pattern_walks_every_state_and_every_tool() -> None:
    steps = pattern(default_theme(), sessions=3)
    names = [s.name for s in steps]
    assert names[:6] == [
        "global idle",
        "global active",
        "global degraded",
        "global connecting",
        "global disconnected",
        "global auth_failed",
    ]
    assert "session waiting_for_user" in names and "session error" in names
    tools = ["tool bash", "tool python", "tool shell", "tool web_search"]
    assert [n for n in names if n.startswith("tool ")] == tools
    waiting = steps[names.index("session waiting_for_user")]
    assert waiting.status.snapshot is not None and len(waiting.status.snapshot.sessions) == 3


async def test_test_pattern_on_a_strip_then_dark(tmp_path: Path) -> None:
    board = Board(tmp_path / "ttyStrip")
    try:
        config = parse_config(
            {
                "sources": [{"type": "pocketpaw"}],
                "devices": [
                    {
                        "type": "serial",
                        "name": "strip",
                        "port": str(board.link),
                        "leds": 3,
                        "layout": "segments",
                        "global_leds": 1,
                        "segment_leds": 1,
                        "gamma": 1.0,
                    },
                    {"type": "terminal", "name": "term", "stream": "stderr"},
                ],
            },
            file="t.toml",
        )
        out = io.StringIO()
        code = await run_test_pattern(config, device="strip", step=0.02, out=out)
        assert code == 0
        text = out.getvalue()
        assert '"Waiting for you" #ffb000 blink 1s 100%' in text
        assert "tool bash" in text and text.rstrip().endswith("devices left dark")
        size = 6 + 9
        await board.wait_for(lambda: len(board.received) >= size)
        frames = [bytes(board.received[i : i + size]) for i in range(0, len(board.received), size)]
        assert all(f[:6] == adalight_header(3) for f in frames)
        # Both session segments showed the error red at some point; the strip ends dark.
        assert any(f[9:] == b"\xff\x00\x00\xff\x00\x00" for f in frames)
        assert frames[-1][6:] == b"\x00" * 9
        with pytest.raises(ConfigError, match="no device named 'lamp'"):
            await run_test_pattern(config, device="lamp", step=0.01, out=out)
    finally:
        board.close()


async def test_test_pattern_stops_early_and_dark() -> None:
    config = parse_config(
        {
            "sources": [{"type": "pocketpaw"}],
            "devices": [{"type": "gpio", "name": "led", "pin_factory": "mock", "red": 5}],
        },
        file="t.toml",
    )
    stop = asyncio.Event()
    out = io.StringIO()
    asyncio.get_running_loop().call_later(0.2, stop.set)  # Ctrl-C
    code = await asyncio.wait_for(
        run_test_pattern(config, step=10.0, out=out, stop=stop), timeout=5.0
    )
    assert code == 0
    assert out.getvalue().count("\n") == 2  # one step shown, then "done"
    from devices.led.gpio import named_factory

    pins = named_factory("mock")
    assert pins.pin(5).state == 0  # dark


# -- config.example.toml documents every LED option --------------------------------------


def test_example_config_documents_every_led_option() -> None:
    import dataclasses
    import re
    import tomllib

    from devices import driver_class

    text = (Path(__file__).resolve().parent.parent / "config.example.toml").read_text()
    toml_line = re.compile(r"^# (\[\[devices\]\]|[a-z_]+ = .*)$")
    lines = [m.group(1) for line in text.splitlines() if (m := toml_line.match(line))]
    blocks = "\n".join(lines).split("[[devices]]")
    tables = [tomllib.loads(block) for block in blocks[1:]]
    led_types = ("gpio", "serial", "usblight")
    by_type = {t["type"]: t for t in tables if t.get("type") in led_types}
    for type_name in led_types:
        table = by_type[type_name]
        fields = {f.name for f in dataclasses.fields(driver_class(type_name).Options)}
        assert fields <= set(table), f"{type_name}: undocumented {fields - set(table)}"
    # And each block is a valid config as written (once uncommented).
    config = parse_config(
        {"sources": [{"type": "pocketpaw"}], "devices": [by_type[t] for t in by_type]},
        file="config.example.toml",
    )
    assert {d.type for d in config.devices} >= {"gpio", "serial", "usblight"}


def test_stream_decks_listed_through_the_librarys_dummy_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    device_manager = pytest.importorskip("StreamDeck.DeviceManager")
    real = device_manager.DeviceManager
    monkeypatch.setattr(device_manager, "DeviceManager", lambda: real(transport="dummy"))
    section = deck_survey.stream_decks()
    assert section.found and not section.problem
    first = section.found[0]
    assert first.kind == "streamdeck" and first.name == "Stream Deck Original"
    assert first.detail == "15 keys"

    class NoBackend:
        def enumerate(self) -> list[Any]:
            raise RuntimeError("Probe failed to find any functional HID backend.")

    monkeypatch.setattr(device_manager, "DeviceManager", NoBackend)
    section = deck_survey.stream_decks()
    assert "hidapi" in section.problem and "\n" not in section.problem
