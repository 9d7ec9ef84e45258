"""An RGB LED on a Raspberry Pi's GPIO pins, through gpiozero's ``RGBLED``.

One ``[[devices]]`` entry per LED. An LED shows the device's look (the global
state, or the most urgent session with ``show = "session"``), or with ``slot =
N`` the N-th session slot: the same session stays on the same LED while it
lives and a new session takes a free LED.

Pins come from gpiozero's pin factory: its configured default (lgpio on a Pi 5,
``GPIOZERO_PIN_FACTORY`` when set) unless ``pin_factory`` names one, or one
injected by a test (``MockFactory(pin_class=MockPWMPin)``).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from bridge.infra.errors import DriverError
from bridge.pipeline.frame import Frame
from bridge.pipeline.looks import BLACK, Effect, Look
from bridge.text.textsafe import clean
from devices.base import Capabilities, Driver
from devices.led.color import Correction, check_correction, on_off
from devices.led.view import single, slot_caps

log = logging.getLogger("agentlight.devices.gpio")

# BCM numbers a Pi has on its 40-pin header.
_GPIO_PINS = range(0, 28)


@dataclass(frozen=True, slots=True)
class GpioOptions:
    """Options of the ``gpio`` driver.

    :param red: BCM pin number of the red leg (through its resistor).
    :param green: BCM pin number of the green leg.
    :param blue: BCM pin number of the blue leg.
    :param active_high: true for a common-cathode LED (pin high = lit); false
        for common anode (the shared leg on 3.3 V, pin low = lit).
    :param pwm: dim with PWM (true); false switches each colour fully on or off.
    :param brightness: cap 0-1 on everything this LED shows.
    :param gamma: perceptual-to-linear exponent for smooth pulses; 1 = linear duty.
    :param balance: [red, green, blue] multipliers 0-1 for LEDs whose colours
        differ in strength (e.g. [1.0, 0.6, 0.8] tames a strong green).
    :param pin_factory: a gpiozero pin factory name (lgpio, rpigpio, pigpio,
        native, mock); empty = gpiozero's default (``GPIOZERO_PIN_FACTORY``).
    :param slot: show the N-th session slot (1 = first) instead of the device's look.
    :param slots: how many session LEDs share the sessions; set the same on each
        of them, so a session waiting for an LED takes the first one that frees
        up. Unset: every session keeps the slot it got.
    """

    red: int = 17
    green: int = 27
    blue: int = 22
    active_high: bool = True
    pwm: bool = True
    brightness: float = 1.0
    gamma: float = 2.2
    balance: tuple[float, ...] = (1.0, 1.0, 1.0)
    pin_factory: str = ""
    slot: int | None = None
    slots: int | None = None

    def __post_init__(self) -> None:
        pins = (self.red, self.green, self.blue)
        for name, pin in zip(("red", "green", "blue"), pins, strict=True):
            if pin not in _GPIO_PINS:
                raise ValueError(f"{name}: {pin!r} is not a BCM GPIO number (0-27)")
        if len(set(pins)) != 3:
            raise ValueError(f"red, green and blue need three different pins, got {pins!r}")
        check_correction(self.brightness, self.gamma, self.balance)
        if self.slot is not None and self.slot < 1:
            raise ValueError(f"slot counts from 1 (the first session), got {self.slot!r}")
        if self.slots is not None:
            if self.slots < 1:
                raise ValueError(f"slots must be >= 1, got {self.slots!r}")
            if self.slot is None:
                raise ValueError("slots only applies together with slot")
            if self.slot > self.slots:
                raise ValueError(f"slot {self.slot} is beyond slots = {self.slots}")


class GpioLedDriver(Driver):
    """Shows looks on an RGB LED wired to three GPIO pins.

    :param name: the device's name.
    :param options: a :class:`GpioOptions`.
    :param pin_factory: a gpiozero pin factory object; overrides the option
        (tests pass ``MockFactory(pin_class=MockPWMPin)``).
    """

    TYPE = "gpio"
    Options = GpioOptions
    # One look at 30 fps; the slot options make it a session's light.
    CAPS = Capabilities(fps=30.0, sessions=0)

    def __init__(
        self, name: str, options: GpioOptions | None = None, *, pin_factory: Any = None
    ) -> None:
        super().__init__(name, options)
        opts: GpioOptions = self.options
        self._factory = pin_factory
        self._slot, self.caps = slot_caps(self.caps, opts.slot, opts.slots)
        self._correction = Correction(opts.brightness, opts.gamma, tuple(opts.balance))  # type: ignore[arg-type]
        self._led: Any = None
        self._value: tuple[float, float, float] | None = None
        # Mock pins light nothing: such an LED says in the log what it would show.
        self._mock = False
        self._said: tuple[str, str, str] | None = None
        self._told_mock = False

    @property
    def rgbled(self) -> Any:
        """The gpiozero ``RGBLED`` while open (for tests and ``devices``)."""
        return self._led

    async def _open(self) -> None:
        # Importing gpiozero and probing the board can take a while on a Pi Zero.
        self._led = await self.blocking(self._make_led)
        self._value = None
        self._said = None
        self._mock = _is_mock(self._led)
        if self._mock and not self._told_mock:
            self._told_mock = True  # once per device, not once per reopen
            log.warning(
                "%s: mock GPIO pins, nothing physical lights; each look it shows is logged "
                "(-v to see them)",
                self.name,
            )

    def _make_led(self) -> Any:
        opts: GpioOptions = self.options
        gpiozero = import_gpiozero(self.name)
        try:
            factory, name, skipped = pin_factory(opts.pin_factory, self._factory)
        except (ValueError, NoPinFactory) as err:
            raise DriverError(f"{self.name}: {err}") from err
        try:
            return gpiozero.RGBLED(
                opts.red,
                opts.green,
                opts.blue,
                active_high=opts.active_high,
                initial_value=(0, 0, 0),
                pwm=opts.pwm,
                pin_factory=factory,
            )
        except Exception as err:
            raise DriverError(f"{self.name}: {explain_gpio_error(err, name, skipped)}") from err

    def preflight(self) -> list[str]:
        """Claim the pins dark and let them go: a missing library or pin factory,
        no PWM, pins in use or no access is found the way open finds it."""
        try:
            led = self._make_led()
        except DriverError as err:
            return [str(err)]
        led.close()
        return []

    async def _show(self, frame: Frame) -> None:
        look, color = single(frame, self._slot)
        if self._mock:
            self._say(look)
        value: tuple[float, float, float]
        if self.options.pwm:
            value = self._correction.levels(color)
        else:
            value = tuple(float(on) for on in on_off(color))  # type: ignore[assignment]
        if value == self._value:
            return  # another session changed, or a refresh: the pins already show this
        # Three PWM register writes: microseconds, so no thread hop (that would
        # cost more CPU than the write on a Pi Zero at 30 fps).
        self._led.value = value
        self._value = value

    def _say(self, look: Look) -> None:
        """Log the look once per change (not per animation step: a pulse is 90 writes a second)."""
        said = (clean(look.label, 60), look.color.hex, _effect_words(look))
        if said == self._said:
            return
        self._said = said
        label, hex_color, effect = said
        log.info("%s (mock pins): %s, %s %s", self.name, label or "-", hex_color, effect)

    async def _close(self, *, blank: bool) -> None:
        led, self._led = self._led, None
        if led is None:
            return
        try:
            if blank:
                led.value = (0, 0, 0)  # common anode: pins high, so dark before release
        finally:
            led.close()
            self._value = None


def _effect_words(look: Look) -> str:
    if look.effect is Effect.OFF or look.brightness <= 0 or look.color == BLACK:
        return "dark"
    if look.effect.animated:
        return f"{look.effect.value} {look.period:g} s"
    return look.effect.value if look.brightness >= 1 else f"at {look.brightness:.0%}"


def _is_mock(led: Any) -> bool:
    try:
        from gpiozero.pins.mock import MockFactory
    except ImportError:  # pragma: no cover - the LED was made by gpiozero
        return False
    return isinstance(getattr(led, "pin_factory", None), MockFactory)


_factories: dict[str, Any] = {}
_factories_lock = threading.Lock()


def named_factory(name: str) -> Any:
    """gpiozero's pin factory registered as ``name`` (one shared instance per name).

    Several LEDs on one Pi share one factory, as they would share
    ``Device.pin_factory``. ``mock`` gets PWM-capable pins (they serve
    ``pwm = false`` LEDs too, so one shared factory fits every LED) unless
    ``GPIOZERO_MOCK_PIN_CLASS`` says otherwise, so a config can be tried on
    any machine.
    """
    if not name:
        return None
    key = name.lower()
    with _factories_lock:
        factory = _factories.get(key)
        if factory is None:
            factory = load_factory(key)
            _factories[key] = factory
        return factory


def import_gpiozero(device: str) -> Any:
    """The gpiozero module (slow to import on a Pi Zero: a driver's thread calls this).

    :raises DriverError: naming ``device`` and the extra to install, when it is missing.
    """
    try:
        import gpiozero
    except ImportError as err:
        raise DriverError(
            f"{device}: gpiozero is not installed; pip install 'agentlight[gpio]'"
        ) from err
    return gpiozero


def pin_factory(option: str, given: Any = None) -> tuple[Any, str, list[str]]:
    """The pin factory a GPIO device opens on, its name, and why each factory gpiozero
    prefers was skipped (see :func:`default_factory`).

    ``given`` (a test's) first; else the one the ``pin_factory`` option or
    ``GPIOZERO_PIN_FACTORY`` names, both through :func:`named_factory`, so
    ``GPIOZERO_PIN_FACTORY=mock`` (as documented) gets PWM mock pins too; else
    gpiozero's default.

    :raises ValueError: for a name gpiozero does not know.
    :raises NoPinFactory: when none is named and none loads.
    """
    name = option or os.environ.get("GPIOZERO_PIN_FACTORY", "").strip()
    if given is not None:
        return given, name, []
    if name:
        return named_factory(name), name, []
    return default_factory()


#: The pin factories gpiozero tries, in its order, when none is named.
DEFAULT_ORDER = ("lgpio", "rpigpio", "pigpio", "native")


class NoPinFactory(Exception):
    """No pin factory loads: each one's reason and the fix that applies."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__(
            f"no usable GPIO pin factory ({'; '.join(reasons)}): {factory_fix(reasons)}"
        )


def default_factory(*, shared: bool = True) -> tuple[Any, str, list[str]]:
    """gpiozero's default pin factory, found in gpiozero's order, with the reason each
    one before it was skipped (gpiozero says those only as a warning per factory).

    :param shared: the one factory every LED shares (False: a new one, for a look
        that closes it again, as ``agentlight devices`` does).
    :returns: the factory, its name, and ``"name: reason"`` for each skipped.
    :raises NoPinFactory: when none loads.
    """
    from gpiozero import Device

    if shared and Device.pin_factory is not None:  # set by the program (or a test)
        return Device.pin_factory, type(Device.pin_factory).__name__, []
    load = named_factory if shared else load_factory
    reasons: list[str] = []
    for name in DEFAULT_ORDER:
        try:
            return load(name), name, reasons
        except Exception as err:
            reasons.append(f"{name}: {err}")
    raise NoPinFactory(reasons)


def factory_fix(reasons: list[str], *, pi: bool | None = None) -> str:
    """The fix for why gpiozero's better pin factories did not load.

    :param pi: whether the board is known to be a Raspberry Pi (None: judge by
        the reasons; native's "unable to locate Pi revision" means it is not).
    """
    why = dict(r.split(": ", 1) for r in reasons if ": " in r)
    lgpio = why.get("lgpio", "")
    not_a_pi = "Pi revision" in why.get("native", "") if pi is None else not pi
    if not_a_pi and "No module named" in lgpio:
        return 'not a Raspberry Pi: no GPIO here (pin_factory = "mock" tries a config)'
    if "No module named" in lgpio:
        return (
            "install lgpio: pip install lgpio (wheels for 64-bit and 32-bit Raspberry Pi OS), "
            "or on Raspberry Pi OS sudo apt install python3-lgpio in a venv made with "
            "--system-site-packages"
        )
    if lgpio:
        return (
            "lgpio cannot open the GPIO chip: add the user to the 'gpio' group "
            "(sudo usermod -aG gpio $USER) and log in again; is /dev/gpiochip0 there?"
        )
    return 'set pin_factory (lgpio, rpigpio, pigpio, native, or "mock" to try a config)'


def load_factory(name: str) -> Any:
    """A new gpiozero pin factory registered as ``name`` (``mock``: with PWM pins)."""
    from importlib.metadata import entry_points

    if name == "mock" and not os.environ.get("GPIOZERO_MOCK_PIN_CLASS"):
        from gpiozero.pins.mock import MockFactory

        return MockFactory(pin_class=_trimmed_pwm_pin_class())
    for ep in entry_points(group="gpiozero_pin_factories"):
        if ep.name == name:
            return ep.load()()
    known = sorted(ep.name for ep in entry_points(group="gpiozero_pin_factories"))
    raise ValueError(f"gpiozero has no pin factory {name!r}; known: {', '.join(known)}")


def _trimmed_pwm_pin_class() -> Any:
    """gpiozero's MockPWMPin keeping only its recent history.

    A mock pin records every change; a pulsing LED makes 90 a second, so a
    config tried with ``pin_factory = "mock"`` for a day would grow without end.
    """
    from gpiozero.pins.mock import MockPWMPin

    class TrimmedMockPWMPin(MockPWMPin):
        KEEP = 1000

        def _change_state(self, value: float) -> bool:
            changed: bool = super()._change_state(value)
            if len(self.states) > 2 * self.KEEP:
                del self.states[: -self.KEEP]
            return changed

    return TrimmedMockPWMPin


def explain_gpio_error(
    err: BaseException, factory: str = "", skipped: list[str] | None = None
) -> str:
    """One line that says what went wrong with GPIO and how to fix it.

    :param factory: the pin factory's name; ``skipped``: why each factory gpiozero
        prefers did not load (from :func:`default_factory`).
    """
    kind = type(err).__name__
    text = str(err) or kind
    why = f" ({'; '.join(skipped)})" if skipped else ""
    if kind == "BadPinFactory" or "pin factory" in text.lower():
        return f"no usable GPIO pin factory ({text}){why}: {factory_fix(skipped or [])}"
    if kind == "PinPWMUnsupported":
        fix = f"; or {factory_fix(skipped)}" if skipped else ""
        return (
            f"pin factory {factory or 'default'} has no PWM on these pins{why}: "
            f"set pwm = false{fix}"
        )
    if kind in ("GPIOPinInUse", "PinInvalidPin", "PinInvalidFunction"):
        return (
            f"{text}: check red/green/blue pins (BCM numbers, each used once), or "
            "another program (a running agentlight) has them"
        )
    if isinstance(err, PermissionError) or "permission" in text.lower():
        return (
            f"{text}: add the user to the 'gpio' group (sudo usermod -aG gpio $USER), log in again"
        )
    return f"GPIO failed: {text}"


__all__ = [
    "DEFAULT_ORDER",
    "GpioLedDriver",
    "GpioOptions",
    "NoPinFactory",
    "default_factory",
    "explain_gpio_error",
    "factory_fix",
    "import_gpiozero",
    "load_factory",
    "named_factory",
    "pin_factory",
]
