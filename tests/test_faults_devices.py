"""Issue 10 §5: device faults through the Engine, on the virtual clock.

A device whose ``show`` always raises, one that is unplugged and replugged, one
that hangs: the others keep getting every change at the very instant it is
published (virtual time does not move while they do), the failing one is
logged once per episode, marked unhealthy, retried with the configured
back-off and recovers by itself with the latest look.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from bridge.infra.errors import DriverUnavailable
from bridge.pipeline.frame import Frame
from bridge.pipeline.mapping import Mapper, next_wake
from bridge.pipeline.model import (
    AgentStatus,
    ConnectionState,
    GlobalState,
    SessionState,
    SourceStatus,
)
from bridge.pipeline.theme import default_theme
from devices.mock import MockDriver, MockOptions
from harness.vclock import gaps, run_virtual, vloop
from tests.enginerig import EngineRun
from tests.frames import make_source

ENGINE_LOG = "agentlight.engine"
RETRY = (0.5, 4.0)


def status(state: str, *sessions: tuple[str, str, str | None]) -> SourceStatus:
    return make_source("src", state, sessions)


class Plug(MockDriver):
    """A mock that can be unplugged and replugged, and notes when it was tried (loop time)."""

    def __init__(self, name: str, options: MockOptions | None = None) -> None:
        super().__init__(name, options)
        self.plugged = True
        self.tried: list[tuple[float, str]] = []

    async def _open(self) -> None:
        self.tried.append((asyncio.get_running_loop().time(), "open"))
        if not self.plugged:
            self.calls.append("open")
            raise DriverUnavailable(f"{self.name}: no such device")
        await super()._open()

    async def _show(self, frame: Frame) -> None:
        self.tried.append((asyncio.get_running_loop().time(), "show"))
        if not self.plugged:
            self.calls.append("show")
            raise DriverUnavailable(f"{self.name}: device went away")
        await super()._show(frame)

    def times(self, what: str) -> list[float]:
        return [t for t, w in self.tried if w == what]


def start(*drivers: MockDriver, **options: Any) -> EngineRun:
    # Back-off at its full value (rand = 1): exact, checkable times.
    return EngineRun(drivers, retry=RETRY, rand=lambda: 1.0, **options).start()


def focus_is(key: str) -> Callable[[Frame], bool]:
    return lambda f: f.focus is not None and f.focus.key == key


def state_is(state: str) -> Callable[[Frame], bool]:
    return lambda f: f.state == state


def warnings_about(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.getMessage().startswith(f"device {name}:")
    ]


def virtual(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    run_virtual(main, real_budget=20.0)


# -- a show that always fails -----------------------------------------------------------------


@pytest.mark.parametrize("fault", ["unavailable", "error"])
def test_failing_show_is_isolated_logged_once_and_retried_with_back_off(
    fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = MockDriver("good", MockOptions(fps=10))
    bad = Plug("bad", MockOptions(fail_show=-1, fault=fault))  # type: ignore[arg-type]

    async def main() -> None:
        loop = vloop()
        b = start(good, bad)
        await asyncio.wait_for(b.engine.ready.wait(), 1)  # a failing device never blocks READY
        # Changes every 3 s for 20 s; the good device gets each at the instant it is made.
        for i in range(7):
            if i:
                await asyncio.sleep(3.0)
            key = f"websocket:{i}"
            b.engine.publish(status("active", (key, "tool_running", "bash")))
            at = loop.time()
            frame = await good.wait_for(focus_is(key), start=len(good.shown))
            assert loop.time() == at, "the good device waited for the failing one"
            assert frame.look.label == "bash"
        # Meanwhile the good device animates on time: a thinking pulse at its 10 fps.
        b.engine.publish(status("active", ("websocket:p", "thinking", None)))
        mark = len(good.shown)
        await asyncio.sleep(1.0)
        stamps = [f.t for f in good.frames[mark:]]
        assert gaps(stamps) == [0.1] * (len(stamps) - 1) and len(stamps) >= 10
        assert not bad.health.ok and "cannot show" in bad.health.detail
        assert good.health.ok
        await b.stop()

    with caplog.at_level(logging.DEBUG, logger=ENGINE_LOG):
        virtual(main)
    assert len(warnings_about(caplog, "bad")) == 1  # once per episode, not per frame
    # A driver bug (a plain RuntimeError) is an ERROR with its traceback; a device
    # that went away is a WARNING without one.
    (record,) = [
        r
        for r in caplog.records
        if r.getMessage().startswith("device bad:") and r.levelno >= logging.WARNING
    ]
    assert (record.levelno, record.exc_info is not None) == (
        (logging.ERROR, True) if fault == "error" else (logging.WARNING, False)
    )
    assert not warnings_about(caplog, "good")
    # Reopened and retried after 0.5, 1, 2, 4, 4, ... seconds (first, doubling, capped).
    retries = gaps(bad.times("show"))
    assert retries[:5] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert set(retries[3:]) == {4.0}
    assert len(retries) >= 6
    assert bad.shown == []


# -- a driver bug that ends the device's loop -----------------------------------------------


class Bugged(Plug):
    """``_show`` raises ``error`` for its first ``crashes`` calls (a bug in the driver or
    its library), then works. A CancelledError that is no stop escapes every
    ``except Exception`` and used to end the device's task for good."""

    def __init__(self, name: str, error: BaseException, crashes: int) -> None:
        super().__init__(name)
        self.error, self.crashes = error, crashes

    async def _show(self, frame: Frame) -> None:
        if self.crashes:
            self.crashes -= 1
            self.tried.append((asyncio.get_running_loop().time(), "show"))
            raise self.error
        await super()._show(frame)


