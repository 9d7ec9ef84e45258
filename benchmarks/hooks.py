"""Coding agents' hooks: hook → device through the API, ``agentlight hook``'s start, and
the cost of watching live transcripts.

- **hook → device**: a client process POSTs Claude Code PreToolUse payloads (each
  naming another tool) to the local API of a real Engine + HooksSource + ApiHost
  running in this process, stamping each just before it writes; a driver stamps
  the first show of each tool. Both stamps are ``time.monotonic_ns()``.
- **agentlight hook, exec → exit**: the installed console script run as an agent
  runs it (payload on stdin), with the bridge above up; and with no bridge at all.
- **20 watched transcripts**: ``agentlight run`` with a hooks source holding 20
  thinking Claude sessions (each with a transcript file and a live process id, so
  one ``stat`` and one process check per session per second), measured through
  ``/proc`` while nothing happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.latency import StampDriver
from benchmarks.report import Figure, percentile

MS = 1e6  # ns per ms

_CLIENT = r"""
import http.client, json, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
base = json.loads(sys.stdin.read())
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
stamps = []
for i in range(count):
    body = json.dumps({**base, "tool_name": f"t{i}"}).encode()
    stamp = time.monotonic_ns()
    conn.request("POST", "/v1/hooks/claude", body, {"Content-Type": "application/json"})
    conn.getresponse().read()
    stamps.append(stamp)
    time.sleep(0.02)
print(json.dumps(stamps))
"""


def _payload(event: str) -> dict[str, Any]:
    path = procs.ROOT / "tests" / "fixtures" / "hooks" / "claude" / "events" / f"{event}.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@contextlib.asynccontextmanager
async def hooks_bridge(
    driver: Any, run_dir: Path, **options: Any
) -> AsyncIterator[tuple[Any, Any, int]]:
    """A bridge of ``driver`` and the hooks source (``options``), its local API serving
    the hook routes on a free port: (engine, source, port) until the block ends."""
    from bridge.api.host import ApiHost
    from bridge.api.options import ApiOptions
    from bridge.app import route_hooks
    from bridge.engine import Device, Engine
    from bridge.pipeline.theme import default_theme
    from bridge.sources.hooks.options import Options
    from bridge.sources.hooks.source import HooksSource

    engine = Engine([Device(driver, "session")], default_theme())
    seen = run_dir / "seen.json"
    source = HooksSource("hooks", Options(**options), engine.publish, seen_file=seen)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run([source], stop))
    host = ApiHost(engine, environ={"XDG_RUNTIME_DIR": str(run_dir)})
    route_hooks(host, engine)
    await host.apply(ApiOptions(listen="127.0.0.1:0"))
    try:
        assert host.server is not None
        yield engine, source, host.server.port
    finally:
        await host.close()
        stop.set()
        await asyncio.gather(task, return_exceptions=True)


async def start_client(script: str, port: int, count: int) -> asyncio.subprocess.Process:
    """``script`` run by this Python with the API's port and ``count``, stdin and stdout piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        str(port),
        str(count),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )


async def _through_api(
    count: int, run_dir: Path, hook_runs: int
) -> tuple[list[Figure], dict[str, Any]]:
    driver = StampDriver()
    async with hooks_bridge(driver, run_dir) as (_, _, port):
        payload = json.dumps(_payload("PreToolUse"))
        client = await start_client(_CLIENT, port, count)
        out, _ = await client.communicate(payload.encode())
        stamps: list[int] = json.loads(out)
        await driver.wait_seen(f"t{count - 1}", 5)
        latencies = [
            (driver.seen[f"t{i}"] - stamp) / MS
            for i, stamp in enumerate(stamps)
            if f"t{i}" in driver.seen
        ]
        exec_times = await _hook_runs(run_dir, hook_runs)
    missing = count - len(latencies)
    figures = [
        Figure(
            "hooks.api.p99",
            "hook → device through the API, p99",
            percentile(latencies, 99) if latencies else None,
            "ms",
            5.0,
            note=f"{len(latencies)} PreToolUse posts, median {statistics.median(latencies):.2f} ms"
            + (f", {missing} never shown" if missing else ""),
        ),
        Figure(
            "hooks.exec",
            "agentlight hook, exec → exit, bridge up (median)",
            statistics.median(exec_times) * 1000,
            "ms",
            60.0,
            note=f"{len(exec_times)} runs, p90 {percentile(exec_times, 90) * 1000:.0f} ms, "
            f"max {max(exec_times) * 1000:.0f} ms",
        ),
    ]
    return figures, {"latencies_ms": latencies, "exec_s": exec_times}


