"""Elgato Stream Deck: the agent on one key, each session on its own key.

Every model the ``streamdeck`` library drives works: Mini, Original and MK.2,
XL, Neo (its info screen shows a summary line), Plus (its touch strip too; the
dials page), Studio, Plus XL, and the Pedal (presses only). Key sizes,
rotation, flip and image format come from the device class via the library's
``PILHelper``; nothing here speaks the USB protocol.

What the keys show is :mod:`devices.streamdeck.layout`; how a key is drawn is
:mod:`devices.streamdeck.render`. This module moves images: a key is written
only when its face changed (faces are values, images are cached by face), a
blinking key alternates two cached images, and all drawing, encoding and USB
traffic runs on the driver's own thread (``self.blocking``), never on the event
loop. The engine re-sends the frame every second (``caps.refresh``), which
ticks the time-in-state text and the slow blink of keys that need you.

Presses arrive on the library's reader thread and go to the engine with
``emit_input_threadsafe``; the engine hands them back to :meth:`_on_input`
(brightness, details, paging) and on to sources (anything else). A key showing
a choice of a waiting session's request (Allow, Deny, an option, Stop) names it,
and the engine's desk decides (:mod:`bridge.pipeline.answers`); the Pedal's
switches are first, next and confirm over the waiting requests' choices.

An unplugged deck raises ``TransportError``: the driver reports it, the engine
drops it and opens it again with back-off, and the first frame after that
redraws every key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from bridge.infra.errors import DriverError
from bridge.pipeline.frame import Frame
from bridge.pipeline.inputs import InputEvent, Target
from bridge.pipeline.looks import Effect
from bridge.pipeline.model import SessionRef
from devices.base import Capabilities, Driver
from devices.streamdeck.layout import (
    BLANK_ROLE,
    SESSION_FIELDS,
    Answering,
    Geometry,
    LayoutOptions,
    Placed,
    Role,
    View,
    layout,
)
from devices.streamdeck.render import Face, Strip

log = logging.getLogger("agentlight.devices.streamdeck")

DummyModel = Literal["mini", "original", "mk2", "xl", "neo", "plus", "plus_xl", "studio", "pedal"]
ExitMode = Literal["reset", "blank", "keep"]

#: Actions the driver does itself; any other name goes to sources as a named control.
OWN_ACTIONS = frozenset({"brightness", "details", "page_next", "page_prev", "none"})
UDEV_RULE = "systemd/70-agentlight-streamdeck.rules"
_CACHE_SIZE = 256

# Decks claimed by drivers in this process, by transport path: two [[devices]]
# without a serial take the first and the second deck, not the same one twice.
_claimed: set[str] = set()
_claimed_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class StreamDeckOptions:
    """Options of the ``streamdeck`` driver.

    :param serial: the deck's serial number; empty takes the first deck found
        that no other ``[[devices]]`` entry has taken.
    :param brightness: key brightness in percent at start.
    :param brightness_steps: what a press on the global key cycles through.
    :param dim_after: seconds without a status change or a press after which
        the deck dims (0 never); it never dims while a session needs you.
    :param dim_brightness: brightness in percent while dimmed.
    :param global_key: key 0 shows the agent's state (false: sessions only).
    :param fields: what a session key shows, any of channel, state, title,
        tool, time, tokens, error.
    :param details_seconds: how long a pressed session key shows its details.
    :param actions: what a control does, by control name (``key:3``,
        ``pedal:0``, ``dial:1``, ``dial:1:cw``, ``touch``): brightness,
        details, page_next, page_prev, none, an answer (``allow``, ``deny``,
        ``always``, ``dismiss``, ``stop``, ``answer:1``…; the Pedal's default is
        ``ask_first``, ``ask_next``, ``ask_confirm``), or any other name, which
        is passed on to sources as a named control. A key that shows a choice
        always answers with it.
    :param exit: on exit: ``reset`` (the deck's own standby image), ``blank``
        (dark keys) or ``keep`` (leave the last images).
    :param exit_image: a picture spread over all keys on exit (overrides exit).
    :param dummy: use the streamdeck library's dummy transport (no hardware).
    :param dummy_model: which model the dummy deck is.
    :param preview_dir: write every image sent to a key or screen as a PNG
        named by deck, key and sequence number (with or without hardware).
    :param poll_hz: how often the library polls the deck for presses (its
        reader thread wakes this often; 10 Hz answers a press within 0.1 s).
    """

    serial: str = ""
    brightness: int = 60
    brightness_steps: tuple[int, ...] = (10, 30, 60, 100)
    dim_after: float = 0.0
    dim_brightness: int = 10
    global_key: bool = True
    fields: tuple[str, ...] = SESSION_FIELDS
    details_seconds: float = 5.0
    actions: dict[str, str] | None = None
    exit: ExitMode = "reset"
    exit_image: str = ""
    dummy: bool = False
    dummy_model: DummyModel = "mk2"
    preview_dir: str = ""
    poll_hz: int = 10

    def __post_init__(self) -> None:
        for name in ("brightness", "dim_brightness"):
            value = getattr(self, name)
            if not 0 <= value <= 100:
                raise ValueError(f"{name} must be within 0..100 (percent), got {value!r}")
        if not self.brightness_steps or not all(0 <= s <= 100 for s in self.brightness_steps):
            raise ValueError("brightness_steps must be percentages within 0..100")
        if self.dim_after < 0:
            raise ValueError(f"dim_after must be >= 0 seconds, got {self.dim_after!r}")
        if self.details_seconds <= 0:
            raise ValueError(f"details_seconds must be > 0, got {self.details_seconds!r}")
        unknown = [f for f in self.fields if f not in SESSION_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown fields {unknown}; expected some of {', '.join(SESSION_FIELDS)}"
            )
        if not 1 <= self.poll_hz <= 1000:
            raise ValueError(f"poll_hz must be within 1..1000, got {self.poll_hz!r}")
        if self.exit_image and not Path(self.exit_image).expanduser().is_file():
            raise ValueError(f"exit_image {self.exit_image!r} is not a file")


@dataclass(frozen=True, slots=True)
class _Deck:
    """What the driver learnt about the open deck."""

    deck: Any
    path: str
    serial: str
    kind: str
    geometry: Geometry
    key_size: tuple[int, int]
    visual: bool
    screen: Literal["screen", "touchscreen", ""]
    screen_size: tuple[int, int]


class StreamDeckDriver(Driver):
    """Shows the agent and its sessions on an Elgato Stream Deck's keys.

    :param name: the device's name.
    :param options: a :class:`StreamDeckOptions`.
    :param transport: a streamdeck ``Transport`` to enumerate decks with
        instead of the system's (tests pass a dummy transport).
    :param clock: wall-clock time, for time in state (tests pass a fake).
    :param mono: monotonic time, for blinking, details and dimming.
    """

    TYPE = "streamdeck"
    Options = StreamDeckOptions
    #: Seconds between refreshes while something ticks (time in state, the slow blink).
    TICK_REFRESH: ClassVar[float] = 1.0
    #: Seconds between refreshes while nothing on the deck ticks or blinks.
    IDLE_REFRESH: ClassVar[float] = 5.0
    #: Seconds a brightness change is shown on the global key.
    NOTE_SECONDS: ClassVar[float] = 2.0
    #: Seconds between refreshes while a key is held toward a decision (its bar fills).
    HOLD_REFRESH: ClassVar[float] = 0.1
    CAPS = Capabilities(
        # Colours come whole (no sampled pulses); the driver blinks what needs you.
        native_effects=frozenset(Effect),
        fps=10.0,
        sessions=None,  # every session gets a stable slot; the deck pages by slot
        refresh=TICK_REFRESH,
        # Finding a deck opens each candidate to read its serial number.
        open_timeout=5.0,
        write_timeout=5.0,
    )

    def __init__(
        self,
        name: str,
        options: StreamDeckOptions | None = None,
        *,
        transport: Any = None,
        clock: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name, options)
        self._transport = transport
        self._clock = clock
        self._mono = mono
        self._open_deck: _Deck | None = None
        self._written: list[Face | None] = []
        self._strip_written: Strip | None = None
        self._roles: tuple[Role, ...] = ()
        self._cache: OrderedDict[tuple[Face | Strip, tuple[int, int], str], bytes] = OrderedDict()
        self._page = 0
        self._pages = 1
        self._details: tuple[SessionRef, float] | None = None
        self._note: tuple[str, float] | None = None
        self._blink_on = True
        self._blink_t = -1e9
        self._step = _closest(self.options.brightness_steps, self.options.brightness)
        self._level = self.options.brightness
        self._applied_level: int | None = None
        self._activity = mono()
        self._seen_status: object = None
        self._focus: SessionRef | None = None
        self._seq = 0
        self._ticking = "tick"
        self._dummy_transport: Any = None
        #: Keys written since open, and the last images sent (key, bytes), for tests.
        self.key_writes = 0
        self.sent: deque[tuple[int, bytes]] = deque(maxlen=512)

    # -- what tests and the preview read ------------------------------------

    @property
    def deck(self) -> Any:
        """The streamdeck library's deck object while open, else None."""
        return self._open_deck.deck if self._open_deck is not None else None

    @property
    def dummy_device(self) -> Any:
        """The dummy deck (``dummy = true``), for unplugging it in tests."""
        if self._dummy_transport is None:
            return None
        return self._dummy_transport.devices[0]

    @property
    def page(self) -> int:
        return self._page

    @property
    def roles(self) -> tuple[Role, ...]:
        return self._roles

    # -- hooks --------------------------------------------------------------

    async def _open(self) -> None:
        stale, self._open_deck = self._open_deck, None
        if stale is not None:
            # Forgotten by the engine after a hang, never closed: let go of it first.
            await self.blocking(self._shutdown, stale, False)
            with _claimed_lock:
                _claimed.discard(stale.path)
        opened = await self.blocking(self._find_and_open)
        self._open_deck = opened
        n = opened.geometry.keys if opened.visual else 0
        self._written = [None] * n
        self._strip_written = None
        self._applied_level = None
        self._roles = tuple(
            Role("blank") for _ in range(opened.geometry.keys + opened.deck.TOUCH_KEY_COUNT)
        )
        if not opened.visual:
            # The Pedal shows nothing: no slots, no ticking.
            self.caps = dataclasses.replace(self.caps, sessions=0, refresh=None)
        else:
            self._ticking = "tick"
            self.caps = dataclasses.replace(self.caps, refresh=self.TICK_REFRESH)
        log.info(
            "device %s: %s serial %s, %d keys %dx%d",
            self.name,
            opened.kind,
            opened.serial or "?",
            opened.geometry.keys,
            *opened.key_size,
        )

    async def _show(self, frame: Frame) -> None:
        opened = self._open_deck
        if opened is None:
            raise DriverError(f"{self.name}: not open")
        if not opened.deck.is_open():
            # The library's reader thread closes the deck when a read fails.
            raise DriverError(f"{self.name}: Stream Deck unplugged or not answering")
        mono = self._mono()
        self._focus = frame.focus
        if frame.status != self._seen_status:
            self._seen_status = frame.status
            self._activity = mono
        if not opened.visual:
            return
        view = self._view(frame, opened, mono)
        self._roles = view.roles + tuple(Role("blank") for _ in range(opened.deck.TOUCH_KEY_COUNT))
        changed = [(k, face) for k, face in enumerate(view.faces) if self._written[k] != face]
        strip = view.strip if view.strip != self._strip_written else None
        level = self._target_level(frame, mono)
        set_level = level if level != self._applied_level else None
        desk = frame.desk
        armed = desk.armed_on(self.name) if desk is not None else None
        self._tick(self._wants_tick(frame, mono, level), armed is not None and armed.held)
        if not changed and strip is None and set_level is None:
            return
        try:
            await self.blocking(self._paint, opened, changed, strip, set_level)
        except Exception as err:
            raise DriverError(f"{self.name}: Stream Deck write failed: {_reason(err)}") from err
        for k, face in changed:
            self._written[k] = face
        if strip is not None:
            self._strip_written = strip
        if set_level is not None:
            self._applied_level = set_level

    async def _close(self, *, blank: bool) -> None:
        opened, self._open_deck = self._open_deck, None
        if opened is None:
            return
        try:
            await self.blocking(self._shutdown, opened, blank)
        finally:
            with _claimed_lock:
                _claimed.discard(opened.path)

    async def _on_input(self, event: InputEvent) -> None:
        if not event.pressed or event.device != self.name:
            return
        self._activity = self._mono()
        action = event.target.name
        if action == "brightness":
            steps = self.options.brightness_steps
            self._step = (self._step + 1) % len(steps)
            self._level = steps[self._step]
            self._note = (f"light {self._level}%", self._mono() + self.NOTE_SECONDS)
        elif action == "details" and event.target.session is not None:
            ref = event.target.session
            if self._details is not None and self._details[0] == ref:
                self._details = None  # a second press closes them
            else:
                self._details = (ref, self._mono() + self.options.details_seconds)
        elif action == "page_next":
            self._page = (self._page + 1) % max(1, self._pages)
        elif action == "page_prev":
            self._page = (self._page - 1) % max(1, self._pages)
        # A press also wakes a dimmed deck, whatever it does.
        self.invalidate()

    def answer_hint(self) -> str:
        opened = self._open_deck
        if opened is None:
            return ""
        if not opened.visual:
            return f"pedal {self.name}: left first, middle next, right chooses"
        return f"keys on Stream Deck {self.name}"

    # -- layout -------------------------------------------------------------

    def _view(self, frame: Frame, opened: _Deck, mono: float) -> View:
        if mono - self._blink_t >= 0.9:
            # Slow blink: flips on the 1 s refresh; tolerant of a late tick.
            self._blink_on = not self._blink_on
            self._blink_t = mono
        if self._details is not None and mono >= self._details[1]:
            detailed = frame.status.find(self._details[0])
            if detailed is not None and detailed.ask is not None and detailed.ask.answerable:
                # Open while its request is: they hold its choices.
                self._details = (self._details[0], mono + self.options.details_seconds)
            else:
                self._details = None
        if self._note is not None and mono >= self._note[1]:
            self._note = None
        placed = [
            Placed(view.slot, view.session, view.look)
            for view in frame.sessions
            if view.slot is not None
        ]
        view = layout(
            opened.geometry,
            frame.status,
            frame.global_look,
            placed,
            self._clock(),
            page=self._page,
            blink_on=self._blink_on,
            details=self._details[0] if self._details is not None else None,
            note=self._note[0] if self._note is not None else "",
            options=LayoutOptions(self.options.global_key, tuple(self.options.fields)),
            wide=bool(opened.screen),
            answering=Answering(frame.desk, self.name, mono),
        )
        self._page, self._pages = view.page, view.pages
        return view

    def _wants_tick(self, frame: Frame, mono: float, level: int) -> bool:
        """Whether anything on the deck moves with time: a session's clock or
        blink, details or a note that will close, a dim that is still to come."""
        if frame.sessions or self._details is not None or self._note is not None:
            return True
        if frame.desk is not None and (frame.desk.armed or frame.desk.notes):
            return True
        return self.options.dim_after > 0 and level != min(self.options.dim_brightness, self._level)

    def _tick(self, on: bool, holding: bool = False) -> None:
        """The 1 s refresh only while something ticks (10 a second while a key is
        held toward a decision, so its bar fills); else a slow one, which is how an
        unplugged deck is noticed (and comes back) while nothing changes."""
        state = "hold" if holding else "tick" if on else "idle"
        if state == self._ticking:
            return
        self._ticking = state
        refresh = {"hold": self.HOLD_REFRESH, "tick": self.TICK_REFRESH}.get(
            state, self.IDLE_REFRESH
        )
        self.caps = dataclasses.replace(self.caps, refresh=refresh)
        if state != "idle":
            # The engine computed its next wake without a refresh: wake it now.
            self.invalidate()

    def _target_level(self, frame: Frame, mono: float) -> int:
        opts = self.options
        idle = opts.dim_after > 0 and mono - self._activity >= opts.dim_after
        if idle and not any(v.session.state.needs_user for v in frame.sessions):
            return min(opts.dim_brightness, self._level)
        return self._level

    # -- on the driver's thread -----------------------------------------------

    def _find_and_open(self) -> _Deck:
        try:
            import PIL  # noqa: F401 - checked here, used when drawing
            from StreamDeck.DeviceManager import DeviceManager, ProbeError
            from StreamDeck.Transport.Transport import TransportError
        except ImportError as err:
            raise DriverError(
                "Stream Deck support is not installed: pip install 'agentlight[streamdeck]'"
            ) from err

        from devices.streamdeck.render import freetype_problem

        problem = freetype_problem()
        if problem is not None:
            raise DriverError(problem)
        opts: StreamDeckOptions = self.options
        try:
            manager = self._manager(DeviceManager)
        except ProbeError as err:
            raise DriverError(_no_hidapi_message(err)) from err
        decks = manager.enumerate()
        if not decks:
            where = "" if opts.dummy else f"; on Linux install the udev rule {UDEV_RULE}"
            raise DriverError(f"no Stream Deck found (is it plugged in?{where})")
        failures: list[str] = []
        for deck in decks:
            path = deck.id()
            with _claimed_lock:
                if path in _claimed:
                    continue
            try:
                deck.device.open()
                serial = deck.get_serial_number()
            except TransportError as err:
                failures.append(_open_failure(path, err))
                with contextlib.suppress(Exception):
                    deck.device.close()
                continue
            if opts.serial and serial != opts.serial:
                deck.device.close()
                continue
            with _claimed_lock:
                if path in _claimed:
                    deck.device.close()
                    continue
                _claimed.add(path)
            try:
                return self._claim(deck, path, serial)
            except Exception:
                with _claimed_lock:
                    _claimed.discard(path)
                with contextlib.suppress(Exception):
                    deck.close()
                raise
        if failures:
            raise DriverError(failures[0])
        if opts.serial:
            raise DriverError(
                f"no Stream Deck with serial {opts.serial!r} (found {len(decks)} other deck(s))"
            )
        raise DriverError("every Stream Deck found is already used by another [[devices]] entry")

    def preflight(self) -> list[str]:
        """The libraries, FreeType in Pillow, hidapi, and a deck attached now (none:
        ``run`` waits for one); nothing is opened."""
        try:
            import PIL  # noqa: F401 - only whether it is there
            from StreamDeck.DeviceManager import DeviceManager, ProbeError
        except ImportError:
            return ["Stream Deck support is not installed: pip install 'agentlight[streamdeck]'"]
        from devices.streamdeck.render import freetype_problem

        problems = [p for p in (freetype_problem(),) if p]
        opts: StreamDeckOptions = self.options
        if opts.dummy or self._transport is not None:
            return problems
        try:
            decks = self._manager(DeviceManager).enumerate()
        except ProbeError as err:
            return [*problems, _no_hidapi_message(err)]
        if not decks:
            problems.append(
                f"no Stream Deck is attached now; run waits for one (on Linux the udev rule "
                f"{UDEV_RULE})"
            )
        return problems

    def _manager(self, manager_class: Any) -> Any:
        opts: StreamDeckOptions = self.options
        if self._transport is not None:
            manager = manager_class("dummy")
            manager.transport = self._transport
            return manager
        if opts.dummy:
            if self._dummy_transport is None:
                from devices.streamdeck.dummy import DummyDeckTransport, dummy_device

                serial = opts.serial or f"DUMMY-{self.name}"
                self._dummy_transport = DummyDeckTransport([dummy_device(opts.dummy_model, serial)])
            manager = manager_class("dummy")
            manager.transport = self._dummy_transport
            return manager
        return manager_class()

    def _claim(self, deck: Any, path: str, serial: str) -> _Deck:
        opts: StreamDeckOptions = self.options
        deck.device.close()
        deck.open()  # opens again, resets the image stream, starts the reader
        deck.set_poll_frequency(opts.poll_hz)
        visual = bool(deck.is_visual())
        if visual:
            deck.reset()
            deck.set_brightness(self._level)
        deck.set_key_callback(self._key_event)
        if deck.dial_count():
            deck.set_dial_callback(self._dial_event)
        if deck.is_touch():
            deck.set_touchscreen_callback(self._touch_event)
        rows, cols = deck.key_layout()
        screen: Literal["screen", "touchscreen", ""] = ""
        screen_size: tuple[int, int] = (0, 0)
        if deck.SCREEN_PIXEL_WIDTH:
            screen, screen_size = "screen", _size(deck.screen_image_format())
        elif deck.TOUCHSCREEN_PIXEL_WIDTH:
            screen, screen_size = "touchscreen", _size(deck.touchscreen_image_format())
        return _Deck(
            deck=deck,
            path=path,
            serial=serial,
            kind=model_name(deck),
            geometry=Geometry(deck.key_count(), cols, rows),
            key_size=_size(deck.key_image_format()),
            visual=visual,
            screen=screen,
            screen_size=screen_size,
        )

    def _paint(
        self,
        opened: _Deck,
        changed: list[tuple[int, Face]],
        strip: Strip | None,
        level: int | None,
    ) -> None:
        deck = opened.deck
        with deck:  # the library's update lock: one batch at a time
            for key, face in changed:
                data = self._encoded(opened, face)
                deck.set_key_image(key, data)
                self.key_writes += 1
                self.sent.append((key, data))
                self._save_preview(opened, f"key{key:02d}", face)
            if strip is not None:
                data = self._encoded(opened, strip)
                w, h = opened.screen_size
                if opened.screen == "screen":
                    deck.set_screen_image(data)
                else:
                    deck.set_touchscreen_image(data, 0, 0, w, h)
                self._save_preview(opened, "screen", strip)
            if level is not None:
                deck.set_brightness(level)

    def _encoded(self, opened: _Deck, what: Face | Strip) -> bytes:
        """The deck's native bytes for a face or strip, drawn once per content."""
        key = (what, opened.key_size, type(opened.deck).__name__)
        data = self._cache.get(key)
        if data is not None:
            self._cache.move_to_end(key)
            return data
        from StreamDeck.ImageHelpers import PILHelper

        image = _draw(what, opened)
        if isinstance(what, Strip):
            if opened.screen == "screen":
                data = PILHelper.to_native_screen_format(opened.deck, image)
            else:
                data = PILHelper.to_native_touchscreen_format(opened.deck, image)
        else:
            data = PILHelper.to_native_key_format(opened.deck, image)
        self._cache[key] = data
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return data

    def _save_preview(self, opened: _Deck, part: str, what: Face | Strip) -> None:
        directory = self.options.preview_dir
        if not directory:
            return
        self._seq += 1
        path = Path(directory).expanduser() / f"{_file_safe(self.name)}-{part}-{self._seq:06d}.png"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _draw(what, opened).save(path)
        except OSError as err:
            log.warning("device %s: cannot write preview %s: %s", self.name, path, err)

    def _shutdown(self, opened: _Deck, blank: bool) -> None:
        from StreamDeck.Transport.Transport import TransportError

        deck = opened.deck
        opts: StreamDeckOptions = self.options
        try:
            deck.set_key_callback(None)
            if blank and opened.visual and deck.is_open():
                with deck:
                    if opts.exit_image:
                        self._show_exit_image(opened)
                    elif opts.exit == "reset":
                        deck.reset()
                    elif opts.exit == "blank":
                        for key in range(opened.geometry.keys):
                            deck.set_key_image(key, None)
                        deck.set_brightness(0)
        except TransportError as err:
            log.debug("device %s: unplugged while closing: %s", self.name, err)
        finally:
            with contextlib.suppress(Exception):
                deck.close()

    def _show_exit_image(self, opened: _Deck) -> None:
        from PIL import Image
        from StreamDeck.ImageHelpers import PILHelper

        deck = opened.deck
        g = opened.geometry
        w, h = opened.key_size
        gap_w, gap_h = round(w * 0.25), round(h * 0.25)
        total = (g.cols * w + (g.cols - 1) * gap_w, g.rows * h + (g.rows - 1) * gap_h)
        with Image.open(Path(self.options.exit_image).expanduser()) as src:
            picture = src.convert("RGB").resize(total, Image.Resampling.LANCZOS)
        for key in range(g.keys):
            row, col = divmod(key, g.cols)
            x, y = col * (w + gap_w), row * (h + gap_h)
            deck.set_key_image(
                key, PILHelper.to_native_key_format(deck, picture.crop((x, y, x + w, y + h)))
            )

    # -- input, on the library's reader thread -------------------------------

    def _key_event(self, deck: Any, key: int, pressed: bool) -> None:
        control = f"pedal:{key}" if not deck.is_visual() else f"key:{key}"
        roles = self._roles
        role = roles[key] if key < len(roles) else BLANK_ROLE
        self._emit(control, pressed, role)

    def _dial_event(self, deck: Any, dial: int, kind: Any, value: Any) -> None:
        if kind.name == "TURN":
            direction = "cw" if value > 0 else "ccw"
            self._emit(f"dial:{dial}:{direction}", True, BLANK_ROLE)
            self._emit(f"dial:{dial}:{direction}", False, BLANK_ROLE)
        else:
            self._emit(f"dial:{dial}", bool(value), BLANK_ROLE)

    def _touch_event(self, deck: Any, kind: Any, value: Any) -> None:
        self._emit("touch", True, BLANK_ROLE)
        self._emit("touch", False, BLANK_ROLE)

    def _emit(self, control: str, pressed: bool, role: Role) -> None:
        action = self.action_for(control, role)
        if role.kind == "choice":
            target = Target("session", role.session, action, role.ask)
        elif role.kind == "session":
            target = Target("session", role.session, action)
        elif role.kind == "global":
            target = Target("global", None, action)
        else:
            # A control with no session of its own acts on the session in focus.
            target = Target("control", self._focus, action)
        self.emit_input_threadsafe(InputEvent(self.name, control, pressed, target, self._mono()))

    def action_for(self, control: str, role: Role) -> str:
        """What pressing ``control`` does while it shows ``role`` (config first)."""
        if role.kind == "choice":
            return role.action  # the choice it shows, whatever the config says
        configured = (self.options.actions or {}).get(control)
        if configured:
            return configured
        if role.kind == "global":
            return "brightness"
        if role.kind == "session":
            return "details"
        if role.kind == "page":
            return "page_next"
        opened = self._open_deck
        if opened is not None and control.startswith("key:"):
            # The Neo's two touch points, after its keys, page back and forth.
            extra = int(control[4:]) - opened.geometry.keys
            if extra == 0:
                return "page_prev"
            if extra == 1:
                return "page_next"
        if control.endswith(":cw"):
            return "page_next"
        if control.endswith(":ccw"):
            return "page_prev"
        if control.startswith("pedal:"):
            # Over the waiting requests: the first choice, the next, choose it.
            return ("ask_first", "ask_next", "ask_confirm")[int(control[6:]) % 3]
        return "none"


def model_name(deck: Any) -> str:
    """The deck's model as Elgato names it: the library's class for an MK.2 (and its
    scissor-key and module variants) is its Original V2's, which says "Original"."""
    from StreamDeck.ProductIDs import USBProductIDs as P

    mk2 = {
        getattr(P, name, None)
        for name in ("USB_PID_STREAMDECK_MK2", "USB_PID_STREAMDECK_MK2_SCISSOR",
                     "USB_PID_STREAMDECK_MK2_MODULE", "USB_PID_STREAMDECK_MK2_V2")
    }  # fmt: skip
    try:
        pid = deck.product_id()
    except Exception:  # a deck that cannot say: the library's word
        pid = None
    return "Stream Deck MK.2" if pid in mk2 else str(deck.deck_type())


def _draw(what: Face | Strip, opened: _Deck) -> Any:
    from devices.streamdeck.render import render_key, render_strip

    if isinstance(what, Strip):
        return render_strip(what, opened.screen_size)
    return render_key(what, opened.key_size)


def _size(image_format: dict[str, Any]) -> tuple[int, int]:
    w, h = image_format["size"]
    return int(w), int(h)


def _closest(steps: tuple[int, ...], level: int) -> int:
    return min(range(len(steps)), key=lambda i: abs(steps[i] - level))


def _file_safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "deck"


def _reason(err: BaseException) -> str:
    return str(err) or type(err).__name__


def _no_hidapi_message(err: BaseException) -> str:
    if sys.platform.startswith("linux"):
        fix = "sudo apt install libhidapi-libusb0"
    elif sys.platform == "darwin":
        fix = "brew install hidapi"
    else:
        fix = "install hidapi (hidapi.dll next to python.exe)"
    return f"Stream Deck needs the hidapi library, which was not found: {fix}"


def _open_failure(path: str, err: BaseException) -> str:
    """One line on why a deck that is there cannot be opened, naming the fix."""
    if sys.platform.startswith("linux"):
        node = _usb_node(path)
        if node is not None and not os.access(node, os.R_OK | os.W_OK):
            return (
                f"no permission to use the Stream Deck ({node}): install the udev rule "
                f"{UDEV_RULE} (agentlight devices --udev-rules prints it) into "
                "/etc/udev/rules.d/, run 'sudo udevadm control --reload', "
                "then plug the deck in again"
            )
        return (
            "cannot open the Stream Deck: another program holds it (another agentlight, "
            f"or a Stream Deck app) or it lacks permission (udev rule {UDEV_RULE}): {_reason(err)}"
        )
    return (
        "cannot open the Stream Deck: quit Elgato's Stream Deck app, which holds the deck "
        f"exclusively, then agentlight takes it by itself ({_reason(err)})"
    )


def _usb_node(path: str) -> str | None:
    """hidapi-libusb names a device ``bus:address:interface`` in hex; its /dev node."""
    parts = path.split(":")
    if len(parts) != 3:
        return None
    try:
        bus, address = int(parts[0], 16), int(parts[1], 16)
    except ValueError:
        return None
    return f"/dev/bus/usb/{bus:03d}/{address:03d}"


__all__ = ["OWN_ACTIONS", "StreamDeckDriver", "StreamDeckOptions"]
