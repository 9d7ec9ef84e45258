"""On a Raspberry Pi: what to install and why it did not work, said where it is met.

- gpiozero's pin factories are tried in its order; each one skipped keeps its own
  reason (``lgpio: can not open gpiochip``) and the fix that applies is named,
  by the driver when it opens and by ``agentlight devices``;
- a Pillow built without FreeType is named with its fix where a deck opens, in
  ``devices``, and by ``preview``;
- the ``gpio`` extra brings lgpio exactly where PyPI has a wheel of it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gpiozero")
pytest.importorskip("StreamDeck")

import devices.led.gpio as gpio
import devices.led.survey as led_survey
from bridge.infra.errors import DriverError
from devices.led.gpio import GpioLedDriver, GpioOptions


class NativeFactory:
    """Stands for gpiozero's NativeFactory (loaded, no PWM): only its name is looked at."""

    def close(self) -> None:
        pass


NO_LGPIO = "No module named 'lgpio'"
NO_CHIP = "can not open gpiochip"
NO_RPI = "No module named 'RPi'"
NO_PIGPIO = "No module named 'pigpio'"
NOT_A_PI = "unable to locate Pi revision in /proc/device-tree or /proc/cpuinfo"

# Why each factory did not load (None: it loads), and the fix expected.
CASES = {
    "pi without lgpio": (
        {"lgpio": NO_LGPIO, "rpigpio": NO_RPI, "pigpio": NO_PIGPIO,
         "native": None},
        "pip install lgpio",
    ),
    "pi, lgpio without access": (
        {"lgpio": NO_CHIP, "rpigpio": NO_RPI, "pigpio": NO_PIGPIO,
         "native": None},
        "'gpio' group",
    ),
    "pi, nothing loads": (
        {"lgpio": NO_CHIP, "rpigpio": NO_RPI, "pigpio": NO_PIGPIO,
         "native": "no access to /dev/gpiomem"},
        "'gpio' group",
    ),
    "not a pi": (
        {"lgpio": NO_LGPIO, "rpigpio": NO_RPI, "pigpio": NO_PIGPIO,
         "native": NOT_A_PI},
        "not a Raspberry Pi",
    ),
}  # fmt: skip


@pytest.fixture
def factories(monkeypatch: pytest.MonkeyPatch) -> Any:
    """gpiozero's factories as a board would have them, and no factory chosen yet."""
    from gpiozero import Device

    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.setattr(gpio, "_factories", {})
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)

    def use(why: dict[str, str | None]) -> None:
        def load(name: str) -> Any:
            reason = why[name]
            if reason is not None:
                raise RuntimeError(reason)
            return NativeFactory()

        monkeypatch.setattr(gpio, "load_factory", load)

    return use


@pytest.mark.parametrize(("why", "fix"), CASES.values(), ids=CASES.keys())
async def test_the_driver_names_each_factorys_reason_and_the_fix(
    factories: Any, why: dict[str, str | None], fix: str
) -> None:
    factories(why)
    led = GpioLedDriver("led", GpioOptions())
    with pytest.raises(DriverError) as info:
        await led.open()  # NativeFactory here cannot make pins: it fails either way
    text = str(info.value)
    if why["native"] is not None:  # nothing loaded: every reason is named
        for name, reason in why.items():
            assert f"{name}: {reason}" in text
        assert fix in text


@pytest.mark.parametrize(("why", "fix"), CASES.values(), ids=CASES.keys())
def test_devices_names_each_factorys_reason_and_the_fix(
    factories: Any, monkeypatch: pytest.MonkeyPatch, why: dict[str, str | None], fix: str
) -> None:
    factories(why)
    pi = why["native"] != NOT_A_PI
    monkeypatch.setattr(led_survey, "board_model", lambda: "Raspberry Pi 4 Model B" if pi else "")
    section = led_survey.gpio()
    said = f"{section.problem} {section.note}"
    assert fix in said
    if pi:
        assert f"lgpio: {why['lgpio']}" in said  # gpiozero's own reason, not a guess
        assert "liblgpio-dev" not in said and "swig" not in said


# -- Pillow without FreeType ------------------------------------------------------------


@pytest.fixture
def no_freetype(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import features

    real = features.check
    monkeypatch.setattr(features, "check", lambda f: False if f == "freetype2" else real(f))


FIX = "pip install --no-cache-dir --force-reinstall pillow"


async def test_a_deck_refuses_to_open_without_freetype_and_names_the_fix(
    no_freetype: None,
) -> None:
    from devices.streamdeck.driver import StreamDeckDriver, StreamDeckOptions

    deck = StreamDeckDriver("deck", StreamDeckOptions(dummy=True))
    with pytest.raises(DriverError, match="without FreeType") as info:
        await deck.open()
    assert FIX in str(info.value) and "libfreetype-dev" in str(info.value)
    assert deck.preflight() == [str(info.value)]


def test_devices_names_a_pillow_without_freetype(no_freetype: None) -> None:
    from devices.streamdeck.survey import stream_decks

    assert FIX in stream_decks().problem


def test_preview_names_a_pillow_without_freetype(
    no_freetype: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bridge.commands.preview import main

    args = argparse.Namespace(config=None, out=str(tmp_path / "p"), model="mini", zoom=1)
    assert main(args) == 1
    assert FIX in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


# -- the gpio extra ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("machine", "python", "wanted"),
    [
        ("aarch64", "3.11", True),  # 64-bit Raspberry Pi OS (bookworm)
        ("armv7l", "3.11", True),  # 32-bit Raspberry Pi OS
        ("aarch64", "3.12", True),
        ("armv6l", "3.11", False),  # Pi Zero W / Pi 1: no wheel, only a stub
        ("aarch64", "3.13", False),  # trixie's Python: no wheel yet
        ("x86_64", "3.11", False),  # not a Pi
    ],
)
def test_the_gpio_extra_brings_lgpio_where_pypi_has_a_wheel(
    machine: str, python: str, wanted: bool
) -> None:
    from packaging.requirements import Requirement

    requirements = [Requirement(r) for r in importlib.metadata.requires("agentlight") or []]
    lgpio = next(r for r in requirements if r.name == "lgpio")
    assert lgpio.specifier.contains("0.2.2.0") and not lgpio.specifier.contains("0.0.0.2")
    assert lgpio.marker is not None
    env = {
        "platform_system": "Linux",
        "platform_machine": machine,
        "python_version": python,
        "extra": "gpio",
    }
    assert lgpio.marker.evaluate(env) is wanted
    assert lgpio.marker.evaluate({**env, "extra": "serial"}) is False
