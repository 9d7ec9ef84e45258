"""AgP status bodies → parsed status → sessions: no I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.pipeline.model import ModelUsage, SessionState, TokenUsage
from bridge.sources.agp.parse import STATES, StatusError, parse_status, to_session

DOC_EXAMPLE = {
    "status": "running",
    "error": None,
    "steps": 7,
    "usage_per_model": [
        {
            "name": "holo3-35b-a3b",
            "input_tokens": 12400,
            "output_tokens": 890,
            "reasoning_tokens": 0,
        }
    ],
    "subagent_session_ids": [],
}


def test_the_docs_example() -> None:
    status = parse_status(DOC_EXAMPLE)
    session = to_session("s1", status, source="agp", since=5.0)
    assert (session.state, session.raw_state, session.steps) == (
        SessionState.THINKING,
        "running",
        7,
    )
    assert session.usage == (ModelUsage("holo3-35b-a3b", TokenUsage(12400, 890, 0)),)
    assert session.tokens == TokenUsage(12400, 890, 0)
    assert session.ref == ("agp", "s1") and session.parent is None and not status.final


@pytest.mark.parametrize(
    ("name", "state", "final"),
    [
        ("pending", SessionState.PENDING, False),
        ("running", SessionState.THINKING, False),
        ("paused", SessionState.WAITING_FOR_USER, False),
        ("idle", SessionState.WAITING_FOR_USER, False),
        ("completed", SessionState.DONE, True),
        ("failed", SessionState.ERROR, True),
        ("timed_out", SessionState.ERROR, True),
        ("interrupted", SessionState.INTERRUPTED, True),
        ("hibernating", SessionState.UNKNOWN, False),
    ],
)
def test_every_status(name: str, state: SessionState, final: bool) -> None:
    status = parse_status({"status": name, "error": "why" if name == "failed" else None})
    assert (status.state, status.final) == (state, final)
    assert to_session("x", status, source="agp", since=0).raw_state == name
    assert set(STATES) >= {"pending", "running", "paused", "idle", "completed", "failed"}


def test_usage_summed_per_model_and_subagents_in_either_shape() -> None:
    status = parse_status(
        {
            "status": "running",
            "usage_per_model": [
                {"name": "a", "input_tokens": 1, "output_tokens": 2, "reasoning_tokens": 3},
                {"name": "a", "input_tokens": 10, "output_tokens": 20},
                {"name": "b", "input_tokens": "lots", "output_tokens": -4},
                "junk",
            ],
            "subagent_session_ids": ["c1", {"id": "c2"}, {"session_id": "c3"}, "c1", "../x", 7],
        }
    )
    assert status.usage == (
        ModelUsage("a", TokenUsage(11, 22, 3)),
        ModelUsage("b", TokenUsage(0, 0, 0)),
    )
    assert status.subagents == ("c1", "c2", "c3")
    session = to_session("p", status, source="agp", since=0)
    assert session.tokens == TokenUsage(11, 22, 3)
    assert ("subagents", "3") in session.extra


@pytest.mark.parametrize("body", [None, [], "running", {}, {"status": ""}, {"status": 3}])
def test_not_a_status(body: object) -> None:
    with pytest.raises(StatusError):
        parse_status(body)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=25), inner, max_size=5)
        ),
        max_leaves=20,
    )
)
def test_any_json_parses_or_raises_status_error(body: object) -> None:
    for shaped in (body, {"status": "running", "usage_per_model": body, "steps": body}):
        try:
            status = parse_status(shaped)
        except StatusError:
            continue
        session = to_session("s", status, source="agp", since=0)
        assert session.steps is None or session.steps >= 0
        assert all(len(sid) <= 128 for sid in status.subagents)
