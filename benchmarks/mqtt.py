"""MQTT: one bridge's frame → Mosquitto → a second bridge's device, and publishes per minute.

A real Mosquitto on 127.0.0.1 (started here with :mod:`harness.mosquitto`, as the
tests do); the publishing bridge (``benchmarks.mqtt_pub``: Engine + scripted source +
the real ``mqtt`` device) in its own process; the subscribing bridge (the real
``mqtt`` source feeding an Engine with a stamping driver) in this one. Both stamps are
``time.monotonic_ns()``: the frame handed to the publisher's mqtt device, and
the frame handed to the subscriber's device.

The second figure runs a pulsing look for a while and counts what the mqtt
device published against the state changes (and against the frames an LED
beside it was sent): it must publish on a change of state, never on an
animation frame.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.latency import StampDriver
from benchmarks.procs import ROOT
from benchmarks.report import Figure, percentile
from bridge.engine import Device, Engine
from bridge.pipeline.theme import default_theme
from harness.mosquitto import INSTALL, Broker, mosquitto_binary

MS = 1e6  # ns per ms


class Publisher:
    """``benchmarks.mqtt_pub`` in a subprocess."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, port: int, mode: str, amount: float) -> Publisher:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "benchmarks.mqtt_pub", str(port), mode, str(amount)),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 24,
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if line.strip() != b"ready":
            raise RuntimeError(f"publisher did not start: {line!r}")
        return cls(proc)

    async def go(self, within: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), within)
        await asyncio.wait_for(self.proc.wait(), 10)
        result: dict[str, Any] = json.loads(line)
        return result


async def _latency(port: int, changes: int) -> dict[str, Any]:
    from bridge.sources.mqtt.options import Options
    from bridge.sources.mqtt.source import MqttSource

    driver = StampDriver()
    engine = Engine([Device(driver, "session")], default_theme())
    source = MqttSource(
        "remote", Options(host="127.0.0.1", port=port, prefix="agentlight/+"), engine.publish
    )
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run([source], stop))
    try:
        publisher = await Publisher.start(port, "latency", changes)
        result = await publisher.go(within=changes * 0.05 + 30)
        handed: dict[str, int] = result["handed"]
        last = f"t{changes - 1}"
        await driver.wait_seen(last, within=5)
    finally:
        stop.set()
        await task
    latencies = [
        (driver.seen[tag] - sent) / MS for tag, sent in handed.items() if tag in driver.seen
    ]
    return {
        "changes": changes,
        "received": len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
    }


async def _animate(port: int, seconds: float) -> dict[str, Any]:
    publisher = await Publisher.start(port, "animate", seconds)
    return await publisher.go(within=seconds + 30)


def run(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    if mosquitto_binary() is None:
        note = f"mosquitto is not installed ({INSTALL})"
        return [
            Figure("mqtt.p99", "MQTT bridge → bridge p99", None, "ms", 20.0, note=note),
        ], {"skipped": note}
    changes = 200 if quick else 1000
    seconds = 12.0 if quick else 60.0
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(Path(tmp))
        broker.start()
        try:
            latency = asyncio.run(_latency(broker.port, changes))
            animate = asyncio.run(_animate(broker.port, seconds))
        finally:
            broker.stop()
    minutes = animate["seconds"] / 60
    per_minute = animate["publishes"] / minutes
    changes_per_minute = animate["changes"] / minutes
    lost = latency["changes"] - latency["received"]
    figures = [
        Figure(
            "mqtt.p50",
            "MQTT frame → broker → 2nd bridge p50",
            latency["p50_ms"],
            "ms",
            note=f"{latency['received']} changes, loopback",
        ),
        Figure(
            "mqtt.p99",
            "MQTT frame → broker → 2nd bridge p99",
            latency["p99_ms"],
            "ms",
            20.0,
            note=f"max {latency['max_ms']:.1f} ms" + (f"; {lost} not seen" if lost else ""),
        ),
        Figure(
            "mqtt.publishes_per_minute",
            "MQTT publishes/min, pulsing look",
            round(per_minute, 1),
            "/min",
            # Never more than one status message per change of state.
            round(changes_per_minute, 1),
            note=(
                f"{animate['changes']} state changes in {animate['seconds']:.0f} s; "
                f"an LED beside it got {animate['led_frames']} frames"
            ),
        ),
    ]
    return figures, {"latency": latency, "animate": animate}


__all__ = ["run"]
