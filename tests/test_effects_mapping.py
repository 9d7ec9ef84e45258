"""Looks, effects (pure functions of time, so a fake clock is just a number) and mapping."""

from __future__ import annotations

import pytest

from bridge.pipeline import effects
from bridge.pipeline.looks import BLACK, Color, Effect, Look
from bridge.pipeline.mapping import Mapper, frame_for, next_wake, select
from bridge.pipeline.model import (
    AgentStatus,
    ConnectionState,
    GlobalState,
    Session,
    SessionRef,
    SessionState,
)
from bridge.pipeline.theme import default_theme, parse_theme
from tests.frames import make_session, make_source, make_status

RED = Color.parse("#ff0000")


def status(state: str, *sessions: Session) -> AgentStatus:
    return make_status(state, sessions)


def test_color_parse_names_and_hex() -> None:
    assert Color.parse("orange").hex == "#ffa500"
    assert Color.parse("#FF8000").hex == "#ff8000"
    assert Color.parse("#f00").hex == "#ff0000"
    with pytest.raises(ValueError, match="expected a CSS color name"):
        Color.parse("blurple")


def test_solid_and_off() -> None:
    look = Look(RED, Effect.SOLID, brightness=0.5)
    assert effects.sample(look, 0) == effects.sample(look, 123.4) == RED.scaled(0.5)
    assert effects.sample(Look(RED, Effect.OFF), 1.0) == BLACK
    assert effects.next_change(look, 0, 30) is None


def test_blink_starts_on_and_changes_twice_per_period() -> None:
    look = Look(RED, Effect.BLINK, period=1.0)
    assert effects.sample(look, 0.0) == RED
    assert effects.sample(look, 0.49) == RED
    assert effects.sample(look, 0.5) == BLACK
    assert effects.sample(look, 1.0) == RED
    assert effects.next_change(look, 0.1, 30) == pytest.approx(0.5)
    assert effects.next_change(look, 0.5, 30) == pytest.approx(1.0)


def test_pulse_breathes_between_floor_and_full() -> None:
    look = Look(RED, Effect.PULSE, period=2.0, brightness=1.0)
    assert effects.level(look, 0.0) == pytest.approx(1.0)
    assert effects.level(look, 1.0) == pytest.approx(effects.PULSE_FLOOR)
    assert effects.level(look, 2.0) == pytest.approx(1.0)
    mid = effects.level(look, 0.5)
    assert effects.PULSE_FLOOR < mid < 1.0
    assert effects.next_change(look, 0.0, 10) == pytest.approx(0.1)
    assert Effect.parse("breathe") is Effect.PULSE


def test_default_theme_makes_attention_states_loud_and_idle_calm() -> None:
    theme = default_theme()
    idle = theme.global_look(GlobalState.IDLE)
    waiting = theme.session_look(SessionState.WAITING_FOR_USER, tool=None, channel="x")
    error = theme.session_look(SessionState.ERROR, tool=None, channel="x")
    assert idle.effect is Effect.SOLID and idle.brightness <= 0.2
    assert waiting.effect is Effect.BLINK and waiting.brightness == 1.0
    assert error.effect is Effect.BLINK and error.brightness == 1.0
    assert error.color != waiting.color
    for state in GlobalState:
        assert theme.global_look(state) is not None
    # The bridge's own states never look like "all is well".
    looks = {theme.global_look(s) for s in (GlobalState.IDLE, GlobalState.ACTIVE)}
    for state in (GlobalState.CONNECTING, GlobalState.DISCONNECTED, GlobalState.AUTH_FAILED):
        assert theme.global_look(state) not in looks


def test_tool_and_channel_overrides_apply_to_busy_states_only() -> None:
    theme = parse_theme(
        {"channel": {"discord": {"color": "purple"}}, "tool": {"bash": {"color": "orange"}}},
        file="t.toml",
        base=default_theme(),
    )
    purple, orange = Color.parse("purple"), Color.parse("orange")
    assert theme.session_look(SessionState.THINKING, tool=None, channel="discord").color == purple
    # The tool wins over the channel while it runs.
    running = theme.session_look(SessionState.TOOL_RUNNING, tool="bash", channel="discord")
    assert running.color == orange
    # Errors and questions look the same on every channel.
    err = theme.session_look(SessionState.ERROR, tool=None, channel="discord")
    assert err == default_theme().session_look(SessionState.ERROR, tool=None, channel="x")
    ask = theme.session_look(SessionState.WAITING_FOR_USER, tool=None, channel="discord")
    assert ask.color != purple


