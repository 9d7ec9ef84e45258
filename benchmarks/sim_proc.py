"""The benchmark's PocketPaw: a SimServer in a process of its own.

``python -m benchmarks.sim_proc driven`` prints ``{"port": P}`` and then obeys one JSON
command per stdin line, answering one JSON line each. Every status frame is written
with ``SimServer.send_frame`` and stamped with ``time.monotonic_ns()`` just before the
write, every event-bus event (``busy``) just before it is published; CLOCK_MONOTONIC
is one clock for every process on Linux, so the bridge's process can subtract its own
stamps from these.

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
_BUSY_KEY = "websocket:busy-0"
# One tool call of a busy agent as the bus carries it: model turns (trace spans and
# their token counts), then the previous tool's result and the next tool's start; a
# tool runs for the other nine events. The trace names are illustrative: the bridge
# treats every ``trace_*`` alike.
_BUSY_CYCLE = (
    "trace_span_start",
    "token_usage",
    "trace_span_end",
    "trace_span_start",
    "token_usage",
    "trace_span_end",
    "trace_span_start",
    "trace_span_end",
    "tool_result",
    "tool_start",
)
_TOOL_OUTPUT = "total 48\n" + "-rw-r--r-- 1 agent agent  1234 Nov 25 19:03 notes.md\n" * 8


def _trace(kind: str, key: str, call: int, seq: int) -> dict[str, Any]:
    """A trace event's data, about the size of a real span (ids, names, attributes)."""
    data: dict[str, Any] = {
        "session_key": key,
        "trace_id": f"{call:032x}",
        "span_id": f"{seq:016x}",
        "name": "llm.turn" if seq % 3 else "tool.call",
        "attributes": {"model": "claude-sonnet-4", "backend": "claude_agent_sdk", "step": call},
    }
    if kind.endswith("_end"):
        data["duration_ms"] = 3.2
        data["status"] = "ok"
    return data


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

    async def busy(self, rate: float, seconds: float, tag: str) -> dict[str, Any]:
        """A busy agent on the event bus: ``rate`` events a second for ``seconds``.

        Trace, token and tool events (:data:`_BUSY_CYCLE`, ten to a tool call), each
        published on the agent's bus, which the server writes as one chunk, one frame,
        as PocketPaw does. Every ``tool_start`` names its tool ``{tag}{n}``; the last
        event is one. Each event is stamped just before it is published, so a latency
        counts the server's own queue and write too. On an absolute schedule: a late
        event does not push the later ones.
        """
        agent, key = self.agent, _BUSY_KEY
        started = 0  # an agent_start published here, counted with the rest
        if key not in {s["session_key"] for s in agent.snapshot()["sessions"]}:
            agent.agent_start(key, "Busy agent")
            started = 1
            await asyncio.sleep(0.2)  # the bridge has the session before the clock starts
        calls = max(1, round(rate * seconds / len(_BUSY_CYCLE)))
        events = [(call, kind) for call in range(calls) for kind in _BUSY_CYCLE]
        stamps: list[int] = []  # of the tool_start events
        tags: list[str] = []
        late = 0.0
        start = time.monotonic() + 0.05
        for i, (call, kind) in enumerate(events):
            due = start + i / rate
            # Even when late, a pause: the server's writer runs between two events.
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            late = max(late, time.monotonic() - due)
            now = time.monotonic_ns()
            if kind == "tool_start":
                stamps.append(now)
                tags.append(f"{tag}{call}")
                agent.tool_start(key, f"{tag}{call}")
            elif kind == "tool_result":
                agent.tool_result(key, name=f"{tag}{call - 1}", result=_TOOL_OUTPUT)
            elif kind == "token_usage":
                agent.token_usage(key, 1200 + call, 85)
            else:
                agent.publish(kind, _trace(kind, key, call, i))
        return {
            "stamps": stamps,
            "tags": tags,
            "events": started + len(events),
            "seconds": time.monotonic() - start,
            "late_ms": late * 1000,
        }

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
        if op == "busy":
            return await self.busy(**cmd)
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
