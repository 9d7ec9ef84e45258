"""``agentlight devices``: what is attached and usable, and how to fix what is not.

Each family is looked at on its own and never raises: a missing library, a
missing native library (hidapi, lgpio) or a permission problem becomes one
``problem`` line naming the fix (the package to install, the group to join, the
udev rule), so the command always finishes and always says something useful.
"""

from __future__ import annotations

import contextlib
import grp
import os
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Found:
    """One thing found: what it is, where, and how to point a config at it."""

    kind: str  # serial, usblight, streamdeck, gpio
    name: str
    path: str = ""
    vid: int | None = None
    pid: int | None = None
    serial_number: str = ""
    detail: str = ""
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["usb_id"] = self.usb_id
        return data

    @property
    def usb_id(self) -> str:
        if self.vid is None or self.pid is None:
            return ""
        return f"{self.vid:04x}:{self.pid:04x}"


@dataclass
class Section:
    """One family: what was found, or why nothing could be looked at."""

    kind: str
    title: str
    found: list[Found] = field(default_factory=list)
    problem: str = ""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "found": [f.to_json() for f in self.found],
            "problem": self.problem,
            "note": self.note,
        }


def survey() -> list[Section]:
    """Look at every family; never raises."""
    sections = []
    for look in (serial_ports, usb_lights, stream_decks, gpio):
        try:
            sections.append(look())
        except Exception as err:  # one family's surprise must not hide the others
            sections.append(Section(look.__name__, look.__name__, problem=f"failed: {err}"))
    return sections


# -- serial ---------------------------------------------------------------------


def serial_ports() -> Section:
    section = Section("serial", "serial ports")
    try:
        from serial.tools import list_ports
    except ImportError:
        section.problem = "pyserial is not installed: pip install 'agentlight[serial]'"
        return section
    for info in sorted(list_ports.comports(), key=lambda p: p.device):
        if info.vid is None and not _is_usb_path(info.device):
            continue  # built-in UARTs (ttyS*) with nothing behind them: noise
        described = " ".join(
            part
            for part in (info.manufacturer or "", info.product or info.description or "")
            if part and part != "n/a"
        )
        section.found.append(
            Found(
                "serial",
                described or info.device,
                path=info.device,
                vid=info.vid,
                pid=info.pid,
                serial_number=info.serial_number or "",
                problem=_access_problem(info.device, "dialout"),
            )
        )
    if not section.found:
        section.note = "none attached"
    return section


def _is_usb_path(device: str) -> bool:
    return any(tag in device for tag in ("ttyUSB", "ttyACM", "cu.usb", "tty.usb"))


def _access_problem(path: str, usual_group: str) -> str:
    """Why this process cannot read and write ``path``, with the fix; "" when it can."""
    if not os.path.exists(path) or os.access(path, os.R_OK | os.W_OK):
        return ""
    try:
        group = grp.getgrgid(os.stat(path).st_gid).gr_name
    except (KeyError, OSError):
        group = usual_group
    return f"no permission to open {path}: sudo usermod -aG {group} $USER, then log in again"


# -- USB lights -----------------------------------------------------------------


def usb_lights() -> Section:
    section = Section("usblight", "USB status lights")
    try:
        from busylight_core import Light
        from loguru import logger
    except ImportError as err:
        section.problem = _usb_import_problem(err)
        return section
    logger.disable("busylight_core")
    try:
        found = Light.available_hardware()
    except Exception as err:
        section.problem = f"cannot enumerate USB devices: {err}"
        return section
    seen: set[bytes] = set()
    for cls, hws in sorted(found.items(), key=lambda kv: kv[0].vendor()):
        for hw in hws:
            if hw.path in seen:
                continue
            seen.add(hw.path)
            path = hw.path.decode("utf-8", "replace")
            model = cls.supported_device_ids.get(hw.device_id, cls.__name__)
            section.found.append(
                Found(
                    "usblight",
                    f"{cls.vendor()} {model}",
                    path=path,
                    vid=hw.vendor_id,
                    pid=hw.product_id,
                    serial_number=hw.serial_number or "",
                    detail=f'model = "{model}"',
                    problem=_access_problem(path, "plugdev") and _udev_fix(path),
                )
            )
    if not section.found:
        section.note = (
            "none attached (or not readable: a light that is plugged in but missing here "
            "needs the udev rules: agentlight devices --udev-rules)"
        )
    return section


def _usb_import_problem(err: ImportError) -> str:
    text = str(err)
    if "busylight" in text or getattr(err, "name", "") == "busylight_core":
        return "busylight-core is not installed: pip install 'agentlight[usb]'"
    # busylight-core is there but its HID backend or native library is not.
    return (
        f"HID support is missing ({text}): pip install hidapi, "
        "or sudo apt install libhidapi-hidraw0 libhidapi-libusb0"
    )


UDEV_FILES = ("70-agentlight-usblights.rules", "70-agentlight-streamdeck.rules")
UDEV_INSTALL = (
    "agentlight devices --udev-rules | sudo tee /etc/udev/rules.d/70-agentlight.rules "
    "&& sudo udevadm control -R"
)


def _udev_fix(path: str) -> str:
    return f"no permission to open {path}: {UDEV_INSTALL}, then replug"


def udev_rules() -> str:
    """The shipped udev rules (``systemd/70-agentlight-*.rules``), USB lights then decks.

    The files live in the package so a pip install prints the very rules a
    checkout installs: one policy (0660, group plugdev, uaccess for the seat).
    Priority 70 matters: uaccess is applied by 73-seat-late.rules.
    """
    from importlib.resources import files

    folder = files("devices").joinpath("udev")
    return "\n".join(folder.joinpath(name).read_text(encoding="utf-8") for name in UDEV_FILES)


