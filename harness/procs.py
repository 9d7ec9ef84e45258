"""The real ``agentlight`` command as a process, for tests and benchmarks alike."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
from pathlib import Path
from typing import Any


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


def read_records(path: Path, *, finished: bool = False) -> list[dict[str, Any]]:
    """The record device's lines in ``path`` so far (none if there is no file yet).

    Only complete lines: the bridge may be writing the last one while we read (a
    half-written line is no JSON yet), and it is read with the next call. With
    ``finished`` (the bridge has exited) a line without its newline is an error.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    if finished and text and not text.endswith("\n"):
        raise ValueError(f"{path}: the last line was left unfinished: {text[-200:]!r}")
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


__all__ = ["agentlight_command", "read_records", "terminate"]
