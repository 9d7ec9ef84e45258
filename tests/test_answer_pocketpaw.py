"""PocketPaw's questions and stops, answered from a device: the overlay's bookkeeping,
then end to end on 127.0.0.1 (the simulator, the real source, the engine, a dummy
Stream Deck whose key presses come through the streamdeck library's reader thread).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from bridge.engine import Device, Engine
from bridge.pipeline.model import (
    AskKind,
    GlobalState,
    Session,
    SessionRef,
    SessionState,
    Snapshot,
)
from bridge.pipeline.theme import default_theme
from bridge.simulator import SimAgent, SimServer
from bridge.simulator.faults import Fault
from bridge.simulator.server import CHAT_PATH, CHAT_STOP_PATH
from bridge.sources.pocketpaw.events import BusEvent, Overlay
from bridge.sources.pocketpaw.options import Options
from bridge.sources.pocketpaw.source import PocketPawSource
from tests.conftest import FAST, eventually

pytest.importorskip("StreamDeck")
pytest.importorskip("PIL")

from devices.streamdeck.driver import StreamDeckDriver, StreamDeckOptions
from tests.deckkeys import DeckKeys

WEB = "websocket:abc"
REF = SessionRef("pp", WEB)


# -- the overlay: questions outlive the run that asked them ---------------------------


def bus(kind: str, key: str, t: float, **data: Any) -> BusEvent:
    return BusEvent(kind, key, {"session_key": key, **data}, t, 1000.0 + t)


def base(*sessions: Session) -> Snapshot:
    return Snapshot(GlobalState.ACTIVE if sessions else GlobalState.IDLE, sessions, len(sessions))


def test_a_question_stays_open_until_a_new_run_answers_it() -> None:
    overlay = Overlay("pp", 30.0, 100, question_ttl=600.0, answering=True)
    overlay.rebase(base(), 0.0)
    overlay.add(bus("agent_start", WEB, 1.0))
    running = overlay.view(1001.0)
    assert running is not None and running.sessions[0].stoppable
    overlay.add(
        bus(
            "ask_user_question",
            WEB,
            2.0,
            question="Deploy now?\nto prod",
            options=["Yes", {"label": "No"}, {"text": "Later"}, {"value": 3}, 7],
        )
    )
    overlay.add(bus("thinking", WEB, 3.0))  # the agent writes on: still a question
    overlay.add(bus("agent_end", WEB, 4.0))  # the run has ended: still a question
    view = overlay.view(1004.0)
    assert view is not None and view.state is GlobalState.ACTIVE
    (session,) = view.sessions
    assert session.state is SessionState.WAITING_FOR_USER and not session.stoppable
    ask = session.ask
    assert ask is not None and ask.kind is AskKind.QUESTION and ask.answerable
    assert ask.text == "Deploy now? to prod"
    assert [(c.id, c.label) for c in ask.choices] == [
        ("answer:1", "Yes"),
        ("answer:2", "No"),
        ("answer:3", "Later"),
        ("answer:4", "Option 4"),
    ]
    assert ask.expires == 1002.0 + 600.0
    # The next message on the chat starts a run: the question is answered.
    overlay.add(bus("agent_start", WEB, 5.0))
    view = overlay.view(1005.0)
    assert view is not None and view.sessions[0].ask is None
    assert view.sessions[0].state is SessionState.THINKING


def test_questions_expire_and_come_back_under_a_new_id() -> None:
    overlay = Overlay("pp", 30.0, 100, question_ttl=60.0, answering=True)
    overlay.rebase(base(), 0.0)
    overlay.add(bus("ask_user_question", WEB, 1.0, question="?", options=["a"]))
    view = overlay.view(1001.0)
    assert view is not None
    ask = view.sessions[0].ask
    assert ask is not None
    question = overlay.close_question(WEB, ask.id)
    assert question is not None and overlay.close_question(WEB, ask.id) is None
    assert overlay.reopen_question(WEB, question)
    view = overlay.view(1002.0)
    assert view is not None
    again = view.sessions[0].ask
    assert again is not None and again.id != ask.id  # the desk answers an id once
    assert overlay.next_expiry(1002.0) == 1061.0
    overlay.prune(1061.0)
    assert overlay.view(1061.0) == base()


def test_a_new_run_seen_only_in_a_snapshot_also_answers_the_question() -> None:
    # The bus missed the new run's agent_start (a reconnect gap): the snapshot tells.
    overlay = Overlay("pp", 30.0, 100, answering=True)
    overlay.rebase(base(), 0.0)
    overlay.add(bus("agent_start", WEB, 1.0))
    overlay.add(bus("ask_user_question", WEB, 2.0, question="Go?", options=["Yes"]))
    overlay.add(bus("agent_end", WEB, 3.0))
    running = Session(WEB, "abc", "websocket", SessionState.THINKING, source="pp")
    # A snapshot from about when the run ended may still list it: still asked.
    overlay.rebase(base(running), 3.5)
    view = overlay.view(1004.0)
    assert view is not None and view.sessions[0].ask is not None
    overlay.rebase(base(running), 6.0)
    view = overlay.view(1005.0)
    assert view is not None and view.sessions[0].ask is None
    assert view.sessions[0].state is SessionState.THINKING


@pytest.mark.parametrize(
    ("key", "answering", "options", "where"),
    [
        ("telegram:42", True, ["Yes"], "in Telegram"),
        ("discord:g1", True, ["Yes"], "in Discord"),
        ("slack:x", True, ["Yes"], "in Slack"),
        ("matrix:room", True, ["Yes"], "in Matrix"),
        ("custom:1", True, ["Yes"], "in Custom"),
        (WEB, False, ["Yes"], "in PocketPaw's dashboard"),
        (WEB, True, [], "in PocketPaw's dashboard (it wants your own words)"),
        (WEB, True, ["Yes"], ""),
    ],
)
def test_where_a_question_is_answered(
    key: str, answering: bool, options: list[str], where: str
) -> None:
    overlay = Overlay("pp", 30.0, 100, answering=answering)
    overlay.rebase(base(), 0.0)
    overlay.add(bus("ask_user_question", key, 1.0, question="Go?", options=options))
    view = overlay.view(1001.0)
    assert view is not None
    ask = view.sessions[0].ask
    assert ask is not None and ask.where == where and ask.answerable == (not where)


# -- end to end -------------------------------------------------------------------------


@dataclass
class Bridge(DeckKeys):
    agent: SimAgent
    server: SimServer
    source: PocketPawSource
    deck: StreamDeckDriver
    engine: Engine
    #: Added to the deck's clock: a press held for N seconds without waiting N seconds.
    skew: list[float]

    def session_key(self, ref: SessionRef = REF) -> int | None:
        for key, role in enumerate(self.deck.roles):
            if role.kind == "session" and role.session == ref:
                return key
        return None


@asynccontextmanager
async def bridge(
    *, model: str = "mk2", token: str | None = None, **options: Any
) -> AsyncIterator[Bridge]:
    agent = SimAgent()
    async with SimServer(agent, debounce=0.02, keepalive=0.5, token=token) as server:
        skew = [0.0]
        deck = StreamDeckDriver(
            "deck",
            StreamDeckOptions(dummy=True, dummy_model=model, poll_hz=50),  # type: ignore[arg-type]
            mono=lambda: time.monotonic() + skew[0],
        )
        engine = Engine([Device(deck)], default_theme())
        opts = {**FAST, "events": "on", **options}
        if token is not None:
            opts["token"] = token
        source = PocketPawSource("pp", Options(url=server.url, **opts), engine.publish)
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run([source], stop))
        try:
            await eventually(lambda: source.events_live and deck.is_open)
            yield Bridge(agent, server, source, deck, engine, skew)
        finally:
            stop.set()
            await task


def ask_question(agent: SimAgent, key: str = WEB, options: list[Any] | None = None) -> None:
    agent.agent_start(key, "Ship it")
    agent.tool_start(key, "AskUserQuestion")
    agent.ask_user_question(key, "Deploy now?", options or ["Yes", {"label": "No"}])
    agent.agent_end(key)  # PocketPaw's agent asks, then ends its turn


async def test_a_question_is_answered_from_a_deck_key() -> None:
    async with bridge() as b:
        ask_question(b.agent)
        no = await b.shows("answer:2")
        assert b.key_of("answer:1") is not None
        b.press(no)
        message = await b.server.wait_for_chat()
        # The option's own text, to that chat, the way PocketPaw's dashboard sends it.
        assert (message.session_key, message.session_id, message.content) == (
            WEB,
            "websocket_abc",
            "No",
        )
        # The deck stops offering it, and the session leaves with its question.
        await eventually(lambda: b.key_of("answer:1") is None)
        await eventually(lambda: b.engine.status.find(REF) is None)
        assert len(b.server.chats) == 1
        assert b.server.requests[CHAT_PATH] == 1


async def test_the_pedal_goes_first_next_and_confirms() -> None:
    async with bridge(model="pedal") as b:
        ask_question(b.agent, options=["Yes", "No", "Later"])
        await eventually(lambda: (s := b.engine.status.find(REF)) is not None and s.ask is not None)
        b.press(1)  # middle: next (from nothing: the first request's first choice)
        await eventually(lambda: b.engine.desk.view().cursor is not None)
        b.press(1)  # next: "No"
        await eventually(lambda: (c := b.engine.desk.view().cursor) is not None and c.index == 1)
        b.press(2)  # right: confirm
        message = await b.server.wait_for_chat()
        assert message.content == "No"


async def test_a_stray_press_on_stop_does_nothing_and_a_second_stops_the_run() -> None:
    async with bridge() as b:
        b.agent.agent_start(WEB, "Long job")
        b.agent.tool_start(WEB, "bash")
        await eventually(lambda: b.session_key() is not None)
        key = b.session_key()
        assert key is not None
        b.press(key)  # details, with a Stop key
        stop = await b.shows("stop")
        b.press(stop)
        await eventually(lambda: b.engine.desk.view().armed_on("deck") is not None)
        await asyncio.sleep(0.3)  # the reader thread has had many polls to send more
        assert b.server.stops == [] and b.server.chats == []
        b.press(stop)  # a second press within 3 s
        message = await b.server.wait_for_chat()
        # /chat/stop was asked first; PocketPaw stops only runs its chat stream started,
        # so the stop went as PocketPaw's own /kill command to that chat.
        assert b.server.stops == ["websocket_abc"]
        assert (message.session_key, message.content) == (WEB, "/kill")
        await eventually(lambda: b.engine.status.find(REF) is None)


async def test_a_held_stop_reaches_chat_stop() -> None:
    async with bridge() as b:
        b.agent.agent_start(WEB, "Long job")
        b.server.chat_streams.add(WEB)  # a run its chat stream API started
        await eventually(lambda: b.session_key() is not None)
        key = b.session_key()
        assert key is not None
        b.press(key)
        stop = await b.shows("stop")
        b.press(stop, held=0.7)
        await eventually(lambda: b.server.stops == ["websocket_abc"])
        await eventually(lambda: b.engine.status.find(REF) is None)
        assert b.server.chats == []  # no /kill needed
        assert b.server.requests[CHAT_STOP_PATH] == 1


async def test_a_telegram_question_says_where_to_answer() -> None:
    async with bridge() as b:
        ask_question(b.agent, key="telegram:42")
        ref = SessionRef("pp", "telegram:42")
        await eventually(lambda: (s := b.engine.status.find(ref)) is not None and s.ask is not None)
        await asyncio.sleep(0.2)  # a few frames on the deck
        assert b.key_of("answer:1") is None  # no keys that cannot work
        faces = [f for f in b.deck._written if f is not None and f.kind == "choice"]
        assert any("in Telegram" in " ".join(f.lines) for f in faces)
        session = b.engine.status.find(ref)
        assert session is not None and not session.stoppable


async def test_the_dashboard_token_goes_with_the_answer() -> None:
    token = "0f5b1c7e-1d8e-4b8a-9d60-2a4c3b7e9f10"
    async with bridge(token=token) as b:
        ask_question(b.agent)
        yes = await b.shows("answer:1")
        b.press(yes)
        message = await b.server.wait_for_chat()
        assert message.content == "Yes"  # the simulator refuses anything without the token


async def test_an_answer_that_fails_is_offered_again() -> None:
    async with bridge() as b:
        b.server.faults.append(Fault("status", path=CHAT_PATH, status=500))
        ask_question(b.agent)
        yes = await b.shows("answer:1")
        first = b.engine.status.find(REF)
        assert first is not None and first.ask is not None
        b.press(yes)
        await eventually(
            lambda: (s := b.engine.status.find(REF)) is not None
            and s.ask is not None
            and s.ask.id != first.ask.id  # type: ignore[union-attr]
        )
        yes = await b.shows("answer:1")
        b.press(yes)
        message = await b.server.wait_for_chat()
        assert message.content == "Yes"

