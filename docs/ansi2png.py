"""Render a terminal capture (``tmux capture-pane -e -p``) to a PNG, for the README.

    tmux capture-pane -e -p -t demo > capture.txt
    python docs/ansi2png.py capture.txt docs/terminal.png

Understands the SGR codes agentlight writes (24-bit, 256 and 16 colours, bold,
reset) and draws each cell in DejaVu Sans Mono on a dark background. Needs
Pillow (``pip install pillow``); not part of the package.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
SIZE = 15
BG = (24, 24, 28)
FG = (210, 210, 210)
PAD = 12
_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_OTHER = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]|\x1b\][^\x07]*\x07")
_BASIC = [
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0),
    (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
    (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
    (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
]  # fmt: skip
_CUBE = (0, 95, 135, 175, 215, 255)

Cell = tuple[str, tuple[int, int, int], bool]


def _xterm256(n: int) -> tuple[int, int, int]:
    if n < 16:
        return _BASIC[n]
    if n >= 232:
        v = 8 + 10 * (n - 232)
        return (v, v, v)
    n -= 16
    return (_CUBE[n // 36], _CUBE[n // 6 % 6], _CUBE[n % 6])


def parse(text: str) -> list[list[Cell]]:
    rows: list[list[Cell]] = []
    for line in text.rstrip("\n").split("\n"):
        line = _OTHER.sub("", line.replace("\r", ""))
        color, bold = FG, False
        row: list[Cell] = []
        pos = 0
        for m in [*_SGR.finditer(line), None]:
            end = m.start() if m else len(line)
            row.extend((ch, color, bold) for ch in line[pos:end])
            if m is None:
                break
            pos = m.end()
            codes = [int(c) if c else 0 for c in m.group(1).split(";")]
            i = 0
            while i < len(codes):
                c = codes[i]
                if c == 0:
                    color, bold = FG, False
                elif c == 1:
                    bold = True
                elif c == 38 and codes[i + 1 : i + 2] == [2]:
                    r, g, b = codes[i + 2 : i + 5]
                    color = (r, g, b)
                    i += 4
                elif c == 38 and codes[i + 1 : i + 2] == [5]:
                    color = _xterm256(codes[i + 2])
                    i += 2
                elif c == 39:
                    color = FG
                elif 30 <= c <= 37:
                    color = _BASIC[c - 30]
                elif 90 <= c <= 97:
                    color = _BASIC[c - 90 + 8]
                i += 1
        rows.append(row)
    return rows


def render(rows: list[list[Cell]], out: Path, columns: int | None = None) -> None:
    font = ImageFont.truetype(FONT, SIZE)
    bold = ImageFont.truetype(BOLD, SIZE)
    cw = round(font.getlength("M"))
    ch = SIZE + 6
    width = columns or max((len(r) for r in rows), default=1)
    img = Image.new("RGB", (PAD * 2 + cw * width, PAD * 2 + ch * len(rows)), BG)
    draw = ImageDraw.Draw(img)
    for y, row in enumerate(rows):
        x = 0
        for char, color, is_bold in row:
            face = bold if is_bold else font
            draw.text((PAD + x * cw, PAD + y * ch), char, fill=color, font=face)
            x += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    img.save(out)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    render(parse(Path(argv[0]).read_text("utf-8")), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
