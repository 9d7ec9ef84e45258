"""``agentlight preview``: one PNG of a whole Stream Deck per state, no hardware needed.

Each picture is the deck as it would look: keys laid out in the device's rows
and columns, drawn by the same layout and renderer the driver uses, with the
config's theme, plus the Neo's info screen or the Plus's touch strip. The
states are built in: idle, working, waiting for you, an error, more sessions
than keys (paging), a pressed key's details, and the bridge's own states
(connecting, no agent, auth failed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.pipeline.mapping import Mapper
from bridge.pipeline.model import (
    AgentStatus,
    ConnectionState,
    GlobalState,
    Session,
    SessionState,
    Snapshot,
    SourceStatus,
    TokenUsage,
)
from bridge.pipeline.theme import Theme
from devices.streamdeck.layout import Geometry, LayoutOptions, Placed, View, layout
from devices.streamdeck.render import render_key, render_strip

if TYPE_CHECKING:
    from PIL import Image

_SOURCE = "pocketpaw"


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


def _session(
    key: str,
    state: SessionState,
    now: float,
    ago: float,
    *,
    title: str | None = None,
    tool: str | None = None,
    tokens: tuple[int, int] | None = None,
    error: str | None = None,
) -> Session:
    channel, _, ident = key.partition(":")
    return Session(
        key=key,
        id=ident,
        channel=channel,
        state=state,
        title=title,
        tool=tool,
        since=now - ago,
        tokens=TokenUsage(*tokens) if tokens else None,
        error=error,
        source=_SOURCE,
        raw_state=state.value,
    )


def _status(
    sessions: list[Session],
    *,
    connection: ConnectionState = ConnectionState.CONNECTED,
    detail: str | None = None,
    limit: int = 8,
) -> AgentStatus:
    if connection is not ConnectionState.CONNECTED:
        return AgentStatus.fold((SourceStatus(_SOURCE, connection, None, detail),))
    state = GlobalState.ACTIVE if sessions else GlobalState.IDLE
    if any(s.state is SessionState.ERROR for s in sessions):
        state = GlobalState.DEGRADED
    snap = Snapshot(state, tuple(sessions), len(sessions), limit)
    return AgentStatus.fold((SourceStatus(_SOURCE, connection, snap),))


def scenarios(now: float) -> dict[str, tuple[AgentStatus, str | None]]:
    """Named statuses to preview, each with the session whose details are open."""
    S = SessionState
    working = [
        _session("websocket:a1", S.THINKING, now, 12, title="Refactor the parser",
                 tokens=(12_400, 3_100)),
        _session("telegram:b2", S.TOOL_RUNNING, now, 75, title="Deploy staging", tool="bash",
                 tokens=(48_000, 9_000)),
        _session("discord:c3", S.STREAMING, now, 4, title="Weekly summary", tokens=(950, 420)),
    ]  # fmt: skip
    waiting = [
        *working[:2],
        _session("discord:c3", S.WAITING_FOR_USER, now, 31, title="Delete 3 old branches?"),
    ]
    error = [
        *working[:2],
        _session("cli:d4", S.ERROR, now, 140, title="Nightly report",
                 error="Rate limit exceeded (429)"),
    ]  # fmt: skip
    many = [
        _session(f"websocket:s{i:02d}", state, now, 10 + 7 * i, title=f"Task {i + 1}")
        for i, state in enumerate(
            [S.THINKING, S.TOOL_RUNNING, S.STREAMING, S.THINKING, S.THINKING] * 4
        )
    ]
    many[17] = _session("slack:s17", S.WAITING_FOR_USER, now, 20, title="Approve the deploy?")
    return {
        "idle": (_status([]), None),
        "working": (_status(working), None),
        "waiting": (_status(waiting), None),
        "error": (_status(error), None),
        "paging": (_status(many, limit=20), None),
        "details": (_status(error), "cli:d4"),
        "connecting": (_status([], connection=ConnectionState.CONNECTING), None),
        "disconnected": (
            _status([], connection=ConnectionState.DISCONNECTED, detail="connection refused"),
            None,
        ),
        "auth_failed": (
            _status([], connection=ConnectionState.AUTH_FAILED, detail="token rejected (401)"),
            None,
        ),
    }


def deck_view(
    shape: DeckShape,
    status: AgentStatus,
    theme: Theme,
    now: float,
    *,
    details: str | None = None,
    options: LayoutOptions = LayoutOptions(),  # noqa: B008 - frozen value
) -> View:
    """The layout the driver would draw for ``status`` (slots in session order)."""
    mapped = Mapper(theme).map(status, time.monotonic())
    placed = [Placed(i, m.session, m.look) for i, m in enumerate(mapped.sessions)]
    ref = next((p.session.ref for p in placed if p.session.key == details), None)
    return layout(
        Geometry(shape.keys, shape.cols, shape.rows),
        status,
        mapped.global_look,
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


def write_previews(
    out: Path,
    theme: Theme,
    decks: list[tuple[str, str, LayoutOptions]],
    *,
    now: float | None = None,
    zoom: int = 2,
    on_file: Callable[[Path], Any] | None = None,
) -> list[Path]:
    """One PNG per (deck, state) in ``out``: ``<deck>-<state>.png``."""
    now = time.time() if now is None else now
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, model, options in decks:
        shape = deck_shape(model)
        if not shape.visual:
            continue  # a Pedal has nothing to show
        for state, (status, details) in scenarios(now).items():
            view = deck_view(shape, status, theme, now, details=details, options=options)
            path = out / f"{name}-{state}.png"
            compose(shape, view, zoom=zoom).save(path)
            written.append(path)
            if on_file is not None:
                on_file(path)
    return written




def run_preview(args: Any) -> int:
    """``agentlight preview``: PNGs of every Stream Deck in the config, one per state."""
    import sys

    from bridge.infra.config import load_config
    from bridge.pipeline.theme import default_theme

    theme = default_theme()
    decks: list[tuple[str, str, LayoutOptions]] = []
    if args.config:
        config = load_config(args.config)
        theme = config.theme
        for device in config.devices:
            if device.type != "streamdeck":
                continue
            opts = device.options
            model = args.model or opts.dummy_model
            decks.append((device.name, model, LayoutOptions(opts.global_key, tuple(opts.fields))))
    if not decks:
        decks.append(("streamdeck", args.model or "mk2", LayoutOptions()))
    try:
        import PIL  # noqa: F401
        import StreamDeck  # noqa: F401
    except ImportError:
        print(
            "agentlight: preview draws with the streamdeck extra: "
            "pip install 'agentlight[streamdeck]'",
            file=sys.stderr,
        )
        return 2
    written = write_previews(Path(args.out), theme, decks, zoom=args.zoom)
    for path in written:
        print(path)
    if not written:
        print("agentlight: nothing to preview (a Pedal has no keys to draw)", file=sys.stderr)
        return 1
    return 0

__all__ = [
    "DeckShape",
    "compose",
    "deck_shape",
    "deck_view",
    "run_preview",
    "scenarios",
    "write_previews",
]
