"""Signals at any moment: during start-up, while running, under load, and SIGHUP."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from bridge.infra.signals import Signals
from bridge.simulator import SimAgent, SimServer
from harness.procs import read_records
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parent.parent



def config(tmp_path: Path, url: str, record: Path, extra: str = "") -> Path:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f"{extra}"
        f'[[sources]]\ntype = "pocketpaw"\nurl = "{url}"\nreconnect_min = 0.05\n'
        f'[[devices]]\ntype = "record"\npath = "{record}"\n'
    )
    return cfg


async def spawn(cfg: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge", "run", "-c", str(cfg), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip


# -- the handler object ------------------------------------------------------------------


async def test_a_signal_before_the_loop_stops_it_as_soon_as_it_attaches() -> None:
    signals = Signals()
    signals.dispatch(signal.SIGTERM)  # during the imports, before any loop
    stop = asyncio.Event()
    with signals.attached(stop):
        assert stop.is_set()


async def test_until_stopped_hands_the_work_a_stop_the_signals_set() -> None:
    signals = Signals()

    async def work(stop: asyncio.Event) -> str:
        assert not stop.is_set()
        signals.dispatch(signal.SIGINT)  # Ctrl-C while it runs
        await asyncio.wait_for(stop.wait(), 5)
        return "stopped"

    assert await signals.until_stopped(work, or_else="not started") == "stopped"


async def test_until_stopped_does_not_start_work_after_a_stop_during_start_up() -> None:
    signals = Signals()
    signals.dispatch(signal.SIGTERM)  # during the imports
    started: list[bool] = []

    async def work(stop: asyncio.Event) -> int:
        started.append(True)
        return 1

    assert await signals.until_stopped(work, or_else=0) == 0
    assert not started


async def test_sighup_stops_unless_a_reload_callback_is_plugged_in() -> None:
    signals = Signals()
    reloads: list[int] = []
    signals.set_reload(lambda: reloads.append(1))
    stop = asyncio.Event()
    with signals.attached(stop):
        signals.dispatch(signal.SIGHUP)
        assert reloads == [1]
        assert not stop.is_set()
        signals.set_reload(None)
        signals.dispatch(signal.SIGHUP)
        assert stop.is_set()


# -- the real process ----------------------------------------------------------------------


def catches(pid: int, sig: signal.Signals) -> bool:
    """Whether process ``pid`` has a handler for ``sig`` (its SigCgt mask in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
@pytest.mark.parametrize("delay", [0.0, 0.02, 0.1, 0.3])
async def test_a_stop_during_start_up_ends_cleanly(
    tmp_path: Path, sig: signal.Signals, delay: float
) -> None:
    """Wherever the signal lands in start-up: exit 0, no traceback, nothing left lit.

    Before the interpreter runs our first line nothing can catch a signal; from
    the moment the handlers are in (seen in /proc), every moment must be safe.
    """
    record = tmp_path / "r.jsonl"
    async with SimServer(SimAgent(), debounce=0.01) as server:
        proc = await spawn(config(tmp_path, server.url, record))
        await eventually(lambda: catches(proc.pid, signal.SIGTERM), 10)
        await asyncio.sleep(delay)  # the point of the test: any moment of start-up
        proc.send_signal(sig)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    assert "KeyboardInterrupt" not in err.decode()
    lines = read_records(record, finished=True)
    if lines:  # the device had opened: its last line says it was left dark
        assert lines[-1].get("end") is True
        assert lines[-1]["look"]["effect"] == "off"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
async def test_stop_leaves_a_final_record_line(tmp_path: Path, sig: signal.Signals) -> None:
    record = tmp_path / "r.jsonl"
    agent = SimAgent()
    agent.agent_start("websocket:a", "Hello")
    async with SimServer(agent, debounce=0.01) as server:
        proc = await spawn(config(tmp_path, server.url, record))
        await eventually(lambda: any(r.get("global") == "active" for r in read_records(record)), 10)
        proc.send_signal(sig)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    last = read_records(record, finished=True)[-1]
    assert last["end"] is True
    assert last["look"]["effect"] == "off"
    assert last["look"]["color"] == "#000000"


async def test_the_final_record_line_shows_the_on_exit_look(tmp_path: Path) -> None:
    record = tmp_path / "r.jsonl"
    extra = '[bridge]\non_exit = { color = "#00ff40", brightness = 0.05 }\n'
    async with SimServer(SimAgent(), debounce=0.01) as server:
        proc = await spawn(config(tmp_path, server.url, record, extra))
        await eventually(lambda: any(r.get("global") == "idle" for r in read_records(record)), 10)
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    last = read_records(record, finished=True)[-1]
    assert last["end"] is True
    assert last["look"]["color"] == "#00ff40"
    assert last["look"]["brightness"] == 0.05


async def test_stop_under_a_flood_of_large_frames(tmp_path: Path) -> None:
    """Frames of thousands of sessions, back to back: SIGTERM still ends the run, dark.

    (How fast is measured in ``benchmarks/signals.py``, not here.)
    """
    record = tmp_path / "r.jsonl"
    agent = SimAgent()
    for i in range(5000):
        agent.agent_start(f"websocket:s{i}", f"session {i}")
    async with SimServer(agent, debounce=0.0) as server:
        proc = await spawn(config(tmp_path, server.url, record))
        await eventually(lambda: any(r.get("global") == "active" for r in read_records(record)), 20)
        flooding = True

        async def flood() -> None:
            n = 0
            while flooding:
                agent.tool_start(f"websocket:s{n % 5000}", "bash")
                n += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(flood())
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 15)
        flooding = False
        await task
    assert proc.returncode == 0, err.decode()
    assert read_records(record, finished=True)[-1]["end"] is True
