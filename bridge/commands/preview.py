"""``agentlight preview``: one PNG of a whole Stream Deck per state, no hardware needed.

Each picture is the deck as it would look, with the config's theme, drawn by
:mod:`devices.streamdeck.preview` (the driver's own layout and renderer). The
states are built in: idle, working, waiting for you, an error, more sessions
than keys (paging), a pressed key's details, and the bridge's own states
(connecting, no agent, auth failed).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bridge.commands.common import UsageError
from bridge.infra.config import load_config
from bridge.pipeline.mapping import Mapper
from bridge.pipeline.model import (
    AgentStatus,
    ConnectionState,
    Session,
    SessionState,
    SourceStatus,
    TokenUsage,
)
from bridge.pipeline.theme import Theme, default_theme
from devices.streamdeck.layout import LayoutOptions
from devices.streamdeck.preview import compose, deck_shape, deck_view

__all__ = ["main", "scenarios", "write_previews"]

_SOURCE = "pocketpaw"


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
    return AgentStatus.fold((SourceStatus.connected(_SOURCE, sessions, limit=limit),))


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
            mapped = Mapper(theme).map(status, time.monotonic())
            looks = [(m.session, m.look) for m in mapped.sessions]
            view = deck_view(
                shape, status, mapped.global_look, looks, now, details=details, options=options
            )
            path = out / f"{name}-{state}.png"
            compose(shape, view, zoom=zoom).save(path)
            written.append(path)
            if on_file is not None:
                on_file(path)
    return written


def _stop_if_asked(path: Path) -> None:
    """Ctrl-C between two pictures ends the command (exit 0), not after all of them."""
    from bridge.infra.signals import SIGNALS

    if SIGNALS.stop_requested:
        raise KeyboardInterrupt


def main(args: argparse.Namespace) -> int:
    """PNGs of every Stream Deck in the config (default: one mk2), one per state."""
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
    from devices.streamdeck.render import freetype_problem

    problem = freetype_problem()
    if problem is not None:
        print(f"agentlight: preview: {problem}", file=sys.stderr)
        return 1
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"--out {args.out!r} is a file; give a directory") from None
    except OSError as err:
        raise UsageError(f"--out {args.out!r}: cannot make it: {err.strerror or err}") from None
    try:
        written = write_previews(out, theme, decks, zoom=args.zoom, on_file=_stop_if_asked)
    except OSError as err:
        print(f"agentlight: preview: cannot write {err.filename or out}: {err.strerror or err}",
              file=sys.stderr)  # fmt: skip
        return 1
    for path in written:
        print(path)
    if not written:
        print("agentlight: nothing to preview (a Pedal has no keys to draw)", file=sys.stderr)
        return 1
    return 0
