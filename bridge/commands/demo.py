"""``agentlight demo``: the built-in PocketPaw simulator on a tour of every state.

A real local HTTP server speaks PocketPaw's status API; a real bridge reads it
and shows it on the terminal (or the devices of ``-c FILE``). The tour
(:mod:`bridge.simulator.tour`) also stops the server and refuses the key once,
so the bridge's own states appear too. It asks twice: a PocketPaw question
with options, and a Claude Code permission request (:class:`ClaudeDemo`, fed to
a ``hooks`` source in the process, no local API); a deck's keys or a pedal
answer them, the terminal line says where.

``--agp``: the simulated H Company AgP instead, its sessions listed in a temporary
``sessions_from`` directory (:func:`bridge.simulator.agp_serve.listing`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import secrets
import sys
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bridge.app import run_bridge
from bridge.infra.config import Config, load_config, parse_config
from bridge.infra.logsetup import setup_logging

__all__ = [
    "ClaudeDemo",
    "agp_source",
    "demo_config",
    "header",
    "main",
    "run_agp_demo",
    "run_demo",
    "run_tour",
    "tour_seconds",
]


def tour_seconds(speed: float) -> float:
    """How long one round of the tour takes at ``speed``."""
    from bridge.simulator import SimAgent
    from bridge.simulator.tour import Tour

    total = 0.0

    async def count(seconds: float) -> None:
        nonlocal total
        total += seconds

    class _Server:  # the tour only starts and stops it
        async def stop(self) -> None: ...
        async def start(self) -> None: ...
        def set_api_key(self, key: str | None) -> None: ...
        async def drop_streams(self) -> None: ...

    tour = Tour(SimAgent(), _Server(), speed=speed, sleep=count)  # type: ignore[arg-type]
    # Nothing in it ever waits (the sleeps only add up), so it runs to the end
    # at the first step, with or without an event loop.
    coro = tour.once()
    try:
        coro.send(None)
    except StopIteration:
        return total
    coro.close()
    raise RuntimeError("the tour waited on something real")


def header(url: str, seconds: float) -> str:
    where = url.removeprefix("http://")
    return (
        f"agentlight demo: simulated PocketPaw on {where}, every state in {seconds:.0f} s;"
        " Ctrl-C stops"
    )


class ClaudeDemo:
    """The demo's Claude Code session: a prompt, a tool, its permission request held for
    a device (through the hooks source, in the process), then the turn's end."""

    SESSION = "demo-claude-1"
    BASE: dict[str, Any] = {
        "session_id": SESSION,
        "cwd": "/home/you/deploy-tool",
        "permission_mode": "default",
    }
    TOOL: dict[str, Any] = {"tool_name": "Bash", "tool_input": {"command": "npm test"}}

    def __init__(self) -> None:
        self.engine: Any = None
        self._held: asyncio.Task[dict[str, Any]] | None = None

    def attach(self, engine: Any) -> None:
        self.engine = engine

    def _source(self) -> Any:
        if self.engine is None:
            return None
        return next((s for s in self.engine.sources if hasattr(s, "takes_hooks")), None)

    def begin(self) -> None:
        source = self._source()
        if source is None:
            return
        base = self.BASE
        prompt = {**base, "hook_event_name": "UserPromptSubmit", "prompt": "run the tests"}
        source.take("claude", prompt)
        source.take("claude", {**base, "hook_event_name": "PreToolUse", **self.TOOL})
        asked = {
            **base,
            **self.TOOL,
            "hook_event_name": "PermissionRequest",
            "permission_suggestions": [
                {"type": "addDirectories", "directories": [base["cwd"]], "destination": "session"}
            ],
        }
        self._held = asyncio.ensure_future(source.handle("claude", asked))

    async def end(self) -> None:
        source, held, self._held = self._source(), self._held, None
        if source is None or held is None:
            return
        base = self.BASE
        ran = {**base, "hook_event_name": "PostToolUse", **self.TOOL}
        if not held.done():
            # Nobody answered from a device: as if at the keyboard, the tool runs
            # (which lets the held request go with no decision).
            await source.handle("claude", ran)
            await held
        elif held.result().get("hookSpecificOutput", {}).get("decision", {}).get(
            "behavior"
        ) == "allow":
            await source.handle("claude", ran)
        await source.handle("claude", {**base, "hook_event_name": "Stop"})
        await source.handle("claude", {**base, "hook_event_name": "SessionEnd", "reason": "other"})


