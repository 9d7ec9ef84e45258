"""``agentlight show STATE``: one look on the configured devices until Ctrl-C.

To try a theme or a device without an agent (busylight's ``on``/``blink``):
the devices of ``-c FILE`` (default: this terminal) show the look the theme
gives STATE, from a status made up here. ``off`` holds them dark.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time

from bridge.app import build_devices
from bridge.commands.common import UsageError
from bridge.infra.config import Config, default_config, load_config
from bridge.infra.logsetup import setup_logging
from bridge.infra.signals import SIGNALS
from bridge.pipeline.looks import DARK
from bridge.pipeline.model import ConnectionState, GlobalState, Session, SessionState, SourceStatus

__all__ = ["dark_config", "made_up_status", "main", "show"]

_SOURCE = "show"


def made_up_status(state: str, tool: str | None = None, title: str | None = None) -> SourceStatus:
    """A source status whose look is ``state``'s (a global or a session state)."""
    if state in ("connecting", "disconnected", "auth_failed"):
        return SourceStatus(_SOURCE, ConnectionState(state))
    if state in GlobalState.__members__.values():
        return SourceStatus.connected(_SOURCE, state=GlobalState(state))
    session_state = SessionState(state)
    session = Session(
        key="show:1",
        id="1",
        channel="show",
        state=session_state,
        title=title,
        tool=tool if session_state is SessionState.TOOL_RUNNING else None,
        since=time.time(),
        error="shown by agentlight show" if session_state is SessionState.ERROR else None,
        source=_SOURCE,
        raw_state=state,
    )
    return SourceStatus.connected(_SOURCE, (session,))  # degraded when it is an error


def dark_config(config: Config) -> Config:
    """``config`` whose idle look is dark: what ``show off`` shows, from the first frame."""
    theme = config.theme
    looks = {**theme.global_looks, GlobalState.IDLE: DARK}
    return dataclasses.replace(config, theme=dataclasses.replace(theme, global_looks=looks))


async def show(config: Config, args: argparse.Namespace, stop: asyncio.Event) -> int:
    """Show ``args.state`` on the devices of ``config`` until ``stop`` (or ``--duration``).

    Every state, ``off`` too, is a published status from the first frame on: a
    device never shows the Connecting look that an engine without status has.
    """
    state = args.state
    if state == "off":
        config, state = dark_config(config), "idle"
    engine = build_devices(config)  # no sources: nothing of theirs is shown
    engine.publish(made_up_status(state, args.tool, args.title))
    if args.duration:
        asyncio.get_running_loop().call_later(args.duration, stop.set)
    await engine.run([], stop)
    return 0


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config) if args.config else default_config()
    setup_logging(args.verbose, args.quiet or args.verbose == 0)
    if args.tool and args.state != "tool_running":
        raise UsageError(f"--tool goes with tool_running, not {args.state}")
    return asyncio.run(SIGNALS.until_stopped(lambda stop: show(config, args, stop), or_else=0))
