"""Device drivers, registered by config ``type`` and imported only when used.

Adding a driver (one module per family, like busylight-core's vendors):

1. Write ``devices/<family>.py`` with a :class:`devices.base.Driver` subclass:
   set ``TYPE``, an ``Options`` frozen dataclass (its fields are the config
   keys, each with a default and a ``:param:`` line), and ``MAX_FPS``,
   ``NATIVE_EFFECTS``, ``SHOWS_SESSIONS`` as fits the hardware.
2. Import the hardware library inside ``_open`` (never at module top), take the
   hardware handle as an injectable option or constructor argument (a pin
   factory, a serial URL, a transport) so tests use the library's own mocks,
   and run blocking calls with ``await self.blocking(fn, *args)`` (the
   driver's own thread).
3. Add one row to ``DRIVERS`` below and an optional-dependency extra in
   ``pyproject.toml``.
4. Test it with the library's own mock (gpiozero ``MockFactory``, pyserial
   ``loop://``, streamdeck's dummy transport), document it in
   ``config.example.toml`` and the README.
"""

from __future__ import annotations

import importlib
from typing import Any

DRIVERS: dict[str, str] = {
    "terminal": "devices.terminal:TerminalDriver",
    "record": "devices.record:RecordDriver",
    "mock": "devices.mock:MockDriver",
}


def driver_class(type_name: str) -> Any:
    """Import and return the driver class registered for ``type_name`` (KeyError if none)."""
    module_name, _, attr = DRIVERS[type_name].partition(":")
    return getattr(importlib.import_module(module_name), attr)
