"""Issue 30, item 7: a config's size is bounded, and drivers share a bounded thread pool.

A reload to 10,000 devices started 3,266 threads, then "can't start new thread",
and ignored SIGTERM. Now a config over :data:`MAX_DEVICES` devices or
:data:`MAX_SOURCES` sources is refused before anything is built, and blocking
driver calls run on one pool of at most :data:`devices.base.MAX_THREADS` threads.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.infra.config import MAX_DEVICES, MAX_SOURCES, parse_config
from bridge.infra.errors import ConfigError
from bridge.infra.threads import Pool, Strand
from bridge.simulator import SimAgent, SimServer
from devices import base
from devices.record import RecordDriver, RecordOptions
from harness.procs import read_records
from tests import test_service_reload
from tests.bridge_proc import STOP_HANG_S
from tests.test_service_reload import Bridge

ROOT = Path(__file__).resolve().parent.parent
# The running bridge with a reloader, as the reload tests use it.
bridge = test_service_reload.bridge


def tables(n: int, kind: str = "terminal") -> list[dict[str, Any]]:
    return [{"type": kind, "name": f"d{i}"} for i in range(n)]


# -- the config's size ------------------------------------------------------------------------


def test_the_largest_config_is_accepted_and_one_more_is_refused_naming_the_limit() -> None:
    sources = [{"type": "pocketpaw", "name": f"s{i}"} for i in range(MAX_SOURCES)]
    config = parse_config({"sources": sources, "devices": tables(MAX_DEVICES)}, file="c.toml")
    assert len(config.devices) == MAX_DEVICES and len(config.sources) == MAX_SOURCES
    with pytest.raises(ConfigError) as err:
        parse_config({"sources": sources[:1], "devices": tables(MAX_DEVICES + 1)}, file="c.toml")
    assert str(err.value) == (
        f"c.toml: devices: {MAX_DEVICES + 1} [[devices]] tables; at most {MAX_DEVICES} are allowed"
    )
    sources.append({"type": "pocketpaw", "name": "one-more"})
    with pytest.raises(ConfigError, match=f"at most {MAX_SOURCES} are allowed"):
        parse_config({"sources": sources, "devices": tables(1)}, file="c.toml")


def test_ten_thousand_devices_are_refused_before_any_is_checked() -> None:
    # Each table is wrong too: were they checked, there would be 10,000 errors.
    bad = [{"type": "terminal", "nonsense": i} for i in range(10_000)]
    with pytest.raises(ConfigError) as err:
        parse_config({"sources": [{"type": "pocketpaw"}], "devices": bad}, file="c.toml")
    assert "10,000 [[devices]] tables" in str(err.value)
    assert "nonsense" not in str(err.value)


async def test_a_reload_to_ten_thousand_devices_is_refused_and_starts_nothing(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    threads = threading.active_count()
    before = bridge.config
    bridge.write(devices={f"d{i}": "" for i in range(10_000)})
    refusal = await bridge.runtime.reload()
    assert refusal is not None and "refused" in refusal
    assert bridge.names == ["led", "deck"] and bridge.config is before
    assert threading.active_count() <= threads + 1  # the file reader's thread at most
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.startswith("reload refused, still running the previous config")
    assert f"10,000 [[devices]] tables; at most {MAX_DEVICES} are allowed" in line
    await still_running(bridge)


async def test_a_reload_to_one_source_too_many_is_refused_naming_the_limit(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    before = bridge.config
    text = bridge.path.read_text()
    source = text[text.index("[[sources]]") : text.index("[[devices]]")]
    names = [f'name = "s{i}"' for i in range(MAX_SOURCES + 1)]
    bridge.path.write_text(text + "".join(source.replace('name = "pp"', n) for n in names))
    refusal = await bridge.runtime.reload()
    assert refusal is not None and "refused" in refusal
    assert bridge.config is before and len(bridge.engine.sources) == 1
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert f"{MAX_SOURCES + 2} [[sources]] tables; at most {MAX_SOURCES} are allowed" in line
    await still_running(bridge)


async def still_running(bridge: Bridge) -> None:
    """The previous config carries on: the agent's next state reaches the devices."""
    bridge.server.agent.agent_start("websocket:after-refusal")
    for name in bridge.names:
        await bridge.mock(name).wait_for(lambda f: f.state.value == "active", timeout=5)


