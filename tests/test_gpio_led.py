"""The GPIO RGB LED driver on gpiozero's own MockFactory and MockPWMPin.

The engine runs on a virtual clock and gpiozero's mock pins take their
timestamps from the same clock, so ``assert_states_and_times`` checks what an
effect does to the pins over (fake) time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("gpiozero")

import gpiozero.pins.mock as gpiozero_mock
from gpiozero import Device as GpioDevice
from gpiozero.pins.mock import MockFactory, MockPWMPin

from bridge.infra.errors import ConfigError, DriverError
from bridge.infra.validate import from_table
from bridge.pipeline import effects
from bridge.pipeline.looks import Color, Effect, Look
from bridge.pipeline.theme import default_theme
from devices import driver_class
from devices.led.color import Correction
from devices.led.gpio import GpioLedDriver, GpioOptions, named_factory
from harness.vclock import run_virtual, vloop
from tests.enginerig import EngineRun, disconnected, status

AMBER = 0xB0 / 255  # green of the default theme's waiting_for_user (#ffb000)


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.reset()


def use_virtual_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mock pins stamp their state changes with the virtual loop's time."""
    monkeypatch.setattr(gpiozero_mock, "monotonic", vloop().time)


def values(pin: Any) -> list[float]:
    return [round(s.state, 4) for s in pin.states]


def test_registered_and_options_checked() -> None:
    assert driver_class("gpio") is GpioLedDriver
    with pytest.raises(ConfigError, match="three different pins"):
        from_table(GpioOptions, {"red": 5, "green": 5, "blue": 6}, file="f", key="devices[0]")
    with pytest.raises(ConfigError, match="balance"):
        from_table(GpioOptions, {"balance": [1, 0.5]}, file="f", key="devices[0]")
    with pytest.raises(ConfigError, match="slot: counts from 1"):
        from_table(GpioOptions, {"slot": 0}, file="f", key="devices[0]")
    with pytest.raises(ConfigError, match="beyond"):
        from_table(GpioOptions, {"slot": 3, "slots": 2}, file="f", key="devices[0]")


def test_blink_on_pins_over_virtual_time(
    monkeypatch: pytest.MonkeyPatch, factory: MockFactory
) -> None:
    """Waiting for the user: amber, 1 s blink. Red and green switch every 0.5 s, gamma applied."""

    async def main() -> None:
        use_virtual_pins(monkeypatch)
        led = GpioLedDriver("led", GpioOptions(), pin_factory=factory)
        await led.open()
        red, green, blue = (factory.pin(n) for n in (17, 27, 22))
        for pin in (red, green, blue):
            pin.clear_states()
        run = EngineRun([led])
        run.publish(status(("a", "waiting_for_user")))
        run.start()
        await asyncio.sleep(1.9)
        await run.stop()
        g = AMBER**2.2
        red.assert_states_and_times([(0, 0.0), (0, 1.0), (0.5, 0.0), (0.5, 1.0), (0.5, 0.0)])
        green.assert_states_and_times([(0, 0.0), (0, g), (0.5, 0.0), (0.5, g), (0.5, 0.0)])
        assert len(red.states) == 5
        assert values(blue) == [0.0]
        # Closed: the pins are released (inputs), the LED dark.
        assert red.function == "input"

    run_virtual(main)


def test_pulse_follows_gamma_curve_at_30_fps(
    monkeypatch: pytest.MonkeyPatch, factory: MockFactory
) -> None:
    """Thinking: a blue 2 s pulse. Each duty is the gamma of the sampled look at that instant."""
    look = default_theme().session_look(
        __import__("bridge.pipeline.model", fromlist=["SessionState"]).SessionState.THINKING,
        tool=None,
        channel="websocket",
    )
    assert look.effect is Effect.PULSE
    fix = Correction()

    async def main() -> None:
        use_virtual_pins(monkeypatch)
        led = GpioLedDriver("led", GpioOptions(), pin_factory=factory)
        await led.open()
        blue = factory.pin(22)
        blue.clear_states()
        run = EngineRun([led])
        run.publish(status(("a", "thinking")))
        run.start()
        await asyncio.sleep(look.period - 0.01)
        await run.stop()
        t = 0.0
        changes = blue.states[1:-1]  # the last one is the blank on close
        for change in changes:
            t += change.timestamp
            expected = fix.levels(effects.sample(look, t))[2]
            assert change.state == pytest.approx(expected, abs=1e-6), t
        # Bounded frame rate: about 30 changes a second, never more.
        assert 50 <= len(changes) <= 61
        duties = [c.state for c in changes]
        assert max(duties) == pytest.approx(fix.levels(look.color.scaled(look.brightness))[2])
        floor = look.brightness * effects.PULSE_FLOOR
        assert min(duties) == pytest.approx((look.color.b * floor) ** 2.2, rel=0.15)
        assert blue.states[-1].state == 0.0

    run_virtual(main)


