"""A push button on a Raspberry Pi's GPIO pin, through gpiozero's ``Button``: it answers
what is waiting for you (:mod:`bridge.pipeline.answers`).

It shows nothing; it only presses. With the default ``gesture = "cycle"`` one
button does it all: a short press goes to the next choice of the waiting request
(the first, the first time), and holding it ``hold_time`` seconds chooses the one
it is on, which is also the deliberate gesture an Allow or a Stop needs. Where
the choice is shown: a Stream Deck frames it, the terminal line names it. With
``gesture = "press"`` every press is ``action`` (``deny``, ``allow``, ``stop``,
``dismiss``, ``answer:1``…), under the same rules as a key: an Allow is held, or
pressed twice.

gpiozero calls back on its own thread (or at once, with mock pins); the edges go
to the event loop, where the hold is timed on the loop's clock, so a test on
the virtual clock holds a button for a second in no time.

Wiring: a momentary switch between the pin and ground (``pull_up = true``, the
default), or between the pin and 3.3 V (``pull_up = false``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from bridge.infra.errors import DriverError
from bridge.pipeline.answers import ASK_CONFIRM, ASK_NEXT, is_answer_action
from bridge.pipeline.frame import Frame
from bridge.pipeline.inputs import InputEvent, Target
from bridge.pipeline.model import SessionRef
from devices.base import Capabilities, Driver

log = logging.getLogger("agentlight.devices.gpio_button")

Gesture = Literal["cycle", "press"]
_GPIO_PINS = range(0, 28)


@dataclass(frozen=True, slots=True)
class GpioButtonOptions:
    """Options of the ``gpio_button`` driver.

    :param pin: BCM pin number the button is wired to.
    :param pull_up: true: the button connects the pin to ground (the Pi's pull-up
        holds it high); false: to 3.3 V.
    :param bounce_time: seconds a contact may bounce (0: none); gpiozero ignores
        edges within it.
    :param gesture: ``cycle``: a short press goes to the next choice, a hold
        chooses it; ``press``: every press is ``action``.
    :param action: what a press names with ``gesture = "press"``: ``allow``,
        ``deny``, ``always``, ``dismiss``, ``stop``, ``answer:N``, ``ask_first``,
        ``ask_next`` or ``ask_confirm``.
    :param hold_time: seconds a hold takes to choose (``cycle``); at least 0.6, the
        hold an Allow needs.
    :param pin_factory: a gpiozero pin factory name (lgpio, rpigpio, pigpio,
        native, mock); empty = gpiozero's default.
    """

    pin: int = 26
    pull_up: bool = True
    bounce_time: float = 0.03
    gesture: Gesture = "cycle"
    action: str = "deny"
    hold_time: float = 0.6
    pin_factory: str = ""

    def __post_init__(self) -> None:
        if self.pin not in _GPIO_PINS:
            raise ValueError(f"pin: {self.pin!r} is not a BCM GPIO number (0-27)")
        if not 0 <= self.bounce_time <= 1:
            raise ValueError(f"bounce_time: got {self.bounce_time!r}, expected 0 to 1 seconds")
        if not 0.6 <= self.hold_time <= 5:
            raise ValueError(f"hold_time: got {self.hold_time!r}, expected 0.6 to 5 seconds")
        if not is_answer_action(self.action):
            raise ValueError(
                f"action: got {self.action!r}, expected allow, deny, always, dismiss, stop, "
                "answer:N, ask_first, ask_next or ask_confirm"
            )


class GpioButtonDriver(Driver):
    """A button that answers waiting requests (see the module's docstring).

    :param pin_factory: a gpiozero pin factory object (tests pass ``MockFactory()``).
    :param clock: the loop's clock by default: when an edge was handled.
    """

    TYPE = "gpio_button"
    Options = GpioButtonOptions
    # Nothing to draw: one frame per change tells it which session is in focus.
    CAPS = Capabilities(fps=1.0, native_effects=frozenset(), sessions=0)

    def __init__(
        self,
        name: str,
        options: GpioButtonOptions | None = None,
        *,
        pin_factory: Any = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(name, options)
        self._factory = pin_factory
        self._clock = clock
        self._button: Any = None
        self._focus: SessionRef | None = None
        self._down: float | None = None
        self._hold: asyncio.TimerHandle | None = None
        self._held = False
        #: Edges seen (pressed, released), for tests.
        self.edges = 0

    @property
    def button(self) -> Any:
        """The gpiozero ``Button`` while open."""
        return self._button

    async def _open(self) -> None:
        if "gpiozero" in sys.modules:
            # Claiming one input pin takes microseconds; importing gpiozero is what
            # is slow on a Pi Zero, and that goes to the driver's thread.
            self._button = self._make_button()
        else:
            self._button = await self.blocking(self._make_button)
        self._down, self._held = None, False

    def _make_button(self) -> Any:
        opts: GpioButtonOptions = self.options
        from devices.led.gpio import explain_gpio_error, import_gpiozero, pin_factory

        gpiozero = import_gpiozero(self.name)
        skipped: list[str] = []  # until pin_factory says
        name = ""
        try:
            factory, name, skipped = pin_factory(opts.pin_factory, self._factory)
            button = gpiozero.Button(
                opts.pin,
                pull_up=opts.pull_up,
                bounce_time=opts.bounce_time or None,
                pin_factory=factory,
            )
        except DriverError:
            raise
        except Exception as err:
            raise DriverError(f"{self.name}: {explain_gpio_error(err, name, skipped)}") from err
        # gpiozero's thread (or the caller's, with mock pins): over to the loop.
        button.when_pressed = lambda: self._edge_threadsafe(True)
        button.when_released = lambda: self._edge_threadsafe(False)
        return button

    async def _show(self, frame: Frame) -> None:
        self._focus = frame.focus

    def answer_hint(self) -> str:
        opts: GpioButtonOptions = self.options
        if opts.gesture == "cycle":
            return f"button {self.name}: press for the next choice, hold to choose"
        return f"button {self.name}: {opts.action}"

    async def _close(self, *, blank: bool) -> None:
        button, self._button = self._button, None
        if self._hold is not None:
            self._hold.cancel()
            self._hold = None
        if button is not None:
            button.when_pressed = None
            button.when_released = None
            button.close()

    # -- edges, on the loop -------------------------------------------------------

    def _edge_threadsafe(self, pressed: bool) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile
            loop.call_soon_threadsafe(self._edge, pressed)

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def _edge(self, pressed: bool) -> None:
        self.edges += 1
        now = self._now()
        opts: GpioButtonOptions = self.options
        if opts.gesture == "press":
            self._emit(opts.action, pressed, now)
            return
        if pressed:
            if self._down is not None:
                return  # a second press edge without a release: ignore it
            self._down, self._held = now, False
            loop = asyncio.get_running_loop()
            self._hold = loop.call_later(opts.hold_time, self._held_long_enough)
            return
        if self._down is None:
            return
        down, self._down = self._down, None
        if self._hold is not None:
            self._hold.cancel()
            self._hold = None
        if self._held:
            # The hold's release, measured from the press: an Allow needs both.
            self._emit(ASK_CONFIRM, False, now)
        else:
            self._emit(ASK_NEXT, True, down)
            self._emit(ASK_NEXT, False, now)

    def _held_long_enough(self) -> None:
        self._hold = None
        if self._down is None:
            return
        self._held = True
        self._emit(ASK_CONFIRM, True, self._down)

    def _emit(self, action: str, pressed: bool, t: float) -> None:
        target = Target("control", self._focus, action)
        self.emit_input(InputEvent(self.name, "button", pressed, target, t))


__all__ = ["GpioButtonDriver", "GpioButtonOptions"]
