"""Issue 30, item 5: the MQTT source holds and shows a bounded number of sessions, and
origins are evicted junk first, then least recently heard.

20 bridges of 9,000 sessions gave 36k sessions (188 MB, the record timing out, SIGTERM
4.6 s); 256 junk origins published first hid a real bridge for good. Driven through
``handle`` (what every broker message reaches); work counted in bytecodes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.net.mqtt import _direct_queue
from bridge.pipeline import bounds
from bridge.pipeline.model import GlobalState, SessionState
from bridge.pipeline.status_json import status_from_json, status_to_json
from bridge.sources.mqtt.options import Options
from bridge.sources.mqtt.source import HELD, MAX_ORIGINS, NAMED_REFUSALS, MqttSource
from tests.conftest import Recorder, eventually
from tests.mosquitto import Broker
from tests.opcount import count_ops, growth
from tests.test_mqtt_parts import status_of

MQTT_LOG = "agentlight.sources.mqtt"


def source(**options: object) -> tuple[MqttSource, Recorder]:
    rec = Recorder()
    return MqttSource("remote", Options(**options), rec), rec  # type: ignore[arg-type]


def payload(n: int, state: str = "thinking", prefix: str = "w") -> bytes:
    status = status_of("active", [(f"{prefix}:{i}", state) for i in range(n)])
    return json.dumps(status_to_json(status, time.time())).encode()


def shown(rec: Recorder) -> int:
    if not rec.statuses:
        return 0
    snap = rec.last.snapshot
    return len(snap.sessions) if snap is not None else 0


def test_twenty_bridges_of_nine_thousand_sessions_are_held_and_shown_within_bounds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    src, rec = source(max_sessions=100)
    big = payload(900)  # stands for 9,000 at a tenth of the cap
    with caplog.at_level(logging.INFO, logger=MQTT_LOG):
        for i in range(20):
            src.handle(f"agentlight/b{i}/status", big)
    assert shown(rec) == 100
    assert src._held <= HELD * 100
    assert all(e.held <= 100 for e in src._origins.values())
    assert "sessions dropped" in (rec.last.detail or "")
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("over the cap" in m for m in said) == 1
    assert sum("forgetting the least recently heard" in m for m in said) == 1


def test_handling_a_status_is_linear_in_its_sessions() -> None:
    def make(n: int) -> Callable[[], object]:
        src, _ = source(max_sessions=10_000)
        body = payload(n)
        return lambda: src.handle("agentlight/hostile-linear/status", body)

    assert growth(make, 100) < 2.2


def test_junk_published_first_never_hides_a_real_bridge() -> None:
    src, rec = source()
    for i in range(MAX_ORIGINS + 50):
        src.handle(f"agentlight/junk{i}/status", b"not a status")
    src.handle("agentlight/hostile-real/status", payload(1, "waiting_for_user"))
    snap = rec.last.snapshot
    assert snap is not None and [s.state for s in snap.sessions] == [SessionState.WAITING_FOR_USER]
    assert len(src._origins) <= MAX_ORIGINS
    # More junk afterwards evicts other junk, never the real bridge.
    for i in range(MAX_ORIGINS):
        src.handle(f"agentlight/late{i}/status", b"{}")
    assert "agentlight/hostile-real" in src._origins


def test_when_full_of_real_bridges_the_least_recently_heard_goes() -> None:
    src, _ = source()
    for i in range(MAX_ORIGINS):
        src.handle(f"agentlight/b{i}/status", payload(1, prefix=f"b{i}"))
    src.handle("agentlight/b0/availability", b"online")  # b0 heard again: b1 is the oldest now
    src.handle("agentlight/new/status", payload(1, prefix="new"))
    assert "agentlight/b1" not in src._origins
    assert "agentlight/b0" in src._origins and "agentlight/new" in src._origins
    assert src.evicted == 1


def test_a_topic_prefix_over_256_characters_is_ignored() -> None:
    src, _ = source()
    src.handle("agentlight/" + "x" * 300 + "/status", payload(1))
    assert src._origins == {} and src.refused == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 40), st.booleans()), min_size=1, max_size=60
    )
)
def test_held_sessions_never_pass_the_bound(steps: list[tuple[int, int, bool]]) -> None:
    src, rec = source(max_sessions=10)
    for origin, n, clear in steps:
        body = b"" if clear else payload(n)
        src.handle(f"agentlight/b{origin}/status", body)
        assert src._held == sum(e.held for e in src._origins.values())
        assert src._held <= HELD * 10
        assert shown(rec) <= 10
    if rec.statuses:
        assert rec.last.global_state in set(GlobalState)


def test_a_mirrored_status_is_read_with_every_string_and_list_capped() -> None:
    huge = "h" * 100_000
    doc = {
        "version": 1,
        "global": "active",
        "t": time.time(),
        "sources": [
            {"name": f"s{i}", "connection": "connected", "state": "active", "detail": huge}
            for i in range(100)
        ],
        "sessions": [
            {
                "source": "s0",
                "key": huge,
                "id": huge,
                "channel": huge,
                "title": huge,
                "tool": huge,
                "error": huge,
                "raw_state": huge,
                "parent": huge,
                "state": "thinking",
                "usage": [{"model": huge, "input": 1} for _ in range(1000)],
                "extra": {f"k{i}{huge}": huge for i in range(100)},
            }
        ],
    }
    status = status_from_json(doc, origin="agentlight/desk")
    assert len(status.sources) == 32
    assert all(len(s.detail or "") <= bounds.MESSAGE_CHARS for s in status.sources)
    (one,) = status.sessions
    assert len(one.key) == len(one.id) == bounds.KEY_CHARS
    assert len(one.title or "") == bounds.TITLE_CHARS
    assert len(one.error or "") == bounds.MESSAGE_CHARS
    assert max(len(one.tool or ""), len(one.channel), len(one.raw_state)) == bounds.NAME_CHARS
    assert len(one.usage) == 32 and len(one.extra) == 8
    held = sum(len(v) for v in (one.key, one.id, one.title, one.error, one.parent) if v)
    assert held + sum(len(k) + len(v) for k, v in one.extra) < 5000


def test_a_status_costs_what_is_kept_not_what_was_sent() -> None:
    def parse(n: int) -> Callable[[], object]:
        doc = json.loads(payload(n))
        return lambda: status_from_json(doc, origin="agentlight/x", max_sessions=100)

    assert count_ops(parse(8000)) == count_ops(parse(4000))


def test_messages_are_handled_as_read_never_queued(caplog: pytest.LogCaptureFixture) -> None:
    """aiomqtt's own queue grew without limit while big messages were parsed (105 MB)."""
    got: list[object] = []

    def deliver(message: object) -> None:
        if message == "boom":
            raise RuntimeError("a bug in the handler")
        got.append(message)

    queue = _direct_queue(deliver)()
    for item in ("a", "boom", "b"):
        queue.put_nowait(item)
    assert got == ["a", "b"] and queue.qsize() == 0
    assert "unexpected error handling an MQTT message" in caplog.text


