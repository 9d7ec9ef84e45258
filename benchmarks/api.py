"""The local API: change → event on the wire, what it costs in memory and CPU, start-up.

- **Latency.** The engine and the API run in this process; 10 event-stream clients run
  in another (``benchmarks.api_clients``, plain sockets). Each change is published to
  the engine as a source publishes it, stamped just before; each client stamps the
  event's arrival. Both stamps are CLOCK_MONOTONIC, one clock for every process on
  Linux. Changes are paced (every 20 ms) so each is its own event, not coalesced.
- **Memory and CPU.** ``agentlight run`` as users start it, with and without ``[api]``,
  against an idle simulator in a third process: peak RSS (VmHWM, after the API has
  served a status and a stream), idle CPU; then 200 idle event streams opened on the
  bridge with the API: its RSS before and after, and its CPU with them open.
- **Start-up.** Spawn → first look, with and without ``[api]`` (the API starts after
  the sources, so the first look should not move); spawn → ``/v1/health`` answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks import procs
from benchmarks.report import Figure, percentile
from bridge.api.host import ApiHost
from bridge.api.options import ApiOptions
from bridge.engine import Engine
from bridge.pipeline.model import Session, SessionState, SourceStatus
from bridge.pipeline.theme import default_theme

MS = 1e6  # ns per ms
MB = 1024 / 1e6  # KiB → MB
_API = '\n[api]\nlisten = "127.0.0.1:0"\nburst = 400\n'
_CLIENTS = 10
_IDLE_STREAMS = 200
_PACE = 0.02


def _status(n: int) -> SourceStatus:
    """Change ``n``: three sessions as a busy agent has them, the tool and detail moving."""
    sessions = tuple(
        Session(
            key=f"websocket:bench-{i}",
            id=f"bench-{i}",
            channel="websocket",
            state=SessionState.TOOL_RUNNING if i == n % 3 else SessionState.THINKING,
            title=f"Benchmark session {i}",
            tool=f"tool-{n % 7}" if i == n % 3 else None,
            since=time.time(),
            source="bench",
        )
        for i in range(3)
    )
    return SourceStatus.connected("bench", sessions, detail=f"change {n}")


async def _latency(changes: int, tmp: Path) -> tuple[list[float], dict[str, Any]]:
    engine = Engine([], default_theme())
    engine.publish(_status(0))
    host = ApiHost(engine, environ={"XDG_RUNTIME_DIR": str(tmp)})
    await host.apply(ApiOptions(listen="127.0.0.1:0", burst=400))
    assert host.server is not None
    clients = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.api_clients",
        str(host.server.port), str(_CLIENTS), str(changes),
        cwd=procs.ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, limit=1 << 26,
    )  # fmt: skip
    assert clients.stdout is not None
    try:
        ready = await asyncio.wait_for(clients.stdout.readline(), 30)
        if not ready:
            raise RuntimeError("the API clients died while starting")
        sent: dict[int, int] = {}
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n in range(1, changes + 1):
            # On a fixed schedule, so a slow turn does not bunch the next changes up.
            await asyncio.sleep(max(0.0, start + n * _PACE - loop.time()))
            sent[n] = time.monotonic_ns()
            engine.publish(_status(n))
        line = await asyncio.wait_for(clients.stdout.readline(), 60)
    finally:
        if clients.returncode is None:
            clients.kill()
        await clients.wait()
        await host.close()
    stamps = json.loads(line)["stamps"]
    latencies = [(t - sent[n]) / MS for _, n, t in stamps if n in sent]
    missed = changes * _CLIENTS - len(latencies)
    return latencies, {"events": len(latencies), "missed": missed}


def _config(tmp: Path, name: str, url: str, api: bool) -> tuple[Path, Path]:
    record = tmp / f"{name}.jsonl"
    config = procs.write_config(tmp / f"{name}.toml", url, procs.record_device(record))
    if api:
        config.write_text(config.read_text() + _API)
    return config, record


def _env(run: Path) -> dict[str, str]:
    run.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("RUNTIME_DIRECTORY", "NOTIFY_SOCKET")}
    env["XDG_RUNTIME_DIR"] = str(run)
    return env


def _api_url(run: Path, proc: subprocess.Popen[bytes], within: float = 10.0) -> str:
    """The URL the bridge wrote to its discovery file, once it answers /v1/health."""
    path = run / "agentlight" / "api.json"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the bridge exited before its API answered")
        try:
            url: str = json.loads(path.read_text())["url"]
            if httpx.get(f"{url}/v1/health", timeout=1, trust_env=False).status_code == 200:
                return url
        except (OSError, ValueError, KeyError, httpx.HTTPError):
            pass
        time.sleep(0.001)
    raise RuntimeError("the API did not answer")


def _startup(url: str, tmp: Path, runs: int) -> tuple[list[Figure], dict[str, Any]]:
    firsts: dict[bool, list[float]] = {False: [], True: []}
    ready: list[float] = []
    for i in range(runs):
        for api in (False, True):
            config, record = _config(tmp, f"start-{i}-{api}", url, api)
            run = tmp / f"run-start-{i}-{api}"
            spawned = time.time()
            spawned_mono = time.monotonic()
            proc = procs.spawn_run(config, tmp / f"start-{i}-{api}.log", env=_env(run))
            try:
                first = procs.wait_for_record(record, lambda r: True, 10, proc)
                if api:
                    _api_url(run, proc)
                    ready.append(time.monotonic() - spawned_mono)
            finally:
                procs.stop(proc)
            if first is None:
                raise RuntimeError(f"no look recorded; see {tmp / f'start-{i}-{api}.log'}")
            firsts[api].append(first["t"] - spawned)
    off, on = statistics.median(firsts[False]), statistics.median(firsts[True])
    figures = [
        Figure(
            "api.startup.first_look.off",
            "start-up → first look, no [api]",
            off,
            "s",
            0.5,
            note=f"median of {runs}, max {max(firsts[False]):.3f} s",
        ),
        Figure(
            "api.startup.first_look.on",
            "start-up → first look, with [api]",
            on,
            "s",
            0.5,
            note=f"median of {runs}, max {max(firsts[True]):.3f} s ({(on - off) * 1000:+.0f} ms)",
        ),
        Figure(
            "api.startup.ready",
            "start-up → /v1/health answers",
            statistics.median(ready),
            "s",
            note=f"median of {runs}; the API starts after the sources",
        ),
    ]
    return figures, {"first_look_s": {"off": firsts[False], "on": firsts[True]}, "ready_s": ready}


def _open_streams(url: str, count: int) -> list[socket.socket]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    socks = []
    for _ in range(count):
        sock = socket.create_connection((host, int(port)), timeout=10)
        sock.sendall(f"GET /v1/status/stream HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        socks.append(sock)
    for sock in socks:
        data = b""
        while b"\n\n" not in data.partition(b"\r\n\r\n")[2]:  # the head and the first event
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("an event stream was refused or closed")
            data += chunk
    return socks


def _cost(url: str, tmp: Path, window: float) -> tuple[list[Figure], dict[str, Any]]:
    off_cfg, off_rec = _config(tmp, "off", url, api=False)
    on_cfg, on_rec = _config(tmp, "on", url, api=True)
    run = tmp / "run-on"
    off = procs.spawn_run(off_cfg, tmp / "off.log", env=_env(tmp / "run-off"))
    on = procs.spawn_run(on_cfg, tmp / "on.log", env=_env(run))
    socks: list[socket.socket] = []
    try:
        for proc, record in ((off, off_rec), (on, on_rec)):
            if procs.wait_for_record(record, lambda r: r["global"] == "idle", 10, proc) is None:
                raise RuntimeError(f"a bridge showed nothing; see {tmp}")
        api_url = _api_url(run, on)
        # The API's code paths loaded and used once: a status, a stream.
        httpx.get(f"{api_url}/v1/status", timeout=5, trust_env=False)
        for sock in _open_streams(api_url, 1):
            sock.close()
        time.sleep(2.0)  # settle before the CPU window
        c_off, c_on = procs.cpu_seconds(off.pid), procs.cpu_seconds(on.pid)
        time.sleep(window)
        c_off, c_on = procs.cpu_seconds(off.pid) - c_off, procs.cpu_seconds(on.pid) - c_on
        m_off, m_on = procs.memory_kib(off.pid), procs.memory_kib(on.pid)
        socks = _open_streams(api_url, _IDLE_STREAMS)
        time.sleep(1.0)
        m_streams = procs.memory_kib(on.pid)
        c_streams = procs.cpu_seconds(on.pid)
        time.sleep(window)
        c_streams = procs.cpu_seconds(on.pid) - c_streams
        alive = off.poll() is None and on.poll() is None
    finally:
        for sock in socks:
            sock.close()
        procs.stop(off)
        procs.stop(on)
    if not alive:
        raise RuntimeError("a bridge exited during the measurement")
    delta = (m_on["VmHWM"] - m_off["VmHWM"]) * MB
    per_stream = (m_streams["VmRSS"] - m_on["VmRSS"]) / _IDLE_STREAMS
    resolution = 100 / (os.sysconf("SC_CLK_TCK") * window)
    figures = [
        Figure(
            "api.rss.off",
            "peak RSS, idle bridge, no [api]",
            m_off["VmHWM"] * MB,
            "MB",
            40.0,
            note="VmHWM",
        ),
        Figure(
            "api.rss.delta",
            "peak RSS the API adds (on - off)",
            delta,
            "MB",
            10.0,
            note=f"VmHWM {m_on['VmHWM'] * MB:.1f} vs {m_off['VmHWM'] * MB:.1f} MB; the budget is "
            "the issue's for a Pi (32-bit); aiohttp and its C parser are most of it",
        ),
        Figure(
            "api.cpu.idle",
            "CPU, idle bridge with the API, no clients",
            c_on / window * 100,
            "% core",
            0.05,
            note=f"without [api]: {c_off / window * 100:.3f} %; over {window:.0f} s "
            f"(resolution {resolution:.2f} %)",
        ),
        Figure(
            "api.streams.rss",
            f"RSS added by {_IDLE_STREAMS} idle event streams",
            (m_streams["VmRSS"] - m_on["VmRSS"]) * MB,
            "MB",
            note=f"{per_stream:.1f} KiB a stream",
        ),
        Figure(
            "api.streams.cpu",
            f"CPU with {_IDLE_STREAMS} idle event streams open",
            c_streams / window * 100,
            "% core",
            # No budget: each open stream costs a keepalive write every 15 s by design; the
            # budget is for the API with nobody connected (api.cpu.idle).
            note=f"a keepalive each per 15 s; {window:.0f} s (resolution {resolution:.2f} %)",
        ),
    ]
    details = {
        "window_s": window,
        "off": {"memory_kib": m_off, "cpu_s": c_off},
        "on": {"memory_kib": m_on, "cpu_s": c_on},
        "streams": {"count": _IDLE_STREAMS, "memory_kib": m_streams, "cpu_s": c_streams},
    }
    return figures, details


def run(quick: bool, url: str) -> tuple[list[Figure], dict[str, Any]]:
    changes = 100 if quick else 500
    with tempfile.TemporaryDirectory(prefix="agentlight-bench-") as name:
        tmp = Path(name)
        latencies, lat_details = asyncio.run(_latency(changes, tmp / "latency"))
        figures = [
            Figure(
                "api.sse.p99",
                f"change → event on the wire, {_CLIENTS} clients, p99",
                percentile(latencies, 99),
                "ms",
                5.0,
                note=f"p50 {percentile(latencies, 50):.2f} ms, max {max(latencies):.2f} ms; "
                f"{len(latencies)} events ({changes} changes x {_CLIENTS}); "
                f"{lat_details['missed']} not seen",
            )
        ]
        cost, details = _cost(url, tmp, 10.0 if quick else 30.0)
        start, start_details = _startup(url, tmp, 3 if quick else 7)
    details.update(latency=lat_details, startup=start_details)
    return figures + cost + start, details
