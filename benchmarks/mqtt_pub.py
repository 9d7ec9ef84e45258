"""The publishing bridge of the MQTT benchmark, in its own process.

``python -m benchmarks.mqtt_pub PORT MODE SECONDS_OR_COUNT`` runs a real Engine
with a scripted source and a real ``mqtt`` device on the broker at
127.0.0.1:PORT, prints ``ready`` once connected, waits for a line on stdin, runs
the script, and prints one JSON line of results.

- ``latency N``: N changes 50 ms apart, each a session running tool ``t<i>``;
  the result maps each tag to the ``time.monotonic_ns()`` at which the engine
  handed its frame to the mqtt device (CLOCK_MONOTONIC is shared by every
  process on Linux, so the subscriber's stamps compare).
- ``animate S``: S seconds of a session alternating every 2 s between
  ``thinking`` (a pulsing look) and ``streaming`` (pulsing too), with a 30 fps
  LED-like mock device beside the mqtt one; the result counts the state
  changes, the status messages published and the frames the LED was sent.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from bridge.engine import Device, Engine
from bridge.net.mqtt import LinkState
from bridge.pipeline.frame import Frame
from bridge.pipeline.model import ConnectionState, GlobalState, Session, SessionState, Snapshot
from bridge.pipeline.theme import default_theme
from bridge.sources.base import Source
from devices.mock import MockDriver
from devices.mqtt.publisher import MqttDriver, MqttOptions


class StampedMqtt(MqttDriver):
    """The real mqtt device, stamping when each tagged frame reaches it."""

    def __init__(self, port: int) -> None:
        super().__init__(
            "mqtt",
            MqttOptions(host="127.0.0.1", port=port, prefix="agentlight/bench", qos=1),
        )
        self.handed: dict[str, int] = {}

    async def _show(self, frame: Frame) -> None:
        sessions = frame.status.sessions
        if sessions and sessions[0].tool is not None:
            self.handed.setdefault(sessions[0].tool, time.monotonic_ns())
        await super()._show(frame)


class Script(Source):
    """A source that says whatever the benchmark tells it to."""

    TYPE = "script"

    async def run(self) -> None:
        await asyncio.Event().wait()

    def say(self, state: SessionState, tool: str | None = None) -> None:
        session = Session(
            key="websocket:bench",
            id="bench",
            channel="websocket",
            state=state,
            tool=tool,
            since=time.time(),
            source=self.name,
            raw_state=state.value,
        )
        self.publish(ConnectionState.CONNECTED, Snapshot(GlobalState.ACTIVE, (session,), 1))


async def main(port: int, mode: str, amount: float) -> dict[str, Any]:
    mqtt = StampedMqtt(port)
    led = MockDriver("led")
    engine = Engine([Device(mqtt, "session"), Device(led, "session")], default_theme())
    script = Script("script", None, engine.publish)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run([script], stop))
    script.say(SessionState.THINKING)
    while mqtt.link.state is not LinkState.CONNECTED or mqtt.publishes < 1:  # noqa: ASYNC110
        await asyncio.sleep(0.01)  # counters without an event, polled once at start
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    result: dict[str, Any] = {}
    if mode == "latency":
        for i in range(int(amount)):
            script.say(SessionState.TOOL_RUNNING, f"t{i}")
            await asyncio.sleep(0.05)
        result["handed"] = mqtt.handed
    else:
        publishes, shows = mqtt.publishes, len(led.frames)
        started = time.monotonic()
        changes = 0
        states = (SessionState.STREAMING, SessionState.THINKING)
        while time.monotonic() - started < amount:
            script.say(states[changes % 2])
            changes += 1
            await asyncio.sleep(min(2.0, max(0.0, amount - (time.monotonic() - started))))
        await asyncio.sleep(0.2)  # the last change reaches the broker
        result.update(
            seconds=time.monotonic() - started,
            changes=changes,
            publishes=mqtt.publishes - publishes,
            led_frames=len(led.frames) - shows,
        )
    stop.set()
    await task
    return result


if __name__ == "__main__":
    port, mode, amount = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    print(json.dumps(asyncio.run(main(port, mode, amount))), flush=True)
