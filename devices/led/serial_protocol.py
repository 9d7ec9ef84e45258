"""Wire formats of the serial LED driver, with no I/O (tested byte for byte).

**Adalight** is the framing off-the-shelf firmware speaks (Adalight/FastLED
sketches, WLED's serial input, Hyperion, Prismatik)::

    'A' 'd' 'a'  count-high  count-low  checksum  (3 bytes per LED)...

where count is LEDs - 1 and checksum = high ^ low ^ 0x55.

**line** is agentlight's own text protocol for the Arduino sketch in
``firmware/arduino/agentlight/agentlight.ino``, which runs blink and pulse on the
board, so the link carries only changes. One ASCII line per command, ``\\n``
terminated:

=====================================  ==========================================
host → board                           meaning
=====================================  ==========================================
``?``                                  say hello again
``L <led> <rrggbb> <effect> <ms>``     show a look on LED ``led`` (0-based):
                                       effect ``solid``, ``blink`` or ``pulse``,
                                       ``ms`` the period; colour at its brightness
``O``                                  all LEDs off; stop the watchdog
=====================================  ==========================================

board → host: ``agentlight <version> leds=<n>`` (the hello, at boot and on
``?``) and ``err <text>`` for a line it did not understand. After an ``L`` the
board expects a line at least every 15 s (the bridge re-sends its looks every
5 s); when none comes, the bridge is gone and LED 0 blinks dim white slowly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bridge.pipeline.looks import Effect, Look

COLOR_ORDERS = ("RGB", "RBG", "GRB", "GBR", "BRG", "BGR")

LINE_VERSION = 1
_HELLO = re.compile(rb"^agentlight (\d+) leds=(\d+)\s*$")


def adalight_header(leds: int) -> bytes:
    """The 6-byte Adalight header for a strip of ``leds`` LEDs (1..65536)."""
    if not 1 <= leds <= 65536:
        raise ValueError(f"an Adalight strip has 1 to 65536 LEDs, got {leds}")
    count = leds - 1
    hi, lo = count >> 8, count & 0xFF
    return bytes((0x41, 0x64, 0x61, hi, lo, hi ^ lo ^ 0x55))


def order_index(order: str) -> tuple[int, int, int]:
    """Positions of r, g, b to send for a colour order like ``GRB``."""
    order = order.upper()
    if order not in COLOR_ORDERS:
        raise ValueError(f"color_order must be one of {', '.join(COLOR_ORDERS)}, got {order!r}")
    return ("RGB".index(order[0]), "RGB".index(order[1]), "RGB".index(order[2]))


@dataclass(frozen=True, slots=True)
class Segment:
    """LEDs ``start`` .. ``start + length - 1``; ``slot`` None is the global segment."""

    start: int
    length: int
    slot: int | None


def segments(leds: int, global_leds: int, segment_leds: int, gap: int) -> tuple[Segment, ...]:
    """Split a strip: the global segment first, then one per session slot, ``gap`` dark between.

    LEDs left over at the end stay dark.
    """
    result: list[Segment] = []
    pos = 0
    if global_leds > 0:
        result.append(Segment(0, min(global_leds, leds), None))
        pos = global_leds + gap
    slot = 0
    while segment_leds > 0 and pos + segment_leds <= leds:
        result.append(Segment(pos, segment_leds, slot))
        slot += 1
        pos += segment_leds + gap
    return tuple(result)


class AdalightFrame:
    """Builds Adalight frames for one strip layout (header and layout computed once)."""

    def __init__(self, leds: int, order: str) -> None:
        self.leds = leds
        self.header = adalight_header(leds)
        self._order = order_index(order)

    def pixel(self, rgb: tuple[int, int, int]) -> bytes:
        i, j, k = self._order
        return bytes((rgb[i], rgb[j], rgb[k]))

    def solid(self, rgb: tuple[int, int, int]) -> bytes:
        """Every LED the same colour."""
        return self.header + self.pixel(rgb) * self.leds

    def painted(self, parts: list[tuple[Segment, tuple[int, int, int]]]) -> bytes:
        """Segments in their colours, every other LED dark."""
        body = bytearray(3 * self.leds)
        for seg, rgb in parts:
            start = 3 * seg.start
            body[start : start + 3 * seg.length] = self.pixel(rgb) * seg.length
        return self.header + bytes(body)


def line_command(led: int, look: Look, rgb: tuple[int, int, int]) -> bytes:
    """The ``L`` line showing ``look`` (already at brightness ``rgb``) on ``led``."""
    effect = look.effect
    if effect is Effect.OFF or rgb == (0, 0, 0):
        name, period = "solid", 0
        rgb = (0, 0, 0)
    elif effect in (Effect.BLINK, Effect.PULSE):
        name, period = effect.value, max(50, min(60000, math.ceil(look.period * 1000)))
    else:
        name, period = "solid", 0
    return b"L %d %02x%02x%02x %s %d\n" % (led, *rgb, name.encode(), period)


LINE_OFF = b"O\n"
LINE_HELLO_REQUEST = b"?\n"


def parse_hello(line: bytes) -> int | None:
    """The LED count from a board's hello line, or None when ``line`` is not one.

    :raises ValueError: for a hello from a newer, incompatible protocol version.
    """
    match = _HELLO.match(line.strip())
    if match is None:
        return None
    version, leds = int(match.group(1)), int(match.group(2))
    if version != LINE_VERSION:
        raise ValueError(
            f"the board speaks line protocol {version}, this bridge {LINE_VERSION}: "
            "flash firmware/arduino/agentlight from this version"
        )
    return leds


__all__ = [
    "COLOR_ORDERS",
    "LINE_HELLO_REQUEST",
    "LINE_OFF",
    "AdalightFrame",
    "Segment",
    "adalight_header",
    "line_command",
    "order_index",
    "parse_hello",
    "segments",
]
