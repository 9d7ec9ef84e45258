"""The driver interface every device implements.

A driver is given whole :class:`~bridge.pipeline.frame.Frame` objects and shows them.
It knows nothing about sources. Public methods do the shared work (skip
unchanged frames, track health, wrap errors) and call the ``_``-prefixed hooks
subclasses implement, the way busylight-core's ``on()`` calls ``_on()``.

Subclasses **must** override:

- :meth:`Driver._show` — put a frame on the device.

Subclasses **may** override:

- :meth:`Driver._open` — find and claim the hardware.
- :meth:`Driver._close` — release it, leaving it dark when ``blank`` is true.
- :meth:`Driver._on_input` — act on a press this driver emitted (page, brightness).
- ``CAPS`` (what the driver asks of the engine, see below) and ``Options`` (a
  dataclass of per-driver config keys, checked when the config is loaded).

Blocking hardware calls belong in ``await self.blocking(fn, *args)`` inside
the hooks: they run in order on the driver's strand of one shared pool of
daemon threads (:data:`THREADS`, at most :data:`MAX_THREADS`), so a hung device
holds one thread (not a new one per retry), never blocks the bridge's exit,
and an idle bridge holds no thread at all.
The engine bounds ``open`` with ``caps.open_timeout`` and every other call with
``caps.write_timeout``.

What a driver asks of the engine is in ``self.caps`` (:class:`Capabilities`),
the one place for it: it starts as the class's ``CAPS`` and a driver replaces it
per instance (``dataclasses.replace`` from an option in ``__init__``, or from
what ``_open`` found out). The engine reads it on every frame; the user's
``fps`` and ``refresh`` settings (:meth:`Driver.override_caps`) win over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, TypeVar

from bridge.infra.errors import DriverError, DriverFault
from bridge.infra.threads import Pool, Strand
from bridge.pipeline.frame import Frame
from bridge.pipeline.inputs import InputEvent
from bridge.pipeline.looks import Effect

log = logging.getLogger("agentlight.devices")
T = TypeVar("T")

#: Threads all drivers' blocking calls share. A driver's calls run one at a time,
#: so each device holds at most one thread: as many as a config may name devices
#: (``bridge.infra.config.MAX_DEVICES``), so devices that hang never starve the rest.
#: Threads start when calls need them and exit after 10 s idle.
MAX_THREADS = 64
THREADS = Pool(MAX_THREADS, "agentlight-device")


@dataclass(frozen=True, slots=True)
class NoOptions:
    """For drivers that take no options of their own."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What one driver instance asks of the engine.

    :param fps: highest useful frame rate; effects are sampled no faster.
    :param native_effects: effects the device runs itself (not sampled).
    :param refresh: seconds after which the current frame is sent again even
        if nothing changed (WLED's realtime timeout, a key's ticking clock, a
        light that needs keepalives); None never re-sends.
    :param sessions: room for sessions: 0 shows none (``frame.sessions`` is
        empty), N gives N stable slots, None gives every session a slot.
    :param slots_shown: the slots this device actually draws (an LED showing
        one session slot), with the global look; animations of other sessions
        then never wake it. None: everything in the frame counts.
    :param open_timeout: seconds ``open`` may take (an Arduino resets ~2 s).
    :param write_timeout: seconds one show/close may take.
    """

    fps: float = 30.0
    native_effects: frozenset[Effect] = field(default_factory=frozenset)
    refresh: float | None = None
    sessions: int | None = 0
    slots_shown: frozenset[int] | None = None
    open_timeout: float = 2.0
    write_timeout: float = 2.0

    @property
    def shows_sessions(self) -> bool:
        return self.sessions is None or self.sessions > 0


@dataclass(frozen=True, slots=True)
class Health:
    """How a device is doing, for logs, ``agentlight check`` and the service status."""

    ok: bool
    detail: str = ""
    since: float = 0.0


class Driver(ABC):
    """Base class of every device driver.

    :param name: the device's name from the config (used in logs and records).
    :param options: an instance of the driver's ``Options`` dataclass.
    """

    #: The ``type`` name used in config files.
    TYPE: ClassVar[str] = ""
    #: Per-driver options, a frozen dataclass; its fields are the config keys.
    Options: ClassVar[type[Any]] = NoOptions
    #: What every instance asks of the engine until it replaces ``self.caps``.
    #: A subclass sets its own (``CAPS = Capabilities(fps=10.0, ...)``), or
    #: ``dataclasses.replace(Parent.CAPS, ...)`` to change a parent's few fields.
    CAPS: ClassVar[Capabilities] = Capabilities()

    def __init__(self, name: str, options: Any = None) -> None:
        self.name = name
        self.options = options if options is not None else self.Options()
        self._overrides: dict[str, Any] = {}
        # Capabilities is frozen, so every instance may start from the same object.
        self.caps = self.CAPS
        self._opened = False
        self._last: Frame | None = None
        self._health = Health(False, "not opened", time.time())
        self._strand: Strand | None = None
        self._force = False
        # Set by the engine: where input events and redraw requests go.
        self._input_sink: Callable[[InputEvent], None] | None = None
        self._redraw: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- public API ---------------------------------------------------------

    @property
    def caps(self) -> Capabilities:
        """What this instance asks of the engine, with the user's overrides applied."""
        return replace(self._caps, **self._overrides) if self._overrides else self._caps

    @caps.setter
    def caps(self, caps: Capabilities) -> None:
        self._caps = caps

    def override_caps(self, *, fps: float | None = None, refresh: float | None = None) -> None:
        """The user's per-device settings (``fps``, ``refresh`` in ``[[devices]]``).

        They win over what the driver decides, now and after every open.
        """
        if fps is not None:
            self._overrides["fps"] = fps
        if refresh is not None:
            # 0 turns a driver's own refresh off.
            self._overrides["refresh"] = refresh or None

    @property
    def is_open(self) -> bool:
        return self._opened

    @property
    def health(self) -> Health:
        return self._health

    @property
    def last_frame(self) -> Frame | None:
        return self._last

    def preflight(self) -> list[str]:
        """What would stop this device from opening, found without showing anything.

        One line per problem, each with its fix; ``agentlight check`` prints them
        as warnings so that it says what ``run`` will fail on. The default finds
        nothing; a driver checks its library, its port or its access here.
        """
        return []

    async def open(self) -> None:
        """Claim the device. Raises :class:`DriverError` when it cannot."""
        if self._opened:
            return
        await self._guarded("open", self._open())
        self._opened = True
        self._last = None
        self._set_health(True, "open")

    async def show(self, frame: Frame, *, force: bool = False) -> bool:
        """Show ``frame``; returns False when it equals the last one shown (nothing written).

        ``force`` writes it even then (a refresh, or after :meth:`invalidate`).
        """
        if not self._opened:
            raise DriverError(f"{self.name}: show() before open()")
        force = force or self._force
        if frame == self._last and not force:
            return False
        self._force = False
        await self._guarded("show", self._show(frame))
        self._last = frame
        if not self._health.ok:
            self._set_health(True, "showing")
        return True

    async def _guarded(self, doing: str, step: Awaitable[None]) -> None:
        """Await the driver's own ``step``: a :class:`DriverError` raised as it is, any
        other failure as a :class:`DriverFault` ("``doing`` failed"); health says which."""
        try:
            await step
        except DriverError as err:
            self._set_health(False, str(err))
            raise
        except Exception as err:
            self._set_health(False, f"{doing} failed: {err}")
            raise DriverFault(f"{self.name}: {doing} failed: {err}") from err

    async def close(self, *, blank: bool = True) -> None:
        """Release the device, dark when ``blank``. Safe to call twice or after a failure."""
        if not self._opened:
            return
        self._opened = False
        self._last = None
        try:
            await self._close(blank=blank)
        except Exception as err:
            self._set_health(False, f"close failed: {err}")
            raise DriverError(f"{self.name}: close failed: {err}") from err
        self._set_health(False, "closed")

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking call (``fn(*args)``) on a pool thread, after this driver's earlier
        calls (they never overlap)."""
        if self._strand is None:
            self._strand = Strand(THREADS)
        return await self._strand.run(fn, *args)

    # -- talking back to the engine ---------------------------------------

    def attach(
        self,
        input_sink: Callable[[InputEvent], None] | None,
        redraw: Callable[[], None] | None,
    ) -> None:
        """Called by the engine: where :meth:`emit_input` and :meth:`invalidate` go."""
        self._input_sink = input_sink
        self._redraw = redraw
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    def invalidate(self) -> None:
        """Ask for the current frame to be shown again now, even if it is unchanged.

        For state the driver keeps itself (a page, a details view, brightness).
        Call it on the event loop.
        """
        self._force = True
        if self._redraw is not None:
            self._redraw()

    def emit_input(self, event: InputEvent) -> None:
        """Hand a press or release to the engine (call it on the event loop)."""
        if self._input_sink is None:
            log.debug("device %s: input %s with no engine attached", self.name, event.control)
            return
        self._input_sink(event)

    def emit_input_threadsafe(self, event: InputEvent) -> None:
        """:meth:`emit_input` from another thread (a hardware library's callback)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # RuntimeError: the loop stopped meanwhile; the press goes nowhere, as it should.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self.emit_input, event)

    async def handle_input(self, event: InputEvent) -> None:
        """The engine hands back an event this driver emitted; errors are the driver's."""
        await self._on_input(event)

    def answer_hint(self) -> str:
        """How a person answers a waiting request with this device, in a few words
        ("keys on Stream Deck deck"), for the terminal line; "" when it cannot."""
        return ""

    def mark_unhealthy(self, detail: str) -> None:
        """Record a failure the engine saw (a timeout, say) that the driver could not."""
        self._set_health(False, detail)

    def forget(self) -> None:
        """Drop the open state without touching the device (after a hang or crash)."""
        self._opened = False
        self._last = None

    async def __aenter__(self) -> Driver:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- hooks --------------------------------------------------------------

    async def _open(self) -> None:  # noqa: B027 - optional hook
        """Claim the hardware. Default: nothing to claim."""

    @abstractmethod
    async def _show(self, frame: Frame) -> None:
        """Put ``frame`` on the device."""

    async def _close(self, *, blank: bool) -> None:  # noqa: B027 - optional hook
        """Release the hardware (dark when ``blank``). Default: nothing to release."""

    async def _on_input(self, event: InputEvent) -> None:  # noqa: B027 - optional hook
        """Act on a press this driver emitted (page, brightness, details). Default: nothing."""

    def _set_health(self, ok: bool, detail: str) -> None:
        if ok != self._health.ok or detail != self._health.detail:
            self._health = Health(ok, detail, time.time())


__all__ = ["Capabilities", "Driver", "Health", "NoOptions"]
