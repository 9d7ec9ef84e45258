"""The PocketPaw fast path (issue 18): agent change → device, three ways side by side.

- **fast path**: a bridge following the event bus and the status stream (``events = "on"``);
- **status stream**: a bridge on the status stream alone (``events = "off"``), behind the
  server's 1 s throttle;
- **2 s poller**: ``pocketpaw status --watch``'s way (``benchmarks/poller.py``).

Against two servers:

- ``fastpath`` part: the built-in simulator with PocketPaw's timings (1 s throttle, 30 s
  keepalive), in its own process (``benchmarks.sim_proc``);
- ``pocketpaw`` part: a **real PocketPaw** dashboard (``benchmarks/pocketpaw_runner.py``)
  driven by real bus events, run with the Python of a venv that has ``pocketpaw``
  installed (``--pocketpaw-python`` or ``AGENTLIGHT_POCKETPAW_PYTHON``); skipped when
  that Python cannot import pocketpaw. PocketPaw is never a project dependency.

Each change is stamped (CLOCK_MONOTONIC, one clock for every process on Linux) just
before the server learns of it; each bridge's driver stamps the first frame showing it.
Changes come 2.5 to 4 s apart for the three-way comparison (longer than a poll, so every
change is seen by some poll), then quickly (50 to 150 ms apart) for the fast path's own
percentiles.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.latency import Bridge, ServerProcess, _latencies, _poll_delays, _poller
from benchmarks.piped import Piped
from benchmarks.report import Figure, percentile

ROOT = Path(__file__).resolve().parents[1]
# Issue 18's goal for the fast path.
P50_BUDGET_MS = 20.0
P99_BUDGET_MS = 50.0
_KEY = "websocket:bench-0"  # sim_proc's change session
PYTHON_ENV = "AGENTLIGHT_POCKETPAW_PYTHON"


def pocketpaw_python(given: str | None) -> tuple[str, str] | None:
    """The Python to run a real PocketPaw with and PocketPaw's version, or None."""
    python = given or os.environ.get(PYTHON_ENV)
    if not python:
        return None
    probe = "import importlib.metadata as m, pocketpaw, uvicorn; print(m.version('pocketpaw'))"
    try:
        found = subprocess.run(
            [python, "-c", probe], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (python, found.stdout.strip()) if found.returncode == 0 else None


class _Changes:
    """Something that makes agent changes and says when: the simulator or a real PocketPaw."""

    url: str

    async def changes(self, count: int, gap: tuple[float, float], seed: int) -> dict[str, Any]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class _Sim(_Changes):
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.url = server.real_url  # the twin with PocketPaw's timings

    async def changes(self, count: int, gap: tuple[float, float], seed: int) -> dict[str, Any]:
        return await self.server.call("changes", count=count, gap=list(gap), seed=seed)

    async def close(self) -> None:
        await self.server.close()


class _Real(Piped, _Changes):
    WHAT = "the PocketPaw runner"
    CLOSE_WITHIN = 10.0

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        super().__init__(proc)
        self.url = f"http://127.0.0.1:{port}"

    @classmethod
    async def start(cls, python: str, home: Path) -> _Real:
        env = {**os.environ, "HOME": str(home)}  # PocketPaw's files stay out of ~
        proc, ready = await cls.spawn(
            python,
            str(ROOT / "benchmarks" / "pocketpaw_runner.py"),
            within=120,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
        real = cls(proc, ready["port"])
        await real.call("start", key=_KEY)
        return real

    async def changes(self, count: int, gap: tuple[float, float], seed: int) -> dict[str, Any]:
        return await self.call("changes", key=_KEY, count=count, gap=list(gap), seed=seed)


async def _measure(
    source: _Changes, prefix: str, label: str, quick: bool
) -> tuple[list[Figure], dict[str, Any]]:
    fast, slow = Bridge(source.url, events="on"), Bridge(source.url, events="off")
    try:
        deadline = time.monotonic() + 30
        while not (fast.source.events_live and slow.source.status is not None):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label}: the fast path never connected")
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # let the first change's 1 s throttle run out

        seconds = 14.0 if quick else 60.0
        gap = (2.5, 4.0)
        count = max(3, int((seconds - 1) / (sum(gap) / 2)))
        poller = await _poller(source.url, seconds + 2.5)
        compare = await source.changes(count, gap, seed=18)
        await fast.driver.wait_seen(compare["tags"][-1], 5.0)
        await slow.driver.wait_seen(compare["tags"][-1], 5.0)
        assert poller.stdout is not None
        out, _ = await poller.communicate()
        poll = json.loads(out)
        ours, ours_lost = _latencies(compare["changed"], compare["tags"], fast.driver.seen)
        status, status_lost = _latencies(compare["changed"], compare["tags"], slow.driver.seen)
        polled, polled_lost = _poll_delays(poll, compare)

        # The fast path alone, many changes (tags restart at c0: forget what was seen).
        fast.driver.seen.clear()
        many = await source.changes(40 if quick else 200, (0.05, 0.15), seed=19)
        await fast.driver.wait_seen(many["tags"][-1], 5.0)
        burst, burst_lost = _latencies(many["changed"], many["tags"], fast.driver.seen)
    finally:
        await fast.close()
        await slow.close()
    every = ours + burst
    details = {
        "events_ms": every,
        "status_ms": status,
        "poll_ms": polled,
        "lost": {"events": ours_lost + burst_lost, "status": status_lost, "poll": polled_lost},
    }
    n = f"{len(every)} changes ({count} 2.5-4 s apart, {len(many['tags'])} 50-150 ms apart)"
    return [
        Figure(
            f"{prefix}.events.p50",
            f"{label}: change → shown, fast path: p50",
            percentile(every, 50),
            "ms",
            P50_BUDGET_MS,
            note=f"{n}, {ours_lost + burst_lost} not shown",
        ),
        Figure(
            f"{prefix}.events.p99",
            f"{label}: change → shown, fast path: p99",
            percentile(every, 99),
            "ms",
            P99_BUDGET_MS,
        ),
        Figure(
            f"{prefix}.status.p50",
            f"{label}: change → shown, status stream alone: p50",
            percentile(status, 50),
            "ms",
            note=f"{count} changes 2.5-4 s apart, {status_lost} not shown",
        ),
        Figure(
            f"{prefix}.status.p99",
            f"{label}: change → shown, status stream alone: p99",
            percentile(status, 99),
            "ms",
        ),
        Figure(
            f"{prefix}.poll.p50",
            f"{label}: change → seen, 2 s poller: p50",
            percentile(polled, 50),
            "ms",
            note=f"same {count} changes, {polled_lost} missed",
        ),
        Figure(
            f"{prefix}.poll.p99",
            f"{label}: change → seen, 2 s poller: p99",
            percentile(polled, 99),
            "ms",
        ),
    ], details


async def run_sim(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    """The fast path against the simulator with PocketPaw's timings."""
    server = await ServerProcess.start()
    try:
        await server.call("wait_streams", n=0, within=1.0)
        return await _measure(_Sim(server), "fastpath.sim", "simulator", quick)
    finally:
        await server.close()


async def run_real(quick: bool, python: str | None) -> tuple[list[Figure], dict[str, Any]]:
    """The fast path against a real PocketPaw; no figures when none is installed."""
    found = await asyncio.to_thread(pocketpaw_python, python)
    if found is None:
        print(
            f"pocketpaw part skipped: no Python with pocketpaw given (--pocketpaw-python or "
            f"{PYTHON_ENV}); e.g. python3 -m venv /tmp/ppvenv && "
            "/tmp/ppvenv/bin/pip install pocketpaw==0.4.18",
            file=sys.stderr,
        )
        return [], {"skipped": True}
    import tempfile

    with tempfile.TemporaryDirectory(prefix="agentlight-pocketpaw-") as home:
        real = await _Real.start(found[0], Path(home))
        try:
            figures, details = await _measure(real, "fastpath.real", "real PocketPaw", quick)
        finally:
            await real.close()
    version = found[1]
    details["pocketpaw"] = version
    figures = [
        Figure(
            f.key,
            f.label.replace("real PocketPaw", f"PocketPaw {version}"),
            f.value,
            f.unit,
            f.budget,
            f.kind,
            f.note,
        )
        for f in figures
    ]
    return figures, details