async def run_demo(args: argparse.Namespace, round_seconds: float) -> int:
    from bridge.simulator import SimAgent, SimServer
    from bridge.simulator.scenario import reply_to_chat
    from bridge.simulator.tour import DEMO_KEY, Tour, error_ttl_for

    ttl = error_ttl_for(args.speed)
    agent = SimAgent(error_ttl=ttl)
    # A short throttle (the real server's is 1 s): every step of the tour is seen.
    # No agent_start on the bus (its has no title): a new chat first shows from the status
    # stream, titled; everything after it comes by the bus.
    server = SimServer(
        agent, api_key=DEMO_KEY, debounce=0.2, bus_skip=frozenset({"agent_start"})
    )
    # An answer from a device starts a short run on that chat, as PocketPaw would.
    server.on_chat = lambda message: reply_to_chat(agent, message.session_key, 1.0)
    await server.start()
    try:
        source = {
            "type": "pocketpaw",
            "url": server.url,
            "api_key": DEMO_KEY,
            # Quick to notice the tour's outages and to recover from them.
            "reconnect_min": 0.2,
            "reconnect_max": 1.0,
            "auth_retry": 1.0,
            "error_ttl": ttl,
            # The event bus: the question and its options arrive only there. Its
            # agent_start carries no title, so the demo's server leaves it off the bus
            # (bus_skip): a new chat is never shown untitled.
            "events": "on",
        }
        config = demo_config(args, source)
        claude = ClaudeDemo()
        tour = Tour(agent, server, speed=args.speed, permission=claude)
        print(header(server.url, round_seconds), flush=True)
        return await run_tour(args, config, tour.run(), on_engine=claude.attach)
    finally:
        await server.stop()


def demo_config(args: argparse.Namespace, source: dict[str, Any]) -> Config:
    """``source`` feeding the terminal, or the devices and theme of ``-c FILE``; ``--record``."""
    # The file's own sources are not used: a file with only devices will do.
    base = load_config(args.config, sources=[source]) if args.config else None
    record = getattr(args, "record", None)
    extra = [{"type": "record", "name": "record", "path": record}] if record else []
    config = parse_config(
        {"sources": [source], "devices": [{"type": "terminal"}, *extra]}, file="<demo>"
    )
    if source.get("type") == "pocketpaw":
        # The demo's Claude Code session, fed in the process (ClaudeDemo). Built here:
        # in a config file a hooks source brings the [api] table, which needs aiohttp,
        # and the demo runs no API (a plain install has no aiohttp).
        from bridge.infra.config import SourceConfig
        from bridge.infra.validate import from_table
        from bridge.sources.hooks.options import Options as HooksOptions

        claude = {"transcripts": False, "show_done_for": 2.0}
        options = from_table(HooksOptions, claude, file="<demo>", key="sources[1]")
        config = dataclasses.replace(
            config, sources=(*config.sources, SourceConfig("hooks", "claude", options))
        )
    # No local API: a demo must not take the real bridge's port or discovery file.
    config = dataclasses.replace(config, api=None)
    if base is None:
        return config
    # The user's devices, theme and answering rules, fed by the simulator.
    return dataclasses.replace(
        config,
        devices=base.devices + config.devices[1:],
        theme=base.theme,
        on_exit=base.on_exit,
        answers=base.answers,
    )


async def run_tour(
    args: argparse.Namespace,
    config: Config,
    tour: Coroutine[Any, Any, Any],
    *,
    on_engine: Callable[[Any], None] | None = None,
) -> int:
    """The bridge on ``config`` while ``tour`` drives the simulator, ``--duration`` at most."""
    stop = asyncio.Event()
    if args.duration:
        asyncio.get_running_loop().call_later(args.duration, stop.set)
    task = asyncio.create_task(tour)
    try:
        return await run_bridge(config, stop, on_engine=on_engine)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def agp_source(url: str, key: str, directory: Path, speed: float) -> dict[str, Any]:
    """The ``[[sources]]`` table that watches the AgP simulator, timings scaled by ``speed``."""
    fast = speed > 1.0
    return {
        "type": "agp",
        "name": "agp",
        "url": url,
        "api_key": key,
        "sessions_from": str(directory),
        # Sped up, the docs' 2-5 s would miss whole states: insist on a shorter one.
        "interval": max(0.5, 2.0 / speed) if fast else 2.0,
        "allow_any_interval": fast,
        "show_done_for": 8.0 / speed,
        "show_interrupted_for": 10.0 / speed,
        "show_failed_for": 12.0 / speed,
    }


async def run_agp_demo(args: argparse.Namespace) -> int:
    """The demo with the simulated AgP as its source (devices and theme as ``run_demo``)."""
    from bridge.simulator.agp import AgpServer, SimAgp
    from bridge.simulator.agp_scenario import run_agp_scenario
    from bridge.simulator.agp_serve import listing

    key = secrets.token_urlsafe(16)
    agp = SimAgp()
    with tempfile.TemporaryDirectory(prefix="agentlight-agp-") as tmp:
        directory = Path(tmp)
        async with AgpServer(agp, api_key=key) as server:
            config = demo_config(args, agp_source(server.url, key, directory, args.speed))
            scenario = run_agp_scenario(agp, speed=args.speed, on_session=listing(directory))
            return await run_tour(args, config, scenario)


def main(args: argparse.Namespace) -> int:
    # The live line owns the terminal; only warnings unless asked.
    setup_logging(args.verbose, args.quiet or args.verbose == 0)
    if args.verbose == 0:
        # The tour's outages are staged: the line shows them, the log need not.
        logging.getLogger("agentlight.sources").setLevel(logging.CRITICAL)
    if getattr(args, "agp", False):
        return asyncio.run(run_agp_demo(args))
    round_seconds = tour_seconds(args.speed)
    try:
        return asyncio.run(run_demo(args, round_seconds))
    except OSError as err:
        print(f"agentlight: demo: cannot start the simulator: {err}", file=sys.stderr)
        return 1
