"""The AgP source against the built-in AgP simulator over real HTTP on 127.0.0.1.

Timing tests run on the virtual clock (``harness/vclock.py``): the docs' 3 s and
12 s intervals, a 10-minute long task and a 60 s auth retry cost nothing and
are measured exactly from when each request left.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import Iterable
from pathlib import Path

import pytest

from bridge.infra.secret import Secret
from bridge.pipeline.inputs import InputEvent, Target
from bridge.pipeline.model import (
    ConnectionState,
    GlobalState,
    ModelUsage,
    SessionRef,
    SessionState,
    TokenUsage,
)
from bridge.simulator.agp import SimAgp, status_path
from bridge.simulator.faults import Fault
from bridge.sources.agp.options import Options
from bridge.sources.agp.source import _PUBLISH_GAP
from harness.vclock import gaps, run_virtual, vloop
from tests.agp_helpers import KEY, agp_server, keys, raw, session, watched, watching

AGP_LOG = "agentlight.sources.agp"
# Changes are published at most this often: a time seen on the recorder is this late at most.
GAP = _PUBLISH_GAP + 1e-6


def running_agp(ids: Iterable[str]) -> SimAgp:
    """A simulated AgP where every one of ``ids`` is a running session."""
    agp = SimAgp()
    for sid in ids:
        agp.create(sid, "running")
    return agp


# -- every status, mapped -------------------------------------------------------------


def test_every_status_is_mapped_and_final_states_stop_polling() -> None:
    async def main() -> None:
        loop = vloop()
        agp = SimAgp()
        agp.create("s1", "pending")
        async with agp_server(agp) as server, watching(server, sessions=("s1",)) as w:
            rec = w.rec
            first = await rec.wait_for(lambda s: raw(s) == {"s1": "pending"}, within=10)
            one = session(first, "s1")
            assert one is not None and one.state is SessionState.PENDING
            assert first.global_state is GlobalState.ACTIVE
            expected = [
                ("running", SessionState.THINKING),
                ("paused", SessionState.WAITING_FOR_USER),
                ("idle", SessionState.WAITING_FOR_USER),
                ("running", SessionState.THINKING),
            ]
            for name, state in expected:
                agp.set("s1", name)
                status = await rec.wait_for(
                    functools.partial(lambda n, s: raw(s) == {"s1": n}, name), within=10
                )
                got = session(status, "s1")
                assert got is not None and got.state is state and got.channel == "agp"
            # Running shows its steps, and tokens summed over models, reasoning kept.
            agp.step("s1", 4)
            agp.use("s1", "holo3-thinker", 100, 10, 900)
            status = await rec.wait_for(
                lambda s: (x := session(s, "s1")) is not None and x.steps == 4, within=10
            )
            got = session(status, "s1")
            assert got is not None
            assert got.usage == (
                ModelUsage("holo3-35b-a3b", TokenUsage(6800, 480, 0)),
                ModelUsage("holo3-thinker", TokenUsage(100, 10, 900)),
            )
            assert got.tokens == TokenUsage(6900, 490, 900)
            # Completed: a brief success look, then the session leaves.
            agp.set("s1", "completed")
            done = await rec.wait_for(lambda s: raw(s) == {"s1": "completed"}, within=10)
            done_at = loop.time()
            got = session(done, "s1")
            assert got is not None and got.state is SessionState.DONE
            assert done.global_state is GlobalState.IDLE
            gone = await rec.wait_for(lambda s: keys(s) == [], within=60, start=rec.mark())
            assert loop.time() - done_at == pytest.approx(10.0, abs=GAP)  # show_done_for
            assert gone.global_state is GlobalState.IDLE
            polls = len(w.times("s1"))
            await asyncio.sleep(3600)
            assert len(w.times("s1")) == polls  # final: never polled again

    run_virtual(main)


def test_failed_timed_out_and_interrupted() -> None:
    async def main() -> None:
        loop = vloop()
        agp = running_agp(("f", "t", "i"))
        async with agp_server(agp) as server, watching(server, sessions=("f", "t", "i")) as w:
            await w.rec.wait_for(lambda s: len(keys(s)) == 3, within=10)
            agp.set("f", "failed", error="Browser crashed at step 12")
            agp.set("t", "timed_out", error="Session exceeded 3600 s")
            agp.set("i", "interrupted")
            status = await w.rec.wait_for(
                lambda s: raw(s) == {"f": "failed", "t": "timed_out", "i": "interrupted"},
                within=10,
            )
            ended_at = loop.time()
            f, t, i = (session(status, k) for k in ("f", "t", "i"))
            assert f is not None and t is not None and i is not None
            assert (f.state, f.error) == (SessionState.ERROR, "Browser crashed at step 12")
            assert (t.state, t.error) == (SessionState.ERROR, "Session exceeded 3600 s")
            assert i.state is SessionState.INTERRUPTED and i.error is None
            assert status.global_state is GlobalState.DEGRADED
            # Interrupted leaves after show_interrupted_for; errors stay until unlisted.
            left = await w.rec.wait_for(lambda s: keys(s) == ["f", "t"], within=120)
            assert loop.time() - ended_at == pytest.approx(60.0, abs=GAP)
            assert left.global_state is GlobalState.DEGRADED
            polls = sum(len(w.times(k)) for k in ("f", "t", "i"))
            await asyncio.sleep(24 * 3600)
            assert keys(w.rec.last) == ["f", "t"]
            assert sum(len(w.times(k)) for k in ("f", "t", "i")) == polls

    run_virtual(main)


def test_failed_sessions_can_leave_after_a_while() -> None:
    async def main() -> None:
        agp = SimAgp()
        agp.create("f", "failed", error="boom")
        async with (
            agp_server(agp) as server,
            watching(server, sessions=("f",), show_failed_for=300.0) as w,
        ):
            await w.rec.wait_for(lambda s: raw(s) == {"f": "failed"}, within=10)
            at = vloop().time()
            await w.rec.wait_for(lambda s: keys(s) == [], within=600, start=w.rec.mark())
            assert vloop().time() - at == pytest.approx(300.0, abs=GAP)

    run_virtual(main)


def test_an_unknown_status_keeps_its_name() -> None:
    async def main() -> None:
        agp = SimAgp()
        agp.create("s", "hibernating")
        async with agp_server(agp) as server, watching(server, sessions=("s",)) as w:
            status = await w.rec.wait_for(lambda s: raw(s) == {"s": "hibernating"}, within=10)
            got = session(status, "s")
            assert got is not None and got.state is SessionState.UNKNOWN

    run_virtual(main)


# -- subagents -------------------------------------------------------------------------


def test_subagents_are_followed_as_their_own_sessions() -> None:
    async def main() -> None:
        agp = SimAgp()
        agp.create("p", "running")
        agp.create("other", "running")
        async with agp_server(agp) as server, watching(server, sessions=("p", "other")) as w:
            await w.rec.wait_for(lambda s: keys(s) == ["p", "other"], within=10)
            agp.create("c1", "running", parent="p")
            agp.create("c2", "pending", parent="p")
            agp.create("g1", "paused", parent="c1")
            status = await w.rec.wait_for(
                lambda s: keys(s) == ["p", "c1", "g1", "c2", "other"], within=30
            )
            parents = {s.key: s.parent for s in status.snapshot.sessions}  # type: ignore[union-attr]
            assert parents == {"p": None, "c1": "p", "g1": "c1", "c2": "p", "other": None}
            g1 = session(status, "g1")
            assert g1 is not None and g1.state is SessionState.WAITING_FOR_USER
            p = session(status, "p")
            assert p is not None and ("subagents", "2") in p.extra
            # A subagent ends on its own; its parent goes on.
            agp.set("c2", "completed")
            await w.rec.wait_for(lambda s: "c2" not in keys(s), within=30, start=w.rec.mark())
            assert "p" in keys(w.rec.last)

    run_virtual(main)


def test_subagents_can_be_turned_off() -> None:
    async def main() -> None:
        agp = SimAgp()
        agp.create("p", "running")
        agp.create("c", "running", parent="p")
        async with (
            agp_server(agp) as server,
            watching(server, sessions=("p",), subagents=False) as w,
        ):
            await w.rec.wait_for(lambda s: keys(s) == ["p"], within=10)
            await asyncio.sleep(30)
            assert keys(w.rec.last) == ["p"] and not w.times("c")

    run_virtual(main)


# -- the polling schedule ---------------------------------------------------------------


def test_poll_schedule_backs_off_for_long_tasks() -> None:
    async def main() -> list[float]:
        agp = SimAgp()
        agp.create("s", "running")
        async with agp_server(agp) as server, watching(server, sessions=("s",)) as w:
            await asyncio.sleep(700)
            agp.set("s", "completed")
            await w.rec.wait_for(lambda s: raw(s) == {"s": "completed"}, within=30)
            await asyncio.sleep(100)
            return w.times("s")

    times = run_virtual(main)
    steps = gaps(times)
    # Every 3 s for the first 10 minutes, then every 12 s, then never (final).
    assert times[0] == 0.0
    assert set(steps[:200]) == {3.0}
    assert set(steps[201:]) == {12.0}
    assert times[-1] <= 712.0 and times[-1] > 700.0


def test_polls_are_concurrent_and_bounded() -> None:
    async def main() -> tuple[int, int, float]:
        ids = [f"s{n:02d}" for n in range(20)]
        agp = running_agp(ids)
        # Each answer takes 1 s: 20 sessions, 4 at a time, take 5 s for a round.
        async with (
            agp_server(agp, delay=1.0) as server,
            watching(server, sessions=tuple(ids), max_in_flight=4) as w,
        ):
            await w.rec.wait_for(lambda s: len(keys(s)) == 20, within=60)
            done_at = vloop().time()
            await asyncio.sleep(30)
            return server.max_in_flight, server.connections, done_at

    most, connections, done_at = run_virtual(main)
    assert most == 4
    assert connections <= 4  # one client, its pool reused
    assert done_at == pytest.approx(5.0, abs=GAP)


# -- failures ---------------------------------------------------------------------------


def test_401_names_the_key_source_and_retries_slowly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("H_API_KEY", "wrong-key-from-env")
    caplog.set_level(logging.DEBUG)

    async def main() -> tuple[list[float], list[str]]:
        agp = SimAgp()
        agp.create("s", "running")
        async with agp_server(agp) as server, watching(server, sessions=("s",), api_key=None) as w:
            status = await w.rec.wait_for(
                lambda s: s.connection is ConnectionState.AUTH_FAILED, within=10
            )
            await asyncio.sleep(200)
            return w.times("s"), [status.detail or ""]

    times, details = run_virtual(main)
    assert "H_API_KEY" in details[0] and "401" in details[0]
    assert gaps(times) == [60.0, 60.0, 60.0]  # auth_retry, not a hammering loop
    assert "wrong-key-from-env" not in caplog.text
    assert any("H_API_KEY" in r.getMessage() for r in caplog.records if r.name == AGP_LOG)


def test_403_is_auth_failed_and_a_good_key_recovers() -> None:
    async def main() -> list[str]:
        agp = SimAgp()
        agp.create("s", "running")
        async with agp_server(agp) as server, watching(server, sessions=("s",)) as w:
            server.forbidden.add("s")
            status = await w.rec.wait_for(
                lambda s: s.connection is ConnectionState.AUTH_FAILED, within=10
            )
            assert "api_key" in (status.detail or "") and "403" in (status.detail or "")
            server.forbidden.clear()
            await w.rec.wait_for(lambda s: raw(s) == {"s": "running"}, within=70)
            return [s.connection.value for s in w.rec.statuses]

    states = run_virtual(main)
    assert [k for k, _ in itertools.groupby(states)] == ["connecting", "auth_failed", "connected"]


def test_no_key_at_all_says_where_to_put_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("H_API_KEY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)

    async def main() -> str:
        async with agp_server() as server, watching(server, sessions=("s",), api_key=None) as w:
            status = await w.rec.wait_for(
                lambda s: s.connection is ConnectionState.AUTH_FAILED, within=10
            )
            await asyncio.sleep(100)
            assert server.total_requests == 0
            return status.detail or ""

    detail = run_virtual(main)
    assert "api_key" in detail and "H_API_KEY" in detail and "agp-api-key" in detail


def test_key_from_a_systemd_credential(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("H_API_KEY", raising=False)
    (tmp_path / "agp-api-key").write_text(KEY + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))

    async def main() -> None:
        async with watched({"s": "idle"}, api_key=None) as (_, _, w):
            assert "systemd credential" in w.source._key_origin

    run_virtual(main)


def test_404_shows_one_session_as_gone_and_checks_again() -> None:
    async def main() -> None:
        loop = vloop()
        agp = SimAgp()
        agp.create("ok", "running")
        async with agp_server(agp) as server, watching(server, sessions=("nope", "ok")) as w:
            status = await w.rec.wait_for(
                lambda s: raw(s) == {"nope": "not_found", "ok": "running"}, within=10
            )
            nope = session(status, "nope")
            assert nope is not None and nope.state is SessionState.UNKNOWN
            assert status.connection is ConnectionState.CONNECTED
            await w.rec.wait_for(lambda s: keys(s) == ["ok"], within=30, start=w.rec.mark())
            await asyncio.sleep(200)
            assert gaps(w.times("nope")) == [60.0, 60.0, 60.0]  # gone_retry
            agp.create("nope", "running")
            await w.rec.wait_for(lambda s: keys(s) == ["nope", "ok"], within=70)
            assert loop.time() <= 241.0

    run_virtual(main)


def test_429_waits_for_retry_after_and_keeps_the_last_state() -> None:
    async def main() -> tuple[list[float], list[str]]:
        async with watched({"s": "running"}) as (_, server, w):
            server.faults.append(Fault("status", status=429, headers={"Retry-After": "7"}))
            server.faults.append(Fault("status", status=429))  # no Retry-After: back-off
            await asyncio.sleep(30)
            return w.times("s"), [s.connection.value for s in w.rec.statuses]

    times, states = run_virtual(main)
    assert gaps(times)[:3] == [3.0, 7.0, 1.0]  # interval, Retry-After, first back-off
    assert "disconnected" not in states and states[-1] == "connected"


def test_5xx_backs_off_then_shows_disconnected() -> None:
    async def main() -> tuple[list[float], list[str]]:
        async with watched({"s": "running"}) as (_, server, w):
            server.faults.extend(Fault("status", status=502) for _ in range(3))
            server.faults.append(
                Fault("status", status=503, headers={"Retry-After": "20"}, body=b"{}")
            )
            await w.rec.wait_for(lambda s: s.connection is ConnectionState.DISCONNECTED)
            await w.rec.wait_for(
                lambda s: raw(s) == {"s": "running"}, within=120, start=w.rec.mark()
            )
            return w.times("s"), [s.connection.value for s in w.rec.statuses]

    times, states = run_virtual(main)
    # 3 s interval, then back-off 1, 2, 4 s (jitter pinned to the top), Retry-After 20.
    assert gaps(times) == [3.0, 1.0, 2.0, 4.0, 20.0]
    assert [k for k, _ in itertools.groupby(states)] == [
        "connecting",
        "connected",
        "disconnected",
        "connected",
    ]


def test_network_loss_is_disconnected_and_the_server_coming_back_heals_it() -> None:
    async def main() -> None:
        ids = tuple(f"s{n}" for n in range(10))
        agp = running_agp(ids)
        async with agp_server(agp) as server, watching(server, sessions=ids) as w:
            await w.rec.wait_for(lambda s: len(keys(s)) == 10, within=10)
            await server.stop()
            down = await w.rec.wait_for(
                lambda s: s.connection is ConnectionState.DISCONNECTED, within=10
            )
            assert down.snapshot is None and "retrying" in (down.detail or "")
            sent = len(w.transport.sent)
            await asyncio.sleep(300)
            # One probe at a time while down, at the back-off cap (60 s) at most.
            assert len(w.transport.sent) - sent <= 12
            agp.set("s3", "paused")
            await server.start()
            status = await w.rec.wait_for(lambda s: raw(s).get("s3") == "paused", within=120)
            assert len(keys(status)) == 10

    run_virtual(main)


def test_bad_replies_show_unreadable_then_the_next_good_one_shows_the_state() -> None:
    async def main() -> None:
        async with watched({"s": "running"}) as (agp, server, w):
            server.faults.append(Fault("garbage", payload=b"<html>oops</html>"))
            server.faults.append(Fault("huge_frame", size=2 * 1024 * 1024))
            await asyncio.sleep(60)
            agp.set("s", "paused")
            await w.rec.wait_for(lambda s: raw(s) == {"s": "paused"}, within=60)
            assert all(
                s.connection is not ConnectionState.DISCONNECTED or "max_body" in (s.detail or "")
                for s in w.rec.statuses
            )

    run_virtual(main)


# -- sessions while running ---------------------------------------------------------------


def test_sessions_from_a_file_come_and_go(tmp_path: Path) -> None:
    listing = tmp_path / "sessions.txt"
    listing.write_text("# watched by agentlight\na\n")

    async def main() -> None:
        agp = running_agp(("a", "b", "c"))
        agp.create("ca", "running", parent="c")
        async with (
            agp_server(agp) as server,
            watching(server, sessions=("b",), sessions_from=str(listing)) as w,
        ):
            await w.rec.wait_for(lambda s: keys(s) == ["b", "a"], within=10)
            listing.write_text("a\nc  # with a comment\nbad/id\n")
            await w.rec.wait_for(lambda s: keys(s) == ["b", "a", "c", "ca"], within=30)
            listing.write_text("")
            await w.rec.wait_for(lambda s: keys(s) == ["b"], within=30, start=w.rec.mark())
            polls = len(w.times("a")) + len(w.times("ca"))
            await asyncio.sleep(60)
            assert len(w.times("a")) + len(w.times("ca")) == polls

    run_virtual(main)


def test_sessions_from_a_directory(tmp_path: Path) -> None:
    async def main() -> None:
        agp = SimAgp()
        agp.create("x", "paused")
        async with (
            agp_server(agp) as server,
            watching(server, sessions_from=str(tmp_path / "ids")) as w,
        ):
            # Missing at first: watching nothing, shown as idle, not an error.
            idle = await w.rec.wait_for(lambda s: s.connection is ConnectionState.CONNECTED)
            assert idle.global_state is GlobalState.IDLE
            (tmp_path / "ids").mkdir()
            (tmp_path / "ids" / "x").touch()
            (tmp_path / "ids" / ".x.swp").touch()
            await w.rec.wait_for(lambda s: keys(s) == ["x"], within=30)
            (tmp_path / "ids" / "x").unlink()
            await w.rec.wait_for(lambda s: keys(s) == [], within=30, start=w.rec.mark())

    run_virtual(main)


# -- secrets and options ------------------------------------------------------------------


def test_the_key_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # The config hands over a str; Options turns it into a Secret.
    options = Options(api_key="sk-secret-value-123", sessions=("s",))  # type: ignore[arg-type]
    assert "sk-secret-value-123" not in repr(options)
    assert "sk-secret-value-123" not in str(options)

    async def main() -> list[str]:
        async with (
            agp_server(api_key="other") as server,
            watching(server, sessions=("s",), api_key="sk-secret-value-123") as w,
        ):
            await w.rec.wait_for(lambda s: s.connection is ConnectionState.AUTH_FAILED)
            return [s.detail or "" for s in w.rec.statuses]

    details = run_virtual(main)
    assert not any("sk-secret" in d for d in details)
    assert "sk-secret" not in caplog.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"interval": 1.0}, "interval: got 1.0, expected 2 to 5 s"),
        ({"interval": 6.0}, "allow_any_interval"),
        ({"long_interval": 30.0}, "long_interval: got 30.0, expected 10 to 15 s"),
        ({"interval": 0.1, "allow_any_interval": True}, "at least 0.5"),
        ({"sessions": ("ok", "../etc")}, "sessions[1]"),
        ({"url": "ftp://x"}, "url"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"api_key": "has space"}, "api_key"),
    ],
)
def test_options_are_checked(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=None) as err:
        Options(**options)  # type: ignore[arg-type]
    assert message in str(err.value)


def test_options_allow_insisting_on_an_interval() -> None:
    o = Options(interval=1.0, long_interval=60.0, allow_any_interval=True)
    assert (o.interval, o.long_interval) == (1.0, 60.0)
    assert Options().url == "https://agp.eu.hcompany.ai/api/v2"


def test_status_path_is_built_from_checked_ids() -> None:
    assert status_path("abc-123") == "/api/v2/sessions/abc-123/status"


def test_a_press_dismisses_an_ended_session() -> None:
    async def main() -> None:
        agp = SimAgp()
        agp.create("f", "failed", error="boom")
        agp.create("r", "running")
        async with agp_server(agp) as server, watching(server, sessions=("f", "r")) as w:
            await w.rec.wait_for(lambda s: keys(s) == ["f", "r"], within=10)
            press = InputEvent("keys", "key:0", True, Target.of_session(SessionRef("agp", "r")))
            await w.source.on_input(press)  # still running: nothing to dismiss
            other = InputEvent("keys", "key:0", True, Target.of_session(SessionRef("pp", "f")))
            await w.source.on_input(other)  # another source's session of the same key
            await asyncio.sleep(30)
            assert keys(w.rec.last) == ["f", "r"]
            mark = w.rec.mark()
            dismiss = InputEvent("keys", "key:0", True, Target.of_session(SessionRef("agp", "f")))
            await w.source.on_input(dismiss)
            await w.rec.wait_for(lambda s: keys(s) == ["r"], within=1, start=mark)

    run_virtual(main)


def test_many_subagents_one_after_another_keep_being_followed() -> None:
    async def main() -> None:
        agp = SimAgp()
        agp.create("p", "running")
        async with (
            agp_server(agp) as server,
            watching(server, sessions=("p",), max_sessions=3) as w,
        ):
            for n in range(8):  # more than max_sessions, but never more than 2 at once
                child = f"c{n}"
                agp.create(child, "running", parent="p")
                await w.rec.wait_for(lambda s: child in keys(s), within=30)  # noqa: B023
                agp.set(child, "completed")
                mark = w.rec.mark()
                await w.rec.wait_for(
                    lambda s: child not in keys(s),  # noqa: B023 - awaited in this loop turn
                    within=60,
                    start=mark,
                )
            assert all(len(w.times(f"c{n}")) >= 1 for n in range(8))

    run_virtual(main)


def test_deeply_nested_subagents_keep_their_order_without_recursion() -> None:
    from bridge.sources.agp.source import AgpSource, _Watch

    source = AgpSource("agp", Options(api_key=Secret("k"), sessions=("s0",)), lambda s: None)
    # A chain far deeper than Python's recursion limit, added leaf first.
    chain = {f"s{n}": _Watch(f"s{n}", f"s{n - 1}", listed=False) for n in range(5000, 0, -1)}
    source._watches = {
        **chain,
        "s0": _Watch("s0", None, listed=True),
        "x": _Watch("x", "gone", False),
    }
    source._prune()
    assert list(source._watches) == [f"s{n}" for n in range(5001)]  # "x" has no listed root


def test_stopping_with_polls_in_flight_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        ids = tuple(f"s{n}" for n in range(12))
        agp = running_agp(ids)
        async with agp_server(agp, delay=1.0) as server, watching(
            server, sessions=ids, max_in_flight=2
        ) as w:
            await asyncio.sleep(1.5)  # two answered, two in flight, eight queued
            assert server.in_flight == 2
            w.task.cancel()
            await asyncio.gather(w.task, return_exceptions=True)
            assert w.task.cancelled()

    run_virtual(main)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]


def test_the_first_status_waits_for_every_session_once() -> None:
    async def main() -> list[int]:
        ids = tuple(f"s{n:02d}" for n in range(20))
        agp = running_agp(ids)
        async with agp_server(agp, delay=0.1) as server, watching(
            server, sessions=ids, max_in_flight=4
        ) as w:
            await w.rec.wait_for(lambda s: len(keys(s)) == 20, within=10)
            return [len(keys(s)) for s in w.rec.statuses if s.snapshot is not None]

    counts = run_virtual(main)
    assert counts[0] == 20  # `agentlight status` never prints half the sessions


def test_a_url_without_the_api_base_gets_a_hint(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        agp = SimAgp()
        agp.create("s", "running")
        async with agp_server(agp) as server:
            root = server.url.removesuffix("/api/v2")
            async with watching(server, url=root, sessions=("s",)) as w:
                await w.rec.wait_for(lambda s: raw(s) == {"s": "not_found"}, within=10)

    run_virtual(main)
    assert "/api/v2" in caplog.text


def test_key_order_config_then_credential_then_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bridge.infra.errors import ConfigError
    from bridge.sources.agp.source import resolve_key

    monkeypatch.setenv("H_API_KEY", "from-env")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    (tmp_path / "agp-api-key").write_text("from-credential\n")
    key, origin = resolve_key(Options(api_key=Secret("from-config")))
    assert (key, origin) == (Secret("from-config"), "api_key")
    key, origin = resolve_key(Options())
    assert key == Secret("from-credential") and "agp-api-key" in origin
    (tmp_path / "agp-api-key").unlink()
    key, origin = resolve_key(Options())
    assert key == Secret("from-env") and "H_API_KEY" in origin
    (tmp_path / "agp-api-key").write_text("two words")
    with pytest.raises(ConfigError) as err:
        resolve_key(Options())
    assert "two words" not in str(err.value)
