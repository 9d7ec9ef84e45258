"""Device drivers, registered by config ``type`` and imported only when used.

Adding a driver (one module per family, like busylight-core's vendors):

1. Write ``devices/<family>.py`` with a :class:`devices.base.Driver` subclass:
   set ``TYPE`` and an ``Options`` frozen dataclass (its fields are the config
   keys, each with a default and a ``:param:`` line).
2. Say what the hardware needs from the engine with the class constants, or per
   instance by replacing ``self.caps`` (a :class:`devices.base.Capabilities`)
   in ``__init__`` (from an option) or ``_open`` (from what it found):

   - ``MAX_FPS`` / ``caps.fps``: effects are sampled no faster (LEDs: 30).
   - ``NATIVE_EFFECTS`` / ``caps.native_effects``: effects the device runs
     itself; the engine then sends the look's full color and never animates it.
   - ``REFRESH`` / ``caps.refresh``: seconds after which the engine sends the
     current frame again although nothing changed (WLED leaves realtime mode
     after 2.5 s, a key's time-in-state ticks, a light wants keepalives).
     ``_show`` is then called with an equal frame. Never keep a private ticker.
   - ``SHOWS_SESSIONS`` and ``SESSIONS`` / ``caps.sessions``: 0 for one look
     (read ``frame.color``); N for N places (LEDs, segments): each
     ``frame.sessions`` view has a stable ``slot`` (0..N-1, kept while the
     session lives, None when there is no room); None gives every session a
     slot (a paging Stream Deck: page = slot // keys). A device that draws
     only some slots (an LED showing slot 2) sets ``caps.slots_shown`` so
     other sessions' animations never wake it.
   - ``OPEN_TIMEOUT`` / ``caps.open_timeout`` for a slow open (an Uno resets
     for ~2 s when its port opens), ``WRITE_TIMEOUT`` for each show/close.

3. Import the hardware library inside ``_open`` (never at module top), take the
   hardware handle as an injectable option or constructor argument (a pin
   factory, a serial URL, a transport) so tests use the library's own mocks,
   and run blocking calls with ``await self.blocking(fn, *args)`` (the
   driver's own thread). Raise :class:`bridge.infra.errors.DriverUnavailable` with a
   one-line message naming the fix when the hardware is missing or forbidden;
   the engine logs it once and reopens with back-off (replug comes back alone).
4. Input: turn a key or button callback into an :class:`bridge.pipeline.inputs.InputEvent`
   saying what the control showed (``Target`` global, a session's ``ref``, or a
   control such as ``page-next``) and hand it over with ``self.emit_input(e)``
   (on the loop) or ``self.emit_input_threadsafe(e)`` (from the library's
   thread). The engine gives it back to ``_on_input`` (the driver's own
   actions: page, brightness, details) and to sources that can act on a
   session. A driver never calls a source. After changing state of its own
   (a page), call ``self.invalidate()`` to be shown the current frame now.
5. Add one row to ``DRIVERS`` below and an optional-dependency extra in
   ``pyproject.toml``.
6. Test it with the library's own mock (gpiozero ``MockFactory``, pyserial
   ``loop://``, streamdeck's dummy transport), document it in
   ``config.example.toml`` and the README.
"""

from __future__ import annotations

import importlib
from typing import Any

DRIVERS: dict[str, str] = {
    "terminal": "devices.terminal:TerminalDriver",
    "gpio": "devices.led.gpio:GpioLedDriver",
    "serial": "devices.led.serial:SerialLedDriver",
    "usblight": "devices.led.usblight:UsbLightDriver",
    "record": "devices.record:RecordDriver",
    "mock": "devices.mock:MockDriver",
    "mqtt": "devices.mqtt.publisher:MqttDriver",
    "streamdeck": "devices.streamdeck.driver:StreamDeckDriver",
}


def driver_class(type_name: str) -> Any:
    """Import and return the driver class registered for ``type_name`` (KeyError if none)."""
    module_name, _, attr = DRIVERS[type_name].partition(":")
    return getattr(importlib.import_module(module_name), attr)
