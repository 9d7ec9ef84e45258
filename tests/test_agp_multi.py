"""Several sources at once, end to end: PocketPaw and AgP simulators over real HTTP on
127.0.0.1, both sources in one Engine, frames checked on mock devices and the terminal.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bridge.engine import Engine
from bridge.infra.config import parse_config
from bridge.pipeline.frame import Frame
from bridge.pipeline.inputs import Target
from bridge.pipeline.model import GlobalState, SessionRef, SessionState
from bridge.simulator import SimAgent, SimServer
from bridge.simulator.agp import SimAgp
from bridge.sources.agp.options import Options as AgpOptions
from bridge.sources.agp.source import AgpSource
from bridge.sources.pocketpaw.options import Options as PPOptions
from bridge.sources.pocketpaw.source import PocketPawSource
from devices.mock import MockDriver, MockOptions
from devices.terminal import TerminalDriver, TerminalOptions
from tests.agp_helpers import KEY, agp_server
from tests.conftest import FAST, eventually
from tests.enginerig import EngineRun

SHARED_KEY = "websocket:abc"  # PocketPaw's session key, and an AgP session ID too


FAST_PP: dict[str, Any] = dict(FAST)


def refs(frame: Frame) -> dict[SessionRef, SessionState]:
    return {v.session.ref: v.session.state for v in frame.sessions}


@asynccontextmanager
async def bridge(
    pp_url: str, agp_url: str, *devices: Any, **agp_options: Any
) -> AsyncIterator[Engine]:
    run = EngineRun(devices, retry=(0.01, 0.05))
    engine = run.engine
    pp = PocketPawSource("laptop", PPOptions(url=pp_url, **FAST_PP), engine.publish)
    agp = AgpSource(
        "hcompany",
        AgpOptions(
            url=agp_url,
            **{
                "api_key": KEY,
                "sessions": (SHARED_KEY,),
                "interval": 0.5,
                "allow_any_interval": True,
                "retry_max": 0.5,
                **agp_options,
            },
        ),
        engine.publish,
    )
    run.sources = [pp, agp]
    async with run:
        yield engine


async def test_colliding_keys_stay_apart_and_a_down_source_hides_no_question() -> None:
    agent = SimAgent()
    agp = SimAgp()
    agp.create(SHARED_KEY, "running", steps=7)
    single = MockDriver("led", MockOptions(slots=0))  # one LED: no room for sessions
    keys = MockDriver("keys", MockOptions(slots=8))
    async with (
        SimServer(agent, debounce=0.01, keepalive=0.2) as pp_server,
        agp_server(agp) as agp_srv,
        bridge(pp_server.url, agp_srv.url, single, keys),
    ):
        agent.agent_start(SHARED_KEY, "Help")
        agent.ask_user_question(SHARED_KEY)
        laptop, hcompany = SessionRef("laptop", SHARED_KEY), SessionRef("hcompany", SHARED_KEY)
        both = await keys.wait_for(
            lambda f: (
                refs(f) == {laptop: SessionState.WAITING_FOR_USER, hcompany: SessionState.THINKING}
            ),
            timeout=10,
        )
        steps = {v.session.ref: v.session.steps for v in both.sessions}
        assert steps == {laptop: None, hcompany: 7}
        assert {v.slot for v in both.sessions} == {0, 1}
        assert both.focus == laptop  # the question outranks the busy AgP session

        # AgP goes down: it says so, and the PocketPaw question stays on show.
        mark_led, mark_keys = len(single.shown), len(keys.shown)
        await agp_srv.stop()
        down = await keys.wait_for(
            lambda f: f.state is GlobalState.DISCONNECTED, timeout=10, start=mark_keys
        )
        assert refs(down) == {laptop: SessionState.WAITING_FOR_USER}  # no stale AgP session
        assert down.focus == laptop and down.look.label == "Waiting for you"
        assert down.global_look.label == "No agent"  # the outage is shown beside it
        led = await single.wait_for(
            lambda f: f.state is GlobalState.DISCONNECTED, timeout=10, start=mark_led
        )
        assert led.focus == laptop and led.look.label == "Waiting for you"

        # Back: both sessions again, each with its own look.
        agp.set(SHARED_KEY, "paused")
        await agp_srv.start()
        back = await keys.wait_for(
            lambda f: refs(f).get(hcompany) is SessionState.WAITING_FOR_USER, timeout=10
        )
        labels = {v.session.ref: v.look.label for v in back.sessions}
        assert labels == {laptop: "Waiting for you", hcompany: "Paused"}


async def test_pocketpaw_down_does_not_hide_a_failed_agp_session() -> None:
    agp = SimAgp()
    agp.create("job-1", "failed", error="Browser crashed")
    dead = SimServer(SimAgent())
    await dead.start()
    dead_url = dead.url
    await dead.stop()  # nothing listens there: PocketPaw is down from the start
    mock = MockDriver("led", MockOptions(slots=0))
    async with agp_server(agp) as agp_srv, bridge(dead_url, agp_srv.url, mock, sessions=("job-1",)):
        frame = await mock.wait_for(
            lambda f: f.focus == SessionRef("hcompany", "job-1"), timeout=10
        )
        assert frame.state is GlobalState.DISCONNECTED
        assert frame.look.label == "Failed"
        focused = frame.focused
        assert focused is not None and focused.error == "Browser crashed"


async def test_terminal_shows_agp_states_and_steps() -> None:
    agent = SimAgent()
    agp = SimAgp()
    agp.create(SHARED_KEY, "running", steps=12)
    out = io.StringIO()
    terminal = TerminalDriver("terminal", TerminalOptions(), stream=out)
    mock = MockDriver("mock", MockOptions(slots=-1))
    async with (
        SimServer(agent, debounce=0.01, keepalive=0.2) as pp_server,
        agp_server(agp) as agp_srv,
        bridge(pp_server.url, agp_srv.url, mock, terminal),
    ):
        await mock.wait_for(lambda f: len(f.sessions) == 1, timeout=10)
        agp.set(SHARED_KEY, "timed_out", error="Session exceeded 3600 s")
        await mock.wait_for(lambda f: f.state is GlobalState.DEGRADED, timeout=10)
        # The terminal writes on its own worker: wait for the line, not for time.
        await eventually(lambda: "Timed out" in out.getvalue(), within=10)
    text = out.getvalue()
    # In words: the theme's label for AgP's own state, with its step count.
    assert "Step 12 (running)" in text
    assert "Timed out" in text


def test_two_named_sources_in_one_config() -> None:
    config = parse_config(
        {
            "sources": [
                {"type": "pocketpaw", "name": "laptop"},
                {"type": "agp", "name": "hcompany", "sessions": ["a", "b"], "interval": 2},
            ],
            "devices": [{"type": "terminal"}],
        },
        file="<test>",
    )
    assert [(s.type, s.name) for s in config.sources] == [
        ("pocketpaw", "laptop"),
        ("agp", "hcompany"),
    ]
    assert config.sources[1].options.sessions == ("a", "b")


async def test_pressing_a_failed_sessions_key_dismisses_it() -> None:
    agp = SimAgp()
    agp.create("job-1", "failed", error="Browser crashed")
    agp.create("job-2", "running")
    keys = MockDriver("keys", MockOptions(slots=8))
    async with (
        SimServer(SimAgent(), debounce=0.01, keepalive=0.2) as pp_server,
        agp_server(agp) as agp_srv,
        bridge(pp_server.url, agp_srv.url, keys, sessions=("job-1", "job-2")),
    ):
        failed = SessionRef("hcompany", "job-1")
        shown = await keys.wait_for(lambda f: failed in refs(f), timeout=10)
        view = next(v for v in shown.sessions if v.session.ref == failed)
        assert view.look.label == "Failed"
        mark = len(keys.shown)
        keys.press("key:0", Target.of_session(failed))
        after = await keys.wait_for(lambda f: failed not in refs(f), timeout=10, start=mark)
        assert SessionRef("hcompany", "job-2") in refs(after)
