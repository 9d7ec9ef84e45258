"""Helpers for benchmarks that watch the real ``agentlight`` command from outside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from harness.procs import agentlight_command, read_records

ROOT = Path(__file__).resolve().parents[1]
_TICK = os.sysconf("SC_CLK_TCK")


def spawn_run(
    config: Path,
    log: Path,
    *,
    stdout: int = subprocess.DEVNULL,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``agentlight run -c config`` as users start it, its stderr kept in ``log``."""
    with log.open("wb") as err:
        return subprocess.Popen(
            [*agentlight_command(), "run", "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=err,
            env=env,
        )


class DrainedPty:
    """A pseudo-terminal a bridge writes to, its master end drained in a thread.

    A full pty would block the bridge. Every read is counted in ``bytes`` and
    handed to :meth:`_seen`; a subclass sets up the slave end and its own
    counters, then calls :meth:`start`.
    """

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.bytes = 0
        self._thread = threading.Thread(target=self._drain, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO once the last writer is gone
                return
            if not data:
                return
            self.bytes += len(data)
            self._seen(data)

    def _seen(self, data: bytes) -> None:
        """What a subclass counts in each read."""

    def close(self) -> None:
        os.close(self.master)
        self._thread.join(1)


def compile_bytecode() -> None:
    """Byte-compile agentlight's own modules, as ``pip install`` does.

    Start-up is measured as users run it: an installed package has its bytecode.
    Without it each run compiles its own source first (~0.1 s of the first look
    here), and with PYTHONDONTWRITEBYTECODE set (as on this machine) whether some
    earlier process left ``__pycache__`` behind would decide the figure.
    """
    import compileall

    for package in ("bridge", "devices"):
        compileall.compile_dir(ROOT / package, quiet=1)


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid``, from ``/proc/<pid>/stat``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may contain spaces and parentheses; fields follow the last ")".
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def memory_kib(pid: int) -> dict[str, int]:
    """VmHWM (peak RSS) and VmRSS of ``pid``, in KiB, from ``/proc/<pid>/status``."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            values[name] = int(rest.split()[0])
    return values


class IdleServer:
    """An idle PocketPaw simulator (real timings) in its own process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sim_proc", "idle"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{json.loads(self.proc.stdout.readline())['port']}"

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # its cue to stop
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def write_config(path: Path, url: str, devices: str, theme: str = "") -> Path:
    path.write_text(
        f'[bridge]\nlog_level = "warning"\n\n[[sources]]\ntype = "pocketpaw"\nurl = "{url}"\n\n'
        f"{devices}\n{theme}",
        encoding="utf-8",
    )
    return path


def record_device(path: Path) -> str:
    return f'[[devices]]\ntype = "record"\npath = "{path}"\n'


def wait_for_record(
    path: Path, predicate: Any, timeout: float, proc: subprocess.Popen[Any] | None = None
) -> dict[str, Any] | None:
    """The first recorded line matching ``predicate``, polling the file every ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in read_records(path):
            if predicate(record):
                return record
        if proc is not None and proc.poll() is not None:
            return None
        time.sleep(0.001)
    return None


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM (the bridge leaves devices dark and exits), then kill if it hangs."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
