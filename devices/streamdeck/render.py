"""Key and screen images for the Stream Deck driver, drawn with Pillow.

A :class:`Face` says what one key shows (colours and a few lines of text); it is
a frozen, hashable value, so the driver caches the image drawn for it and only
writes a key when its face changes. Drawing knows nothing about decks: it takes
a pixel size and returns a Pillow image; turning that into the deck's own
format (rotation, flip, JPEG/BMP) is the streamdeck library's ``PILHelper``.

Text is fitted, never clipped: it shrinks through a few sizes, wraps on words,
and ends with an ellipsis when even the smallest size runs out of room. The
font is Pillow's own scalable default (``ImageFont.load_default(size=...)``,
Pillow >= 10.1), so nothing depends on fonts installed on the system.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from bridge.text.textsafe import clean, cluster_end

if TYPE_CHECKING:
    from PIL import Image, ImageFont

RGB = tuple[int, int, int]
FaceKind = Literal["blank", "global", "session", "page", "details", "message", "choice"]

ELLIPSIS = "…"
BLACK: RGB = (0, 0, 0)
WHITE: RGB = (255, 255, 255)


@dataclass(frozen=True, slots=True)
class Face:
    """What one key shows.

    :param kind: what the key is (a blank key draws nothing else).
    :param bg: background colour.
    :param bar: colour of the header band (None: no band).
    :param header: short text in the band (a channel, "AGENT", "PAGE").
    :param title: the big line (a state, a count).
    :param lines: smaller lines under it (title, tool, error), wrapped to fit.
    :param footer: the bottom line (time in state, tokens); variants separated by
        " | ", longest first: the first that fits is drawn.
    :param fg: text colour on ``bg``.
    :param frame: colour of a thick inner border (attention), or None.
    :param marker: a drawn symbol in the band: "", "dot", "ring", "next", "prev".
    :param progress: a bar along the bottom edge filled this far (0 to 1): a key
        held toward a decision; None draws no bar.
    """

    kind: FaceKind = "blank"
    bg: RGB = BLACK
    bar: RGB | None = None
    header: str = ""
    title: str = ""
    lines: tuple[str, ...] = ()
    footer: str = ""
    fg: RGB = WHITE
    frame: RGB | None = None
    marker: str = ""
    progress: float | None = None


BLANK = Face()


# -- text -----------------------------------------------------------------

def safe(text: object) -> str:
    """Server text made fit to draw: controls and invisible format characters shown
    escaped by ``bridge.text.textsafe.clean``, and everything on one line."""
    return " ".join(clean(text, 500).split())


#: Pillow built without FreeType (32-bit Pi OS from source without libfreetype-dev)
#: draws no scalable text: every key would fail. The fix, named wherever it is found.
NO_FREETYPE = (
    "Pillow was built without FreeType, which the keys' text needs: "
    "sudo apt install libfreetype-dev, then pip install --no-cache-dir --force-reinstall "
    "pillow (without --no-cache-dir pip reinstalls the same build from its cache)"
)


def freetype_problem() -> str | None:
    """:data:`NO_FREETYPE` when this Pillow cannot draw the keys' text, else None."""
    from PIL import features

    try:
        ok = features.check("freetype2")
    except Exception:  # a Pillow too broken to answer cannot draw either
        ok = False
    return None if ok else NO_FREETYPE


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled scalable font at ``size`` pixels (one object per size)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


@lru_cache(maxsize=4096)
def text_width(text: str, size: int) -> float:
    """Width of ``text`` in pixels; cached, as titles and labels repeat on every redraw."""
    return float(font(size).getlength(text))


def wrap(text: str, size: int, width: float, max_lines: int) -> tuple[list[str], bool]:
    """``text`` wrapped to ``width`` pixels in at most ``max_lines`` lines.

    Returns the lines and whether text was left out (then the last line ends
    with an ellipsis). Words wider than a line are broken between characters.
    """
    if max_lines <= 0:
        return [], bool(text)
    if text_width(text, size) <= width:
        return ([text] if text else []), False
    words = text.split()
    lines: list[str] = []
    current = ""
    i = 0
    while i < len(words):
        word = words[i]
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size) <= width:
            current = candidate
            i += 1
            continue
        if not current:
            # One word wider than the line: break it where it stops fitting, after
            # a ":" or "/" when there is one (an address stays in readable pieces).
            n = _fitting_prefix(word, size, width)
            seam = max(word.rfind(":", 0, n), word.rfind("/", 0, n))
            if seam > 0:
                n = seam + 1
            current, words[i] = word[:n], word[n:]
        if len(lines) + 1 == max_lines:
            rest = " ".join([current, *words[i:]])
            lines.append(ellipsize(rest, size, width))
            return lines, True
        lines.append(current)
        current = ""
    if current:
        lines.append(current)
    return lines, False


