"""A whole Stream Deck drawn as one picture, no hardware needed (``agentlight preview``).

The keys laid out in the device's rows and columns, drawn by the same layout and
renderer the driver uses, plus the Neo's info screen or the Plus's touch strip.
What to draw (the made-up states, the theme's looks) is the command's
(:mod:`bridge.commands.preview`): this package reads no config or theme.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bridge.pipeline.looks import Look
from bridge.pipeline.model import AgentStatus, Session
from devices.streamdeck.layout import Geometry, LayoutOptions, Placed, View, layout
from devices.streamdeck.render import render_key, render_strip

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True, slots=True)
class DeckShape:
    """A model's keys and screen, read from the streamdeck library's device class."""

    name: str
    keys: int
    cols: int
    rows: int
    key_size: tuple[int, int]
    screen_size: tuple[int, int]
    visual: bool


def deck_shape(model: str) -> DeckShape:
    """The shape of dummy model ``model`` (see ``devices.streamdeck.dummy.MODEL_PIDS``)."""
    from devices.streamdeck.dummy import dummy_deck

    deck = dummy_deck(model, "PREVIEW")
    screen = (0, 0)
    if deck.SCREEN_PIXEL_WIDTH:
        screen = tuple(deck.screen_image_format()["size"])
    elif deck.TOUCHSCREEN_PIXEL_WIDTH:
        screen = tuple(deck.touchscreen_image_format()["size"])
    rows, cols = deck.key_layout()
    return DeckShape(
        deck.deck_type(),
        deck.key_count(),
        cols,
        rows,
        tuple(deck.key_image_format()["size"]),
        screen,
        bool(deck.is_visual()),
    )


def deck_view(
    shape: DeckShape,
    status: AgentStatus,
    global_look: Look,
    sessions: Sequence[tuple[Session, Look]],
    now: float,
    *,
    details: str | None = None,
    options: LayoutOptions = LayoutOptions(),  # noqa: B008 - frozen value
) -> View:
    """The layout the driver would draw for ``status``: ``sessions`` with their looks,
    in slot order, and the details of the session keyed ``details`` open."""
    placed = [Placed(i, session, look) for i, (session, look) in enumerate(sessions)]
    ref = next((p.session.ref for p in placed if p.session.key == details), None)
    return layout(
        Geometry(shape.keys, shape.cols, shape.rows),
        status,
        global_look,
        placed,
        now,
        details=ref,
        options=options,
        wide=shape.screen_size != (0, 0),
    )


def compose(shape: DeckShape, view: View, *, zoom: int = 2) -> Image.Image:
    """The whole deck as one picture: keys in rows and columns, the screen below."""
    from PIL import Image, ImageDraw

    w, h = shape.key_size
    gap = max(8, round(w * 0.22))
    margin = gap
    sw, sh = shape.screen_size
    keys_w = shape.cols * w + (shape.cols - 1) * gap
    width = max(keys_w, sw) + 2 * margin
    height = shape.rows * h + (shape.rows - 1) * gap + 2 * margin + (sh + gap if sh else 0)
    deck = Image.new("RGB", (width, height), (28, 28, 30))
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, w - 1, h - 1), radius=max(4, w // 9), fill=255)
    x0 = (width - keys_w) // 2
    for key, face in enumerate(view.faces):
        row, col = divmod(key, shape.cols)
        x, y = x0 + col * (w + gap), margin + row * (h + gap)
        deck.paste(render_key(face, (w, h)), (x, y), mask)
    if view.strip is not None and sw:
        y = margin + shape.rows * (h + gap)
        deck.paste(render_strip(view.strip, (sw, sh)), ((width - sw) // 2, y))
    if zoom != 1:
        deck = deck.resize((width * zoom, height * zoom), Image.Resampling.NEAREST)
    return deck


__all__ = ["DeckShape", "compose", "deck_shape", "deck_view"]
