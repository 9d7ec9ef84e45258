"""Issue 30's classes for the hooks source (which came after the issue).

Coding agents' hooks reach it from any local process through the API, so every
number is clamped or refused, every string cut, and every collection counted
(sessions, held permission requests, notices, transcripts watched), a cap that
bites said once per episode with the count in the source's detail. A transcript is
read only if it is a regular file, opened non-blocking, with bounded work per poll;
an event costs the session it changes, not a rebuild of every session shown. Work
is counted in bytecodes (``tests/opcount.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from bridge.pipeline import answers, bounds
from bridge.pipeline.answers import AnswerOptions, annotate_source
from bridge.pipeline.asks import Ask, AskKind, permission_choices, sanitise
from bridge.pipeline.model import (
    ConnectionState,
    GlobalState,
    Session,
    SessionState,
    Snapshot,
    SourceStatus,
)
from bridge.sources.hooks import transcript
from bridge.sources.hooks.adapters import ADAPTERS
from bridge.sources.hooks.events import MAX_ID, MAX_PATH, MAX_TEXT, HookEvent
from bridge.sources.hooks.options import Options
from bridge.sources.hooks.source import MAX_HELD, HooksSource
from bridge.sources.hooks.state import TITLE_MAX, Limits, Tracker
from bridge.sources.hooks.transcript import MAX_PARSED, Tail
from tests.opcount import count_ops, growth
from tests.test_hostile_numbers import numbers, printable

HOOKS_LOG = "agentlight.sources.hooks"
NOW = 1_718_000_000.0
HUGE = "h" * 1_000_000


def tracker(**limits: Any) -> Tracker:
    return Tracker("hooks", Limits(**limits), alive=lambda pid: True)


def apply_all(t: Tracker, agent: str, payload: Any) -> None:
    for event in ADAPTERS[agent](payload).events:
        t.apply(event, 0.0, NOW)


def source(tmp: Path, **options: Any) -> tuple[HooksSource, list[SourceStatus]]:
    seen: list[SourceStatus] = []
    src = HooksSource(
        "hooks", Options(**options), seen.append, alive=lambda pid: True, seen_file=tmp / "s.json"
    )
    return src, seen


def warnings(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


# -- numbers ------------------------------------------------------------------------------


@given(a=numbers, b=numbers, c=numbers)
def test_hook_numbers_are_clamped_or_refused_where_read(a: Any, b: Any, c: Any) -> None:
    t = tracker()
    apply_all(
        t, "generic", {"session": "g", "state": "thinking", "input_tokens": a, "output_tokens": b}
    )
    tokens = {"input": a, "output": b, "reasoning": c}
    info = {"role": "assistant", "sessionID": "o", "tokens": tokens}
    busy = {"sessionID": "o", "status": {"type": "busy"}}
    apply_all(t, "opencode", {"type": "session.status", "properties": busy})
    apply_all(t, "opencode", {"type": "message.updated", "properties": {"info": info}})
    apply_all(t, "generic", {"session": "p", "state": "thinking", "pid": a})
    printable(t.snapshot().sessions)


def test_a_transcripts_token_counts_are_clamped_after_summing(tmp_path: Path) -> None:
    """JSON reads ints of up to 4,300 digits; three of them summed no longer print."""
    path = tmp_path / "t.jsonl"
    path.write_text("")
    tail = Tail(str(path))
    tail.arm()
    big = int("9" * 4300)
    usage = {"input_tokens": big, "cache_read_input_tokens": big,
             "cache_creation_input_tokens": big, "output_tokens": big}  # fmt: skip
    line = {"type": "assistant", "message": {"usage": usage}}
    with path.open("a") as f:
        f.write(json.dumps(line) + "\n")
    news = tail.poll()
    assert news is not None and news.tokens is not None
    assert news.tokens.input == news.tokens.output == bounds.MAX_COUNT
    session = Session("k", "k", "claude", SessionState.THINKING, tokens=news.tokens, source="hooks")
    printable((session,))


# -- strings ------------------------------------------------------------------------------

_PAYLOADS: list[tuple[str, dict[str, Any]]] = [
    ("claude", {"session_id": HUGE, "hook_event_name": "PreToolUse", "tool_name": HUGE,
                "tool_input": {"command": HUGE}, "cwd": "/x/" + HUGE, "agent_id": HUGE,
                "transcript_path": HUGE}),
    ("claude", {"session_id": "c", "hook_event_name": "UserPromptSubmit", "prompt": HUGE,
                "cwd": "/x/" + "p" * 900}),
    ("claude", {"session_id": "c2", "hook_event_name": "StopFailure", "error": HUGE,
                "error_details": HUGE}),
    ("claude", {"session_id": "c3", "hook_event_name": "SubagentStart", "agent_id": HUGE,
                "agent_type": HUGE}),
    ("claude", {"session_id": "c4", "hook_event_name": HUGE}),
    ("codex", {"type": "agent-turn-complete", "thread-id": HUGE, "input-messages": [HUGE]}),
    ("gemini", {"session_id": HUGE, "hook_event_name": "BeforeTool", "tool_name": HUGE,
                "tool_input": HUGE}),
    ("cursor", {"conversation_id": HUGE, "hook_event_name": "beforeShellExecution",
                "command": HUGE, "workspace_roots": [HUGE]}),
    ("cursor", {"conversation_id": "u", "hook_event_name": "stop", "status": "error",
                "error_message": HUGE}),
    ("opencode", {"type": "session.error", "properties": {"sessionID": HUGE, "error": {
        "name": "E", "data": {"message": HUGE}}}}),
    ("opencode", {"type": "message.part.updated", "properties": {"part": {
        "sessionID": "o", "type": "tool", "tool": HUGE, "state": {"status": "running",
                                                                   "input": {"command": HUGE}}}}}),
    ("opencode", {"type": "session.created", "properties": {"info": {
        "id": "o2", "title": HUGE, "parentID": HUGE, "directory": HUGE}}}),
    ("generic", {"session": HUGE, "state": "error", "tool": HUGE, "title": HUGE,
                 "error": HUGE, "detail": HUGE, "cwd": HUGE}),
]  # fmt: skip


def test_every_string_a_hook_sends_is_cut_where_it_is_read() -> None:
    t = tracker(max_sessions=100)
    for agent, payload in _PAYLOADS:
        for event in ADAPTERS[agent](payload).events:
            for name in ("session", "name", "tool", "detail", "error", "prompt", "label"):
                assert len(getattr(event, name) or "") <= 2 * MAX_ID + 1, (agent, name)
            assert len(event.cwd or "") <= MAX_PATH and len(event.transcript or "") <= MAX_PATH
            t.apply(event, 0.0, NOW)
    sessions = t.snapshot().sessions
    assert len(sessions) >= 5
    for s in sessions:
        assert len(s.key) <= 2 * MAX_ID + 1 and len(s.id) <= MAX_ID
        assert len(s.title or "") <= TITLE_MAX
        assert max(len(s.tool or ""), len(s.error or ""), len(s.raw_state)) <= MAX_TEXT
        assert all(len(k) + len(v) <= MAX_TEXT + 16 for k, v in s.extra)
    held = sum(len(str(v)) for tr in t.sessions.values() for v in vars(tr).values())
    assert held < 50_000  # megabytes were sent


def test_a_huge_string_costs_what_is_kept() -> None:
    def make(n: int) -> Callable[[], object]:
        payload = {"session": "s", "state": "tool", "tool": "x" * n, "detail": "y " * n}
        return lambda: ADAPTERS["generic"](payload)

    assert count_ops(make(2_000_000)) == count_ops(make(1_000_000))


# -- collections, each cap said once per episode ----------------------------------------


async def test_sessions_over_max_sessions_are_said_once_per_episode_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src, seen = source(tmp_path, max_sessions=10)
    with caplog.at_level(logging.INFO, logger=HOOKS_LOG):
        for i in range(30):
            src.take("generic", {"session": f"s{i}", "state": "thinking"})
        snap = seen[-1].snapshot
        assert snap is not None and len(snap.sessions) == 10
        assert seen[-1].detail == "20 sessions dropped"
        assert warnings(caplog, "over the cap of 10") == 1
        src.take("generic", {"session": "s0", "state": "end"})  # room again: the episode ends
        assert seen[-1].detail is None
        assert "sessions back under the cap" in caplog.text
        for i in range(30, 35):
            src.take("generic", {"session": f"s{i}", "state": "thinking"})
        assert seen[-1].detail == "4 sessions dropped"
        assert warnings(caplog, "over the cap of 10") == 2


async def test_permission_requests_held_at_once_are_capped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src, seen = source(tmp_path, max_sessions=100)

    def request(i: int) -> dict[str, Any]:
        return {"session_id": f"s{i}", "hook_event_name": "PermissionRequest",
                "tool_name": "Bash", "tool_input": {"command": f"make {i}"}}  # fmt: skip

    with caplog.at_level(logging.INFO, logger=HOOKS_LOG):
        tasks = [asyncio.ensure_future(src.handle("claude", request(i))) for i in range(40)]
        for _ in range(3):
            await asyncio.sleep(0)
        assert src.permissions.holding == MAX_HELD
        answered = [t for t in tasks if t.done()]
        assert len(answered) == 40 - MAX_HELD and all(t.result() == {} for t in answered)
        assert seen[-1].detail == f"{40 - MAX_HELD} permission requests dropped"
        assert warnings(caplog, f"over the cap of {MAX_HELD}") == 1
        src.permissions.release_all("test over")
        assert await asyncio.gather(*tasks) == [{}] * 40
        src.take("claude", {"session_id": "s0", "hook_event_name": "Stop"})
        assert "permission requests back under the cap" in caplog.text
        assert seen[-1].detail is None


async def test_notices_are_kept_only_for_sessions_shown(tmp_path: Path) -> None:
    """Codex's requests are answered at once and noticed; a notice per made-up session
    grew without bound."""
    src, _ = source(tmp_path, max_sessions=10)
    for i in range(50):
        await src.handle(
            "codex", {"session_id": f"s{i}", "hook_event_name": "PermissionRequest",
                      "tool_name": "shell", "tool_input": {"command": "ls"}},
        )  # fmt: skip
    noticed = [s for s in src.snapshot().sessions if s.ask is not None]
    assert len(noticed) == 10
    assert len(src.permissions._notices) <= 10


# -- transcripts ------------------------------------------------------------------------------


def test_a_transcript_that_is_not_a_regular_file_is_never_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # A blocking open of a FIFO with no writer would hang this test for good.
    assert transcript._read(str(fifo), 0, 100) is None
    for path in (str(fifo), "/dev/zero", str(tmp_path)):
        tail = Tail(path)
        tail.arm()
        assert tail.poll() is None and tail._size() is None


def test_a_transcript_full_of_look_alike_lines_costs_bounded_work_per_poll(
    tmp_path: Path,
) -> None:
    """The path comes with any local process's payload; each of its lines that looks
    like an interrupt or a token count used to be parsed, every second."""
    marker = "[Request interrupted by user"
    fake = json.dumps(
        {"type": "assistant", "message": {"content": marker, "usage": {"output_tokens": 1}}}
    )
    real = json.dumps({"type": "user", "message": {"content": "[Request interrupted by user]"}})

    def make(n: int) -> Callable[[], transcript.News | None]:
        path = tmp_path / f"t{n}.jsonl"
        path.write_text("")
        tail = Tail(str(path))
        tail.arm()
        path.write_text("\n".join([real] + [fake] * n) + "\n")
        return tail.poll

    assert count_ops(make(2000)) < 1.1 * count_ops(make(1000))
    news = make(MAX_PARSED // 4)()
    assert news is not None and news.interrupted  # still seen among a few look-alikes

    def empty(n: int) -> Callable[[], transcript.News | None]:
        path = tmp_path / f"e{n}.jsonl"
        path.write_text("")
        tail = Tail(str(path))
        tail.arm()
        path.write_text(real + "\n" * n)
        return tail.poll

    # 256 KiB of empty lines is 262,144 lines: no Python work per line.
    assert count_ops(empty(200_000)) < 1.1 * count_ops(empty(100_000))
    news = empty(100_000)()
    assert news is not None and news.interrupted


# -- work per event --------------------------------------------------------------------------


async def test_an_event_rebuilds_only_the_session_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each event rebuilt every session shown: 94 ms an event at 10,000 sessions."""
    src, seen = source(tmp_path, max_sessions=2000)
    for i in range(1000):
        src.take("generic", {"session": f"s{i}", "state": "thinking"})
    built = 0
    real = Tracker._session

    def counted(self: Tracker, tracked: Any) -> Session:
        nonlocal built
        built += 1
        return real(self, tracked)

    monkeypatch.setattr(Tracker, "_session", counted)
    for i in range(50):
        src.take("generic", {"session": f"s{i}", "state": "tool", "tool": "make"})
    assert built == 50
    snap = seen[-1].snapshot
    assert snap is not None and len(snap.sessions) == 1000
    assert [s.tool for s in snap.sessions[:50]] == ["make"] * 50


