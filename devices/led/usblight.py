"""USB status lights (BlinkStick, blink(1), Luxafor, Kuando, Embrava, EPOS, MuteMe...)
through busylight-core.

busylight-core speaks every vendor's protocol (and keeps a Kuando awake); this
driver only picks the lights, turns each frame into a colour and calls
``light.on(color)``. Blink and pulse come from our effects engine: busylight's
``Light`` has no blink of its own.

A light is picked by ``model`` (its name, e.g. ``"BlinkStick Square"``, or any
part of it), by ``serial``, or the first one found; ``all = true`` drives every
matching light. When none is attached the open fails and the engine retries with
back-off (slowly); when one of several is unplugged the others carry on and the
driver looks for it again every ``scan_interval`` seconds until it is back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
from dataclasses import dataclass
from typing import Any

from bridge.infra.errors import DriverError, DriverUnavailable
from bridge.pipeline.frame import Frame
from devices.base import Capabilities, Driver
from devices.led.color import Correction, check_correction
from devices.led.view import single, slot_caps

log = logging.getLogger("agentlight.devices.usblight")


@dataclass(frozen=True, slots=True)
class UsbLightOptions:
    """Options of the ``usblight`` driver.

    :param model: the light's model name or part of it (``"blinkstick"``,
        ``"Blink(1)"``, ``"Busylight Omega"``); empty = any supported light.
    :param serial: the light's USB serial number; empty = any.
    :param all: drive every matching light, not just the first.
    :param brightness: cap 0-1 on everything shown.
    :param gamma: perceptual-to-linear exponent for smooth pulses; 1 = none.
    :param balance: [red, green, blue] multipliers 0-1.
    :param slot: show the N-th session slot (1 = first) instead of the device's look.
    :param slots: how many session lights share the sessions (see the gpio driver).
    :param scan_interval: seconds between looks for a light that went away
        while others are still open.
    """

    model: str = ""
    serial: str = ""
    all: bool = False
    brightness: float = 1.0
    gamma: float = 2.2
    balance: tuple[float, ...] = (1.0, 1.0, 1.0)
    slot: int | None = None
    slots: int | None = None
    scan_interval: float = 5.0

    def __post_init__(self) -> None:
        check_correction(self.brightness, self.gamma, self.balance)
        if self.slot is not None and self.slot < 1:
            raise ValueError(f"slot counts from 1 (the first session), got {self.slot!r}")
        if self.slots is not None and (self.slot is None or not 1 <= self.slot <= self.slots):
            raise ValueError("slots needs slot, and slot must be within 1..slots")
        if not 0.1 <= self.scan_interval <= 3600:
            raise ValueError(
                f"scan_interval must be seconds from 0.1 to 3600, got {self.scan_interval!r}"
            )

    @property
    def wanted(self) -> str:
        parts = [
            f"model {self.model!r}" if self.model else "",
            f"serial {self.serial!r}" if self.serial else "",
        ]
        return " and ".join(p for p in parts if p) or "any supported model"


@dataclass
class _Open:
    light: Any
    path: bytes
    label: str
    rgb: tuple[int, int, int] | None = None


class UsbLightDriver(Driver):
    """Shows looks on USB status lights through busylight-core.

    :param name: the device's name.
    :param options: a :class:`UsbLightOptions`.
    :param exclusive: hold each light's handle open (True, as the bridge
        runs) or open it per write (busylight-core's own tests use False).
    """

    TYPE = "usblight"
    Options = UsbLightOptions
    # HID enumeration plus opening every light can take a while.
    CAPS = Capabilities(fps=30.0, sessions=0, open_timeout=5.0)

    def __init__(
        self, name: str, options: UsbLightOptions | None = None, *, exclusive: bool = True
    ) -> None:
        super().__init__(name, options)
        opts: UsbLightOptions = self.options
        self._exclusive = exclusive
        self._slot, self.caps = slot_caps(self.caps, opts.slot, opts.slots)
        self._correction = Correction(opts.brightness, opts.gamma, tuple(opts.balance))  # type: ignore[arg-type]
        self._lights: list[_Open] = []
        self._lost: set[bytes] = set()
        self._base_refresh = self.caps.refresh

    @property
    def lights(self) -> list[Any]:
        """The busylight-core ``Light`` objects open now."""
        return [o.light for o in self._lights]

    # -- open / close ---------------------------------------------------------

    async def _open(self) -> None:
        self._lights = await self.blocking(self._scan, set())
        self._lost.clear()
        self._set_refresh()
        if not self._lights:
            raise DriverUnavailable(
                f"{self.name}: no USB light ({self.options.wanted}) is attached "
                "(see 'agentlight devices')"
            )
        for o in self._lights:
            log.info("%s: using %s", self.name, o.label)

    def preflight(self) -> list[str]:
        """The library, and a matching light attached now (none: ``run`` waits for one)."""
        try:
            opened = self._scan(set())
        except DriverError as err:
            return [str(err)]
        for o in opened:
            with contextlib.suppress(Exception):
                o.light.release()
        if not opened:
            return [
                f"no USB light ({self.options.wanted}) is attached now; run waits for one "
                "(see 'agentlight devices')"
            ]
        return []

    def _scan(self, skip: set[bytes]) -> list[_Open]:
        """Open the matching lights that are attached (and not in ``skip``)."""
        try:
            from busylight_core import Light
            from loguru import logger
        except ImportError as err:
            raise DriverError(
                f"{self.name}: busylight-core is not installed; pip install 'agentlight[usb]' "
                f"({err})"
            ) from err
        # busylight-core logs every write through loguru at DEBUG, to stderr by
        # default; our own log says what matters.
        logger.disable("busylight_core")
        opts: UsbLightOptions = self.options
        try:
            found = Light.available_hardware()
        except Exception as err:
            raise DriverUnavailable(f"{self.name}: {explain_usb_error(err)}") from err
        opened: list[_Open] = []
        seen: set[bytes] = set(skip)
        candidates = sorted(
            ((cls, hw) for cls, hws in found.items() for hw in hws),
            key=lambda pair: (
                pair[0].vendor().lower(),
                _name(pair[0], pair[1]).lower(),
                pair[1].path,
            ),
        )
        for cls, hw in candidates:
            if hw.path in seen or not _matches(opts, cls, hw):
                continue
            # A Luxafor Flag and Orb share ids: the first class to claim a port wins.
            seen.add(hw.path)
            try:
                light = cls(hw, reset=False, exclusive=self._exclusive)
            except Exception as err:
                log.warning(
                    "%s: cannot open %s: %s", self.name, _label(cls, hw), explain_usb_error(err)
                )
                continue
            opened.append(_Open(light, hw.path, _label(cls, hw)))
            if not opts.all:
                break
        return opened

    async def _close(self, *, blank: bool) -> None:
        lights, self._lights = self._lights, []
        if lights:
            await self.blocking(self._release, lights, blank)

    def _release(self, lights: list[_Open], blank: bool) -> None:
        for o in lights:
            try:
                if blank:
                    o.light.off()  # also stops a Kuando's keepalive
                else:
                    o.light.cancel_tasks()
            except Exception as err:
                log.debug("%s: could not turn %s off: %s", self.name, o.label, err)
            try:
                o.light.release()
            except Exception as err:
                log.debug("%s: could not release %s: %s", self.name, o.label, err)

    # -- show -----------------------------------------------------------------

    async def _show(self, frame: Frame) -> None:
        _, color = single(frame, self._slot)
        rgb = self._correction.to_bytes(color)
        refresh = frame == self.last_frame
        if self._lost and refresh:
            # The engine's refresh runs only while a light is missing: look for it.
            await self._rescan()
        todo = [o for o in self._lights if o.rgb != rgb or refresh]
        if not todo:
            return
        failed = await self.blocking(self._paint, todo, rgb)
        if failed:
            for o, err in failed:
                log.warning(
                    "%s: lost %s (%s); looking for it every %g s",
                    self.name,
                    o.label,
                    explain_usb_error(err),
                    self.options.scan_interval,
                )
                self._lost.add(o.path)
                self._lights.remove(o)
                await self.blocking(self._release, [o], False)
            self._set_refresh()
        if not self._lights:
            raise DriverUnavailable(f"{self.name}: every USB light is gone (unplugged?)")

    def _paint(
        self, todo: list[_Open], rgb: tuple[int, int, int]
    ) -> list[tuple[_Open, BaseException]]:
        failed: list[tuple[_Open, BaseException]] = []
        for o in todo:
            try:
                o.light.on(rgb)
                o.rgb = rgb
            except Exception as err:
                failed.append((o, err))
        return failed

    async def _rescan(self) -> None:
        try:
            found = await self.blocking(self._scan, {o.path for o in self._lights})
        except DriverError as err:
            log.debug("%s: rescan failed: %s", self.name, err)
            return
        for o in found:
            log.info("%s: %s is back", self.name, o.label)
            self._lost.discard(o.path)
            self._lights.append(o)
        if found and not self.options.all:
            self._lost.clear()
        self._set_refresh()

    def _set_refresh(self) -> None:
        # Re-send (and so rescan) only while a light is missing; a static look
        # costs nothing otherwise.
        refresh = self.options.scan_interval if self._lost else self._base_refresh
        if self.caps.refresh != refresh:
            self.caps = dataclasses.replace(self.caps, refresh=refresh)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _name(cls: Any, hw: Any) -> str:
    return str(cls.supported_device_ids.get(hw.device_id, cls.__name__))


def _label(cls: Any, hw: Any) -> str:
    serial = f" serial {hw.serial_number}" if hw.serial_number else ""
    return f"{cls.vendor()} {_name(cls, hw)}{serial}"


def _matches(opts: UsbLightOptions, cls: Any, hw: Any) -> bool:
    if opts.serial and (hw.serial_number or "") != opts.serial:
        return False
    if opts.model:
        want = _norm(opts.model)
        names = (_name(cls, hw), cls.__name__, f"{cls.vendor()} {_name(cls, hw)}")
        if not any(want in _norm(n) for n in names):
            return False
    return True


def explain_usb_error(err: BaseException) -> str:
    """One line naming what went wrong with a USB light and the fix."""
    text = str(err) or type(err).__name__
    name = type(err).__name__
    if isinstance(err, ImportError) or "hidapi" in text.lower() or "libhidapi" in text:
        return (
            f"{text}: the HID library is missing; install hidapi "
            "(sudo apt install libhidapi-hidraw0, or pip install hidapi)"
        )
    if isinstance(err, PermissionError) or "permission" in text.lower() or "open failed" in text:
        return (
            f"{text}: no permission for the light; install udev rules "
            "(agentlight devices --udev-rules | sudo tee /etc/udev/rules.d/70-agentlight.rules; "
            "sudo udevadm control -R) and replug it"
        )
    if name == "LightUnavailableError":
        return "the light stopped answering (unplugged?)"
    return text


__all__ = ["UsbLightDriver", "UsbLightOptions", "explain_usb_error"]
