"""The hook adapters on real and documented payloads (tests/fixtures/hooks/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.sources.hooks.adapters import ADAPTERS, RESERVED, claude, codex, generic, opencode
from bridge.sources.hooks.events import MAX_ID, MAX_TEXT, Kind, text

FIXTURES = Path(__file__).parent / "fixtures" / "hooks"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def lines(name: str) -> list[Any]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line]


CLAUDE_KINDS = {
    "SessionStart": Kind.START,
    "UserPromptSubmit": Kind.PROMPT,
    "PreToolUse": Kind.TOOL,
    "PostToolUse": Kind.THINKING,
    "PostToolBatch": Kind.NOTE,
    "MessageDisplay": Kind.NOTE,
    "PermissionRequest": Kind.WAITING,
    "Notification-permission_prompt": Kind.WAITING,
    "Notification-idle_prompt": Kind.USER_TURN,
    "Stop": Kind.DONE,
    "StopFailure": Kind.ERROR,
    "SubagentStart": Kind.THINKING,
    "SubagentStop": Kind.DONE,
    "SessionEnd": Kind.END,
}


@pytest.mark.parametrize("name", sorted(CLAUDE_KINDS))
def test_every_recorded_claude_event_is_read(name: str) -> None:
    payload = load(f"claude/events/{name}.json")
    adapted = claude(payload)
    assert adapted.unknown is None and adapted.refused is None
    (event,) = adapted.events
    assert event.kind is CLAUDE_KINDS[name]
    assert event.agent == "claude"
    assert event.session.startswith(payload["session_id"])
    assert event.cwd == "/tmp/cc/proj"


def test_every_recorded_claude_event_has_a_fixture() -> None:
    recorded = {p.stem for p in (FIXTURES / "claude" / "events").glob("*.json")}
    assert recorded == set(CLAUDE_KINDS)


@pytest.mark.parametrize("path", sorted((FIXTURES / "claude" / "http").glob("*.json")))
def test_the_http_path_carries_what_the_command_path_does(path: Path) -> None:
    """Claude's ``http`` hooks POST the JSON a command hook gets: the same events come out."""
    http = claude(json.loads(path.read_text())).events
    assert http and http[0].kind in CLAUDE_KINDS.values()


def test_claude_tool_and_permission_details() -> None:
    (tool,) = claude(load("claude/events/PreToolUse.json")).events
    assert (tool.tool, tool.detail) == ("Bash", "sleep 2; echo done")
    (ask,) = claude(load("claude/events/PermissionRequest.json")).events
    assert (ask.kind, ask.tool, ask.detail) == (
        Kind.WAITING,
        "Bash",
        "touch /tmp/cc/proj/made.txt",
    )
    (failed,) = claude(load("claude/events/StopFailure.json")).events
    assert failed.error == "unknown: API Error: 400 stand-in 400"
    (prompt,) = claude(load("claude/events/UserPromptSubmit.json")).events
    assert prompt.prompt == "hello there"
    assert prompt.transcript and prompt.transcript.endswith(".jsonl")


def test_claude_subagents_are_children_of_their_session() -> None:
    start = load("claude/events/SubagentStart.json")
    (child,) = claude(start).events
    assert child.session == f"{start['session_id']}/{start['agent_id']}"
    assert child.parent == start["session_id"] and child.label == "general-purpose"
    seq = [row["hook"] for row in lines("claude/sequences/subagent.jsonl")[1:] if "hook" in row]
    tools = [e for p in seq for e in claude(p).events if e.kind is Kind.TOOL and e.parent]
    assert tools and all(e.session.endswith(start["agent_id"]) or e.parent for e in tools)
    # the subagent's result coming back is no user prompt: it titles nothing
    notes = [p for p in seq if str(p.get("prompt", "")).startswith("<task-notification>")]
    assert notes and all(claude(p).events[0].kind is Kind.THINKING for p in notes)


def test_an_event_claude_may_add_later_is_tolerated_and_reported() -> None:
    payload = {**load("claude/events/Stop.json"), "hook_event_name": "TeleportStart", "x": [1]}
    adapted = claude(payload)
    assert adapted.unknown == "TeleportStart"
    assert [e.kind for e in adapted.events] == [Kind.NOTE]


@pytest.mark.parametrize(
    "payload",
    [None, [], "x", 3, {}, {"session_id": None}, {"session_id": {"a": 1}}, {"session_id": ""}],
)
def test_payloads_without_a_session_are_refused_not_raised(payload: Any) -> None:
    for name, adapter in ADAPTERS.items():
        adapted = adapter(payload)
        assert adapted.events == () and adapted.refused, name