def test_applying_hook_events_is_linear() -> None:
    def make(n: int) -> Callable[[], object]:
        t = tracker(max_sessions=10_000)
        events = [
            event
            for i in range(n)
            for payload in ({"session": f"s{i}", "state": "thinking"},
                            {"session": f"s{i}", "state": "tool", "tool": "x"},
                            {"session": f"s{i // 2}", "state": "done"})
            for event in ADAPTERS["generic"](payload).events
        ]  # fmt: skip

        def run() -> None:
            for event in events:
                t.apply(event, 0.0, NOW)
            t.snapshot()

        return run

    assert growth(make, 500) < 2.2


def test_hook_events_hold_no_reference_to_the_payload() -> None:
    event = ADAPTERS["generic"]({"session": "s", "state": "thinking", "title": HUGE}).events[0]
    assert isinstance(event, HookEvent) and len(event.label or "") <= MAX_TEXT


@pytest.mark.parametrize(
    "command",
    ["TOKEN" * 12_000, "_TOKEN" * 10_000, "a." * 30_000, "a-" * 30_000, "a://b:" * 10_000],
)
def test_masking_secrets_in_a_command_is_linear(command: str) -> None:
    """A permission request's command (any local process's, up to the API's 64 KiB) is
    masked for secrets before it is shown: two of the patterns backtracked, 18 to 31 s
    with the event loop blocked. Whole, not cut first, so the patterns themselves are
    checked; a bound far above the linear time, far below the quadratic one. CPU time
    of this thread, not wall time: a loaded machine slows the clock, not the work."""
    started = time.thread_time()
    sanitise(command, limit=len(command))
    assert time.thread_time() - started < 1.0


