"""What every driver asks of the engine (``driver.caps``), pinned value by value.

Written before capabilities moved from class constants to one ``Capabilities``
default per class, and unchanged by that move: each driver, with its default
options and with the options (or the hardware found on open) that change its
needs, asks the engine for exactly what it asked before.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.pipeline.looks import Effect
from devices import DRIVERS
from devices.base import Capabilities, Driver
from devices.button.gpio import GpioButtonDriver
from devices.led.gpio import GpioLedDriver, GpioOptions
from devices.led.serial import SerialLedDriver, SerialOptions
from devices.led.usblight import UsbLightDriver, UsbLightOptions
from devices.mock import MockDriver, MockOptions
from devices.mqtt.publisher import MqttDriver
from devices.record import RecordDriver, RecordOptions
from devices.terminal import TerminalDriver, TerminalOptions
from tests.conftest import FakeTTY

ALL = frozenset(Effect)
NONE: frozenset[Effect] = frozenset()


def caps(
    *,
    fps: float,
    native: frozenset[Effect],
    refresh: float | None,
    sessions: int | None,
    open_timeout: float,
    write_timeout: float,
    slots_shown: frozenset[int] | None = None,
) -> Capabilities:
    """Every field spelt out, so a changed default anywhere shows up here."""
    return Capabilities(
        fps=fps,
        native_effects=native,
        refresh=refresh,
        sessions=sessions,
        slots_shown=slots_shown,
        open_timeout=open_timeout,
        write_timeout=write_timeout,
    )


TERMINAL = caps(
    fps=10.0, native=NONE, refresh=None, sessions=None, open_timeout=2.0, write_timeout=2.0
)
LED = caps(fps=30.0, native=NONE, refresh=None, sessions=0, open_timeout=2.0, write_timeout=2.0)
USB = caps(fps=30.0, native=NONE, refresh=None, sessions=0, open_timeout=5.0, write_timeout=2.0)
SERIAL = caps(fps=30.0, native=NONE, refresh=1.0, sessions=0, open_timeout=6.0, write_timeout=2.0)
DECK = caps(fps=10.0, native=ALL, refresh=1.0, sessions=None, open_timeout=5.0, write_timeout=5.0)


def _deck(**options: object) -> Driver:
    pytest.importorskip("StreamDeck")
    from devices.streamdeck.driver import StreamDeckDriver, StreamDeckOptions

    return StreamDeckDriver("deck", StreamDeckOptions(dummy=True, **options))  # type: ignore[arg-type]


# (driver type, how to make it, what it asks for before open)
BUILT: list[tuple[str, Callable[[Path], Driver], Capabilities]] = [
    ("terminal", lambda _: TerminalDriver("t"), TERMINAL),
    (
        "record",
        lambda tmp: RecordDriver("r", RecordOptions(path=str(tmp / "r.jsonl"))),
        caps(
            fps=30.0, native=ALL, refresh=None, sessions=None, open_timeout=2.0, write_timeout=2.0
        ),
    ),
    ("mock", lambda _: MockDriver("m"), LED),
    (
        "mock",
        lambda _: MockDriver(
            "m", MockOptions(fps=120.0, write_timeout=0.05, refresh=2.5, slots=-1)
        ),
        caps(
            fps=120.0, native=NONE, refresh=2.5, sessions=None, open_timeout=2.0, write_timeout=0.05
        ),
    ),
    (
        "mock",
        lambda _: MockDriver("m", MockOptions(slots=3)),
        caps(fps=30.0, native=NONE, refresh=None, sessions=3, open_timeout=2.0, write_timeout=2.0),
    ),
    ("gpio", lambda _: GpioLedDriver("g"), LED),
    (
        "gpio",
        lambda _: GpioLedDriver("g", GpioOptions(slot=2, slots=4)),
        caps(
            fps=30.0,
            native=NONE,
            refresh=None,
            sessions=4,
            slots_shown=frozenset({1}),
            open_timeout=2.0,
            write_timeout=2.0,
        ),
    ),
    (
        "gpio",
        lambda _: GpioLedDriver("g", GpioOptions(slot=1)),
        caps(
            fps=30.0,
            native=NONE,
            refresh=None,
            sessions=None,
            slots_shown=frozenset({0}),
            open_timeout=2.0,
            write_timeout=2.0,
        ),
    ),
    ("usblight", lambda _: UsbLightDriver("u"), USB),
    (
        "usblight",
        lambda _: UsbLightDriver("u", UsbLightOptions(slot=3, slots=3)),
        caps(
            fps=30.0,
            native=NONE,
            refresh=None,
            sessions=3,
            slots_shown=frozenset({2}),
            open_timeout=5.0,
            write_timeout=2.0,
        ),
    ),
    ("serial", lambda _: SerialLedDriver("s", SerialOptions(port="x")), SERIAL),
    (
        "serial",
        # A slow hello stretches the open budget past the class default.
        lambda _: SerialLedDriver("s", SerialOptions(port="x", hello_timeout=10.0)),
        caps(fps=30.0, native=NONE, refresh=1.0, sessions=0, open_timeout=12.0, write_timeout=2.0),
    ),
    (
        "serial",
        lambda _: SerialLedDriver("s", SerialOptions(port="x", protocol="line")),
        caps(
            fps=30.0,
            native=frozenset({Effect.BLINK, Effect.PULSE}),
            refresh=5.0,
            sessions=0,
            open_timeout=6.0,
            write_timeout=2.0,
        ),
    ),
    (
        "serial",
        lambda _: SerialLedDriver(
            "s",
            SerialOptions(
                port="x", leds=10, layout="segments", segment_leds=3, global_leds=2, gap=1
            ),
        ),
        caps(fps=30.0, native=NONE, refresh=1.0, sessions=2, open_timeout=6.0, write_timeout=2.0),
    ),
    (
        "mqtt",
        lambda _: MqttDriver("q"),
        caps(fps=10.0, native=ALL, refresh=None, sessions=0, open_timeout=2.0, write_timeout=2.0),
    ),
    ("streamdeck", lambda _: _deck(), DECK),
    (
        "gpio_button",
        lambda _: GpioButtonDriver("b"),
        caps(fps=1.0, native=NONE, refresh=None, sessions=0, open_timeout=2.0, write_timeout=2.0),
    ),
]


@pytest.mark.parametrize(("kind", "make", "expected"), BUILT, ids=[row[0] for row in BUILT])
def test_each_driver_asks_for_what_it_asked_for(
    kind: str, make: Callable[[Path], Driver], expected: Capabilities, tmp_path: Path
) -> None:
    driver = make(tmp_path)
    assert kind == driver.TYPE
    assert driver.caps == expected


def test_every_registered_driver_is_pinned() -> None:
    assert {row[0] for row in BUILT} == {f.type for f in DRIVERS}


@pytest.mark.parametrize(
    ("tty", "term", "native", "refresh"),
    [(False, "xterm", ALL, None), (True, "xterm", NONE, 1.0), (True, "dumb", ALL, None)],
)
async def test_the_terminal_decides_on_open(
    tty: bool,
    term: str,
    native: frozenset[Effect],
    refresh: float | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", term)
    stream = FakeTTY() if tty else io.StringIO()
    driver = TerminalDriver("t", TerminalOptions(color="never"), stream=stream)
    await driver.open()
    try:
        assert driver.caps == caps(
            fps=10.0,
            native=native,
            refresh=refresh,
            sessions=None,
            open_timeout=2.0,
            write_timeout=2.0,
        )
    finally:
        await driver.close()


@pytest.mark.parametrize(("model", "sessions", "refresh"), [("mk2", None, 1.0), ("pedal", 0, None)])
async def test_the_stream_deck_decides_on_open(
    model: str, sessions: int | None, refresh: float | None
) -> None:
    driver = _deck(dummy_model=model)
    await driver.open()
    try:
        assert driver.caps == caps(
            fps=10.0,
            native=ALL,
            refresh=refresh,
            sessions=sessions,
            open_timeout=5.0,
            write_timeout=5.0,
        )
    finally:
        await driver.close()


async def test_the_users_fps_and_refresh_win_over_the_drivers_own() -> None:
    driver = _deck()
    driver.override_caps(fps=4.0, refresh=0)  # 0: the driver's own refresh off
    expected = caps(
        fps=4.0, native=ALL, refresh=None, sessions=None, open_timeout=5.0, write_timeout=5.0
    )
    assert driver.caps == expected
    await driver.open()  # sets its own refresh again; the user's setting still wins
    try:
        assert driver.caps == expected
    finally:
        await driver.close()
    mock = MockDriver("m", MockOptions(refresh=3.0))
    mock.override_caps(refresh=0.5)
    assert (mock.caps.fps, mock.caps.refresh) == (30.0, 0.5)
