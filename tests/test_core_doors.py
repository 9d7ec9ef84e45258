"""The core's doors: sessions by source, outages beside sessions, refresh, input,
run-time changes, stable slots and the versioned JSON form."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from bridge.engine import Device
from bridge.pipeline.frame import Frame
from bridge.pipeline.inputs import InputEvent, Target
from bridge.pipeline.looks import Color
from bridge.pipeline.mapping import Mapper, frame_for
from bridge.pipeline.model import (
    AgentStatus,
    ConnectionState,
    GlobalState,
    ModelUsage,
    SessionRef,
    SessionState,
    Snapshot,
    SourceStatus,
    TokenUsage,
)
from bridge.pipeline.slots import SlotMap
from bridge.pipeline.status_json import VERSION, status_from_json, status_to_json
from bridge.pipeline.theme import default_theme, parse_theme
from bridge.sources.base import Source
from devices.mock import MockDriver, MockOptions
from devices.record import RecordDriver, RecordOptions
from harness.procs import read_records
from harness.vclock import run_virtual, vloop
from tests.conftest import eventually
from tests.enginerig import EngineRun
from tests.frames import make_session, make_source


def connected(name: str, state: str, *sessions: tuple[str, str]) -> SourceStatus:
    return make_source(name, state, sessions)


def last_record(path: Any) -> dict[str, Any] | None:
    lines = read_records(path)
    return lines[-1] if lines else None


def down(name: str) -> SourceStatus:
    return make_source(name, connection=ConnectionState.DISCONNECTED, detail="refused")


def virtual(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    run_virtual(main, real_budget=20.0)


def started(*drivers: MockDriver | RecordDriver) -> EngineRun:
    return EngineRun(drivers, retry=(0.01, 0.05)).start()


# -- 1. sessions are known by source and key ----------------------------------------------


async def test_two_sources_with_the_same_session_key_stay_apart(tmp_path: Any) -> None:
    path = tmp_path / "rec.jsonl"
    mock = MockDriver("m", MockOptions(slots=4))
    record = RecordDriver("r", RecordOptions(path=str(path)))
    run = started(mock, record)
    engine = run.engine
    engine.publish(connected("laptop", "active", ("websocket:abc", "thinking")))
    engine.publish(connected("server", "degraded", ("websocket:abc", "error")))
    frame = await mock.wait_for(lambda f: len(f.sessions) == 2)
    by_ref = {v.ref: v for v in frame.sessions}
    laptop, server = SessionRef("laptop", "websocket:abc"), SessionRef("server", "websocket:abc")
    assert by_ref[laptop].session.state.value == "thinking"
    assert by_ref[server].session.state.value == "error"
    assert by_ref[laptop].look != by_ref[server].look  # each keeps its own look
    assert frame.focus == server  # the error, named with its source
    assert {by_ref[laptop].slot, by_ref[server].slot} == {0, 1}
    await eventually(lambda: len((last_record(path) or {"sessions": []})["sessions"]) == 2)
    await run.stop()
    last = last_record(path)
    assert last is not None
    pairs = {(s["source"], s["key"], s["state"], s["look"]["color"]) for s in last["sessions"]}
    looks = default_theme().session_looks
    assert pairs == {
        ("laptop", "websocket:abc", "thinking", looks[SessionState.THINKING].color.hex),
        ("server", "websocket:abc", "error", looks[SessionState.ERROR].color.hex),
    }
    assert last["focus"] == {"source": "server", "key": "websocket:abc"}


# -- 2. one source down never hides another's sessions ----------------------------------


async def test_an_outage_never_hides_a_session_waiting_for_the_user(tmp_path: Any) -> None:
    path = tmp_path / "rec.jsonl"
    single = MockDriver("led")
    strip = MockDriver("strip", MockOptions(slots=3))
    record = RecordDriver("r", RecordOptions(path=str(path)))
    run = started(single, strip, record)
    engine = run.engine
    engine.publish(connected("agp", "active", ("s1", "waiting_for_user")))
    engine.publish(down("pocketpaw"))
    # The single LED shows the question, not the other source's outage.
    frame = await single.wait_for(lambda f: f.state is GlobalState.DISCONNECTED)
    assert frame.focus == SessionRef("agp", "s1")
    assert frame.look.label == "Waiting for you"
    # A device with room shows both: the outage as its global look, the session in a slot.
    wide = await strip.wait_for(lambda f: f.state is GlobalState.DISCONNECTED)
    assert wide.global_look.label == "No agent"
    assert [(v.ref, v.slot) for v in wide.sessions] == [(SessionRef("agp", "s1"), 0)]
    # A merely busy session does not outrank the outage.
    engine.publish(connected("agp", "active", ("s1", "thinking")))
    frame = await single.wait_for(lambda f: f.focus is None)
    assert frame.look.label == "No agent"
    await eventually(lambda: (last_record(path) or {"global": ""})["global"] == "disconnected")
    await run.stop()
    lines = read_records(path, finished=True)
    outage = next(r for r in lines if r["sessions"] and r["global"] == "disconnected")
    assert [s["key"] for s in outage["sessions"]] == ["s1"]
    assert {(s["name"], s["connection"]) for s in outage["sources"]} == {
        ("agp", "connected"),
        ("pocketpaw", "disconnected"),
    }


# -- 3. refresh, input, invalidate, global colour ------------------------------------------


def test_refresh_resends_a_static_frame_at_its_period_and_only_then() -> None:
    async def main() -> None:
        loop = vloop()
        wled = MockDriver("wled", MockOptions(refresh=2.5))
        still = MockDriver("still")
        run = started(wled, still)
        engine = run.engine
        engine.publish(connected("pp", "idle"))  # idle: a static look
        await wled.wait_for(lambda f: f.state is GlobalState.IDLE)
        start = loop.time()
        await asyncio.sleep(10.1)
        times = [round(f.t - start, 6) for f in wled.frames if f.state is GlobalState.IDLE]
        assert times == [0.0, 2.5, 5.0, 7.5, 10.0]
        assert len([f for f in still.frames if f.state is GlobalState.IDLE]) == 1
        # A change resets the period: the next refresh is 2.5 s after it.
        engine.publish(connected("pp", "active"))
        changed = await wled.wait_for(lambda f: f.state is GlobalState.ACTIVE)
        await asyncio.sleep(2.6)
        after = [round(f.t - changed.t, 6) for f in wled.frames if f.state is GlobalState.ACTIVE]
        assert after == [0.0, 2.5]
        await run.stop()

    virtual(main)


async def test_an_input_event_reaches_the_drivers_own_action_and_the_sources() -> None:
    class Listening(Source):
        TYPE = "listening"

        def __init__(self) -> None:
            super().__init__("listening", None, lambda status: None)
            self.heard: list[InputEvent] = []

        async def run(self) -> None:
            await asyncio.Event().wait()

        async def on_input(self, event: InputEvent) -> None:
            self.heard.append(event)

    deck = MockDriver("deck", MockOptions(slots=-1))
    source = Listening()
    run = EngineRun([deck], sources=[source]).start()
    engine = run.engine
    engine.publish(connected("pp", "active", ("websocket:a", "waiting_for_user")))
    frame = await deck.wait_for(lambda f: bool(f.sessions))
    sent = deck.press("key:1", Target.of_session(frame.sessions[0].ref))
    handled = await deck.wait_for_input()
    assert handled == sent
    assert handled.target.session == SessionRef("pp", "websocket:a")
    await eventually(lambda: source.heard)
    assert source.heard == [sent]
    await run.stop()


async def test_invalidate_redraws_an_unchanged_frame_now() -> None:
    mock = MockDriver("m")
    run = started(mock)
    engine = run.engine
    engine.publish(connected("pp", "idle"))
    await mock.wait_for(lambda f: f.state is GlobalState.IDLE)
    mark = len(mock.shown)
    mock.invalidate()
    again = await mock.wait_for(lambda f: True, start=mark)
    assert again == mock.frames[mark - 1]  # the same frame, written again on request
    await run.stop()


def test_frame_carries_the_sampled_global_colour_beside_a_session_look() -> None:
    mapper = Mapper(default_theme())
    status = AgentStatus.fold((down("a"), connected("b", "active", ("x:1", "error"))))
    frame = frame_for("d", mapper.map(status, 0.0), 0.0, slots=SlotMap(2))
    theme = default_theme()
    assert frame.focus == SessionRef("b", "x:1")
    dis = theme.global_looks[GlobalState.DISCONNECTED]
    assert frame.global_color == dis.color.scaled(dis.brightness)  # a blink starts "on"
    assert frame.color != frame.global_color


# -- 4. the engine changes while it runs ----------------------------------------------------


def test_theme_swap_keeps_effect_phases_and_devices_come_and_go() -> None:
    async def main() -> None:
        loop = vloop()
        keep = MockDriver("keep")
        run = started(keep)
        engine = run.engine
        engine.publish(connected("pp", "active", ("w:1", "thinking")))  # thinking pulses
        first = await keep.wait_for(lambda f: f.focus is not None)
        began = engine.mapped.sessions[0].since
        await asyncio.sleep(0.7)
        # A theme that changes only the idle look: the pulse keeps its phase.
        engine.set_theme(
            parse_theme({"global": {"idle": {"color": "red"}}}, file=None, base=default_theme())
        )
        assert engine.mapped.sessions[0].since == began
        # One that changes the thinking look restarts it.
        engine.set_theme(
            parse_theme(
                {"session": {"thinking": {"color": "purple"}}}, file=None, base=default_theme()
            )
        )
        assert engine.mapped.sessions[0].since == loop.time() > began
        purple = Color.parse("purple")
        await keep.wait_for(lambda f: f.look.color == purple)

        # A device added at run time shows the current look; the other is untouched.
        opens_before = keep.calls.count("open")
        added = MockDriver("added")
        await engine.add_device(Device(added))
        frame = await added.wait_for(lambda f: f.look.color == purple)
        assert frame.focus == first.focus
        await asyncio.wait_for(engine.ready.wait(), 1)
        await engine.remove_device("added")
        assert added.closed_blank is True and not added.is_open
        assert keep.calls.count("open") == opens_before and keep.is_open
        assert keep.calls.count("close") == 0
        assert [d.driver.name for d in engine.devices] == ["keep"]
        await run.stop()

    virtual(main)


async def test_sources_are_added_and_removed_at_run_time() -> None:
    class Fixed(Source):
        TYPE = "fixed"

        def __init__(self, name: str, publish: Callable[[SourceStatus], None]) -> None:
            super().__init__(name, None, publish)

        async def run(self) -> None:
            self.publish(
                ConnectionState.CONNECTED,
                Snapshot(GlobalState.ACTIVE, (make_session("k", "thinking", source=self.name),)),
            )
            await asyncio.Event().wait()

    mock = MockDriver("m", MockOptions(slots=-1))
    run = started(mock)
    engine = run.engine
    await engine.add_source(Fixed("one", engine.publish))
    await mock.wait_for(lambda f: [v.ref for v in f.sessions] == [SessionRef("one", "k")])
    await engine.add_source(Fixed("two", engine.publish))
    await mock.wait_for(lambda f: len(f.sessions) == 2)
    mark = len(mock.shown)
    await engine.remove_source("one")
    frame = await mock.wait_for(lambda f: len(f.sessions) == 1, start=mark)
    assert frame.sessions[0].ref == SessionRef("two", "k")
    assert [s.name for s in engine.sources] == ["two"]
    await run.stop()


async def test_a_device_that_failed_its_first_open_does_not_hold_ready() -> None:
    broken = MockDriver("broken", MockOptions(fail_open=100))
    fine = MockDriver("fine")
    run = started(broken, fine)
    engine = run.engine
    await asyncio.wait_for(engine.ready.wait(), 2)
    assert engine.not_ready == {"broken"}
    assert fine.frames  # ready means shown, not merely opened
    await run.stop()


# -- slots ---------------------------------------------------------------------------------


def test_slots_are_stable_and_reused_lowest_first() -> None:
    a, b, c, d = (SessionRef("s", k) for k in "abcd")
    slots = SlotMap(2)
    assert slots.assign([a, b]) == {a: 0, b: 1}
    assert slots.assign([a, b, c]) == {a: 0, b: 1}  # no room for c
    assert slots.assign([b, c]) == {b: 1, c: 0}  # a left; c takes its slot, b stays
    assert slots.assign([d, b, c]) == {b: 1, c: 0}
    unbounded = SlotMap(None)
    assert unbounded.assign([a, b, c]) == {a: 0, b: 1, c: 2}
    assert unbounded.assign([c, d]) == {c: 2, d: 0}
    with pytest.raises(ValueError):
        SlotMap(-1)


# -- 5. the versioned JSON form ----------------------------------------------------------


def test_the_json_form_round_trips() -> None:
    usage = (
        ModelUsage("big", TokenUsage(100, 20, 5)),
        ModelUsage("small", TokenUsage(10, 2)),
    )
    rich = make_session("sess-1", "thinking", source="agp", since=990.0, title="Fix ✓")
    rich = dataclasses.replace(
        rich,
        usage=usage,
        tokens=TokenUsage.sum(usage),
        steps=7,
        parent="root",
        raw_state="running",
        extra=(("model", "big"),),
    )
    status = AgentStatus.fold(
        (
            SourceStatus(
                "agp", ConnectionState.CONNECTED, Snapshot(GlobalState.ACTIVE, (rich,), 1, 4)
            ),
            down("pocketpaw"),
        )
    )
    doc = status_to_json(status, 1000.0)
    assert doc["version"] == VERSION and doc["global"] == "disconnected"
    assert doc["sessions"][0]["tokens"] == {"input": 110, "output": 22, "reasoning": 5}
    again = status_from_json(json.loads(json.dumps(doc)))
    assert again == status
    # Another bridge's status, mirrored: sources are named by origin.
    mirrored = status_from_json(doc, origin="agentlight/pi")
    assert [s.name for s in mirrored.sources] == ["agentlight/pi/agp", "agentlight/pi/pocketpaw"]
    assert mirrored.sessions[0].ref == SessionRef("agentlight/pi/agp", "sess-1")


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        {"version": VERSION + 1, "global": "idle"},
        {"version": "1", "global": "idle"},
        {"version": 1, "global": "sleeping"},
        {"version": 1, "global": "idle", "sessions": [{"key": "k", "source": "nowhere"}]},
        {"version": 1, "global": "idle", "sources": [{"name": "a", "connection": "maybe"}]},
        {"version": 1, "global": "idle", "t": float("nan")},
    ],
)
def test_the_json_form_refuses_what_it_cannot_trust(bad: object) -> None:
    with pytest.raises(ValueError):
        status_from_json(bad)


def test_frames_equal_when_only_the_time_differs() -> None:
    frames = [
        Frame(
            "d",
            AgentStatus(GlobalState.IDLE),
            default_theme().global_looks[GlobalState.IDLE],
            Color(0, 0, 0),
            default_theme().global_looks[GlobalState.IDLE],
            t=t,
        )
        for t in itertools.islice(itertools.count(), 2)
    ]
    assert frames[0] == frames[1]


async def test_fps_and_refresh_are_set_per_device_in_the_config() -> None:
    from bridge.app import build_engine
    from bridge.infra.config import parse_config
    from bridge.infra.errors import ConfigError

    config = parse_config(
        {
            "sources": [{"type": "pocketpaw"}],
            "devices": [
                {"type": "mock", "name": "a", "fps": 12, "refresh": 2.5},
                {"type": "mock", "name": "b", "refresh": 0},
            ],
        },
        file="t.toml",
    )
    engine, _ = build_engine(config)
    a, b = (d.driver for d in engine.devices)
    assert (a.caps.fps, a.caps.refresh) == (12.0, 2.5)
    assert (b.caps.fps, b.caps.refresh) == (30.0, None)
    with pytest.raises(ConfigError, match=r"devices\[0\]\.fps.*0\.1 to 240"):
        parse_config(
            {"sources": [{"type": "pocketpaw"}], "devices": [{"type": "mock", "fps": 0}]},
            file="t.toml",
        )


def test_a_device_showing_one_slot_does_not_wake_for_other_slots() -> None:
    async def main() -> None:
        # Two LEDs, each showing one slot; only slot 1's session pulses.
        calm = MockDriver("calm", MockOptions(slots=2))
        calm.caps = dataclasses.replace(calm.caps, slots_shown=frozenset({0}))
        busy = MockDriver("busy", MockOptions(slots=2))
        busy.caps = dataclasses.replace(busy.caps, slots_shown=frozenset({1}))
        run = started(calm, busy)
        engine = run.engine
        engine.publish(connected("pp", "active", ("a", "waiting_for_user"), ("b", "thinking")))
        await calm.wait_for(lambda f: len(f.sessions) == 2)
        await asyncio.sleep(3.0)
        # Slot 0 blinks (period 1 s: two changes a second); slot 1's 30 fps pulse is
        # not calm's to follow. Without slots_shown it would have woken ~90 times.
        assert len(calm.frames) < 15
        assert len(busy.frames) > 3 * 20
        await run.stop()

    virtual(main)
