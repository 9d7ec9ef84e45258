"""Cost of a running bridge, measured from outside the process.

``agentlight run -c <config>`` is spawned as users run it, against an idle simulator
in another process. CPU is utime+stime from ``/proc/<pid>/stat`` over a window that
starts once the bridge has settled; memory is VmHWM from ``/proc/<pid>/status``.
Nothing is self-reported by the bridge.
"""

from __future__ import annotations

import fcntl
import os
import statistics
import struct
import subprocess
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.report import Figure

_SETTLE = 2.0  # seconds after the first idle look before the CPU window opens


class PtyReader(procs.DrainedPty):
    """A pseudo-terminal for the bridge's stdout, so the terminal driver really animates.

    Carriage returns are counted: the driver starts every redraw with one.
    """

    def __init__(self, columns: int = 100) -> None:
        super().__init__()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        self.redraws = 0
        self.start()

    def _seen(self, data: bytes) -> None:
        self.redraws += data.count(b"\r")

    def close_slave(self) -> None:
        os.close(self.slave)


def _spawn(config: Path, log: Path, stdout: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm-256color"
    return procs.spawn_run(config, log, stdout=stdout, env=env)


def _first_look(url: str, tmp: Path, i: int) -> tuple[float, float]:
    """Seconds from spawn to the first look recorded, and to the first agent state."""
    record = tmp / f"start-{i}.jsonl"
    config = procs.write_config(tmp / f"start-{i}.toml", url, procs.record_device(record))
    # The record driver stamps each line with time.time() as it is shown.
    spawned = time.time()
    proc = _spawn(config, tmp / f"start-{i}.log")
    try:
        first = procs.wait_for_record(record, lambda r: True, 10, proc)
        idle = procs.wait_for_record(record, lambda r: r["global"] == "idle", 10, proc)
    finally:
        procs.stop(proc)
    if first is None or idle is None:
        raise RuntimeError(f"no look recorded; see {tmp / f'start-{i}.log'}")
    return first["t"] - spawned, idle["t"] - spawned


def run(quick: bool, url: str) -> tuple[list[Figure], dict[str, Any]]:
    window = 10.0 if quick else 60.0
    runs = 3 if quick else 7
    with tempfile.TemporaryDirectory(prefix="agentlight-bench-") as name:
        tmp = Path(name)
        starts = [_first_look(url, tmp, i) for i in range(runs)]
        figures = _startup_figures(starts)
        cost, details = _steady(url, tmp, window)
    details["startup_s"] = starts
    return figures + cost, details


def _startup_figures(starts: list[tuple[float, float]]) -> list[Figure]:
    firsts = [a for a, _ in starts]
    states = [b for _, b in starts]
    return [
        Figure(
            "startup.first_look",
            "start-up → first look shown",
            statistics.median(firsts),
            "s",
            0.5,
            note=f"median of {len(firsts)}, max {max(firsts):.3f} s (the 'connecting' look)",
        ),
        Figure(
            "startup.first_state",
            "start-up → agent's state shown (idle)",
            statistics.median(states),
            "s",
            0.5,
            note=f"median of {len(states)}, max {max(states):.3f} s",
        ),
    ]


def _steady(url: str, tmp: Path, window: float) -> tuple[list[Figure], dict[str, Any]]:
    """An idle bridge with a static look and one with a pulse on a terminal, side by side:
    both are measured per process, and on two or more cores they do not compete."""
    record = tmp / "idle.jsonl"
    idle_cfg = procs.write_config(tmp / "idle.toml", url, procs.record_device(record))
    pulse_cfg = procs.write_config(
        tmp / "pulse.toml",
        url,
        '[[devices]]\ntype = "terminal"\n',
        '[theme.global.idle]\neffect = "pulse"\n',
    )
    pty = PtyReader()
    idle = _spawn(idle_cfg, tmp / "idle.log")
    pulse = _spawn(pulse_cfg, tmp / "pulse.log", stdout=pty.slave)
    pty.close_slave()
    try:
        if procs.wait_for_record(record, lambda r: r["global"] == "idle", 10, idle) is None:
            raise RuntimeError(f"idle bridge showed nothing: {(tmp / 'idle.log').read_text()}")
        time.sleep(_SETTLE)
        if pulse.poll() is not None or pty.redraws == 0:
            raise RuntimeError(f"pulse bridge drew nothing: {(tmp / 'pulse.log').read_text()}")
        t0 = time.monotonic()
        idle0, pulse0, redraws0 = (
            procs.cpu_seconds(idle.pid),
            procs.cpu_seconds(pulse.pid),
            pty.redraws,
        )
        time.sleep(window)
        idle1, pulse1, redraws1 = (
            procs.cpu_seconds(idle.pid),
            procs.cpu_seconds(pulse.pid),
            pty.redraws,
        )
        elapsed = time.monotonic() - t0
        idle_mem, pulse_mem = procs.memory_kib(idle.pid), procs.memory_kib(pulse.pid)
        alive = idle.poll() is None and pulse.poll() is None
    finally:
        procs.stop(idle)
        procs.stop(pulse)
        pty.close()
    if not alive:
        raise RuntimeError("a bridge exited during the measurement")
    idle_pct = (idle1 - idle0) / elapsed * 100
    pulse_pct = (pulse1 - pulse0) / elapsed * 100
    fps = (redraws1 - redraws0) / elapsed
    mb = 1024 / 1e6  # KiB → MB
    details = {
        "window_s": elapsed,
        "idle": {"cpu_s": idle1 - idle0, "memory_kib": idle_mem},
        "pulse": {"cpu_s": pulse1 - pulse0, "memory_kib": pulse_mem, "redraws_per_s": fps},
    }
    resolution = 100 / (os.sysconf("SC_CLK_TCK") * elapsed)
    figures = [
        Figure(
            "cost.idle.cpu",
            "CPU, idle agent, static looks (record)",
            idle_pct,
            "% core",
            0.05,
            note=f"{(idle1 - idle0) / elapsed * 60:.3f} CPU s/min over {elapsed:.0f} s "
            f"(resolution {resolution:.2f} %)",
        ),
        Figure(
            "cost.idle.rss",
            "peak RSS, idle agent, static looks",
            idle_mem["VmHWM"] * mb,
            "MB",
            40.0,
            note=f"VmHWM; VmRSS now {idle_mem['VmRSS'] * mb:.1f} MB",
        ),
        Figure(
            "cost.pulse.cpu",
            "CPU, idle agent, pulse on terminal (pty)",
            pulse_pct,
            "% core",
            2.0,
            note=f"{(pulse1 - pulse0) / elapsed * 60:.3f} CPU s/min, {fps:.1f} redraws/s",
        ),
        Figure(
            "cost.pulse.rss",
            "peak RSS, pulse on terminal",
            pulse_mem["VmHWM"] * mb,
            "MB",
            note="VmHWM",
        ),
    ]
    return figures, details
