"""A real PocketPaw dashboard, driven by real bus events (run with PocketPaw's own Python).

``<pocketpaw venv>/bin/python benchmarks/pocketpaw_runner.py`` starts
``pocketpaw.dashboard:app`` under uvicorn on 127.0.0.1 (a free port), prints
``{"port": P}`` and then obeys one JSON command per stdin line, answering one JSON
line each:

- ``{"op": "start", "key": K}``: an ``agent_start`` for session K;
- ``{"op": "changes", "key": K, "count": N, "gap": [lo, hi], "seed": S}``: N
  ``tool_start`` events on K, a random gap apart, each named ``c<i>`` and stamped with
  ``time.monotonic_ns()`` just before it is published on PocketPaw's message bus —
  the same bus the agent loop publishes to, so the status API, its SSE stream and the
  event stream all see exactly what they would see from a real agent.

It imports nothing from agentlight: it runs in a throwaway venv with
``pip install pocketpaw==0.4.18``, never in the project's.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import sys
import time
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answer(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def main() -> None:
    import uvicorn
    from pocketpaw.bus import get_message_bus
    from pocketpaw.bus.events import SystemEvent

    port = _free_port()
    config = uvicorn.Config(
        "pocketpaw.dashboard:app", host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn has no started event to wait on
        if serving.done():
            raise SystemExit(f"uvicorn did not start: {serving.exception()!r}")
        await asyncio.sleep(0.05)
    bus = get_message_bus()

    async def publish(event_type: str, data: dict[str, Any]) -> None:
        await bus.publish_system(SystemEvent(event_type=event_type, data=data))

    _answer({"port": port})
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            cmd = json.loads(line)
            op = cmd.pop("op")
            if op == "start":
                await publish("agent_start", {"session_key": cmd["key"]})
                _answer({})
            elif op == "changes":
                rand = random.Random(cmd["seed"])
                lo, hi = cmd["gap"]
                changed: list[int] = []
                tags: list[str] = []
                for i in range(cmd["count"]):
                    await asyncio.sleep(rand.uniform(lo, hi))
                    tag = f"c{i}"
                    changed.append(time.monotonic_ns())
                    await publish(
                        "tool_start", {"name": tag, "params": {}, "session_key": cmd["key"]}
                    )
                    tags.append(tag)
                _answer({"changed": changed, "tags": tags})
            else:
                _answer({"error": f"unknown op {op!r}"})
    finally:
        server.should_exit = True
        await serving


if __name__ == "__main__":
    asyncio.run(main())
