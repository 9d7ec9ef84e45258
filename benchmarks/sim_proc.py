"""The benchmark's PocketPaw: a SimServer in a process of its own.

``python -m benchmarks.sim_proc driven`` prints ``{"port": P}`` and then obeys one JSON
command per stdin line, answering one JSON line each. Every frame is written with
``SimServer.send_frame`` and stamped with ``time.monotonic_ns()`` just before the
write; CLOCK_MONOTONIC is one clock for every process on Linux, so the bridge's
process can subtract its own stamps from these.

Driven mode also serves a second agent with the real server's timings (1 s throttle,
30 s keepalive) on ``real_port``; ``changes`` applies each change to both agents, so a
bridge on that one shows what the throttle costs end to end.

``python -m benchmarks.sim_proc idle`` is an idle agent with the real server's timings
(1 s throttle, 30 s keepalive) until stdin closes, for the cost runs.

Its own process, so the bridge's event loop shares nothing with the server's.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from typing import Any

from benchmarks import payloads
from bridge.simulator import SimAgent, SimServer

# After the agent's first change the stream loop sleeps this long and so never writes
# again: in driven mode every frame goes through send_frame, where it is stamped.
_NEVER = 1e6
_CHANGE_KEY = "websocket:bench-0"


async def _read_line() -> str:
    # A thread, not a stdin pipe reader: commands are rare and this keeps it simple.
    return await asyncio.to_thread(sys.stdin.readline)


def _answer(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


class Driven:
    def __init__(self, server: SimServer, real: SimServer) -> None:
        self.server = server
        self.agent = server.agent
        self.real = real

    async def wait_streams(self, n: int, within: float) -> dict[str, Any]:
        deadline = time.monotonic() + within
        servers = (self.server, self.real)
        # SimServer has no "stream opened" event to wait on; this runs once, before any timing.
        while any(s.open_streams < n for s in servers) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        return {"open_streams": [s.open_streams for s in servers]}

    async def series(self, sessions: int, count: int, interval: float, tag: str) -> dict[str, Any]:
        """``count`` frames of ``sessions`` sessions, one every ``interval`` s."""
        stamps: list[int] = []
        start = time.monotonic() + interval
        for i in range(count):
            body = payloads.text(sessions, f"{tag}{i}")  # built before the stamp
            # An absolute schedule, so a slow write does not push every later frame.
            await asyncio.sleep(max(0.0, start + i * interval - time.monotonic()))
            stamps.append(time.monotonic_ns())
            await self.server.send_frame(body)
        return {"stamps": stamps}

    async def burst(self, sessions: int, count: int, tag: str) -> dict[str, Any]:
        """``count`` frames written back to back, each handed to the socket as soon as
        the previous one was (asyncio's drain is the only pause)."""
        bodies = [payloads.text(sessions, f"{tag}{i}") for i in range(count)]
        stamps: list[int] = []
        for body in bodies:
            stamps.append(time.monotonic_ns())
            await self.server.send_frame(body)
        return {"stamps": stamps}

    async def changes(self, count: int, gap: list[float], seed: int) -> dict[str, Any]:
        """Agent changes a REST poller can see too: each one is applied to the agent
        (what ``GET`` answers) and written to the stream at the same instant."""
        rand = random.Random(seed)
        agents = (self.agent, self.real.agent)
        for agent in agents:
            if _CHANGE_KEY not in {s["session_key"] for s in agent.snapshot()["sessions"]}:
                agent.agent_start(_CHANGE_KEY, "Benchmark session")
        changed: list[int] = []
        stamps: list[int] = []
        tags: list[str] = []
        for i in range(count):
            await asyncio.sleep(rand.uniform(gap[0], gap[1]))
            tag = f"c{i}"
            changed.append(time.monotonic_ns())
            for agent in agents:
                agent.tool_start(_CHANGE_KEY, tag)
            body = json.dumps(self.agent.snapshot())
            stamps.append(time.monotonic_ns())
            await self.server.send_frame(body)
            tags.append(tag)
        return {"changed": changed, "stamps": stamps, "tags": tags}

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        op = cmd.pop("op")
        if op == "wait_streams":
            return await self.wait_streams(**cmd)
        if op == "series":
            return await self.series(**cmd)
        if op == "burst":
            return await self.burst(**cmd)
        if op == "changes":
            return await self.changes(**cmd)
        if op == "requests":
            return {"requests": dict(self.server.requests)}
        raise ValueError(f"unknown op {op!r}")


async def driven() -> None:
    async with (
        SimServer(SimAgent(), debounce=_NEVER, keepalive=_NEVER) as server,
        SimServer(SimAgent()) as real,
    ):
        _answer({"port": server.port, "real_port": real.port})
        runner = Driven(server, real)
        while line := await _read_line():
            _answer(await runner.handle(json.loads(line)))


async def idle() -> None:
    async with SimServer(SimAgent()) as server:
        _answer({"port": server.port})
        while await _read_line():
            pass


def main(argv: list[str]) -> None:
    mode = argv[0] if argv else "driven"
    asyncio.run(driven() if mode == "driven" else idle())


if __name__ == "__main__":
    main(sys.argv[1:])