# -- the pool ----------------------------------------------------------------------------------


async def test_a_strand_runs_its_calls_in_order_one_at_a_time() -> None:
    pool = Pool(4, "test", idle=0.05)
    strand = Strand(pool)
    running = 0
    order: list[int] = []

    def call(i: int) -> int:
        nonlocal running
        running += 1
        assert running == 1, "two calls of one strand overlapped"
        time.sleep(0.001)
        order.append(i)
        running -= 1
        return i

    results = await asyncio.gather(*(strand.run(call, i) for i in range(50)))
    assert results == list(range(50)) and order == list(range(50))
    assert pool.threads <= 1  # one strand never holds two threads


async def test_many_strands_share_at_most_size_threads_and_idle_threads_exit() -> None:
    pool = Pool(4, "test", idle=0.05)
    strands = [Strand(pool) for _ in range(200)]
    peak = 0

    def call() -> None:
        nonlocal peak
        peak = max(peak, pool.threads)
        time.sleep(0.002)

    await asyncio.gather(*(s.run(call) for s in strands for _ in range(3)))
    assert peak <= 4 and pool.started <= 4
    await asyncio.sleep(0.5)  # ten times the idle time: real threads, real time
    assert pool.threads == 0  # an idle bridge holds no thread


async def test_a_hung_call_holds_one_thread_and_the_other_strands_go_on() -> None:
    pool = Pool(2, "test", idle=0.05)
    release = threading.Event()
    hung, other = Strand(pool), Strand(pool)
    stuck = [asyncio.ensure_future(hung.run(release.wait)) for _ in range(5)]
    await asyncio.sleep(0.05)
    # Five calls queued on the hung strand hold one thread; the other strand runs.
    assert await asyncio.wait_for(other.run(lambda: "ok"), 2) == "ok"
    assert pool.started <= 2
    release.set()
    assert await asyncio.gather(*stuck) == [True] * 5


async def test_drivers_replaced_again_and_again_leak_no_threads(tmp_path: Path) -> None:
    """Each driver used to keep its own thread for good, so every reload leaked them."""
    before = threading.active_count()
    for round_ in range(30):
        drivers = [
            RecordDriver(f"r{i}", RecordOptions(path=str(tmp_path / f"r{round_}-{i}.jsonl")))
            for i in range(4)
        ]
        for driver in drivers:
            await driver.open()
        for driver in drivers:
            await driver.close()
    assert base.THREADS.started <= base.MAX_THREADS
    assert threading.active_count() - before <= 4


# -- exit with the largest accepted config -----------------------------------------------------



async def test_sigterm_with_the_largest_accepted_config_leaves_every_device_dark(
    tmp_path: Path,
) -> None:
    """Every device's end line written and the process exited by itself. How fast (1 s
    to dark, 1.5 s to exit) is a budget: ``python -m benchmarks --only signals``."""
    async with SimServer(SimAgent()) as server:
        text = "".join(
            f'[[sources]]\ntype = "pocketpaw"\nname = "s{i}"\nurl = "{server.url}"\n'
            for i in range(MAX_SOURCES)
        )
        paths = [tmp_path / f"r{i}.jsonl" for i in range(MAX_DEVICES)]
        text += "".join(f'[[devices]]\ntype = "record"\npath = "{p}"\n' for p in paths)
        cfg = tmp_path / "c.toml"
        cfg.write_text(text)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge", "run", "-c", str(cfg),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not all(read_records(p) for p in paths):
                assert time.monotonic() < deadline, "the devices never showed anything"
                await asyncio.sleep(0.05)
            sent = time.time()
            proc.send_signal(signal.SIGTERM)
            # A hang bound, not a speed: the 1 s budget is the benchmark's.
            async with asyncio.timeout(STOP_HANG_S):
                code = await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert code == 0
    ends = [next((r for r in read_records(p, finished=True) if r.get("end")), None) for p in paths]
    assert all(end is not None for end in ends), "a device was left lit"
    dark = max(float(end["t"]) for end in ends if end is not None) - sent
    assert dark <= STOP_HANG_S, dark
