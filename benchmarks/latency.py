"""Latency: server writes a frame → a driver is handed the new look, on loopback.

The server runs in its own process (``benchmarks.sim_proc``) and stamps each frame
just before writing it; the bridge (a real PocketPawSource feeding a real Engine)
runs here, in this process's event loop, with a driver that stamps every ``show``.
Both stamps are ``time.monotonic_ns()`` (CLOCK_MONOTONIC, shared by all processes on
Linux). A REST poller like ``pocketpaw status --watch`` runs in a third process
against the same server for the side-by-side comparison.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import payloads
from benchmarks.piped import Piped
from benchmarks.report import Figure, percentile
from bridge.engine import Device, Engine
from bridge.pipeline.frame import Frame
from bridge.pipeline.looks import Effect
from bridge.pipeline.model import GlobalState
from bridge.pipeline.theme import default_theme
from bridge.sources.pocketpaw.options import Options
from bridge.sources.pocketpaw.source import PocketPawSource
from devices.base import Capabilities, Driver

ROOT = Path(__file__).resolve().parents[1]
MS = 1e6  # ns per ms


@dataclass(frozen=True)
class Plan:
    frames: int  # per session count, 50 ms apart
    big_frames: int  # 1 MiB frames, 1 s apart
    compare_seconds: float

    @classmethod
    def for_run(cls, quick: bool) -> Plan:
        if quick:
            return cls(frames=80, big_frames=3, compare_seconds=14.0)
        return cls(frames=600, big_frames=5, compare_seconds=60.0)


class StampDriver(Driver):
    """Stamps the first time each frame's tag (its first session's tool) is shown."""

    TYPE = "bench"
    CAPS = Capabilities(
        sessions=None,  # the whole frame is built, sessions and all
        # Nothing animates, so every show is a status change and not an effect tick.
        native_effects=frozenset(Effect),
    )

    def __init__(self) -> None:
        super().__init__("bench")
        self.seen: dict[str, int] = {}
        self.shows = 0

    async def _show(self, frame: Frame) -> None:
        now = time.monotonic_ns()
        self.shows += 1
        sessions = frame.status.sessions
        if sessions and sessions[0].tool is not None:
            self.seen.setdefault(sessions[0].tool, now)

    async def wait_seen(self, tag: str, within: float) -> bool:
        # Polled, after a run is over: an event per show would add work to the measured path.
        deadline = time.monotonic() + within
        while tag not in self.seen:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True


class ServerProcess(Piped):
    """``benchmarks.sim_proc`` in a subprocess, one JSON command/answer per line."""

    WHAT = "the server process"

    def __init__(self, proc: asyncio.subprocess.Process, ports: dict[str, int]) -> None:
        super().__init__(proc)
        self.url = f"http://127.0.0.1:{ports['port']}"
        # The same changes, with the real server's 1 s throttle.
        self.real_url = f"http://127.0.0.1:{ports['real_port']}"

    @classmethod
    async def start(cls) -> ServerProcess:
        proc, ports = await cls.spawn(
            sys.executable, "-m", "benchmarks.sim_proc", "driven", within=20, cwd=ROOT
        )
        return cls(proc, ports)


class Bridge:
    """A real PocketPawSource feeding a real Engine with one StampDriver, in this loop."""

    def __init__(self, url: str, *, events: str = "off") -> None:
        self.driver = StampDriver()
        self.engine = Engine([Device(self.driver, "session")], default_theme())
        # The status stream alone unless asked: the fast path has its own figures
        # (benchmarks/fastpath.py).
        options = Options(url=url, events=events)
        self.source = PocketPawSource("pocketpaw", options, self.engine.publish)
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.engine.run([self.source], self._stop))

    async def wait_idle(self, within: float) -> None:
        deadline = time.monotonic() + within
        while self.engine.status.state is not GlobalState.IDLE:
            if time.monotonic() > deadline:
                raise RuntimeError(f"bridge never saw the server: {self.engine.status.state}")
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        self._stop.set()
        await asyncio.gather(self._task, return_exceptions=True)


def _latencies(stamps: list[int], tags: list[str], seen: dict[str, int]) -> tuple[list[float], int]:
    """Per-frame latency in ms and how many frames were never shown."""
    values = [(seen[t] - s) / MS for s, t in zip(stamps, tags, strict=True) if t in seen]
    return values, len(stamps) - len(values)


async def _series(
    server: ServerProcess, driver: StampDriver, sessions: int, count: int, interval: float
) -> tuple[list[float], int]:
    tag = f"n{sessions}-{time.monotonic_ns()}-"
    answer = await server.call("series", sessions=sessions, count=count, interval=interval, tag=tag)
    tags = [f"{tag}{i}" for i in range(count)]
    await driver.wait_seen(tags[-1], 5.0)
    return _latencies(answer["stamps"], tags, driver.seen)


async def _poller(url: str, seconds: float) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.poller",
        url,
        str(seconds),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 24,
    )


def _poll_delays(poll: dict[str, Any], changes: dict[str, Any]) -> tuple[list[float], int]:
    """Change → first poll answer that shows it, in ms; and changes no poll showed."""
    delays = []
    for changed, tag in zip(changes["changed"], changes["tags"], strict=True):
        hit = next((t for t, tool in poll["polls"] if tool == tag and t >= changed), None)
        if hit is not None:
            delays.append((hit - changed) / MS)
    return delays, len(changes["tags"]) - len(delays)


async def run(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    plan = Plan.for_run(quick)
    figures: list[Figure] = []
    details: dict[str, Any] = {"plan": plan.__dict__}
    server = await ServerProcess.start()
    main, real = Bridge(server.url), Bridge(server.real_url)
    driver, source = main.driver, main.source
    started = time.monotonic()
    try:
        await server.call("wait_streams", n=1, within=10.0)
        await main.wait_idle(10.0)
        await real.wait_idle(10.0)
        await _series(server, driver, 1, 40, 0.05)  # warm-up, not reported

        budgets = {1: 5.0, 10: 5.0, 100: 25.0}
        for sessions, budget in budgets.items():
            values, lost = await _series(server, driver, sessions, plan.frames, 0.05)
            name = f"{sessions} session{'s' if sessions > 1 else ''}/frame"
            note = f"n={len(values)}, 50 ms apart, {lost} not shown"
            figures += [
                Figure(
                    f"latency.s{sessions}.p50",
                    f"latency, {name}: p50",
                    percentile(values, 50),
                    "ms",
                ),
                Figure(
                    f"latency.s{sessions}.p99",
                    f"latency, {name}: p99",
                    percentile(values, 99),
                    "ms",
                    budget,
                    note=note,
                ),
                Figure(
                    f"latency.s{sessions}.max",
                    f"latency, {name}: max",
                    max(values, default=None),
                    "ms",
                ),
                Figure(f"latency.s{sessions}.lost", f"frames not shown, {name}", lost, "", 0.0),
            ]
            details[f"s{sessions}"] = {"n": len(values), "lost": lost}

        figures += await _big(server, driver, plan.big_frames, details)
        figures += await _compare(server, main, real, plan.compare_seconds, details)

        lifetime = time.monotonic() - started
        details["agentlight_requests_total"] = source.requests
        details["bridge_seconds"] = lifetime
        details["server_requests"] = (await server.call("requests"))["requests"]
        figures.append(
            Figure(
                "requests.agentlight.total",
                "agentlight HTTP requests, whole latency run",
                source.requests,
                "",
                note=f"over {lifetime:.0f} s, stream connects included",
            )
        )
    finally:
        await main.close()
        await real.close()
        await server.close()
    return figures, details


async def _big(
    server: ServerProcess, driver: StampDriver, count: int, details: dict[str, Any]
) -> list[Figure]:
    sessions = payloads.sessions_for_size()
    values, lost = await _series(server, driver, sessions, count, 1.0)
    details["big"] = {"sessions": sessions, "n": len(values), "lost": lost}
    note = f"{sessions:,} sessions, n={len(values)}, {lost} not shown"
    return [
        Figure(
            "latency.mib.p50", "latency, 1 MiB frame: p50", percentile(values, 50), "ms", note=note
        ),
        Figure("latency.mib.max", "latency, 1 MiB frame: max", max(values, default=None), "ms"),
    ]


async def _compare(
    server: ServerProcess, main: Bridge, real: Bridge, seconds: float, details: dict[str, Any]
) -> list[Figure]:
    """agentlight and a 2 s REST poller watch the same agent changes on the same server.

    A second bridge follows a twin agent served with the real 1 s throttle: the figure a
    user of a real PocketPaw sees, change to light, next to the transport's own latency.
    """
    driver, source = main.driver, main.source
    gap = (2.5, 4.0)  # longer than a poll, so every change is seen by some poll
    count = max(3, int((seconds - 1) / (sum(gap) / 2)))
    poller = await _poller(server.url, seconds + 2.5)
    before, t0 = source.requests, time.monotonic()
    changes = await server.call("changes", count=count, gap=list(gap), seed=10)
    await driver.wait_seen(changes["tags"][-1], 5.0)
    await real.driver.wait_seen(changes["tags"][-1], 5.0)
    assert poller.stdout is not None
    out, _ = await poller.communicate()
    window = time.monotonic() - t0
    made = source.requests - before
    poll = json.loads(out)

    ours, ours_lost = _latencies(changes["changed"], changes["tags"], driver.seen)
    throttled, throttled_lost = _latencies(changes["changed"], changes["tags"], real.driver.seen)
    theirs, theirs_lost = _poll_delays(poll, changes)
    poll_rpm = poll["requests"] / poll["elapsed"] * 60
    our_rpm = made / window * 60
    ratio = percentile(theirs, 50) / percentile(ours, 50) if ours and theirs else None
    details["compare"] = {
        "changes": count,
        "agentlight_ms": ours,
        "poll_ms": theirs,
        "throttled_ms": throttled,
        "poll_requests": poll["requests"],
        "poll_elapsed": poll["elapsed"],
        "agentlight_requests": made,
        "window": window,
    }
    n = f"{count} changes {gap[0]:g}-{gap[1]:g} s apart"
    return [
        Figure(
            "compare.agentlight.p50",
            "change → shown, agentlight (SSE): p50",
            percentile(ours, 50),
            "ms",
            note=f"{n}, {ours_lost} missed",
        ),
        Figure(
            "compare.agentlight.p99",
            "change → shown, agentlight (SSE): p99",
            percentile(ours, 99),
            "ms",
        ),
        Figure(
            "compare.poll.p50",
            "change → seen, 2 s REST poller: p50",
            percentile(theirs, 50),
            "ms",
            note=f"same changes, {theirs_lost} missed",
        ),
        Figure(
            "compare.poll.p99", "change → seen, 2 s REST poller: p99", percentile(theirs, 99), "ms"
        ),
        Figure(
            "compare.p50_ratio",
            "poller p50 ÷ agentlight p50",
            ratio,
            "x",
            100.0,
            "min",
        ),
        Figure(
            "compare.throttled.p50",
            "change → shown, agentlight, real 1 s throttle: p50",
            percentile(throttled, 50),
            "ms",
            note=f"same changes, twin server with PocketPaw's timings, {throttled_lost} missed",
        ),
        Figure(
            "compare.throttled.p99",
            "change → shown, agentlight, real 1 s throttle: p99",
            percentile(throttled, 99),
            "ms",
        ),
        Figure(
            "compare.throttled.ratio",
            "poller p50 ÷ agentlight p50, real 1 s throttle",
            percentile(theirs, 50) / percentile(throttled, 50) if throttled and theirs else None,
            "x",
            note="no budget: the throttle is the server's, not the bridge's",
        ),
        Figure("compare.poll.rpm", "requests/min, 2 s REST poller", poll_rpm, "/min"),
        Figure(
            "compare.agentlight.rpm",
            "requests/min, agentlight (stream open)",
            our_rpm,
            "/min",
            poll_rpm / 30,
            note=f"{made} requests in the {window:.0f} s window; budget = poller ÷ 30",
        ),
    ]
