"""agentlight under a service manager: READY after start, reload on SIGHUP, the watchdog's cost.

``agentlight run`` is spawned the way systemd starts it (``NOTIFY_SOCKET``,
``WATCHDOG_USEC``, ``INVOCATION_ID``) with a record device, against the built-in
simulator in this process, which counts the stream connections. Measured:

- spawn → ``READY=1`` (the first look is shown by then);
- SIGHUP → ``READY=1`` for a reload that changes the theme and adds or removes a
  device, and how many new stream connections those reloads opened (none: a
  reload keeps the server connection);
- CPU of an idle bridge under systemd (the unit's ``WatchdogSec=30``: a ping
  every 15 s; STATUS= only when the status changes) next to the same bridge
  without systemd.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.report import Figure
from bridge.simulator import STREAM_PATH, SimAgent, SimServer
from harness.procs import terminate

_THEME = '\n[theme.global.idle]\ncolor = "{color}"\n'


class _Notify:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.path = path
        self.watchdogs = 0

    async def next(self, key: str, within: float = 20.0) -> float:
        """Monotonic time at which the next message carrying ``key`` arrived."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(within):
            while True:
                data = (await loop.sock_recv(self.sock, 4096)).decode()
                now = time.monotonic()
                keys = {line.partition("=")[0] for line in data.split("\n")}
                self.watchdogs += "WATCHDOG" in keys
                if key in keys:
                    return now

    def close(self) -> None:
        self.sock.close()


def _config(path: Path, url: str, tmp: Path, color: str, extra_device: bool) -> None:
    devices = procs.record_device(tmp / "a.jsonl")
    if extra_device:
        devices += f'\n[[devices]]\ntype = "record"\nname = "b"\npath = "{tmp / "b.jsonl"}"\n'
    procs.write_config(path, url, devices, _THEME.format(color=color))


async def _spawn(
    config: Path, notify: _Notify, watchdog_usec: int, *, systemd: bool = True
) -> asyncio.subprocess.Process:
    env = dict(os.environ)
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "INVOCATION_ID"):
        env.pop(name, None)
    if systemd:
        env["NOTIFY_SOCKET"] = str(notify.path)
        env["WATCHDOG_USEC"] = str(watchdog_usec)
        env["INVOCATION_ID"] = "benchmark"
    return await asyncio.create_subprocess_exec(
        *procs.agentlight_command(), "run", "-c", str(config),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def _measure(
    quick: bool, tmp: Path
) -> tuple[list[float], list[float], int, dict[str, float]]:
    starts, reloads = (3, 5) if quick else (10, 20)
    window = 15.0 if quick else 60.0
    ready: list[float] = []
    reload_times: list[float] = []
    async with SimServer(SimAgent(), debounce=0.0) as server:
        config = tmp / "config.toml"
        for i in range(starts):
            _config(config, server.url, tmp, "#00ff40", False)
            notify = _Notify(tmp / f"notify-{i}")
            t0 = time.monotonic()
            proc = await _spawn(config, notify, 30_000_000)
            try:
                ready.append(await notify.next("READY") - t0)
            finally:
                await terminate(proc)
                notify.close()

        notify = _Notify(tmp / "notify-reload")
        proc = await _spawn(config, notify, 2_000_000)
        try:
            await notify.next("READY")  # the first look ("connecting") is up
            while server.open_streams < 1:  # noqa: ASYNC110 - the server has no event for it
                await asyncio.sleep(0.005)
            streams_before = server.requests[STREAM_PATH]
            for i in range(reloads):
                _config(config, server.url, tmp, f"#0000{i % 256:02x}", i % 2 == 0)
                t0 = time.monotonic()
                proc.send_signal(signal.SIGHUP)
                await notify.next("RELOADING")
                reload_times.append(await notify.next("READY") - t0)
            new_streams = server.requests[STREAM_PATH] - streams_before
        finally:
            await terminate(proc)
            notify.close()
        # Idle: nothing changes; with systemd only the watchdog pings (the unit's
        # WatchdogSec=30: every 15 s) and the 5 s status checks run.
        idle = {}
        for mode in ("systemd", "plain"):
            notify = _Notify(tmp / f"notify-{mode}")
            proc = await _spawn(config, notify, 30_000_000, systemd=mode == "systemd")
            try:
                while server.open_streams < 1:  # noqa: ASYNC110 - no event for it
                    await asyncio.sleep(0.005)
                await asyncio.sleep(1.0)
                cpu0, t0 = procs.cpu_seconds(proc.pid), time.monotonic()
                await asyncio.sleep(window)
                cpu1, t1 = procs.cpu_seconds(proc.pid), time.monotonic()
                idle[mode] = 100.0 * (cpu1 - cpu0) / (t1 - t0)
            finally:
                await terminate(proc)
                notify.close()
    return ready, reload_times, new_streams, idle


def run(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="agentlight-service-") as tmp:
        ready, reloads, streams, idle = asyncio.run(_measure(quick, Path(tmp)))
    ms = 1000.0
    figures = [
        Figure(
            "service.ready_p50",
            "start → READY=1 (first look shown), p50",
            statistics.median(ready) * ms,
            "ms",
            500.0,
            note=f"{len(ready)} starts; max {max(ready) * ms:.0f} ms",
        ),
        Figure(
            "service.reload_p50",
            "SIGHUP → READY=1 (new theme, a device added or removed), p50",
            statistics.median(reloads) * ms,
            "ms",
            250.0,
            note=f"{len(reloads)} reloads; max {max(reloads) * ms:.0f} ms",
        ),
        Figure(
            "service.reload_new_streams",
            "server connections opened by those reloads",
            float(streams),
            "",
            0.0,
        ),
        Figure(
            "service.idle_cpu",
            "CPU, idle agent, under systemd (watchdog every 15 s, STATUS on change)",
            idle["systemd"],
            "%",
            0.05,
            note=f"same bridge without systemd: {idle['plain']:.3f} %",
        ),
    ]
    details = {"ready_s": ready, "reload_s": reloads, "new_streams": streams, "idle_cpu": idle}
    return figures, details