async def test_common_anode_inverts_and_ends_dark(factory: MockFactory) -> None:
    led = GpioLedDriver(
        "led",
        GpioOptions(active_high=False, balance=(1.0, 0.5, 1.0)),
        pin_factory=factory,
    )
    await led.open()
    red, green, blue = (factory.pin(n) for n in (17, 27, 22))
    assert (red.state, green.state, blue.state) == (1.0, 1.0, 1.0)  # high = dark
    frame = _frame(Color.parse("#ffffff"))
    await led.show(frame)
    # Lit = low; the green balance halves its light: duty 0.5, pin high half the time.
    assert (red.state, green.state, blue.state) == (0.0, 0.5, 0.0)
    await led.close()
    # Driven dark (high) before the pins were released.
    assert [round(s.state, 3) for s in red.states[-3:-1]] == [0.0, 1.0]
    assert red.function == "input"


async def test_brightness_cap_gamma_and_no_pwm(factory: MockFactory) -> None:
    led = GpioLedDriver("led", GpioOptions(brightness=0.5, gamma=2.0), pin_factory=factory)
    await led.open()
    await led.show(_frame(Color.parse("#ff8000")))
    r, g, b = (factory.pin(n).state for n in (17, 27, 22))
    assert r == pytest.approx(0.25)
    assert g == pytest.approx((0.5 * 0x80 / 255) ** 2)
    assert b == 0.0
    await led.close()

    plain = GpioLedDriver("plain", GpioOptions(pwm=False), pin_factory=MockFactory())
    await plain.open()
    await plain.show(_frame(Color.parse("#ffb000").scaled(0.2)))  # dim amber: still red + green
    pins = plain.rgbled._leds
    assert [p.value for p in pins] == [1, 1, 0]
    await plain.close()


async def test_redundant_frames_do_not_touch_pins(factory: MockFactory) -> None:
    led = GpioLedDriver("led", GpioOptions(), pin_factory=factory)
    await led.open()
    red = factory.pin(17)
    await led.show(_frame(Color.parse("#ff0000")))
    before = len(red.states)
    await led.show(_frame(Color.parse("#ff0000"), label="other text"), force=True)
    assert len(red.states) == before
    await led.close()


def test_slot_leds_keep_their_session(
    monkeypatch: pytest.MonkeyPatch, factory: MockFactory
) -> None:
    """LEDs for global, slot 1, slot 2: a session stays on its LED, a new one takes a free one."""

    async def main() -> None:
        use_virtual_pins(monkeypatch)
        glob = GpioLedDriver("g", GpioOptions(red=2, green=3, blue=4), pin_factory=factory)
        one = GpioLedDriver(
            "one", GpioOptions(red=5, green=6, blue=13, slot=1, slots=2), pin_factory=factory
        )
        two = GpioLedDriver(
            "two", GpioOptions(red=17, green=27, blue=22, slot=2, slots=2), pin_factory=factory
        )
        for d in (glob, one, two):
            await d.open()
        run = EngineRun([glob, one, two], show="global")
        run.start()

        def rgb(d: GpioLedDriver) -> tuple[float, float, float]:
            return tuple(round(v, 4) for v in d.rgbled.value)

        theme = default_theme()
        from bridge.pipeline.model import GlobalState, SessionState

        fix = Correction()

        def lit(state: SessionState, tool: str | None = None) -> tuple[float, ...]:
            lk = theme.session_look(state, tool=tool, channel="websocket")
            return tuple(round(v, 4) for v in fix.levels(lk.color.scaled(lk.brightness)))

        run.publish(status(("a", "tool_running", "bash"), ("b", "streaming")))
        await asyncio.sleep(0.1)
        active = theme.global_look(GlobalState.ACTIVE)
        assert rgb(glob) == tuple(
            round(v, 4) for v in fix.levels(active.color.scaled(active.brightness))
        )
        assert rgb(one) == lit(SessionState.TOOL_RUNNING, "bash")
        assert rgb(two) == lit(SessionState.STREAMING)

        run.publish(status(("b", "streaming")))  # a ends: its LED goes dark, b stays put
        await asyncio.sleep(0.1)
        assert rgb(one) == (0.0, 0.0, 0.0)
        assert rgb(two) == lit(SessionState.STREAMING)

        run.publish(status(("b", "streaming"), ("c", "tool_running", "python")))
        await asyncio.sleep(0.1)
        assert rgb(one) == lit(SessionState.TOOL_RUNNING, "python")
        assert rgb(two) == lit(SessionState.STREAMING)

        # The bridge loses the agent: free slots say so instead of looking quiet.
        run.publish(disconnected())
        await asyncio.sleep(0.01)
        assert rgb(one) != (0.0, 0.0, 0.0)
        await run.stop()
        for d in (glob, one, two):
            assert not d.is_open

    run_virtual(main)


