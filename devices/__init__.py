"""Device drivers, one package per family (like busylight-core's vendors), by config ``type``.

Adding a driver family is one package and one row:

1. Write the package ``devices/<family>/`` with

   - ``driver.py``: a :class:`devices.base.Driver` subclass with ``TYPE`` and
     ``Options``, a frozen dataclass whose fields are the config keys, each with
     a default and a ``:param:`` line (checked in ``__post_init__``: ``raise
     ValueError("key: got …, expected …")``). The module imports its hardware
     library only inside ``_open``, never at the top, so ``agentlight check``
     reads ``Options`` without it (``Options`` may also live in an ``options.py``).
   - ``survey.py`` for hardware: ``survey()``, taking nothing and returning a
     :class:`devices.survey.Section` of what is attached (:class:`devices.survey.Found`
     items), for ``agentlight devices``. It imports the library inside and never
     raises: a missing library or permission is the section's or item's
     ``problem``, one line naming the fix.
   - a udev rules file, if users need one to open the device (USB HID): e.g.
     ``70-agentlight-<family>.rules`` in the package (listed in ``package-data``
     in ``pyproject.toml``; the built-in ones sit in ``devices/udev/``, which
     ``systemd/`` links to), printed by ``agentlight devices --udev-rules``.
   - ``__init__.py``: the family's descriptor, importing nothing but these::

         from bridge.infra.family import Credential
         from devices.family import DeviceFamily

         FAMILY = DeviceFamily(
             type="<family>",                        # the config's type = "…"
             options="devices.<family>.driver:<Family>Options",
             driver="devices.<family>.driver:<Family>Driver",
             survey="devices.<family>.survey:survey",              # hardware only
             udev_rules="devices.<family>:70-agentlight-<family>.rules",  # if any
             credentials=(Credential("<family>-password", "what it holds"),),  # if any
         )

   The simple drivers (``terminal``, ``record``, ``mock``) are single modules; their
   descriptors are in this file.

2. What the device needs from the engine is its ``caps`` (a
   :class:`devices.base.Capabilities`): every instance starts with the class's
   ``CAPS = Capabilities(...)`` and replaces ``self.caps`` (``dataclasses.replace``)
   in ``__init__`` (from an option) or in ``_open`` (from what it found):

   - ``caps.fps``: effects are sampled no faster (LEDs: 30).
   - ``caps.native_effects``: effects the device runs itself; the engine then
     sends the look's full color and never animates it.
   - ``caps.refresh``: seconds after which the engine sends the current frame
     again although nothing changed (WLED leaves realtime mode after 2.5 s, a
     key's time-in-state ticks, a light wants keepalives). ``_show`` is then
     called with an equal frame. Never keep a private ticker.
   - ``caps.sessions``: 0 for one look (read ``frame.color``); N for N places
     (LEDs, segments): each ``frame.sessions`` view has a stable ``slot``
     (0..N-1, kept while the session lives, None when there is no room); None
     gives every session a slot (a paging Stream Deck: page = slot // keys). A
     device that draws only some slots (an LED showing slot 2) sets
     ``caps.slots_shown`` so other sessions' animations never wake it.
   - ``caps.open_timeout`` for a slow open (an Uno resets for ~2 s when its port
     opens), ``caps.write_timeout`` for each show/close.

3. Take the hardware handle as an injectable option or constructor argument (a
   pin factory, a serial URL, a transport) so tests use the library's own mocks,
   and run blocking calls with ``await self.blocking(fn, *args)`` (the driver's
   own thread). Raise :class:`bridge.infra.errors.DriverUnavailable` with a
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
5. Add one row to :data:`DRIVERS` below, ``<family>.FAMILY``, and an
   optional-dependency extra in ``pyproject.toml``.

   A package of your own needs no row here: declare the descriptor as an entry
   point, ``[project.entry-points."agentlight.devices"]`` ``<family> =
   "<package>:FAMILY"`` (read only for a type that is not built in, and by
   ``agentlight devices``).
6. Test it with the library's own mock (gpiozero ``MockFactory``, pyserial
   ``loop://``, streamdeck's dummy transport; tests/test_recipe.py walks this list
   with a toy family), document it in ``config.example.toml`` and the README.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.infra.family import find, installed, type_names
from devices import button, led, mqtt, streamdeck
from devices.family import DeviceFamily

if TYPE_CHECKING:
    from bridge.infra.errors import ConfigError

TERMINAL = DeviceFamily(
    type="terminal",
    options="devices.terminal:TerminalOptions",
    driver="devices.terminal:TerminalDriver",
)
RECORD = DeviceFamily(
    type="record",
    options="devices.record:RecordOptions",
    driver="devices.record:RecordDriver",
)
MOCK = DeviceFamily(
    type="mock",
    options="devices.mock:MockOptions",
    driver="devices.mock:MockDriver",
)

#: Every built-in driver family, in the order ``agentlight devices`` lists hardware.
DRIVERS: tuple[DeviceFamily, ...] = (
    TERMINAL,
    RECORD,
    MOCK,
    led.SERIAL,
    led.USBLIGHT,
    streamdeck.FAMILY,
    led.GPIO,
    button.GPIO_BUTTON,
    mqtt.FAMILY,
)

#: Entry point group through which installed packages add driver families.
ENTRY_POINTS = "agentlight.devices"


def family_of(type_name: str) -> DeviceFamily:
    """The family of config type ``type_name`` (KeyError if there is none)."""
    return find(DRIVERS, type_name, ENTRY_POINTS, DeviceFamily)


def families(*, broken: list[ConfigError] | None = None) -> list[DeviceFamily]:
    """Every family: built in, then those installed packages add (see
    :func:`bridge.infra.family.installed` for ``broken``)."""
    return installed(DRIVERS, ENTRY_POINTS, DeviceFamily, broken=broken)


def types() -> list[str]:
    """Every known type name, sorted (for "expected one of …")."""
    return type_names(DRIVERS, ENTRY_POINTS)


def driver_class(type_name: str) -> Any:
    """Import and return the driver class registered for ``type_name`` (KeyError if none)."""
    return family_of(type_name).driver_class()


def driver_options(type_name: str) -> Any:
    """The ``Options`` dataclass of a driver type, without importing its hardware library."""
    return family_of(type_name).options_class()