def _fitting_prefix(text: str, size: int, width: float, suffix: str = "") -> int:
    """The most characters of ``text`` (plus ``suffix``) that fit in ``width``, in whole
    grapheme clusters (an emoji keeps its skin tone); at least the first one."""
    lo, hi = 1, len(text)
    while lo < hi:  # binary search: widths grow with length
        mid = (lo + hi + 1) // 2
        if text_width(text[:mid].rstrip() + suffix, size) <= width:
            lo = mid
        else:
            hi = mid - 1
    return cluster_end(text, lo)


def ellipsize(text: str, size: int, width: float) -> str:
    """``text`` cut to ``width`` pixels, ending with an ellipsis when cut."""
    if text_width(text, size) <= width:
        return text
    if text_width(text[:1] + ELLIPSIS, size) > width:
        return ELLIPSIS
    n = _fitting_prefix(text, size, width, ELLIPSIS)
    return text[:n].rstrip() + ELLIPSIS


def fit(text: str, sizes: Sequence[int], width: float, max_lines: int) -> tuple[int, list[str]]:
    """The largest of ``sizes`` at which ``text`` fits; else the smallest, ellipsized."""
    lines: list[str] = []
    for size in sizes:
        lines, cut = wrap(text, size, width, max_lines)
        if not cut:
            return size, lines
    return sizes[-1], lines


# -- drawing ----------------------------------------------------------------


def luminance(rgb: RGB) -> float:
    r, g, b = rgb
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def ink_on(rgb: RGB) -> RGB:
    """Black or white, whichever reads better on ``rgb``."""
    return BLACK if luminance(rgb) > 0.55 else WHITE


def scale(rgb: RGB, factor: float) -> RGB:
    f = min(1.0, max(0.0, factor))
    return (round(rgb[0] * f), round(rgb[1] * f), round(rgb[2] * f))


