"""The engine with mock devices: change → frame, failing devices isolated, clean exit."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bridge.engine import Device, Engine
from bridge.pipeline.looks import BLACK, Color
from bridge.pipeline.theme import default_theme
from devices.mock import MockDriver, MockOptions
from tests.conftest import eventually
from tests.frames import make_source


class Running:
    def __init__(self, engine: Engine, stop: asyncio.Event, task: asyncio.Task[None]) -> None:
        self.engine, self.stop, self.task = engine, stop, task

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 2)


@pytest.fixture
async def start() -> AsyncIterator[object]:
    running: list[Running] = []

    async def _start(*drivers: MockDriver, **kwargs: Any) -> Running:
        engine = Engine(
            [Device(d) for d in drivers], default_theme(), device_retry=(0.01, 0.05), **kwargs
        )
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run([], stop))
        r = Running(engine, stop, task)
        running.append(r)
        return r

    yield _start
    for r in running:
        if not r.task.done():
            await r.finish()


async def test_first_look_then_changes_reach_the_device(start) -> None:  # type: ignore[no-untyped-def]
    mock = MockDriver("m")
    r = await start(mock)
    await mock.wait_for(lambda f: f.state == "connecting")
    await asyncio.wait_for(r.engine.ready.wait(), 1)
    r.engine.publish(make_source("src", "active", [("websocket:a", "tool_running", "bash")]))
    frame = await mock.wait_for(lambda f: f.state == "active")
    assert frame.focus is not None and frame.focus.key == "websocket:a"
    assert frame.look.label == "bash"
    r.engine.publish(make_source("src", "idle"))
    await mock.wait_for(lambda f: f.state == "idle")
    await r.finish()
    assert mock.closed_blank is True
    mock.assert_looks("connecting", "active", "idle")


async def test_same_status_is_not_shown_twice_and_static_looks_rest(start) -> None:  # type: ignore[no-untyped-def]
    mock = MockDriver("m")
    r = await start(mock)
    r.engine.publish(make_source("src", "idle"))
    await mock.wait_for(lambda f: f.state == "idle")
    attempts = mock.show_attempts
    version = r.engine.version
    r.engine.publish(make_source("src", "idle"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert r.engine.version == version
    assert mock.show_attempts == attempts


async def test_failing_device_never_stops_the_others(start, caplog) -> None:  # type: ignore[no-untyped-def]
    good = MockDriver("good")
    bad = MockDriver("bad", MockOptions(fail_show=-1))
    with caplog.at_level(logging.WARNING, logger="agentlight.engine"):
        r = await start(good, bad)
        for state in ("active", "idle", "degraded"):
            r.engine.publish(make_source("src", state))
            await good.wait_for(functools.partial(lambda s, f: f.state == s, state))
        await asyncio.wait_for(eventually(lambda: bad.show_attempts >= 3), 2)
    assert not bad.health.ok
    warnings = [rec for rec in caplog.records if "bad" in rec.getMessage()]
    assert len(warnings) == 1, [w.getMessage() for w in warnings]  # once per episode
    assert good.health.ok


async def test_device_that_fails_to_open_recovers_by_itself(start, caplog) -> None:  # type: ignore[no-untyped-def]
    flaky = MockDriver("flaky", MockOptions(fail_open=3))
    with caplog.at_level(logging.INFO, logger="agentlight.engine"):
        r = await start(flaky)
        r.engine.publish(make_source("src", "active"))
        await flaky.wait_for(lambda f: f.state == "active", timeout=2)
    assert flaky.open_attempts == 4
    assert flaky.health.ok
    assert any("working again" in rec.getMessage() for rec in caplog.records)


async def test_hanging_device_is_timed_out_and_others_stay_on_time(start) -> None:  # type: ignore[no-untyped-def]
    good = MockDriver("good")
    hung = MockDriver("hung", MockOptions(hang_show=True, write_timeout=0.05))
    r = await start(good, hung)
    await asyncio.wait_for(eventually(lambda: hung.show_attempts >= 1), 1)
    r.engine.publish(make_source("src", "active"))
    await good.wait_for(lambda f: f.state == "active")
    await asyncio.wait_for(eventually(lambda: not hung.health.ok), 1)
    assert "timed out" in hung.health.detail
    await asyncio.wait_for(r.engine.ready.wait(), 1)  # a dead device never blocks READY


async def test_on_exit_look_is_left_on_devices(start) -> None:  # type: ignore[no-untyped-def]
    from bridge.pipeline.looks import Look

    mock = MockDriver("m")
    exit_look = Look(Color.parse("green"), brightness=0.1)
    r = await start(mock, on_exit=exit_look)
    await mock.wait_for(lambda f: f.state == "connecting")
    await r.finish()
    assert mock.closed_blank is False
    assert mock.frames[-1].look == exit_look
    assert mock.frames[-1].color != BLACK


async def test_animation_is_stepped_only_while_something_animates(start) -> None:  # type: ignore[no-untyped-def]
    mock = MockDriver("m", MockOptions(fps=200))
    r = await start(mock)
    # Thinking pulses.
    r.engine.publish(make_source("src", "active", [("w:1", "thinking", None)]))
    first = await mock.wait_for(lambda f: f.state == "active")
    await mock.wait_for(lambda f: f.state == "active" and f.color != first.color, timeout=1)
    r.engine.publish(make_source("src", "idle"))
    await mock.wait_for(lambda f: f.state == "idle")
    count = len(mock.shown)
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(mock.shown) == count


async def test_theme_swap_redraws_without_touching_sources(start) -> None:  # type: ignore[no-untyped-def]
    from bridge.pipeline.theme import parse_theme

    mock = MockDriver("m")
    r = await start(mock)
    r.engine.publish(make_source("src", "idle"))
    await mock.wait_for(lambda f: f.state == "idle")
    r.engine.set_theme(
        parse_theme({"global": {"idle": {"color": "#123456"}}}, file=None, base=default_theme())
    )
    await mock.wait_for(lambda f: f.look.color == Color.parse("#123456"))