# -- Stream Decks ---------------------------------------------------------------


def stream_decks() -> Section:
    section = Section("streamdeck", "Stream Decks")
    try:
        from StreamDeck.DeviceManager import DeviceManager
    except ImportError:
        section.note = "library not installed (pip install 'agentlight[streamdeck]' to use one)"
        return section
    try:
        decks = DeviceManager().enumerate()
    except Exception as err:
        text = str(err)
        if "hid" in text.lower() or "library" in text.lower():
            section.problem = _deck_messages().no_hidapi(err)
        else:
            section.problem = f"cannot enumerate Stream Decks: {text}"
        return section
    for deck in decks:
        item = Found("streamdeck", str(deck.deck_type()), path=str(deck.id()))
        try:
            deck.open()
            try:
                item.serial_number = str(deck.get_serial_number())
                item.detail = f"{deck.key_count()} keys"
            finally:
                deck.close()
        except Exception as err:
            item.problem = _deck_messages().open_failure(item.path, err)
        section.found.append(item)
    if not section.found:
        section.note = "none attached"
    return section


@dataclass(frozen=True)
class _DeckMessages:
    no_hidapi: Any
    open_failure: Any


def _deck_messages() -> _DeckMessages:
    """The Stream Deck driver's own one-line fixes, so both places say the same."""
    try:
        from devices.streamdeck import driver as streamdeck

        return _DeckMessages(streamdeck._no_hidapi_message, streamdeck._open_failure)
    except Exception:  # its imaging libraries missing: plain words will do
        return _DeckMessages(
            lambda err: f"{err}: sudo apt install libhidapi-libusb0 (macOS: brew install hidapi)",
            lambda path, err: f"cannot open the Stream Deck at {path}: {err}",
        )


# -- GPIO -----------------------------------------------------------------------


def gpio() -> Section:
    section = Section("gpio", "GPIO")
    model = board_model()
    chips = (
        sorted(p for p in os.listdir("/dev") if p.startswith("gpiochip"))
        if os.path.isdir("/dev")
        else []
    )
    try:
        from gpiozero import Device
    except ImportError:
        section.problem = (
            "gpiozero is not installed: pip install 'agentlight[gpio]'" if model else ""
        )
        section.note = f"{model or 'not a Raspberry Pi'}; gpiozero not installed"
        return section
    wanted = os.environ.get("GPIOZERO_PIN_FACTORY", "")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            factory = Device._default_pin_factory()
        except Exception as err:
            factory = None
            failure = str(err)
        else:
            failure = ""
    fallbacks = [str(w.message) for w in caught]
    if factory is not None:
        name = type(factory).__name__
        with contextlib.suppress(Exception):
            factory.close()
        section.found.append(
            Found(
                "gpio",
                model or "no Raspberry Pi board detected",
                path=", ".join(f"/dev/{c}" for c in chips),
                detail=f"pin factory {name}"
                + (f" (GPIOZERO_PIN_FACTORY={wanted})" if wanted else ""),
                problem=_gpio_access_problem(chips),
            )
        )
        if name == "NativeFactory":
            section.note = (
                "gpiozero fell back to its native factory (no PWM): install lgpio "
                "(sudo apt install python3-lgpio)"
            )
        return section
    if not model:
        section.note = (
            'not a Raspberry Pi: no GPIO here (pin_factory = "mock" or '
            "GPIOZERO_PIN_FACTORY=mock tries a config anyway)"
        )
        return section
    detail = failure or "; ".join(fallbacks)
    section.problem = (
        f"{model}: gpiozero found no pin factory ({detail}): sudo apt install python3-lgpio "
        "(a venv needs --system-site-packages) or pip install lgpio (needs swig, liblgpio-dev)"
    )
    return section


def _gpio_access_problem(chips: list[str]) -> str:
    for chip in chips:
        problem = _access_problem(f"/dev/{chip}", "gpio")
        if problem:
            return problem
    return ""


def board_model() -> str:
    """The Raspberry Pi model from the device tree, or "" off a Pi."""
    for path in ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model"):
        with contextlib.suppress(OSError):
            with open(path, "rb") as fh:
                text = fh.read().rstrip(b"\0").decode("utf-8", "replace").strip()
            if text:
                return text
    return ""


# -- output ---------------------------------------------------------------------


def render_text(sections: list[Section]) -> str:
    """Plain lines; names and serial numbers come from the devices, so they are cleaned."""
    from bridge.text.textsafe import clean

    lines: list[str] = []
    for section in sections:
        lines.append(f"{section.title}:")
        for item in section.found:
            parts = [item.path or "-", item.usb_id, item.name]
            if item.serial_number:
                parts.append(f"serial {item.serial_number}")
            if item.detail:
                parts.append(item.detail)
            lines.append("  " + clean("  ".join(p for p in parts if p)))
            if item.problem:
                lines.append(f"    problem: {clean(item.problem)}")
        if section.problem:
            lines.append(f"  problem: {section.problem}")
        if section.note:
            lines.append(f"  {section.note}")
    return "\n".join(lines)


def render_json(sections: list[Section]) -> dict[str, Any]:
    return {"version": 1, "families": [s.to_json() for s in sections]}


__all__ = ["Found", "Section", "render_json", "render_text", "survey", "udev_rules"]
