"""Answering from every control the input path reaches: what a Stream Deck draws for a
waiting request (its page, its details, holds, the pedal's cursor)."""

from __future__ import annotations

import pytest

from bridge.pipeline.answers import AnswerOptions, Armed, Cursor, DeskView, annotate
from bridge.pipeline.asks import answer_choices, permission_choices
from bridge.pipeline.looks import Color, Effect, Look
from bridge.pipeline.model import (
    AgentStatus,
    Ask,
    AskKind,
    ConnectionState,
    GlobalState,
    Session,
    SessionRef,
    SessionState,
    Snapshot,
    SourceStatus,
)

pytest.importorskip("PIL")

from devices.streamdeck.layout import (
    Answering,
    Geometry,
    Placed,
    View,
    layout,
)
from devices.streamdeck.render import Face, render_key

MK2 = Geometry(15, 5, 3)
MINI = Geometry(6, 3, 2)
LOOK = Look(Color.from_bytes(0xFF, 0xB0, 0x00), Effect.BLINK, 1.0, label="Waiting for you")
REF = SessionRef("hooks", "s1")


def permission(command: str = "npm test", ask_id: str = "r1") -> Ask:
    return Ask(
        ask_id,
        AskKind.PERMISSION,
        f"Bash: {command}",
        permission_choices(),
        tool="Bash",
        command=command,
        cwd="/p",
    )


def session(ask: Ask | None, key: str = "s1", *, stoppable: bool = False) -> Session:
    state = SessionState.WAITING_FOR_USER if ask is not None else SessionState.TOOL_RUNNING
    return Session(key, key, "claude", state, source="hooks", ask=ask, stoppable=stoppable)


def view_of(
    *sessions: Session,
    geometry: Geometry = MK2,
    desk: DeskView | None = None,
    details: SessionRef | None = None,
    options: AnswerOptions | None = None,
    mono: float = 0.0,
) -> View:
    snap = Snapshot(GlobalState.ACTIVE, sessions, len(sessions))
    status = annotate(
        AgentStatus.fold((SourceStatus("hooks", ConnectionState.CONNECTED, snap),)),
        options or AnswerOptions(),
    )
    placed = [Placed(i, s, LOOK) for i, s in enumerate(status.sessions)]
    return layout(
        geometry,
        status,
        LOOK,
        placed,
        1000.0,
        details=details,
        answering=Answering(desk, "deck", mono),
    )


def choices(view: View) -> list[tuple[int, str, Face]]:
    return [
        (k, r.action, view.faces[k]) for k, r in enumerate(view.roles) if r.kind == "choice"
    ]


def test_a_waiting_request_gets_its_choices_on_its_page() -> None:
    view = view_of(session(permission()), session(None, "s2"))
    keys = choices(view)
    assert [(k, a) for k, a, _ in keys] == [(3, "allow"), (4, "deny")]
    allow, deny = keys[0][2], keys[1][2]
    assert (allow.title, deny.title) == ("Allow", "Deny")
    assert "hold" in allow.footer and deny.footer == ""  # Allow says how
    assert view.roles[3].session == REF
    assert view.faces[1].footer != "press to answer"


def test_a_dangerous_request_is_drawn_locked_under_safe_and_in_danger_colour_under_all() -> None:
    view = view_of(session(permission("rm -rf /")))
    allow = choices(view)[0][2]
    assert allow.header == "KEYBOARD" and "dangerous (rm -rf)" in allow.lines
    view = view_of(session(permission("rm -rf /")), options=AnswerOptions(allow_from_device="all"))
    allow = choices(view)[0][2]
    assert allow.header == "DANGER" and allow.frame == (255, 45, 0) and allow.lines == ("rm -rf",)


def test_a_hold_fills_a_bar_and_a_first_press_asks_for_another() -> None:
    held = Armed("deck", "key:3", REF, "r1", "allow", "Allow", 10.0, True, 13.0)
    view = view_of(session(permission()), desk=DeskView(armed=(held,)), mono=10.3)
    allow = choices(view)[0][2]
    assert allow.progress == 0.5 and allow.footer == "hold..."
    view = view_of(session(permission()), desk=DeskView(armed=(held,)), mono=10.7)
    assert choices(view)[0][2].progress == 1.0 and choices(view)[0][2].footer == "release"
    waiting = Armed("deck", "key:3", REF, "r1", "allow", "Allow", 10.0, False, 13.0)
    allow = choices(view_of(session(permission()), desk=DeskView(armed=(waiting,))))[0][2]
    assert allow.footer == "press again" and allow.frame == (255, 255, 255)
    # Another device's hold is that device's to draw.
    other = Armed("api", "api", REF, "r1", "allow", "Allow", 10.0, True, 13.0)
    allow = choices(view_of(session(permission()), desk=DeskView(armed=(other,)), mono=10.3))[0][2]
    assert allow.progress is None
    # The bar is drawn: the bottom row's left part lit, its right part not yet.
    image = render_key(Face("choice", (0, 130, 60), None, "", "Allow", progress=0.5), (72, 72))
    assert image.getpixel((5, 69)) == (255, 255, 255)
    assert image.getpixel((66, 69)) != (255, 255, 255)


def test_the_pedals_cursor_is_framed() -> None:
    desk = DeskView(cursor=Cursor(REF, "r1", 1))
    keys = choices(view_of(session(permission()), desk=desk))
    assert keys[1][2].frame == (255, 215, 0) and keys[0][2].frame is None


def test_no_room_on_the_page_says_press_to_answer_and_details_hold_the_choices() -> None:
    options = answer_choices(["Yes", "No", "Later", "Never"])
    question = Ask("q1", AskKind.QUESTION, "Deploy now?", options)
    sessions = [session(question), *(session(None, f"x{i}") for i in range(2))]
    view = view_of(*sessions, geometry=MINI)
    assert choices(view) == []
    assert view.faces[1].footer == "press to answer"
    view = view_of(*sessions, geometry=MINI, details=REF)
    assert [a for _, a, _ in choices(view)] == ["answer:1", "answer:2", "answer:3", "answer:4"]
    assert view.faces[1].kind == "details" and "Deploy now?" in view.faces[1].lines


def test_details_offer_later_and_stop() -> None:
    view = view_of(session(permission(), stoppable=True), details=REF)
    assert [a for _, a, _ in choices(view)] == ["allow", "deny", "dismiss", "stop"]
    stop = choices(view)[-1][2]
    assert stop.header == "STOP RUN" and "hold" in stop.footer
    # A running session (no request) that can be stopped: its details have the Stop key.
    view = view_of(session(None, stoppable=True), details=REF)
    assert [a for _, a, _ in choices(view)] == ["stop"]


def test_a_request_answered_elsewhere_shows_where() -> None:
    ask = Ask("q1", AskKind.QUESTION, "Go?", answer_choices(["Yes"]), where="in Telegram")
    view = view_of(session(ask))
    assert choices(view) == []
    assert view.faces[2].lines == ("in Telegram",) and view.roles[2].kind == "blank"


def test_what_the_desk_did_shows_on_the_session_key() -> None:
    from bridge.pipeline.answers import Note

    desk = DeskView(notes=(Note(REF, "Allow sent", 99.0),))
    view = view_of(session(permission()), desk=desk)
    assert view.faces[1].footer == "Allow sent"