@pytest.mark.parametrize(
    "error", [RuntimeError("bug"), KeyError("slot"), asyncio.CancelledError()], ids=repr
)
def test_a_driver_bug_is_logged_once_restarted_and_costs_the_others_no_frame(
    error: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    good = MockDriver("good", MockOptions(fps=10))
    bad = Bugged("bad", error, crashes=8)

    async def main() -> None:
        b = start(good, bad)
        b.engine.publish(status("active", ("websocket:p", "thinking", None)))
        alive = []
        for _ in range(60):  # 30 s: eight crashes, back-off up to its 4 s cap, recovery
            await asyncio.sleep(0.5)
            alive.append(b.engine.loop_alive())
        assert all(alive)  # one device's bug never stops the watchdog pings
        assert bad.health.ok and bad.last_frame is not None
        assert bad.last_frame.focus is not None and bad.last_frame.focus.key == "websocket:p"
        await b.stop()

    with caplog.at_level(logging.DEBUG, logger=ENGINE_LOG):
        virtual(main)
    # The pulsing device got every frame at 10 fps through all eight crashes.
    stamps = [f.t for f in good.frames[1:]]
    assert len(stamps) >= 290 and set(gaps(stamps)) == {0.1}
    # Restarted after the device's back-off each time (reopened, then shown).
    assert gaps(bad.times("show"))[:8] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert len(bad.times("open")) == 9
    # Logged once, with its traceback; then "working again".
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(":")[0] for r in loud] == ["device bad"]
    assert loud[0].levelno == logging.ERROR and loud[0].exc_info is not None
    assert any(r.getMessage() == "device bad: working again" for r in caplog.records)


def test_a_crashing_source_is_restarted_with_back_off_and_logged_once_per_episode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bridge.sources.base import Source

    class Crashy(Source):
        def __init__(self) -> None:
            super().__init__("crashy", None, lambda s: None)
            self.starts: list[float] = []
            self.plan = [0.0] * 6 + [100.0] + [0.0] * 2  # seconds each run lasts, then raises

        async def run(self) -> None:
            self.starts.append(vloop().time())
            self.publish(ConnectionState.CONNECTED, None, "up")
            if not self.plan:
                await asyncio.Event().wait()
            await asyncio.sleep(self.plan.pop(0))
            raise RuntimeError("bug in the source")

    async def main() -> None:
        b = start(MockDriver("m"))
        crashy = Crashy()
        crashy._publish_cb = b.engine.publish
        await b.engine.add_source(crashy)
        await asyncio.sleep(400)
        assert b.engine.loop_alive()
        assert crashy.status is not None and crashy.status.detail == "up"
        await b.stop()
        # 1, 2, 4 ... s apart; a run longer than the cap (60 s) starts a new episode.
        assert gaps(crashy.starts) == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 101.0, 2.0, 4.0]

    with caplog.at_level(logging.DEBUG, logger=ENGINE_LOG):
        virtual(main)
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in loud] == [
        "source crashy crashed: bug in the source; restarting with back-off"
    ] * 2  # the first episode and the one after the long run
    assert all(r.exc_info is not None for r in loud)


# -- unplugged, replugged, unplugged again ---------------------------------------------------


