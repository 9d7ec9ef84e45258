"""Helper processes the benchmarks drive over stdin/stdout, one JSON line each way.

The helper prints one JSON line when it is ready (its ports), then answers each
command line (``{"op": ..., ...}``) with one line; closing its stdin is its cue
to stop. Used for the simulator (``benchmarks.sim_proc``) and a real PocketPaw
(``benchmarks/pocketpaw_runner.py``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any


class Piped:
    """One helper process; ``WHAT`` names it in errors."""

    WHAT = "the helper process"
    CLOSE_WITHIN = 5.0  # seconds it may take to stop before it is killed

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def spawn(
        cls, *argv: str, within: float, **kwargs: Any
    ) -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
        """Start ``argv`` and read its ready line (within ``within`` seconds)."""
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 24,  # a 1,000-stamp answer is one long line
            **kwargs,
        )
        assert proc.stdout is not None
        first = await asyncio.wait_for(proc.stdout.readline(), within)
        if not first:
            raise RuntimeError(f"{cls.WHAT} died while starting")
        ready: dict[str, Any] = json.loads(first)
        return proc, ready

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}).encode() + b"\n")
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.WHAT} died during {op!r}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), self.CLOSE_WITHIN)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
