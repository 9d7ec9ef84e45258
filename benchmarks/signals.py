"""How fast a stop signal leaves devices dark: idle, during start-up, under a flood.

``agentlight run`` is spawned with a record device against the built-in simulator
(in this process). SIGTERM is sent (a) once the bridge shows an idle agent, (b) the
moment its signal handlers are in (seen in ``/proc/<pid>/status``), during the heavy
imports, and (c) while the simulator sends frames of thousands of sessions back to
back (minimal sessions, so tens of thousands fit under the 2 MiB frame cap and every
frame is parsed), and (d) with the largest config accepted (``MAX_SOURCES`` sources,
``MAX_DEVICES`` record devices) once every device shows something. Measured: signal →
the record device's final ``"end"`` line (the device left dark; the last of them for
(d)), and signal → process exit. Budget: 1 s for both, whatever the load (1.5 s to exit
for (d)). The tests check only that the stop comes (a hang), never how fast.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.report import Figure
from bridge.infra.config import MAX_DEVICES, MAX_SOURCES
from bridge.simulator import SimAgent, SimServer


def _catches_term(pid: int) -> bool:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    except OSError:
        pass
    return False


async def _until(check: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.005)


async def _one(tmp: Path, when: str, sessions: int) -> tuple[float, float]:
    agent = SimAgent()
    for i in range(sessions):
        # Minimal sessions, as a hostile server would send them: tens of thousands
        # fit under the 2 MiB frame cap, so every frame is parsed and mapped.
        agent.set_raw_session({"session_key": f"w:{i}", "state": "thinking"})
    async with SimServer(agent, debounce=0.0) as server:
        record = tmp / f"{when}.jsonl"
        record.unlink(missing_ok=True)
        cfg = procs.write_config(tmp / f"{when}.toml", server.url, procs.record_device(record))
        proc = await asyncio.create_subprocess_exec(
            *procs.agentlight_command(), "run", "-c", str(cfg),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        flooding = False
        flood: asyncio.Task[None] | None = None
        if when == "start-up":
            await _until(lambda: _catches_term(proc.pid), 10)
        elif when == "flood":
            # The first big frame has been parsed, mapped and shown (the source keeps
            # its first max_sessions, 1,000 by default, and still parses them all).
            await _until(
                lambda: any(r["global"] == "active" for r in procs.read_records(record)), 60
            )
        else:
            await _until(lambda: bool(procs.read_records(record)), 30)
        if when == "flood":
            flooding = True

            async def changes() -> None:
                n = 0
                while flooding:
                    state = ("tool_running", "thinking")[n % 2]
                    agent.set_raw_session(
                        {"session_key": f"w:{n % sessions}", "state": state, "tool_name": "bash"}
                    )
                    n += 1
                    await asyncio.sleep(0.01)

            flood = asyncio.create_task(changes())
            await asyncio.sleep(2.0)  # let the bridge fall behind, if it would
        sent_wall, sent = time.time(), time.monotonic()
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
        exited = time.monotonic() - sent
        flooding = False
        if flood is not None:
            await flood
    lines = procs.read_records(record)
    end = next((r for r in reversed(lines) if r.get("end")), None)
    dark = float(end["t"]) - sent_wall if end is not None else (0.0 if not lines else float("nan"))
    return dark, exited


async def _largest(tmp: Path) -> tuple[float, float]:
    """SIGTERM to a bridge of the largest config accepted, every device showing."""
    async with SimServer(SimAgent(), debounce=0.0) as server:
        text = "".join(
            f'[[sources]]\ntype = "pocketpaw"\nname = "s{i}"\nurl = "{server.url}"\n'
            for i in range(MAX_SOURCES)
        )
        records = [tmp / f"largest-{i}.jsonl" for i in range(MAX_DEVICES)]
        text += "".join(procs.record_device(record) for record in records)
        cfg = tmp / "largest.toml"
        cfg.write_text(f'[bridge]\nlog_level = "warning"\n\n{text}', encoding="utf-8")
        proc = await asyncio.create_subprocess_exec(
            *procs.agentlight_command(), "run", "-c", str(cfg),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await _until(lambda: all(procs.read_records(r) for r in records), 60)
        sent_wall, sent = time.time(), time.monotonic()
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
        exited = time.monotonic() - sent
    ends = [next((r for r in procs.read_records(p) if r.get("end")), None) for p in records]
    lit = any(end is None for end in ends)
    dark = float("nan") if lit else max(float(e["t"]) for e in ends if e) - sent_wall
    return dark, exited


async def _run(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    big = 5000 if quick else 30000
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for when, sessions, label in (
            ("idle", 0, "idle agent"),
            ("start-up", 0, "during start-up (as soon as handlers are in)"),
            ("flood", big, f"{big:,}-session frames back to back"),
        ):
            dark, exited = await _one(tmp, when, sessions)
            details[when] = {"dark_s": dark, "exit_s": exited, "sessions": sessions}
            figures.append(
                Figure(f"stop_dark_{when}", f"SIGTERM → devices dark, {label}", dark, "s", 1.0)
            )
            figures.append(
                Figure(f"stop_exit_{when}", f"SIGTERM → process exit, {label}", exited, "s", 1.0)
            )
        dark, exited = await _largest(tmp)
        details["largest"] = {"dark_s": dark, "exit_s": exited}
        label = f"the largest config ({MAX_SOURCES} sources, {MAX_DEVICES} devices)"
        figures += [
            Figure("stop_dark_largest", f"SIGTERM → devices dark, {label}", dark, "s", 1.0),
            Figure("stop_exit_largest", f"SIGTERM → process exit, {label}", exited, "s", 1.5),
        ]
    return figures, details


def run(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    os.environ.pop("NO_COLOR", None)
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    from benchmarks.report import table

    found, _ = run(quick=False)
    print(table(found))