async def test_named_and_default_pin_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    mock = named_factory("mock")
    assert isinstance(mock, MockFactory) and issubclass(mock.pin_class, MockPWMPin)
    assert named_factory("MOCK") is mock  # one shared factory per name
    with pytest.raises(ValueError, match="no pin factory 'nonsense'"):
        named_factory("nonsense")

    # No option: gpiozero's configured default, as a test or GPIOZERO_PIN_FACTORY sets it.
    default = MockFactory(pin_class=MockPWMPin)
    monkeypatch.setattr(GpioDevice, "pin_factory", default)
    led = GpioLedDriver("led", GpioOptions(red=10, green=11, blue=12))
    await led.open()
    await led.show(_frame(Color.parse("#00ff00")))
    assert default.pin(11).state == 1.0
    await led.close()


async def test_errors_say_what_to_do(factory: MockFactory) -> None:
    holder = GpioLedDriver("first", GpioOptions(), pin_factory=factory)
    await holder.open()
    clash = GpioLedDriver("second", GpioOptions(), pin_factory=factory)
    with pytest.raises(DriverError, match="red/green/blue pins"):
        await clash.open()
    await holder.close()
    no_pwm = GpioLedDriver("np", GpioOptions(), pin_factory=MockFactory())
    with pytest.raises(DriverError, match="pwm = false"):
        await no_pwm.open()


def _frame(color: Color, label: str = "") -> Any:
    from tests.frames import make_frame

    return make_frame("active", color=color, sampled=color, label=label)


_ = Look  # imported for type clarity in helpers above


async def test_named_mock_pins_keep_a_bounded_history() -> None:
    led = GpioLedDriver("led", GpioOptions(red=23, green=24, blue=25, pin_factory="mock"))
    await led.open()
    for i in range(3000):
        await led.show(_frame(Color.from_bytes(i % 200 + 1, 0, 0)))
    red = named_factory("mock").pin(23)
    assert len(red.states) <= 2000
    assert red.state == pytest.approx((200 / 255) ** 2.2)  # the last of 3000 shows
    await led.close()


@pytest.mark.parametrize(
    ("option", "env"),
    [
        ("mock", {}),  # pin_factory = "mock" in the config
        ("", {"GPIOZERO_PIN_FACTORY": "mock"}),  # the README's way
        ("", {"GPIOZERO_PIN_FACTORY": " Mock "}),
        ("mock", {"GPIOZERO_MOCK_PIN_CLASS": "mockpwmpin"}),  # gpiozero's own pin class
        ("", {"GPIOZERO_PIN_FACTORY": "mock", "GPIOZERO_MOCK_PIN_CLASS": "mockpwmpin"}),
    ],
)
async def test_every_documented_way_to_mock_pins_dims_and_says_what_it_shows(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    option: str,
    env: dict[str, str],
) -> None:
    """Mock pins, chosen in the config or the environment, get PWM and log each look once."""
    import devices.led.gpio as gpio_module

    monkeypatch.setattr(gpio_module, "_factories", {})  # a fresh factory for this env
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.delenv("GPIOZERO_MOCK_PIN_CLASS", raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    caplog.set_level("INFO", logger="agentlight.devices.gpio")
    led = GpioLedDriver("led", GpioOptions(red=5, green=6, blue=13, pin_factory=option))
    await led.open()
    try:
        dim = Color.parse("#404040")
        for _ in range(3):  # the same look three times: said once
            await led.show(_frame(dim, label="Idle"))
        await led.show(_frame(Color.parse("#ffb000"), label="Waiting for you"))
        assert 0 < led.rgbled.value[1] < 1  # amber's green, dimmed by PWM, not switched
    finally:
        await led.close()
    lines = [r.getMessage() for r in caplog.records]
    assert sum("nothing physical lights" in line for line in lines) == 1
    shown = [line for line in lines if "(mock pins)" in line]
    assert shown == [
        "led (mock pins): Idle, #404040 solid",
        "led (mock pins): Waiting for you, #ffb000 solid",
    ]


async def test_mock_pins_say_dark_for_off(
    factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """An injected MockFactory narrates too; a look that lights nothing is said as dark."""
    caplog.set_level("INFO", logger="agentlight.devices.gpio")
    led = GpioLedDriver("led", GpioOptions(pwm=False), pin_factory=factory)
    await led.open()
    await led.show(_frame(Color.parse("#000000"), label="off"))
    await led.close()
    assert [r.getMessage() for r in caplog.records if "(mock pins)" in r.getMessage()] == [
        "led (mock pins): off, #000000 dark"
    ]