def test_the_pid_from_agentlight_hook_is_read() -> None:
    payload = {**load("claude/events/PreToolUse.json"), RESERVED: {"pid": 4242}}
    assert claude(payload).events[0].pid == 4242
    for bad in (1, 0, -5, "4242", 2**40, True, None):
        payload[RESERVED] = {"pid": bad}
        assert claude(payload).events[0].pid is None


SEQUENCES = {
    "codex": [
        Kind.START,
        Kind.PROMPT,
        Kind.TOOL,
        Kind.THINKING,
        Kind.WAITING,
        Kind.INTERRUPTED,
        Kind.PROMPT,
        Kind.ERROR,
        Kind.PROMPT,
        Kind.DONE,
        Kind.END,
    ],
    "gemini": [
        Kind.START,
        Kind.PROMPT,
        Kind.TOOL,
        Kind.WAITING,
        Kind.THINKING,
        Kind.DONE,
        Kind.END,
    ],
    "cursor": [
        Kind.START,
        Kind.PROMPT,
        Kind.TOOL,
        Kind.THINKING,
        Kind.NOTE,
        Kind.INTERRUPTED,
        Kind.PROMPT,
        Kind.ERROR,
        Kind.PROMPT,
        Kind.DONE,
        Kind.END,
    ],
    "opencode": [
        Kind.START,
        Kind.THINKING,
        Kind.TOOL,
        Kind.WAITING,
        Kind.THINKING,
        Kind.THINKING,
        Kind.NOTE,
        Kind.INTERRUPTED,
        Kind.THINKING,
        Kind.ERROR,
        Kind.THINKING,
        Kind.DONE,
        Kind.DONE,
        Kind.END,
    ],
    "generic": [Kind.THINKING, Kind.TOOL, Kind.WAITING, Kind.ERROR, Kind.DONE, Kind.END],
}


@pytest.mark.parametrize("agent", sorted(SEQUENCES))
def test_documented_sequences(agent: str) -> None:
    payloads = lines(f"{agent}/sequence.jsonl")
    kinds = []
    sessions = set()
    for payload in payloads:
        adapted = ADAPTERS[agent](payload)
        assert adapted.unknown is None and adapted.refused is None, payload
        for event in adapted.events:
            kinds.append(event.kind)
            sessions.add(event.session)
            assert event.agent == agent
    assert kinds == SEQUENCES[agent]
    assert len(sessions) == 1


def test_codex_details() -> None:
    rows = lines("codex/sequence.jsonl")
    (ask,) = codex(rows[4]).events
    assert (ask.tool, ask.detail) == ("Bash", "git push origin main")
    (failed,) = codex(rows[7]).events
    assert failed.error == "rate_limit: 429 Too Many Requests"
    (done,) = codex(load("codex/notify.json")).events
    assert done.kind is Kind.DONE
    assert done.session == rows[0]["session_id"]
    assert done.prompt == "Rename `foo` to `bar` and update the callsites."


def test_opencode_details() -> None:
    rows = lines("opencode/sequence.jsonl")
    (tool,) = opencode(rows[2]).events
    assert (tool.tool, tool.detail) == ("bash", "go test ./...")
    (ask,) = opencode(rows[3]).events
    assert (ask.tool, ask.detail) == ("bash", "git push")
    (usage,) = opencode(rows[6]).events
    assert usage.tokens is not None and (usage.tokens.input, usage.tokens.output) == (5120, 430)
    (failed,) = opencode(rows[9]).events
    assert failed.error == "Rate limit exceeded"
    # bus traffic with no session in it is neither an error nor news
    assert opencode({"type": "server.heartbeat", "properties": {}}).events == ()


def test_generic_refuses_an_unknown_state_with_the_known_ones() -> None:
    adapted = generic({"session": "ci", "state": "partying"})
    assert adapted.refused and "expected one of start, thinking" in adapted.refused


@given(st.text(max_size=5000))
def test_text_is_bounded_and_single_line(value: str) -> None:
    out = text(value)
    assert out is None or (len(out) <= MAX_TEXT and "\n" not in out and out.strip() == out)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "session_id",
                "hook_event_name",
                "tool_name",
                "tool_input",
                "cwd",
                "prompt",
                "error",
                "agent_id",
                "notification_type",
                "conversation_id",
                "type",
                "properties",
                "session",
                "state",
                "transcript_path",
                RESERVED,
            ]
        ),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=8,
        ),
    )
)
def test_any_payload_is_read_or_refused_never_raised(payload: dict[str, Any]) -> None:
    for adapter in ADAPTERS.values():
        adapted = adapter(payload)
        for event in adapted.events:
            assert len(event.session) <= 2 * MAX_ID + 1
            for value in (event.tool, event.detail, event.error, event.prompt, event.label):
                assert value is None or len(value) <= MAX_TEXT