def test_evictions_are_said_once_per_episode_and_counted_in_the_detail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    src, rec = source()
    src.handle("agentlight/real/status", payload(1, prefix="real"))
    with caplog.at_level(logging.INFO, logger=MQTT_LOG):
        for i in range(MAX_ORIGINS + 10):
            src.handle(f"agentlight/junk{i}/status", b"junk")
        src.handle("agentlight/real/status", payload(2, prefix="real"))
        assert "11 bridges forgotten to make room" in (rec.last.detail or "")
        said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert sum("forgetting the least recently heard" in m for m in said) == 1
        # Junk is named origin by origin only up to NAMED_REFUSALS, then in one line.
        assert sum("ignoring a message from" in m for m in said) == NAMED_REFUSALS
        assert sum(f"more than {NAMED_REFUSALS} bridges" in m for m in said) == 1
        # The junk's retained messages cleared: room again, the episode is over.
        for i in range(MAX_ORIGINS + 10):
            src.handle(f"agentlight/junk{i}/status", b"")
        src.handle("agentlight/real/status", payload(3, prefix="real"))
        assert "forgotten" not in (rec.last.detail or "")
        assert "room for every bridge" in caplog.text
        for i in range(MAX_ORIGINS):
            src.handle(f"agentlight/again{i}/status", b"junk")
        said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert sum("forgetting the least recently heard" in m for m in said) == 2


async def test_a_real_bridge_shows_through_junk_retained_on_a_real_broker(tmp_path: Path) -> None:
    """The issue's case on a real Mosquitto: more than 256 junk origins retained before
    the real bridge, and more junk while the subscriber runs."""
    aiomqtt = pytest.importorskip("aiomqtt")
    broker = Broker(tmp_path)
    broker.start()
    task: asyncio.Task[None] | None = None
    try:
        async with aiomqtt.Client(broker.host, broker.port, identifier="junk") as client:
            for i in range(MAX_ORIGINS + 44):
                await client.publish(f"agentlight/a{i:03}/status", b"junk", qos=1, retain=True)
                await client.publish(f"agentlight/a{i:03}/availability", b"?", qos=1, retain=True)
            real = payload(1, "waiting_for_user", prefix="real")
            await client.publish("agentlight/zz-real/status", real, qos=1, retain=True)
            rec = Recorder()
            options: dict[str, Any] = {**broker.options, "prefix": "agentlight/+"}
            src = MqttSource("remote", Options(**options), rec)
            task = asyncio.create_task(src.run())

            def waiting() -> bool:
                snap = rec.statuses[-1].snapshot if rec.statuses else None
                return snap is not None and any(
                    s.state is SessionState.WAITING_FOR_USER for s in snap.sessions
                )

            await eventually(waiting, within=20)
            assert len(src._origins) <= MAX_ORIGINS
            refused = src.refused
            for i in range(MAX_ORIGINS + 44):
                await client.publish(f"agentlight/b{i:03}/status", b"junk", qos=1)
            await eventually(lambda: src.refused >= refused + MAX_ORIGINS + 44, within=20)
            assert waiting() and "agentlight/zz-real" in src._origins
            assert len(src._origins) <= MAX_ORIGINS
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        broker.stop()
