"""The AgP simulator at work: serving its looping scenario, listing its sessions.

``agentlight simulate --agp`` serves it (:func:`serve_agp`); the demo
(``agentlight demo --agp``) lists the scenario's sessions with :func:`listing` in a
``sessions_from`` directory, so the bridge picks each one up as it starts, the way
a script that launches AgP tasks would tell a running bridge about them.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bridge.simulator.agp import AgpServer, SimAgp
from bridge.simulator.agp_scenario import run_agp_scenario

__all__ = ["listing", "serve_agp"]


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
