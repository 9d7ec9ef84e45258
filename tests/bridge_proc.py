"""Run the real ``agentlight`` command in a subprocess, with its own runtime directory."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# How long a stopping bridge may take before a test calls it hung: SIGTERM → devices
# dark (the record's end line) and → exit. Far above the 1 s budget, which is a speed
# and measured by `python -m benchmarks --only signals,hostile` (a loaded test machine
# took 1.14 s under the worst input); what a test proves is that the stop comes at all.
STOP_HANG_S = 5.0


def agentlight(*args: str) -> list[str]:
    return [sys.executable, "-m", "bridge", *args]


def run_agentlight(
    *args: str, timeout: float = 30, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``agentlight ARGS`` run to its end from the repository's root, its output as text."""
    return subprocess.run(
        agentlight(*args), capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
    )


def unanswered_config(directory: Path, name: str = "config.toml") -> tuple[Path, Path]:
    """A config in ``directory`` of a PocketPaw source nobody answers (port 1 on
    loopback) and a record device named ``rec`` (``demo --record`` adds one named
    ``record``): (the config, the record device's file)."""
    record = directory / f"{Path(name).stem}.jsonl"
    config = directory / name
    config.write_text(
        '[[sources]]\ntype = "pocketpaw"\nurl = "http://127.0.0.1:1"\n'
        f'[[devices]]\ntype = "record"\nname = "rec"\npath = "{record}"\n'
    )
    return config, record


def environ(run: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RUNTIME_DIRECTORY", "NOTIFY_SOCKET")}
    env["XDG_RUNTIME_DIR"] = str(run)
    env["PYTHONPATH"] = str(ROOT)
    return env


@asynccontextmanager
async def running_bridge(config: Path, run: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """``agentlight run -c config`` until it says the API listens; SIGTERM after."""
    proc = await asyncio.create_subprocess_exec(
        *agentlight("run", "-c", str(config)),
        env=environ(run),
        cwd=config.parent,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    log: list[str] = []
    try:
        async with asyncio.timeout(30):
            while True:
                line = (await proc.stderr.readline()).decode()
                if not line:
                    raise AssertionError(f"the bridge exited: {''.join(log)}")
                log.append(line)
                if "api: listening on" in line:
                    break
        drain = asyncio.create_task(proc.stderr.read())
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(10):
                await proc.wait()
        if "drain" in locals():
            await drain
