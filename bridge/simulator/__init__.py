"""A built-in PocketPaw: a real local HTTP server speaking its agent status API.

Use it to demo agentlight without PocketPaw, and in tests to break the feed on purpose::

    agent = SimAgent()
    async with SimServer(agent, debounce=0.05) as server:
        agent.agent_start("websocket:abc", "Help")
        server.faults.append(Fault("reset", path=STREAM_PATH))
        ...

Only the stdlib and h11 are imported here (no httpx), so the CLI stays light.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.simulator.agent import SimAgent
from bridge.simulator.scenario import DEMO_TOOLS, reply_to_chat, run_scenario
from bridge.simulator.server import EVENTS_PATH, STATUS_PATH, STREAM_PATH, Fault, SimServer

__all__ = [
    "DEMO_TOOLS",
    "EVENTS_PATH",
    "STATUS_PATH",
    "STREAM_PATH",
    "Fault",
    "SimAgent",
    "SimServer",
    "run_scenario",
    "serve",
]


async def serve(
    port: int,
    *,
    host: str = "127.0.0.1",
    speed: float = 1.0,
    api_key: str | None = None,
    debounce: float = 1.0,
    keepalive: float = 30.0,
    ready: Callable[[SimServer], None] | None = None,
) -> None:
    """Run the simulator with the demo scenario until cancelled, then stop cleanly.

    ``speed`` also shortens the 30 s error drop, so a sped-up demo stays in proportion.
    ``ready`` is called once the server listens (``port=0`` picks a free port; read it
    from ``server.port``).
    """
    agent = SimAgent(error_ttl=30.0 / speed if speed > 0 else 30.0)
    server = SimServer(
        agent, host=host, port=port, api_key=api_key, debounce=debounce, keepalive=keepalive
    )
    # A device's answer (or stop) to a chat starts a short run there, as an agent would.
    server.on_chat = lambda message: reply_to_chat(agent, message.session_key)
    async with server:
        if ready is not None:
            ready(server)
        await run_scenario(agent, speed=speed, loop=True)
