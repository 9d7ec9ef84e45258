"""The AgP source's cost: requests per session per minute, and CPU with 100 watched sessions.

- **Schedule** (in this process, on the tests' virtual clock, real HTTP to the AgP
  simulator on 127.0.0.1): one session running for 30 minutes, then final. Counts the
  requests that reach the server in its first 10 minutes, after that, and once final.
- **100 sessions** (``agentlight run`` spawned as users run it, CPU from ``/proc``):
  100 running sessions whose step counts change every 3 s, served by the simulator
  on a thread of this process; the bridge draws on a terminal (a pty). Also reports
  the requests per session per minute the server saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.cost import PtyReader, _spawn
from benchmarks.report import Figure
from bridge.infra.secret import Secret
from bridge.simulator.agp import AgpServer, SimAgp

_KEY = "bench-key"
_SESSIONS = 100


def run(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    schedule, sched_details = _schedule()
    load, load_details = _hundred(10.0 if quick else 60.0)
    return schedule + load, {"schedule": sched_details, "hundred": load_details}


# -- the schedule, on the virtual clock ----------------------------------------------


def _schedule() -> tuple[list[Figure], dict[str, Any]]:
    from bridge.sources.agp.options import Options
    from bridge.sources.agp.source import AgpSource
    from harness.vclock import run_virtual

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        agp = SimAgp()
        agp.create("s", "running")
        times: list[float] = []
        async with AgpServer(agp, api_key=_KEY) as server:
            original = server._handle

            async def counted(conn: Any, request: Any) -> bool:
                times.append(loop.time())
                return await original(conn, request)

            server._handle = counted  # type: ignore[method-assign]
            source = AgpSource(
                "agp",
                Options(url=server.url, api_key=Secret(_KEY), sessions=("s",)),
                lambda s: None,
            )
            task = asyncio.create_task(source.run())
            await asyncio.sleep(30 * 60)
            agp.set("s", "completed")
            await asyncio.sleep(30 * 60)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return times

    times = run_virtual(main)
    first = sum(1 for t in times if t < 600) / 10
    later = sum(1 for t in times if 1200 <= t < 1800) / 10
    final = sum(1 for t in times if t >= 1800 + 15) / 30
    details = {"requests": len(times), "first_10_min": first, "min_20_30": later, "final": final}
    return [
        Figure(
            "agp.requests.first10",
            "AgP requests/session/min, first 10 min",
            first,
            "req/min",
            30.0,
            note="interval 3 s (docs: 2-5 s, so 12-30/min)",
        ),
        Figure(
            "agp.requests.long",
            "AgP requests/session/min, after 10 min",
            later,
            "req/min",
            6.0,
            note="long_interval 12 s (docs: 10-15 s, so 4-6/min)",
        ),
        Figure(
            "agp.requests.final",
            "AgP requests/session/min, once final",
            final,
            "req/min",
            0.0,
            note="completed/failed/timed_out/interrupted are never polled again",
        ),
    ], details


# -- 100 sessions, a real process -------------------------------------------------------


class _ServerThread:
    """The AgP simulator with 100 running sessions, on its own thread and loop."""

    def __init__(self) -> None:
        self.agp = SimAgp()
        for n in range(_SESSIONS):
            self.agp.create(f"bench-{n:03d}", "running")
        self.server = AgpServer(self.agp, api_key=_KEY)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with self.server:
            self._ready.set()
            while not self._stop.is_set():
                # Every session takes a step every 3 s: each poll brings a change.
                for sid in list(self.agp.sessions):
                    self.agp.step(sid)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 3.0)

    def requests(self) -> int:
        return self.server.total_requests

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def _hundred(window: float) -> tuple[list[Figure], dict[str, Any]]:
    server = _ServerThread()
    pty = PtyReader(columns=120)
    with tempfile.TemporaryDirectory(prefix="agentlight-bench-agp-") as name:
        tmp = Path(name)
        config = tmp / "agp.toml"
        ids = ", ".join(f'"bench-{n:03d}"' for n in range(_SESSIONS))
        config.write_text(
            f'[bridge]\nlog_level = "warning"\n\n[[sources]]\ntype = "agp"\n'
            f'url = "{server.server.url}"\napi_key = "{_KEY}"\nsessions = [{ids}]\n\n'
            '[[devices]]\ntype = "terminal"\n',
            encoding="utf-8",
        )
        proc = _spawn(config, tmp / "agp.log", stdout=pty.slave)
        pty.close_slave()
        try:
            deadline = time.monotonic() + 20
            # Settled: every session polled once, then one more interval.
            while server.requests() < _SESSIONS and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(3.5)
            if proc.poll() is not None:
                raise RuntimeError(f"the bridge exited: {(tmp / 'agp.log').read_text()}")
            t0 = time.monotonic()
            cpu0, req0 = procs.cpu_seconds(proc.pid), server.requests()
            time.sleep(window)
            cpu1, req1 = procs.cpu_seconds(proc.pid), server.requests()
            elapsed = time.monotonic() - t0
            memory = procs.memory_kib(proc.pid)
        finally:
            procs.stop(proc)
            pty.close()
            server.close()
    cpu_pct = (cpu1 - cpu0) / elapsed * 100
    per_session = (req1 - req0) / _SESSIONS / (elapsed / 60)
    details = {
        "window_s": elapsed,
        "cpu_s": cpu1 - cpu0,
        "requests": req1 - req0,
        "memory_kib": memory,
        "cpus": os.cpu_count(),
    }
    return [
        # No budget in the brief: a figure to watch. Polling is HTTP work that grows
        # with sessions; per request is what scales to slower machines.
        Figure(
            "agp.hundred.cpu",
            "CPU, 100 AgP sessions polled, steps changing",
            cpu_pct,
            "% core",
            note=f"{(req1 - req0) / elapsed:.1f} req/s, terminal on a pty, over {elapsed:.0f} s",
        ),
        Figure(
            "agp.hundred.cpu_per_request",
            "CPU per AgP poll (request + parse + map)",
            (cpu1 - cpu0) / max(1, req1 - req0) * 1000,
            "ms",
            note="bridge process only; the server runs in the benchmark's process",
        ),
        Figure(
            "agp.hundred.requests",
            "AgP requests/session/min, 100 sessions",
            per_session,
            "req/min",
            30.0,
            note="interval 3 s; 4 requests in flight at most",
        ),
        Figure(
            "agp.hundred.rss",
            "peak RSS, 100 AgP sessions",
            memory["VmHWM"] * 1024 / 1e6,
            "MB",
            40.0,
            note="VmHWM",
        ),
    ], details
