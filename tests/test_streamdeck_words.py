"""Stream Deck keys say their words whole: the same text in both phases of a blink, an
error's words before its time, a count with its unit, an address in readable pieces,
and the model by Elgato's name."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("StreamDeck")
pytest.importorskip("PIL")

from bridge.pipeline.looks import Color, Effect, Look
from bridge.pipeline.model import AgentStatus, ConnectionState, SourceStatus
from devices.streamdeck.layout import Placed, global_face, page_face, session_face
from devices.streamdeck.render import font, text_width, wrap
from tests.frames import make_session

AMBER = Look(Color(1.0, 0.69, 0.0), Effect.BLINK, label="Waiting for you")
RED = Look(Color(1.0, 0.0, 0.0), Effect.BLINK, label="Error")


@pytest.mark.parametrize("state", ["waiting_for_user", "error"])
def test_both_phases_of_a_blinking_key_lay_out_the_same_text(state: str) -> None:
    session = make_session("slack:q", state, title="Approve the production deploy of v2?",
                           error="Rate limit exceeded (429)", since=time.time() - 30)  # fmt: skip
    placed = Placed(0, session, AMBER if state == "waiting_for_user" else RED)
    lit = session_face(placed, time.time(), blink_on=True)
    dark = session_face(placed, time.time(), blink_on=False)
    # The frame reserves the same room in both (in the lit phase it is the key's colour).
    assert lit.frame is not None and dark.frame is not None
    assert lit.frame == lit.bg
    assert (lit.title, lit.lines, lit.footer) == (dark.title, dark.lines, dark.footer)
    page_lit = page_face(0, 2, [placed], blink_on=True)
    page_dark = page_face(0, 2, [placed], blink_on=False)
    assert page_lit.frame is not None and page_dark.frame is not None
    assert page_lit.lines == page_dark.lines == ("1 needs you",)


def test_an_errors_words_get_the_keys_lines() -> None:
    error = "Rate limit exceeded (429): retry after 30 s"
    session = make_session("cli:d4", "error", error=error, since=time.time() - 140)
    face = session_face(Placed(0, session, RED), time.time(), blink_on=False)
    assert face.lines == (f"Error: {error}",)  # the state word leads the words
    assert face.title == "" and face.footer == ""  # their room is the words' now


@pytest.mark.parametrize("tokens", [(850, 0), (12_400, 3_100), (48_000, 9_000)])
def test_a_token_count_always_has_its_unit(tokens: tuple[int, int]) -> None:
    session = make_session("web:a", "thinking", since=time.time() - 75, tokens=tokens)
    look = Look(Color(0.0, 0.44, 1.0), Effect.PULSE, label="Thinking")
    face = session_face(Placed(0, session, look), time.time(), blink_on=True)
    for variant in face.footer.split(" | "):
        count = [w for w in variant.split() if w[0].isdigit() and not w.endswith("s")]
        assert not count or variant.endswith(" tok"), variant


def test_the_agent_keys_address_is_host_and_port() -> None:
    status = AgentStatus.fold(
        (SourceStatus("pocketpaw", ConnectionState.CONNECTING, None,
                      "connecting to http://pocketpaw-laptop.local:8888/api/v1/agent/status"),)
    )  # fmt: skip
    look = Look(Color(1.0, 1.0, 1.0), Effect.PULSE, label="Connecting")
    face = global_face(status, look)
    assert face.lines == ("connecting to pocketpaw-laptop.local:8888",)


def test_a_word_wider_than_the_key_breaks_after_a_colon_or_slash() -> None:
    size = 10
    word = "127.0.0.1:8888/api/v1/agent/status"
    width = text_width("127.0.0.1:8888/ap", size)
    lines, _ = wrap(word, size, width, 6)
    assert "".join(lines) == word
    for line in lines[:-1]:
        assert line.endswith((":", "/")), lines
    assert font(size) is not None


def test_a_dummy_mk2_is_named_mk2() -> None:
    from StreamDeck.DeviceManager import DeviceManager

    from devices.streamdeck.driver import model_name
    from devices.streamdeck.dummy import DummyDeckTransport, dummy_device

    manager = DeviceManager("dummy")
    manager.transport = DummyDeckTransport([dummy_device("mk2", "S1")])
    (deck,) = manager.enumerate()
    assert deck.deck_type() == "Stream Deck Original"  # the library's word
    assert model_name(deck) == "Stream Deck MK.2"