def test_replug_restores_the_latest_look_and_each_episode_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = MockDriver("good")
    plug = Plug("plug")

    async def main() -> None:
        loop = vloop()
        b = start(good, plug)
        b.engine.publish(status("idle"))
        await plug.wait_for(lambda f: f.state == "idle")

        # Episode 1: unplugged while the agent goes through several states.
        plug.plugged = False
        failed_at = loop.time()
        b.engine.publish(status("active", ("websocket:a", "thinking", None)))
        await asyncio.sleep(2.0)
        b.engine.publish(status("active", ("websocket:a", "tool_running", "bash")))
        await asyncio.sleep(5.0)
        b.engine.publish(status("active", ("websocket:a", "waiting_for_user", None)))
        await asyncio.sleep(5.0)
        assert not plug.health.ok and "went away" not in plug.health.detail  # open fails now
        assert "no such device" in plug.health.detail
        tries = len(plug.tried)
        assert tries >= 5  # retried all along
        mark = len(plug.shown)
        plug.plugged = True
        latest = await plug.wait_for(lambda f: True, start=mark, timeout=10)
        # The first frame after the replug is the latest look, not a backlog.
        assert latest.focus is not None and latest.focus.key == "websocket:a"
        assert latest.status.sessions[0].state is SessionState.WAITING_FOR_USER
        assert plug.health.ok
        reopened = plug.times("open")[1:]  # after the first open at start
        assert gaps([failed_at, *reopened[:3]]) == [0.5, 1.0, 2.0]

        # Episode 2: back-off starts from the first delay again and logs once more.
        plug.plugged = False
        failed_at = loop.time()
        b.engine.publish(status("degraded", ("websocket:a", "error", None)))
        await asyncio.sleep(6.0)
        b.engine.publish(status("idle"))
        await asyncio.sleep(6.0)
        assert not plug.health.ok
        mark = len(plug.shown)
        plug.plugged = True
        back = await plug.wait_for(lambda f: True, start=mark, timeout=10)
        assert back.state is GlobalState.IDLE and not back.status.sessions
        second = [t for t in plug.times("open") if t > failed_at]
        assert round(second[0] - failed_at, 6) == 0.5
        assert good.health.ok
        await b.stop()

    with caplog.at_level(logging.DEBUG, logger=ENGINE_LOG):
        virtual(main)
    messages = warnings_about(caplog, "plug")
    assert len(messages) == 2, messages  # one per episode
    assert all("retrying with back-off" in m for m in messages)
    working = [r.getMessage() for r in caplog.records if "working again" in r.getMessage()]
    assert working == ["device plug: working again", "device plug: working again"]
    # The good device saw every change and never failed.
    states = [f.state.value for f in good.frames]
    assert states[-1] == "idle" and "degraded" in states
    assert not warnings_about(caplog, "good")


# -- a show that hangs -----------------------------------------------------------------------


def test_hung_device_never_delays_the_healthy_one(caplog: pytest.LogCaptureFixture) -> None:
    good = MockDriver("good")
    hung = Plug("hung", MockOptions(hang_show=True, write_timeout=2.0))

    async def main() -> None:
        loop = vloop()
        b = start(good, hung)
        b.engine.publish(status("idle"))
        await good.wait_for(lambda f: f.state == "idle")
        assert hung.calls[-1] == "show" and hung.health.ok  # its show is hanging right now
        shown_at: list[float] = []
        for i, state in enumerate(("active", "degraded", "idle", "active")):
            await asyncio.sleep(0.7)
            key = f"w:{i}"
            st = {"active": "tool_running", "degraded": "error", "idle": None}[state]
            b.engine.publish(status(state, *([(key, st, "bash")] if st else [])))
            published = loop.time()
            await good.wait_for(state_is(state), start=len(good.shown))
            shown_at.append(loop.time() - published)
        # Every change reached the good device in zero virtual time, even while the
        # hung device's 2 s write timeout was still running.
        assert shown_at == [0.0, 0.0, 0.0, 0.0]
        assert hung.times("show")[0] == 0.0
        # Only now has the hung show timed out (2 s after it started), and it is retried.
        await asyncio.sleep(10.0)
        assert not hung.health.ok and "timed out" in hung.health.detail
        await b.stop()

    with caplog.at_level(logging.DEBUG, logger=ENGINE_LOG):
        virtual(main)
    starts = hung.times("show")
    # show at 0, times out at 2 → retry after 0.5 → hangs 2 → retry after 1.0 → ...
    assert gaps(starts)[:3] == [2.5, 3.0, 4.0]
    assert len(warnings_about(caplog, "hung")) == 1
    assert hung.shown == []


def test_a_device_that_hangs_on_close_cannot_hold_up_shutdown() -> None:
    class StuckClose(MockDriver):
        async def _close(self, *, blank: bool) -> None:
            await asyncio.Event().wait()

    good = MockDriver("good")
    stuck = StuckClose("stuck")

    async def main() -> None:
        loop = vloop()
        b = start(good, stuck, shutdown_timeout=0.8)
        b.engine.publish(status("idle"))
        await stuck.wait_for(lambda f: f.state == "idle")
        begin = loop.time()
        await b.stop()
        assert loop.time() - begin == pytest.approx(0.8)  # shutdown_timeout, not forever

    virtual(main)
    assert good.closed_blank is True


def test_effect_wake_is_always_in_the_future_on_a_clock_that_stands_still() -> None:
    """Regression: on a blink boundary, since + next change rounded back to ``now``.

    The device task then re-armed a zero delay forever on a fake or virtual clock
    (found by the replug test above: 16.4 - 15.5 = 0.8999999999999986).
    """
    mapper = Mapper(default_theme())
    engine_status = AgentStatus.fold((status("degraded", ("w:e", "error", None)),))
    for since in (15.5, 0.1, 1234.7, 98765.3):
        mapped = mapper.map(engine_status, since)
        half = mapped.global_look.period / 2
        for k in range(1, 200):
            now = since + k * half
            wake = next_wake(mapped, now, show="session", with_sessions=True, max_fps=30)
            assert wake is not None and wake > now, (since, k)
            mapper = Mapper(default_theme())