async def _hook_runs(run_dir: Path, runs: int) -> list[float]:
    """Wall time of ``agentlight hook claude`` as an agent starts it (payload on stdin)."""
    command = [*procs.agentlight_command(), "hook", "claude"]
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run_dir)}
    payload = json.dumps(_payload("PostToolUse")).encode()
    took = []
    for _ in range(runs):
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *command,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await proc.communicate(payload)
        took.append(time.monotonic() - started)
    return took


def _hook_without_bridge(runs: int) -> Figure:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_RUNTIME_DIR": tmp}
        payload = json.dumps(_payload("PostToolUse")).encode()
        took = []
        for _ in range(runs):
            started = time.monotonic()
            subprocess.run(
                [*procs.agentlight_command(), "hook", "claude"],
                input=payload,
                env=env,
                capture_output=True,
                check=True,
            )
            took.append(time.monotonic() - started)
    return Figure(
        "hooks.exec.down",
        "agentlight hook, agentlight not running (max)",
        max(took) * 1000,
        "ms",
        200.0,
        note=f"{runs} runs, median {statistics.median(took) * 1000:.0f} ms",
    )


def _watching(sessions: int, window: float) -> tuple[list[Figure], dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        run_dir = tmp / "run"
        run_dir.mkdir(mode=0o700)
        record = tmp / "record.jsonl"
        config = tmp / "agentlight.toml"
        # The thinking look is made still: the figure is the watching, not an animation.
        config.write_text(
            '[bridge]\nlog_level = "warning"\n\n[api]\nlisten = "127.0.0.1:0"\n\n'
            '[[sources]]\ntype = "hooks"\n\n'
            + procs.record_device(record)
            + '\n[theme.session.thinking]\neffect = "solid"\n',
            encoding="utf-8",
        )
        env = {**os.environ, "XDG_RUNTIME_DIR": str(run_dir)}
        bridge = procs.spawn_run(config, tmp / "bridge.log", env=env)
        try:
            discovery = run_dir / "agentlight" / "api.json"
            deadline = time.monotonic() + 20
            while not discovery.exists():
                if time.monotonic() > deadline or bridge.poll() is not None:
                    raise RuntimeError((tmp / "bridge.log").read_text())
                time.sleep(0.01)
            from bridge.infra.local_api import post

            url = json.loads(discovery.read_text())["url"]
            prompt = _payload("UserPromptSubmit")
            for i in range(sessions):
                transcript = tmp / f"t{i}.jsonl"
                transcript.write_text("")
                body = {
                    **prompt,
                    "session_id": f"s{i}",
                    "transcript_path": str(transcript),
                    "_agentlight": {"pid": os.getpid()},
                }
                post(url, "/v1/hooks/claude", body, None, time.monotonic() + 2)
            shown = procs.wait_for_record(
                record, lambda r: len(r["sessions"]) == sessions, 10, bridge
            )
            if shown is None:
                raise RuntimeError("the bridge never showed the sessions")
            time.sleep(2.0)  # settle
            t0, cpu0 = time.monotonic(), procs.cpu_seconds(bridge.pid)
            time.sleep(window)
            elapsed, cpu1 = time.monotonic() - t0, procs.cpu_seconds(bridge.pid)
            alive = bridge.poll() is None
        finally:
            procs.stop(bridge)
    if not alive:
        raise RuntimeError("the bridge exited during the measurement")
    pct = (cpu1 - cpu0) / elapsed * 100
    resolution = 100 / (os.sysconf("SC_CLK_TCK") * elapsed)
    figure = Figure(
        "hooks.watch.cpu",
        f"CPU, {sessions} live transcripts watched, idle",
        pct,
        "% core",
        0.05,
        note=f"{cpu1 - cpu0:.2f} CPU s over {elapsed:.0f} s (resolution {resolution:.2f} %); "
        f"{sessions} stats + 1 pid check a second",
    )
    return [figure], {"cpu_s": cpu1 - cpu0, "window_s": elapsed}


def run(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    count, hook_runs = (100, 10) if quick else (500, 40)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        run_dir.mkdir(mode=0o700)
        figures, details = asyncio.run(_through_api(count, run_dir, hook_runs))
    figures.append(_hook_without_bridge(5 if quick else 20))
    watched, details["watch"] = _watching(20, 20.0 if quick else 120.0)
    return figures + watched, details