def render_key(face: Face, size: tuple[int, int]) -> Image.Image:
    """The image for ``face`` on a key of ``size`` pixels (RGB)."""
    from PIL import Image, ImageDraw

    w, h = size
    img = Image.new("RGB", size, face.bg)
    if face.kind == "blank":
        return img
    draw = ImageDraw.Draw(img)
    edge = 0  # inside an attention frame, everything moves in by its width
    if face.frame is not None:
        edge = max(3, round(w * 0.06))
        draw.rectangle((0, 0, w - 1, h - 1), outline=face.frame, width=edge)
    pad = edge + max(2, round(w * 0.05))
    inner = w - 2 * pad
    y = edge
    if face.bar is not None:
        band = round(h * 0.2)
        draw.rectangle((edge, edge, w - 1 - edge, edge + band - 1), fill=face.bar)
        ink = ink_on(face.bar)
        hsize = max(9, round(h * 0.15))
        text_x = pad
        if face.marker:
            _marker(draw, face.marker, (pad, edge, pad + band - 4, edge + band), ink)
            text_x = pad + band - 2
        header = ellipsize(face.header, hsize, w - edge - text_x - 2)
        draw.text((text_x, edge + band // 2), header, font=font(hsize), fill=ink, anchor="lm")
        y += band
    y += max(2, round(h * 0.03))
    bottom = h - edge - max(2, round(h * 0.04))
    if face.progress is not None:
        # A hold's progress: an empty track, filled from the left.
        bar = max(4, round(h * 0.1))
        top = h - edge - bar
        draw.rectangle((edge, top, w - 1 - edge, h - 1 - edge), fill=scale(face.fg, 0.25))
        filled = edge + round((w - 2 * edge) * max(0.0, min(1.0, face.progress)))
        if filled > edge:
            draw.rectangle((edge, top, filled - 1, h - 1 - edge), fill=face.fg)
        bottom = top - 2
    small = max(10, round(h * 0.14))
    if face.footer:
        footer = _first_fitting(face.footer, small, inner)
        draw.text((w // 2, bottom), footer, font=font(small), fill=face.fg, anchor="md")
        bottom -= small + 2
    if face.title:
        big = round(h * 0.21)
        sizes = sorted({s for s in (big, round(h * 0.18), round(h * 0.16), small) if s >= small})
        tsize, tlines = fit(face.title, sizes[::-1], inner, 1)
        draw.text((w // 2, y), tlines[0], font=font(tsize), fill=face.fg, anchor="ma")
        y += round(tsize * 1.2)
    if face.lines:
        line_h = small + 1
        room = max(1, (bottom - y) // line_h)
        body: list[str] = []
        for i, text in enumerate(face.lines):
            left = room - len(body)
            if left <= 0:
                break
            # Earlier lines (the error, the title) may wrap, leaving one line for each later one.
            want = max(1, left - (len(face.lines) - 1 - i))
            _, lines = fit(text, [small], inner, want)
            body.extend(lines)
        for line in body[:room]:
            draw.text((w // 2, y), line, font=font(small), fill=face.fg, anchor="ma")
            y += line_h
    return img


def _first_fitting(text: str, size: int, width: float) -> str:
    """The first of ``text``'s " | "-separated variants that fits (longest first)."""
    variants = text.split(" | ")
    for variant in variants:
        if text_width(variant, size) <= width:
            return variant
    return ellipsize(variants[-1], size, width)


def _marker(draw: object, marker: str, box: tuple[int, int, int, int], ink: RGB) -> None:
    from PIL import ImageDraw

    assert isinstance(draw, ImageDraw.ImageDraw)
    x0, y0, x1, y1 = box
    side = min(x1 - x0, y1 - y0)
    cy = (y0 + y1) // 2
    r = max(2, side // 3)
    cx = x0 + r + 1
    if marker == "dot":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=ink)
    elif marker == "ring":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=ink, width=max(1, r // 2))
    elif marker == "next":
        draw.polygon([(cx - r, cy - r), (cx + r, cy), (cx - r, cy + r)], fill=ink)
    elif marker == "prev":
        draw.polygon([(cx + r, cy - r), (cx - r, cy), (cx + r, cy + r)], fill=ink)


@dataclass(frozen=True, slots=True)
class Strip:
    """A summary for a wide screen (Neo info screen, Plus touch strip).

    :param color: the global state's colour (a band on the left).
    :param line: the summary line.
    :param detail: a second line (the most urgent session), may be empty.
    :param dots: one colour per session, drawn as a row of dots.
    """

    color: RGB
    line: str
    detail: str = ""
    dots: tuple[RGB, ...] = ()


def render_strip(strip: Strip, size: tuple[int, int]) -> Image.Image:
    """The image for a wide screen of ``size`` pixels."""
    from PIL import Image, ImageDraw

    w, h = size
    img = Image.new("RGB", size, BLACK)
    draw = ImageDraw.Draw(img)
    band = max(6, round(h * 0.18))
    draw.rectangle((0, 0, band - 1, h), fill=strip.color)
    x = band + max(4, round(h * 0.08))
    inner = w - x - 4
    lines = [strip.line] + ([strip.detail] if strip.detail else [])
    dots_h = round(h * 0.16) if strip.dots else 0
    row = (h - dots_h - 4) / len(lines)
    y = 2.0
    for i, line in enumerate(lines):
        size_ = max(10, round(row * (0.72 if i == 0 else 0.6)))
        text = ellipsize(line, size_, inner)
        draw.text((x, round(y + row / 2)), text, font=font(size_), fill=WHITE, anchor="lm")
        y += row
    if strip.dots:
        r = max(2, dots_h // 2 - 1)
        cy = h - dots_h // 2 - 2
        step = 2 * r + max(2, r)
        for i, rgb in enumerate(strip.dots[: max(1, inner // step)]):
            cx = x + r + i * step
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=rgb)
    return img


__all__ = [
    "BLANK",
    "NO_FREETYPE",
    "Face",
    "Strip",
    "ellipsize",
    "fit",
    "font",
    "freetype_problem",
    "ink_on",
    "render_key",
    "render_strip",
    "safe",
    "scale",
    "wrap",
]
