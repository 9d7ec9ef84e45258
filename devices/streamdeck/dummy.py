"""Decks without hardware: the streamdeck library's Dummy transport, one model at a time.

The library's ``Dummy`` transport offers every model at once and answers every
read at once with zeros, which would spin the library's reader thread. This
subclass offers one chosen model with a serial number, answers "no report"
until a press is queued (so the reader sleeps between polls, as with real
hardware), counts the reports written, and can be unplugged and plugged back,
which is how the tests and ``dummy = true`` exercise the real device classes.
"""

from __future__ import annotations

import threading
from typing import Any

from StreamDeck.ProductIDs import USBProductIDs, USBVendorIDs
from StreamDeck.Transport.Dummy import Dummy
from StreamDeck.Transport.Transport import TransportError

P = USBProductIDs
#: Model names for ``dummy_model`` (and the preview), with a product id each.
MODEL_PIDS: dict[str, int] = {
    "mini": P.USB_PID_STREAMDECK_MINI_MK2,
    "original": P.USB_PID_STREAMDECK_ORIGINAL,
    "mk2": P.USB_PID_STREAMDECK_MK2,
    "xl": P.USB_PID_STREAMDECK_XL_V2,
    "neo": P.USB_PID_STREAMDECK_NEO,
    "plus": P.USB_PID_STREAMDECK_PLUS,
    "plus_xl": P.USB_PID_STREAMDECK_PLUS_XL,
    "studio": P.USB_PID_STREAMDECK_STUDIO,
    "pedal": P.USB_PID_STREAMDECK_PEDAL,
}


class DummyDeckDevice(Dummy.Device):
    """One dummy deck: records writes, replays queued input reports, unplugs on demand."""

    def __init__(self, vid: int, pid: int, serial: str) -> None:
        super().__init__(vid, pid)
        self.serial = serial
        self._id = f"dummy:{pid:04x}:{serial}"
        self.plugged = True
        self.reports = 0
        self.feature_reports: list[bytes] = []
        self._inputs: list[bytes] = []
        self._lock = threading.Lock()

    # Quiet: the library's Dummy logs opening, closing and every report at INFO.
    def open(self) -> None:
        if not self.plugged:
            raise TransportError("dummy deck unplugged")
        self._open = True

    def close(self) -> None:
        self._open = False

    def write(self, payload: Any) -> int:
        self._check()
        with self._lock:
            self.reports += 1
        return len(payload)

    def write_feature(self, payload: Any) -> int:
        self._check()
        with self._lock:
            self.feature_reports.append(bytes(payload))
        return len(payload)

    def read_feature(self, report_id: int, length: int) -> bytes:
        self._check()
        # Every model reads its serial/firmware from byte 2, 5 or 6 on: pad with
        # spaces the library strips, so one reply serves them all.
        text = self.serial if report_id in (0x03, 0x06) else "1.0.0"
        data = bytes([report_id]) + b" " * 5 + text.encode("ascii")
        return (data + bytes(length))[:length]

    def read(self, length: int) -> bytes | None:
        self._check()
        with self._lock:
            if not self._inputs:
                return None  # nothing happened: the reader sleeps 1/poll_hz
            return self._inputs.pop(0)[:length].ljust(length, b"\0")

    def connected(self) -> bool:
        return self.plugged

    def _check(self) -> None:
        if not self.plugged:
            raise TransportError("dummy deck unplugged")
        if not self.is_open():
            raise TransportError("dummy deck not open")

    # -- for tests ----------------------------------------------------------

    def queue_report(self, report: bytes) -> None:
        """An input report as the deck would send it (see :func:`key_report`)."""
        with self._lock:
            self._inputs.append(report)

    def unplug(self) -> None:
        self.plugged = False
        self._open = False

    def replug(self) -> None:
        self.plugged = True


class DummyDeckTransport(Dummy):
    """A transport offering the given dummy decks (each one model, one serial)."""

    def __init__(self, devices: list[DummyDeckDevice]) -> None:
        self.devices = devices

    def enumerate(self, vid: int, pid: int) -> list[DummyDeckDevice]:
        return [
            d for d in self.devices if d.plugged and d.vendor_id() == vid and d.product_id() == pid
        ]


def dummy_device(model: str, serial: str) -> DummyDeckDevice:
    """A dummy deck of ``model`` (a key of :data:`MODEL_PIDS`)."""
    return DummyDeckDevice(USBVendorIDs.USB_VID_ELGATO, MODEL_PIDS[model], serial)


def dummy_deck(model: str, serial: str) -> Any:
    """The streamdeck library's own device object for one dummy deck (not opened)."""
    from StreamDeck.DeviceManager import DeviceManager

    manager = DeviceManager("dummy")
    manager.transport = DummyDeckTransport([dummy_device(model, serial)])
    return manager.enumerate()[0]


def key_report(deck: Any, pressed: set[int]) -> bytes:
    """The input report ``deck``'s model sends with ``pressed`` keys down.

    The layout (a header, then one byte per key) is what the library's own
    ``_read_control_states`` reads for each model.
    """
    name = type(deck).__name__
    count = deck.KEY_COUNT + deck.TOUCH_KEY_COUNT
    states = bytes(1 if k in pressed else 0 for k in range(count))
    if name in ("StreamDeckMini",):
        return b"\x01" + states
    if name == "StreamDeckOriginal":
        # The v1 Original reports keys mirrored left-right within each row.
        cols = deck.KEY_COLS
        mirrored = bytes(
            states[(k - k % cols) + (cols - 1 - k % cols)] for k in range(deck.KEY_COUNT)
        )
        return b"\x01" + mirrored
    if name in ("StreamDeckPlus", "StreamDeckPlusXL", "StreamDeckStudio"):
        return b"\x01\x00\x00\x00" + states
    return b"\x01\x00\x00\x00" + states


__all__ = [
    "MODEL_PIDS",
    "DummyDeckDevice",
    "DummyDeckTransport",
    "dummy_deck",
    "dummy_device",
    "key_report",
]
