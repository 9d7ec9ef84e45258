"""USB status lights through busylight-core, tested the way busylight-core tests itself.

Lights are described by ``Hardware`` records (as busylight-core's
``tests/vendor_examples`` build them) whose I/O handle records what the vendor
class writes; ``Hardware.enumerate`` is patched to return them, as
busylight-core's own tests do. The vendor classes are busylight-core's own, so
the bytes are whatever each vendor protocol says: this driver never builds them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("busylight_core")

from busylight_core import Hardware

from bridge.infra.errors import ConfigError, DriverUnavailable
from bridge.infra.validate import from_table
from bridge.pipeline.theme import default_theme, parse_theme
from devices import driver_class
from devices.led.usblight import UsbLightDriver, UsbLightOptions, explain_usb_error
from tests.conftest import eventually
from tests.enginerig import EngineRun, status
from tests.frames import make_frame

ORANGE = "#ff8000"  # (255, 128, 0) at gamma 1


class Handle:
    """A HID handle that records writes (busylight-core's ``hid.Device`` surface)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.features: list[bytes] = []
        self.opens = 0
        self.closes = 0
        self.broken = False
        self.changed = asyncio.Event()

    def open_path(self, path: bytes) -> None:
        if self.broken:
            raise OSError("open failed")
        self.opens += 1

    def close(self) -> None:
        self.closes += 1

    def write(self, data: bytes) -> int:
        return self._record(self.writes, data)

    def send_feature_report(self, data: bytes) -> int:
        return self._record(self.features, data)

    def read(self, *args: Any) -> bytes:
        return b"\0" * 8

    def _record(self, into: list[bytes], data: bytes) -> int:
        if self.broken:
            raise OSError("device disconnected")
        into.append(bytes(data))
        self.changed.set()
        return len(data)


def hardware(vid: int, pid: int, serial: str, *, release: int = 512) -> Hardware:
    hw = Hardware.from_hid(
        {
            "path": f"/dev/hidraw-{serial}".encode(),
            "vendor_id": vid,
            "product_id": pid,
            "serial_number": serial,
            "release_number": release,
            "manufacturer_string": "Test Manufacturer",
            "product_string": "Test Product",
            "usage_page": 65280,
            "usage": 1,
            "interface_number": 0,
            "bus_type": 1,
        }
    )
    hw.handle = Handle()
    return hw


def blinkstick_square(serial: str = "BS032974-3.0") -> Hardware:
    return hardware(0x20A0, 0x41E5, serial)  # serial ending -3.0: a Square


def blink1(serial: str = "2000ABCD") -> Hardware:
    return hardware(0x27B8, 0x01ED, serial)


def handle(hw: Hardware) -> Handle:
    h = hw.handle
    assert isinstance(h, Handle)
    return h


@pytest.fixture
def attached(monkeypatch: pytest.MonkeyPatch) -> list[Hardware]:
    """What is plugged in: tests add and remove Hardware records."""
    plugged: list[Hardware] = []
    monkeypatch.setattr(Hardware, "enumerate", classmethod(lambda cls, by_type=None: list(plugged)))
    return plugged


def square_bytes(r: int, g: int, b: int) -> bytes:
    # BlinkStick Square: report 6, channel 0, then 8 LEDs in G, R, B order.
    return b"\x06\x00" + bytes((g, r, b)) * 8


def light(**options: Any) -> UsbLightDriver:
    return UsbLightDriver("usb", UsbLightOptions(gamma=1.0, **options), exclusive=False)


def test_registered_and_options() -> None:
    assert driver_class("usblight") is UsbLightDriver
    with pytest.raises(ConfigError, match="slots: needs slot"):
        from_table(UsbLightOptions, {"slots": 2}, file="f", key="devices[0]")


async def test_first_light_found_gets_the_color(attached: list[Hardware]) -> None:
    square, one = blinkstick_square(), blink1()
    attached += [one, square]
    driver = light()
    await driver.open()
    assert [type(x).__name__ for x in driver.lights] == ["BlinkStickSquare"]
    await driver.show(make_frame("active", color=ORANGE))
    assert handle(square).writes == [square_bytes(255, 128, 0)]
    assert handle(one).features == []
    await driver.close()
    assert handle(square).writes[-1] == square_bytes(0, 0, 0)  # dark on exit


async def test_pick_by_model_or_serial(attached: list[Hardware]) -> None:
    square, one = blinkstick_square(), blink1("XYZ")
    attached += [square, one]
    by_model = light(model="blink(1)")
    await by_model.open()
    await by_model.show(make_frame("active", color=ORANGE))
    # blink(1): a "fade to RGB" feature report: 0x01 'c' r g b, fade time, LED.
    assert handle(one).features == [b"\x01c\xff\x80\x00\x00\n\x00"]
    await by_model.close()
    by_serial = light(serial="BS032974-3.0")
    await by_serial.open()
    assert [type(x).__name__ for x in by_serial.lights] == ["BlinkStickSquare"]
    await by_serial.close()
    nothing = light(model="Busylight Omega")
    with pytest.raises(DriverUnavailable, match=r"no USB light \(model 'Busylight Omega'"):
        await nothing.open()


async def test_all_lights_and_losing_one(attached: list[Hardware]) -> None:
    """all = true drives both; one unplugged: the other carries on; it comes back by itself."""
    square, one = blinkstick_square(), blink1()
    attached += [square, one]
    driver = light(all=True, scan_interval=0.1)
    await driver.open()
    assert len(driver.lights) == 2
    await driver.show(make_frame("active", color=ORANGE))
    assert handle(square).writes[-1] == square_bytes(255, 128, 0)
    assert handle(one).features[-1][2:5] == b"\xff\x80\x00"
    assert driver.caps.refresh is None  # nothing missing: a static look costs nothing

    handle(one).broken = True
    attached.remove(one)
    await driver.show(make_frame("active", color="#0000ff"))
    assert handle(square).writes[-1] == square_bytes(0, 0, 255)
    assert len(driver.lights) == 1
    assert driver.caps.refresh == 0.1  # now the engine's refresh drives a rescan

    back = blink1()  # replugged: a new handle for the same light
    attached.append(back)
    frame = make_frame("active", color="#0000ff")
    await driver.show(frame, force=True)  # what the engine's refresh does
    assert len(driver.lights) == 2
    assert handle(back).features[-1][2:5] == b"\x00\x00\xff"
    assert driver.caps.refresh is None
    await driver.close()


async def test_engine_blinks_it_and_it_comes_back(attached: list[Hardware]) -> None:
    """Blink comes from our engine (busylight's Light has none); no light yet = retries."""
    theme = parse_theme(
        {"session": {"waiting_for_user": {"period": 0.1, "color": ORANGE}}},
        file=None,
        base=default_theme(),
    )
    driver = light()
    run = EngineRun([driver], retry=(0.02, 0.05))
    run.engine.set_theme(theme)
    run.publish(status(("a", "waiting_for_user")))
    run.start()
    await eventually(lambda: "no USB light" in driver.health.detail)
    assert not driver.is_open
    square = blinkstick_square()
    attached.append(square)
    h = handle(square)
    await _until(lambda: len(h.writes) >= 4, h)
    await run.stop()
    on, off = square_bytes(255, 128, 0), square_bytes(0, 0, 0)
    # The blink started when the status did, so the light joins mid-cycle: on and
    # off alternate from whichever comes first.
    assert set(h.writes[:4]) == {on, off}
    assert all(a != b for a, b in zip(h.writes[:4], h.writes[1:4], strict=False))
    assert h.writes[-1] == off


async def test_exclusive_open_and_release(attached: list[Hardware]) -> None:
    square = blinkstick_square()
    attached.append(square)
    driver = UsbLightDriver("usb", UsbLightOptions(), exclusive=True)
    await driver.open()
    await driver.show(make_frame("active", color=ORANGE))
    await driver.show(make_frame("active", color="#00ff00"))
    assert (handle(square).opens, handle(square).closes) == (1, 0)  # held open between writes
    await driver.close()
    assert handle(square).closes == 1


def test_errors_name_the_fix() -> None:
    assert "udev" in explain_usb_error(PermissionError("open failed"))
    assert "hidapi" in explain_usb_error(ImportError("libhidapi-hidraw.so.0: cannot open"))


async def _until(condition: Callable[[], bool], h: Handle, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not condition():
            h.changed.clear()
            await h.changed.wait()
