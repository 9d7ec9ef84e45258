"""The engine with mock devices: change → frame, failing devices isolated, clean exit."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

import pytest

from bridge.engine import Engine
from bridge.pipeline.frame import Frame
from bridge.pipeline.looks import BLACK, Color, Effect
from bridge.pipeline.theme import default_theme
from devices.mock import MockDriver, MockOptions
from harness.vclock import gaps, run_virtual, vloop
from tests.conftest import eventually
from tests.enginerig import EngineRun
from tests.frames import make_source


@pytest.fixture
async def start() -> AsyncIterator[Callable[..., Awaitable[EngineRun]]]:
    runs: list[EngineRun] = []

    async def _start(*drivers: MockDriver, **options: Any) -> EngineRun:
        runs.append(EngineRun(drivers, retry=(0.01, 0.05), **options).start())
        return runs[-1]

    yield _start
    for run in runs:
        await run.stop()


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
    await r.stop()
    assert mock.closed_blank is True
    mock.assert_looks("connecting", "active", "idle")


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
    await r.stop()
    assert mock.closed_blank is False
    assert mock.frames[-1].look == exit_look
    assert mock.frames[-1].color != BLACK


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


# -- wake-ups and writes, counted on the virtual clock -------------------------------------
# What a Pi owner pays for: every time the engine wakes a device it builds a frame and
# calls show(); every write is bytes to the hardware. The frame dedupe in Driver.show
# hides wake-ups from `shown`, so they are counted where the engine calls show(), and
# the loop's own idle jumps (VirtualClockLoop.jumps) count every timer anything set.


class Counting(MockDriver):
    """Notes the loop time of every show() the engine makes (a wake-up)."""

    def __init__(self, name: str, options: MockOptions | None = None) -> None:
        super().__init__(name, options)
        self.wakes: list[float] = []

    async def show(self, frame: Frame, *, force: bool = False) -> bool:
        self.wakes.append(asyncio.get_running_loop().time())
        return await super().show(frame, force=force)


@dataclass
class Tally:
    wakes: tuple[int, ...]  # per device
    writes: tuple[int, ...]  # per device
    jumps: int  # the loop's, for everything


async def tally_over(seconds: float, *drivers: Counting) -> Tally:
    """Let the running engine be for ``seconds`` (virtual); what it cost, per device."""
    loop = vloop()
    wakes, writes, jumps = (
        [len(d.wakes) for d in drivers],
        [d.show_attempts for d in drivers],
        loop.jumps,
    )
    await asyncio.sleep(seconds)
    return Tally(
        tuple(len(d.wakes) - n for d, n in zip(drivers, wakes, strict=True)),
        tuple(d.show_attempts - n for d, n in zip(drivers, writes, strict=True)),
        loop.jumps - jumps - 1,  # less the jump that ends our own sleep
    )


def engine_on_virtual_time(
    *drivers: Counting, script: Callable[[Engine], Coroutine[Any, Any, None]]
) -> None:
    async def main() -> None:
        async with EngineRun(drivers) as run:
            await run.engine.ready.wait()
            await script(run.engine)

    run_virtual(main, real_budget=20.0)


def test_an_idle_bridge_with_static_looks_sleeps() -> None:
    still = Counting("still", MockOptions(fps=30))
    kept = Counting("kept", MockOptions(fps=30, refresh=10.0))  # a light that needs keepalives

    async def script(engine: Engine) -> None:
        engine.publish(make_source("src", "idle"))
        engine.publish(make_source("src2", "active", [("w:1", "waiting_for_user", None)]))
        engine.publish(make_source("src2", "active", [("w:1", "done", None)]))
        await asyncio.sleep(1.0)  # the changes above are shown
        version = engine.version
        engine.publish(make_source("src", "idle"))  # the same again: nothing to map
        assert engine.version == version
        # No change, no animation: a device without refresh never wakes in an hour;
        # one with a 10 s refresh wakes (and writes) once per refresh, nothing more.
        assert await tally_over(3600.0, still, kept) == Tally((0, 360), (0, 360), jumps=360)

    engine_on_virtual_time(still, kept, script=script)


def test_one_pulsing_led_wakes_at_its_frame_rate_and_no_faster() -> None:
    led = Counting("led", MockOptions(fps=20))
    native = Counting("native", MockOptions(fps=60))
    native.caps = replace(native.caps, native_effects=frozenset(Effect))  # pulses by itself

    async def script(engine: Engine) -> None:
        engine.publish(make_source("src", "active", [("w:1", "thinking", None)]))  # pulses
        await asyncio.sleep(1.0)
        pulse = await tally_over(60.0, led, native)
        # 20 fps for 60 s: 1,200 wake-ups (one more where the window's ends meet) and as
        # many of the loop's; a write for each frame whose colour moved. The light that
        # runs the pulse itself costs nothing.
        assert pulse.wakes[0] in (1200, 1201) and 1198 <= pulse.jumps <= 1201
        assert 1100 <= pulse.writes[0] <= pulse.wakes[0]
        assert (pulse.wakes[1], pulse.writes[1]) == (0, 0)
        assert set(gaps(led.wakes[-1200:])) == {0.05}
        # The pulse stops: the device writes its last look and goes back to sleep.
        engine.publish(make_source("src", "idle"))
        await asyncio.sleep(1.0)
        assert await tally_over(600.0, led, native) == Tally((0, 0), (0, 0), jumps=0)

    engine_on_virtual_time(led, native, script=script)
