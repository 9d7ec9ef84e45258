"""``agentlight show STATE``: one look on the configured devices until Ctrl-C.

To try a theme or a device without an agent (busylight's ``on``/``blink``):
the devices of ``-c FILE`` (default: this terminal) show the look the theme
gives STATE, from a status made up here. ``off`` leaves them dark.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bridge.app import build_devices
from bridge.commands.common import UsageError
from bridge.infra.config import Config, default_config, load_config
from bridge.infra.logsetup import setup_logging
from bridge.infra.signals import SIGNALS
from bridge.pipeline.model import (
    ConnectionState,
    GlobalState,
    Session,
    SessionState,
    Snapshot,
    SourceStatus,
)

__all__ = ["made_up_status", "main", "show"]

_SOURCE = "show"


def made_up_status(state: str, tool: str | None = None, title: str | None = None) -> SourceStatus:
    """A source status whose look is ``state``'s (a global or a session state)."""
    if state in ("connecting", "disconnected", "auth_failed"):
        return SourceStatus(_SOURCE, ConnectionState(state))
    if state in GlobalState.__members__.values():
        return SourceStatus(_SOURCE, ConnectionState.CONNECTED, Snapshot(GlobalState(state)))
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
    overall = GlobalState.DEGRADED if session_state is SessionState.ERROR else GlobalState.ACTIVE
    return SourceStatus(_SOURCE, ConnectionState.CONNECTED, Snapshot(overall, (session,), 1))


async def show(config: Config, args: argparse.Namespace, stop: asyncio.Event) -> int:
    engine = build_devices(config)  # no sources: nothing of theirs is shown
    if args.state != "off":
        engine.publish(made_up_status(args.state, args.tool, args.title))
    if args.duration:
        asyncio.get_running_loop().call_later(args.duration, stop.set)
    runner = asyncio.create_task(engine.run([], stop))
    if args.state == "off":
        # Dark is what every device is left in when the engine stops.
        ready = asyncio.create_task(engine.ready.wait())
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({ready, waiter}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        waiter.cancel()
        stop.set()
    await runner
    return 0


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config) if args.config else default_config()
    setup_logging(args.verbose, args.quiet or args.verbose == 0)
    if args.tool and args.state != "tool_running":
        raise UsageError(f"--tool goes with tool_running, not {args.state}")
    return asyncio.run(SIGNALS.until_stopped(lambda stop: show(config, args, stop), or_else=0))
