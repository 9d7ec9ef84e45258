"""PocketPaw JSON → snapshot: tolerant of the unknown, strict about the malformed."""

from __future__ import annotations

import logging

import pytest

from bridge.pipeline.model import GlobalState, SessionState, TokenUsage
from bridge.sources.pocketpaw.parse import FrameError, fingerprint, parse_status

DEGRADED = {
    "global": {
        "state": "degraded",
        "active_sessions": 2,
        "max_concurrent": 5,
        "uptime_seconds": 7200,
    },
    "sessions": [
        {
            "session_key": "websocket:abc123",
            "session_id": "abc123",
            "channel": "websocket",
            "title": None,
            "state": "thinking",
            "tool_name": None,
            "duration_seconds": 1.0,
            "token_usage": None,
            "error_message": None,
        },
        {
            "session_key": "discord:xyz789",
            "session_id": "xyz789",
            "channel": "discord",
            "title": "Chat",
            "state": "error",
            "tool_name": None,
            "duration_seconds": 15.2,
            "token_usage": {"input": 800, "output": 50},
            "error_message": "Rate limit exceeded",
        },
    ],
}


def test_documented_example_parses() -> None:
    snap = parse_status(DEGRADED, source="pp", received_at=1000.0)
    assert snap.state is GlobalState.DEGRADED
    assert snap.max_concurrent == 5
    first, second = snap.sessions
    assert (first.key, first.id, first.channel, first.state) == (
        "websocket:abc123",
        "abc123",
        "websocket",
        SessionState.THINKING,
    )
    assert second.error == "Rate limit exceeded"
    assert second.tokens == TokenUsage(800, 50)
    assert second.title == "Chat"
    assert second.since == pytest.approx(1000.0 - 15.2)
    assert second.source == "pp"


def test_since_is_kept_while_state_is_unchanged() -> None:
    first = parse_status(DEGRADED, received_at=1000.0)
    again = parse_status(DEGRADED, received_at=1003.0, previous=first)
    assert again == first  # durations and uptime alone never make a change
    assert fingerprint(again) == fingerprint(first)


def test_missing_id_and_channel_are_derived_like_the_server() -> None:
    snap = parse_status(
        {
            "global": {"state": "active"},
            "sessions": [
                {"session_key": "nocolon", "state": "thinking"},
                {"session_key": "tg:1:2", "state": "streaming"},
            ],
        },
        received_at=0.0,
    )
    assert (snap.sessions[0].channel, snap.sessions[0].id) == ("unknown", "nocolon")
    assert (snap.sessions[1].channel, snap.sessions[1].id) == ("tg", "1:2")


def test_unknown_states_and_extra_fields_are_tolerated_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bridge.sources.pocketpaw import parse as pocketpaw_parse

    pocketpaw_parse._once.reset()  # other tests may have met these states already
    frame = {
        "global": {"state": "hibernating", "new_field": 1},
        "sessions": [{"session_key": "w:1", "state": "compacting", "mood": "happy"}],
        "extra": True,
    }
    with caplog.at_level(logging.INFO, logger="agentlight.sources.pocketpaw"):
        for _ in range(3):
            snap = parse_status(frame, received_at=0.0)
    assert snap.state is GlobalState.ACTIVE  # derived from its sessions
    assert snap.sessions[0].state is SessionState.UNKNOWN
    assert snap.sessions[0].raw_state == "compacting"
    messages = [r.getMessage() for r in caplog.records]
    assert sum("compacting" in m for m in messages) == 1
    assert sum("hibernating" in m for m in messages) == 1


@pytest.mark.parametrize(
    "data",
    [None, [], "idle", 3, {"sessions": []}, {"global": "idle"}, {"global": {}, "sessions": {}}],
)
def test_malformed_frames_raise_frame_error(data: object) -> None:
    with pytest.raises(FrameError):
        parse_status(data, received_at=0.0)


def test_bad_session_entries_are_skipped_not_fatal() -> None:
    snap = parse_status(
        {
            "global": {"state": "active"},
            "sessions": [
                "nope",
                {"state": "thinking"},
                {
                    "session_key": "w:1",
                    "state": "thinking",
                    "token_usage": {"input": "x"},
                    "duration_seconds": "soon",
                    "tool_name": 7,
                },
                {"session_key": "w:1", "state": "error"},
            ],
        },
        received_at=5.0,
    )
    assert [s.key for s in snap.sessions] == ["w:1"]
    assert snap.sessions[0].tokens is None and snap.sessions[0].tool is None
    assert snap.sessions[0].since == 5.0