def test_select_most_urgent_make_session() -> None:
    mapper = Mapper(default_theme())
    st = status(
        "degraded",
        make_session("websocket:a", "thinking"),
        make_session("discord:b", "tool_running", "bash"),
        make_session("slack:c", "waiting_for_user"),
        make_session("telegram:d", "error"),
    )
    mapped = mapper.map(st, now=0.0)
    look, _, focus = select(mapped, "session")
    assert focus is not None and focus.key == "telegram:d"
    assert look.effect is Effect.BLINK
    _, _, focus = select(mapped, "global")
    assert focus is None
    ordered = status(
        "active",
        make_session("a:1", "thinking"),
        make_session("b:2", "streaming"),
        make_session("c:3", "tool_running", "x"),
    )
    assert select(mapper.map(ordered, 0.0), "session")[2] == SessionRef("", "c:3")


def test_bridge_states_win_over_sessions_on_single_leds() -> None:
    sources = (
        make_source("a", "active", [("w:1", "thinking")]),
        make_source("b", connection=ConnectionState.DISCONNECTED),
    )
    folded = AgentStatus.fold(sources)
    assert folded.state is GlobalState.DISCONNECTED
    assert [s.key for s in folded.sessions] == ["w:1"]
    mapped = Mapper(default_theme()).map(folded, 0.0)
    assert select(mapped, "session")[2] is None


def test_fold_severity() -> None:
    ok_idle = make_source("a", "idle")
    ok_active = make_source("b", "active")
    degraded = make_source("c", "degraded")
    auth = make_source("d", connection=ConnectionState.AUTH_FAILED)
    assert AgentStatus.fold((ok_idle, ok_active)).state is GlobalState.ACTIVE
    assert AgentStatus.fold((ok_idle, degraded)).state is GlobalState.DEGRADED
    assert AgentStatus.fold((degraded, auth)).state is GlobalState.AUTH_FAILED
    assert AgentStatus.fold(()).state is GlobalState.CONNECTING


def test_look_phase_survives_unrelated_changes_and_restarts_on_change() -> None:
    mapper = Mapper(default_theme())
    first = mapper.map(status("active", make_session("w:1", "waiting_for_user")), now=10.0)
    # Another session appears: w:1's blink keeps its phase.
    second = mapper.map(
        status("active", make_session("w:1", "waiting_for_user"), make_session("d:2", "thinking")),
        now=10.3,
    )
    assert second.sessions[0].since == first.sessions[0].since == 10.0
    assert second.sessions[1].since == 10.3
    third = mapper.map(status("active", make_session("w:1", "thinking")), now=11.0)
    assert third.sessions[0].since == 11.0


def test_frame_sampling_with_fake_clock() -> None:
    mapper = Mapper(default_theme())
    mapped = mapper.map(status("active", make_session("w:1", "waiting_for_user")), now=100.0)
    on = frame_for("d", mapped, 100.0)
    off = frame_for("d", mapped, 100.6)
    assert on.color != BLACK and off.color == BLACK
    assert on.look == off.look
    assert next_wake(
        mapped, 100.0, show="session", with_sessions=True, max_fps=30
    ) == pytest.approx(100.5)
    # A device that blinks by itself gets the full color and is never woken for it.
    native = frame_for("d", mapped, 100.6, native=[Effect.BLINK])
    assert native.color != BLACK
    assert (
        next_wake(
            mapped, 100.0, show="session", with_sessions=True, max_fps=30, native=[Effect.BLINK]
        )
        is None
    )


def test_static_looks_need_no_wakeups() -> None:
    mapper = Mapper(default_theme())
    mapped = mapper.map(status("idle"), now=0.0)
    assert not mapped.animated
    assert next_wake(mapped, 0.0, show="session", with_sessions=True, max_fps=30) is None


def test_labels_fill_placeholders() -> None:
    mapper = Mapper(default_theme())
    mapped = mapper.map(status("active", make_session("w:1", "tool_running", "bash")), 0.0)
    assert mapped.sessions[0].look.label == "bash"
    mapped = mapper.map(status("active", make_session("w:2", "compacting")), 0.0)
    assert mapped.sessions[0].look.label == "compacting"
