"""The real ``agentlight`` command as a process, for tests and benchmarks alike."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
from pathlib import Path


def agentlight_command() -> list[str]:
    """The installed console script (what users run), else ``python -m bridge``."""
    script = Path(sys.executable).with_name("agentlight")
    if script.exists():
        return [str(script)]
    found = shutil.which("agentlight")
    return [found] if found else [sys.executable, "-m", "bridge"]


async def terminate(proc: asyncio.subprocess.Process, within: float = 5.0) -> None:
    """SIGTERM (the bridge leaves its devices dark and exits), then SIGKILL if it has
    not exited after ``within`` seconds; returns once it has exited."""
    if proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), within)
    except TimeoutError:
        proc.kill()
        await proc.wait()


__all__ = ["agentlight_command", "terminate"]
