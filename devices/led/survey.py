"""``agentlight devices`` for the LED families: serial ports, USB status lights, GPIO.

Each function is one family's survey (named in its descriptor in
:mod:`devices.led`): it imports its library inside and never raises.
"""

from __future__ import annotations

import contextlib
import os

from devices.survey import Found, Section, access_problem, udev_fix

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
                problem=access_problem(info.device, "dialout"),
            )
        )
    if not section.found:
        section.note = "none attached"
    return section


def _is_usb_path(device: str) -> bool:
    return any(tag in device for tag in ("ttyUSB", "ttyACM", "cu.usb", "tty.usb"))


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
                    problem=access_problem(path, "plugdev") and udev_fix(path),
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
        import gpiozero  # noqa: F401 - only whether it is there
    except ImportError:
        section.problem = (
            "gpiozero is not installed: pip install 'agentlight[gpio]'" if model else ""
        )
        section.note = f"{model or 'not a Raspberry Pi'}; gpiozero not installed"
        return section
    from devices.led.gpio import NoPinFactory, default_factory, factory_fix, load_factory

    wanted = os.environ.get("GPIOZERO_PIN_FACTORY", "").strip()
    reasons: list[str] = []
    try:
        if wanted:
            factory = load_factory(wanted.lower())
        else:
            # gpiozero's own order, each skipped factory's reason kept (gpiozero
            # says them only as warnings, which would be lost or printed raw).
            factory, _, reasons = default_factory(shared=False)
    except NoPinFactory as err:
        factory, reasons = None, err.reasons
    except Exception as err:  # the named factory does not load
        factory, reasons = None, [f"{wanted}: {err}"]
    why = f" ({'; '.join(reasons)})" if reasons else ""
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
                f"gpiozero fell back to its native factory, which has no PWM{why}: "
                f"{factory_fix(reasons, pi=bool(model))}"
            )
        return section
    if not model:
        section.note = (
            'not a Raspberry Pi: no GPIO here (pin_factory = "mock" or '
            "GPIOZERO_PIN_FACTORY=mock tries a config anyway)"
        )
        return section
    fix = factory_fix(reasons, pi=True)
    section.problem = f"{model}: gpiozero found no pin factory{why}: {fix}"
    return section


def _gpio_access_problem(chips: list[str]) -> str:
    for chip in chips:
        problem = access_problem(f"/dev/{chip}", "gpio")
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


__all__ = ["board_model", "gpio", "serial_ports", "usb_lights"]