def test_secrets_are_still_masked() -> None:
    line = (
        "API_KEY=abc MY_TOKEN='x y' FOO=bar curl https://u:pw@h "
        "-H 'Authorization: Bearer abcdefghij' --password hunter2"
    )
    assert sanitise(line) == (
        "API_KEY=*** MY_TOKEN=*** FOO=bar curl https://***@h "
        "-H 'Authorization: Bearer ***' --password ***"
    )


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("git push --force", "git push " * 222),
        ("git reset --hard", "git reset " * 200),
        ("git clean -f", "git clean " * 200),
    ],
)
def test_a_danger_pattern_costs_milliseconds_on_any_command(name: str, command: str) -> None:
    """Words in order backtracked over every pair: 0.24 to 0.43 s for one 2,000-character
    command, on every publish of its source. A bound far above what it costs now, in CPU
    time of this thread (the backtracking is work; a loaded machine only waits longer)."""
    pattern = dict(AnswerOptions().patterns)[name]
    started = time.thread_time()
    assert pattern.search(command[:2000]) is None
    assert time.thread_time() - started < 0.1
    assert pattern.search("git -C x " + name.split()[1] + " x " + name.split()[2]) is not None


def test_a_requests_danger_is_judged_once_not_on_every_publish() -> None:
    options = AnswerOptions()
    asks = [
        Session(f"s{i}", f"s{i}", "claude", SessionState.WAITING_FOR_USER, source="hooks",
                ask=Ask(f"p{i}", AskKind.PERMISSION, "?", permission_choices(),
                        command=f"make {i}", cwd="/w"))
        for i in range(MAX_HELD)
    ]  # fmt: skip
    status = SourceStatus("hooks", ConnectionState.CONNECTED, Snapshot(GlobalState.ACTIVE,
                                                                       tuple(asks)))  # fmt: skip
    answers._command_danger.cache_clear()
    for _ in range(50):
        annotate_source(status, options)
    assert answers._command_danger.cache_info().misses == MAX_HELD
