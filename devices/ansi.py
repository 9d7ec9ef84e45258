"""Terminal colours: 24-bit where the terminal has it, else 256 or 16, with a floor.

A look's colour is made for an LED: idle is a dim green (#001e08 at 12 %), which
on a dark terminal background is all but invisible. :func:`visible` lifts a
colour to a minimum brightness, keeping its hue, so every look can be read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from bridge.pipeline.looks import Color

__all__ = ["RESET", "Depth", "color_depth", "fg", "visible"]

Depth = Literal[16, 256, 24]

RESET = "\x1b[0m"

# xterm's 16 colours, (code, rgb): what a 16-colour terminal most likely shows.
_ANSI16 = (
    (30, (0, 0, 0)),
    (31, (205, 0, 0)),
    (32, (0, 205, 0)),
    (33, (205, 205, 0)),
    (34, (0, 0, 238)),
    (35, (205, 0, 205)),
    (36, (0, 205, 205)),
    (37, (229, 229, 229)),
    (90, (127, 127, 127)),
    (91, (255, 0, 0)),
    (92, (0, 255, 0)),
    (93, (255, 255, 0)),
    (94, (92, 92, 255)),
    (95, (255, 0, 255)),
    (96, (0, 255, 255)),
    (97, (255, 255, 255)),
)
_CUBE = (0, 95, 135, 175, 215, 255)


def color_depth(env: Mapping[str, str] | None = None) -> Depth:
    """24-bit when ``COLORTERM`` says so, 256 for ``*-256color`` terminals, else 16."""
    env = os.environ if env is None else env
    if env.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return 24
    term = env.get("TERM", "")
    if "truecolor" in term or "direct" in term:
        return 24
    if "256" in term:
        return 256
    return 16


def visible(color: Color, floor: int) -> Color:
    """``color`` with its brightest channel at least ``floor`` (0-255), same hue."""
    r, g, b = color.to_bytes()
    top = max(r, g, b)
    if top >= floor:
        return color
    if top == 0:
        return Color.from_bytes(floor, floor, floor)
    k = floor / top
    return Color.from_bytes(min(255, round(r * k)), min(255, round(g * k)), min(255, round(b * k)))


def fg(color: Color, depth: Depth) -> str:
    """The SGR code that sets the text colour to (the nearest of) ``color``."""
    r, g, b = color.to_bytes()
    if depth == 24:
        return f"\x1b[38;2;{r};{g};{b}m"
    if depth == 256:
        idx = [min(range(6), key=lambda i, c=c: abs(_CUBE[i] - c)) for c in (r, g, b)]  # type: ignore[misc]
        return f"\x1b[38;5;{16 + 36 * idx[0] + 6 * idx[1] + idx[2]}m"
    code = min(
        _ANSI16,
        key=lambda item: sum((x - y) ** 2 for x, y in zip(item[1], (r, g, b), strict=True)),
    )[0]
    return f"\x1b[{code}m"
