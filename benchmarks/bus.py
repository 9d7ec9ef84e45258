"""The worst burst a real PocketPaw sends: its event bus under a busy agent.

PocketPaw's status stream sends at most one snapshot a second (its 1 s throttle);
its event bus (``GET /api/v1/events/stream``) sends every event as it happens, each
written as its own HTTP chunk, one SSE frame. A busy agent's trace, token and tool
events at 300 a second for 10 s (``benchmarks.sim_proc``'s ``busy``: ten events to a
tool call, the last event a ``tool_start``) are what the bridge must keep up with:

- every event read (none lost: the bus follower's count against the server's);
- the last one shown within 20 ms of its write (budget), so the burst leaves no
  backlog behind it; the tool starts in between are shown too (p50 / p99 / max).

The server runs in its own process; the bridge (a real PocketPawSource with
``events = "on"`` feeding a real Engine and a stamping driver) in this one, whose
CPU time over the burst is the bridge's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.latency import MS, Bridge, ServerProcess, _latencies
from benchmarks.report import Figure, percentile

RATE = 300.0  # events a second
SECONDS = 10.0
BUDGET_MS = 20.0  # the last event shown this long after its write, at most


async def run(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    runs = 1 if quick else 3
    server = await ServerProcess.start()
    bridge = Bridge(server.url, events="on")
    details: dict[str, Any] = {"rate": RATE, "seconds": SECONDS, "runs": []}
    try:
        deadline = time.monotonic() + 10
        while not (bridge.source.events_live and bridge.source.status is not None):
            if time.monotonic() > deadline:
                raise RuntimeError("the bridge never followed the event bus")
            await asyncio.sleep(0.01)
        for n in range(runs):
            details["runs"].append(await _once(server, bridge, f"b{n}-"))
    finally:
        await bridge.close()
        await server.close()
    return _figures(details), details


async def _once(server: ServerProcess, bridge: Bridge, tag: str) -> dict[str, Any]:
    source, driver = bridge.source, bridge.driver
    read0, cpu0 = source.events_read, time.process_time()
    answer = await server.call("busy", rate=RATE, seconds=SECONDS, tag=tag)
    tags, stamps = answer["tags"], answer["stamps"]
    shown_last = await driver.wait_seen(tags[-1], 5.0)
    cpu = time.process_time() - cpu0
    tools, missed = _latencies(stamps, tags, driver.seen)
    return {
        "events": answer["events"],
        "read": source.events_read - read0,
        "last_ms": (driver.seen[tags[-1]] - stamps[-1]) / MS if shown_last else None,
        "tool_ms": tools,
        "tools_not_shown": missed,
        "server_seconds": answer["seconds"],
        "server_late_ms": answer["late_ms"],
        "cpu_percent": cpu / answer["seconds"] * 100,
    }


def _figures(details: dict[str, Any]) -> list[Figure]:
    runs: list[dict[str, Any]] = details["runs"]
    lasts = [r["last_ms"] for r in runs]
    worst = None if None in lasts else max(lasts)
    lost = sum(r["events"] - r["read"] for r in runs)
    events = sum(r["events"] for r in runs)
    tools = [ms for r in runs for ms in r["tool_ms"]]
    not_shown = sum(r["tools_not_shown"] for r in runs)
    label = f"event bus, busy agent, {RATE:g} events/s for {SECONDS:g} s"
    repeats = f" (worst of {len(runs)})" if len(runs) > 1 else ""
    return [
        Figure(
            "burst.last_latency",
            f"{label}: last event shown{repeats}",
            worst,
            "ms",
            BUDGET_MS,
            note="after its write; runs: "
            + ", ".join("not shown" if v is None else f"{v:.1f}" for v in lasts)
            + " ms",
        ),
        Figure(
            "burst.lost",
            f"{label}: events not read",
            lost,
            "",
            0.0,
            note=f"{events:,} written, each its own chunk",
        ),
        Figure(
            "burst.tool.p50",
            f"{label}: tool start → shown, p50",
            percentile(tools, 50),
            "ms",
            note=f"n={len(tools)}, {not_shown} not shown",
        ),
        Figure("burst.tool.p99", f"{label}: tool start → shown, p99", percentile(tools, 99), "ms"),
        Figure(
            "burst.tool.max", f"{label}: tool start → shown, max", max(tools, default=None), "ms"
        ),
        Figure(
            "burst.cpu",
            f"{label}: bridge CPU",
            max(r["cpu_percent"] for r in runs),
            "%",
            note="of a core, this process (source, engine, driver), worst run",
        ),
    ]


__all__ = ["run"]
