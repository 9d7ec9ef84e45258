"""``agentlight demo --agp`` and ``agentlight simulate --agp``: the AgP simulator at work.

The demo lists the scenario's sessions in a temporary ``sessions_from`` directory,
so the bridge picks each one up as it starts, the way a script that launches AgP
tasks would tell a running bridge about them.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bridge.simulator.agp import AgpServer, SimAgp
from bridge.simulator.agp_scenario import run_agp_scenario

RunBridge = Callable[..., Awaitable[int]]


def listing(directory: Path) -> Callable[[str, bool], None]:
    """``on_session`` for the scenario: a file per session in ``directory``."""

    def on_session(session_id: str, started: bool) -> None:
        path = directory / session_id
        if started:
            path.touch()
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    return on_session


def agp_source(url: str, key: str, directory: Path, speed: float) -> dict[str, Any]:
    """The ``[[sources]]`` table that watches the simulator, timings scaled by ``speed``."""
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


async def run_agp_demo(args: argparse.Namespace, run_bridge: RunBridge) -> int:
    """The demo with the simulated AgP as its source (devices and theme as ``run_demo``)."""
    from bridge.demo import demo_config, run_tour

    key = secrets.token_urlsafe(16)
    agp = SimAgp()
    with tempfile.TemporaryDirectory(prefix="agentlight-agp-") as tmp:
        directory = Path(tmp)
        async with AgpServer(agp, api_key=key) as server:
            config = demo_config(args, agp_source(server.url, key, directory, args.speed))
            scenario = run_agp_scenario(agp, speed=args.speed, on_session=listing(directory))
            return await run_tour(args, config, scenario, run_bridge)


async def serve_agp(
    port: int,
    *,
    speed: float = 1.0,
    api_key: str | None = None,
    sessions_dir: str | None = None,
    ready: object = None,
) -> None:
    """Serve the simulated AgP with the looping scenario until cancelled.

    ``ready`` is accepted for the PocketPaw ``serve``'s signature and not used: this
    prints its own how-to-watch message.
    """
    agp = SimAgp()
    with contextlib.ExitStack() as stack:
        directory = _sessions_dir(sessions_dir, stack)
        async with AgpServer(agp, port=port, api_key=api_key) as server:
            key_hint = "the --api-key you gave" if api_key else "any non-empty key"
            print(
                f"simulated AgP status API on {server.url}\n"
                f"session IDs appear as files in {directory}; watch them with\n"
                f'  [[sources]]\n  type = "agp"\n  url = "{server.url}"\n'
                f'  sessions_from = "{directory}"\n  api_key = "..."  # {key_hint}',
                file=sys.stderr,
                flush=True,
            )
            await run_agp_scenario(agp, speed=speed, on_session=listing(directory))


def _sessions_dir(path: str | None, stack: contextlib.ExitStack) -> Path:
    if not path:
        return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="agp-ids-")))
    directory = Path(path).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    return directory
