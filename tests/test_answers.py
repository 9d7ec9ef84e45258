"""Answering from a device: the rules, the danger check, the gestures, and the engine's door.

The desk is pure (times are numbers); the engine tests run it on the virtual clock,
with a source that records what it was asked to do.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import pytest

from bridge.infra.config import parse_config
from bridge.infra.errors import ConfigError
from bridge.pipeline.answers import (
    AnswerOptions,
    Decision,
    Desk,
    Refusal,
    annotate,
    danger_of,
)
from bridge.pipeline.asks import (
    Ask,
    AskKind,
    answer_choices,
    permission_choices,
    sanitise,
)
from bridge.pipeline.inputs import GLOBAL, InputEvent, Target
from bridge.pipeline.model import (
    AgentStatus,
    GlobalState,
    Session,
    SessionRef,
    SessionState,
    SourceStatus,
)
from bridge.pipeline.status_json import status_from_json, status_to_json
from devices.mock import MockDriver
from harness.vclock import run_virtual
from tests.enginerig import EngineRun, Recording

SRC = "hooks"
REF = SessionRef(SRC, "s1")


def permission(
    command: str = "npm test",
    *,
    ask_id: str = "r1",
    tool: str = "Bash",
    cwd: str | None = "/home/me/project",
    paths: tuple[str, ...] = (),
    always: bool = False,
    risky: str = "",
) -> Ask:
    return Ask(
        ask_id,
        AskKind.PERMISSION,
        f"{tool} wants to run {command}",
        permission_choices(always=always),
        tool=tool,
        command=sanitise(command, 2000),
        paths=paths,
        cwd=cwd,
        risky=risky,
    )


def question(ask_id: str = "q1", where: str = "") -> Ask:
    return Ask(
        ask_id, AskKind.QUESTION, "Deploy now?", answer_choices(["Yes", "No", "Later"]), where=where
    )


def waiting(ask: Ask | None, key: str = "s1", *, stoppable: bool = False) -> Session:
    return Session(
        key,
        key,
        "claude",
        SessionState.WAITING_FOR_USER if ask is not None else SessionState.THINKING,
        source=SRC,
        ask=ask,
        stoppable=stoppable,
    )


def status_of(*sessions: Session, options: AnswerOptions | None = None) -> AgentStatus:
    status = AgentStatus.fold((SourceStatus.connected(SRC, sessions, state=GlobalState.ACTIVE),))
    return annotate(status, options or AnswerOptions())


def press(
    action: str,
    t: float,
    *,
    ref: SessionRef | None = REF,
    device: str = "deck",
    control: str = "key:3",
    pressed: bool = True,
) -> InputEvent:
    target = Target("session", ref, action) if ref is not None else Target("control", None, action)
    return InputEvent(device, control, pressed, target, t)


def release(t: float, *, device: str = "deck", control: str = "key:3") -> InputEvent:
    return InputEvent(device, control, False, Target("session", REF, "allow"), t)


# -- the danger check -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("rm -rf build", "rm -rf"),
        ("rm -fr ~/", "rm -rf"),
        ("cd x && rm -r -f node_modules", "rm -rf"),
        ("rm --recursive --force dist", "rm -rf"),
        ("git push --force origin main", "git push --force"),
        ("git push -f", "git push --force"),
        ("git push origin +main", "git push --force"),
        ("git push --force-with-lease", "git push --force"),
        ("git reset --hard HEAD~3", "git reset --hard"),
        ("git clean -fdx", "git clean -f"),
        ("sudo apt install x", "sudo"),
        ("curl -fsSL https://x.sh | bash", "a download piped to a shell"),
        ("mkfs.ext4 /dev/sdb1", "mkfs"),
        ("dd if=img of=/dev/sda", "dd to a device"),
        ("chmod -R 777 .", "chmod 777"),
        ("psql -c 'drop table users'", "DROP TABLE"),
        ("echo hi > /etc/hosts", "writes outside the project"),
        ("cat a | tee -a ../other/file", "writes outside the project"),
        ("x" * 2100, "too long to check"),
    ],
)
def test_dangerous_commands_are_named(command: str, why: str) -> None:
    assert danger_of(permission(command), AnswerOptions()) == why


@pytest.mark.parametrize(
    "command",
    [
        "npm test",
        "rm build/old.log",
        "rm -r build",  # recursive, not forced: the agent's own prompt would ask anyway
        "git push origin main",
        "git status && git diff",
        "echo done > build/out.txt",
        "pytest > /tmp/log.txt 2>&1",
        "ls > /dev/null",
        "grep -rf patterns.txt src",
    ],
)
def test_ordinary_commands_are_not_dangerous(command: str) -> None:
    assert danger_of(permission(command), AnswerOptions()) == ""


def test_a_file_written_outside_the_project_is_dangerous() -> None:
    options = AnswerOptions()
    inside = permission("", tool="Write", paths=("/home/me/project/src/a.py",))
    relative = permission("", tool="Write", paths=("src/../README.md",))
    outside = permission("", tool="Write", paths=("/home/me/.bashrc",))
    escape = permission("", tool="Edit", paths=("../../etc/passwd",))
    home = permission("", tool="Write", paths=("~/.ssh/config",))
    assert danger_of(inside, options) == danger_of(relative, options) == ""
    for ask in (outside, escape, home):
        assert danger_of(ask, options) == "writes outside the project"
    assert danger_of(outside, AnswerOptions(outside_project=False)) == ""


def test_the_agents_own_verdict_and_extra_patterns_count() -> None:
    assert danger_of(permission("ls", risky="flagged by the agent"), AnswerOptions()) == (
        "flagged by the agent"
    )
    options = AnswerOptions(danger=(r"\bterraform\s+apply\b",))
    assert danger_of(permission("terraform apply -auto-approve"), options) == (
        r"\bterraform\s+apply\b"
    )
    assert danger_of(permission("sudo ls"), AnswerOptions(builtin_danger=False)) == ""


def test_a_question_is_never_dangerous() -> None:
    assert danger_of(question(), AnswerOptions()) == ""


def test_secrets_are_masked_in_commands() -> None:
    text = sanitise(
        'API_KEY=sk-123 curl -H "Authorization: Bearer abcdefgh12345" '
        "https://bob:hunter2@example.com --password s3cret; echo \x1b[2J"
    )
    for secret in ("sk-123", "abcdefgh12345", "hunter2", "s3cret"):
        assert secret not in text
    assert "API_KEY=***" in text and "Bearer ***" in text and "https://***@example.com" in text
    assert "\x1b" not in text and "\\x1b" in text


def test_allow_from_device_locks_approvals() -> None:
    safe, dangerous = permission("npm test"), permission("rm -rf /")
    for options, locked_safe, locked_dangerous in (
        (AnswerOptions(), "", "dangerous (rm -rf)"),
        (AnswerOptions(allow_from_device="all"), "", ""),
        (
            AnswerOptions(allow_from_device="none"),
            "approvals from devices are off",
            "approvals from devices are off",
        ),
    ):
        status = status_of(waiting(safe, "a"), waiting(dangerous, "b"), options=options)
        a, b = status.sessions
        assert a.ask is not None and b.ask is not None
        assert (a.ask.locked, b.ask.locked) == (locked_safe, locked_dangerous)
        assert b.ask.danger == "rm -rf"
    # A question has no approval to lock.
    status = status_of(waiting(question()), options=AnswerOptions(allow_from_device="none"))
    assert status.sessions[0].ask is not None and status.sessions[0].ask.locked == ""


def test_answers_options_are_checked_in_the_config() -> None:
    base: dict[str, Any] = {"sources": [{"type": "pocketpaw"}], "devices": [{"type": "terminal"}]}
    config = parse_config({**base, "answers": {"allow_from_device": "all"}}, file="c.toml")
    assert config.answers.allow_from_device == "all"
    assert parse_config(base, file="c.toml").answers == AnswerOptions()
    for bad, key in (
        ({"allow_from_device": "some"}, "answers.allow_from_device"),
        ({"hold": 0.2}, "answers.hold"),
        ({"confirm_within": 10}, "answers.confirm_within"),
        ({"danger": ["("]}, "answers.danger"),
        ({"hodl": 1}, "answers.hodl"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_config({**base, "answers": bad}, file="c.toml")
        assert key in str(err.value)


# -- the gestures ----------------------------------------------------------------------


def test_a_stray_press_on_allow_does_nothing() -> None:
    desk, status = Desk(), status_of(waiting(permission()))
    assert desk.feed(press("allow", 10.0), status, 10.0) == []
    assert desk.feed(release(10.1), status, 10.1) == []
    armed = desk.view().armed_on("deck")
    assert armed is not None and not armed.held  # waiting for a confirming press…
    desk.expire(13.5)
    assert desk.view().armed == ()  # …which never came
    assert desk.feed(press("allow", 14.0), status, 14.0) == []  # a new first press


def test_hold_for_the_hold_time_allows() -> None:
    desk, status = Desk(), status_of(waiting(permission()))
    assert desk.feed(press("allow", 10.0), status, 10.0) == []
    view = desk.view()
    armed = view.armed_on("deck")
    assert armed is not None and armed.held
    assert armed.progress(10.3, view.hold) == pytest.approx(0.5)
    (decision,) = desk.feed(release(10.6), status, 10.6)
    assert isinstance(decision, Decision)
    assert (decision.ref, decision.action, decision.kind, decision.gesture) == (
        REF,
        "allow",
        "allow",
        "hold",
    )
    assert decision.ask is not None and decision.ask.id == "r1"
    assert desk.view().is_answered(REF, "r1")
    assert desk.view().armed == ()


def test_a_short_hold_is_not_enough_but_a_second_press_is() -> None:
    desk, status = Desk(), status_of(waiting(permission()))
    desk.feed(press("allow", 10.0), status, 10.0)
    assert desk.feed(release(10.59), status, 10.59) == []
    (decision,) = desk.feed(press("allow", 12.9), status, 12.9)
    assert isinstance(decision, Decision) and decision.gesture == "second press"


def test_a_bounce_or_another_device_does_not_confirm() -> None:
    desk, status = Desk(), status_of(waiting(permission()))
    desk.feed(press("allow", 10.0), status, 10.0)
    desk.feed(release(10.02), status, 10.02)
    assert desk.feed(press("allow", 10.05), status, 10.05) == []  # a bounce
    desk.feed(release(10.07), status, 10.07)
    # The same choice from another device is that device's first press.
    assert desk.feed(press("allow", 10.5, device="api", control="api"), status, 10.5) == []
    (decision,) = desk.feed(press("allow", 11.0), status, 11.0)
    assert isinstance(decision, Decision) and decision.device == "deck"


def test_deny_answer_and_dismiss_are_one_press() -> None:
    for ask, action, label in (
        (permission(), "deny", "Deny"),
        (permission(), "dismiss", "Dismissed"),
        (question(), "answer:2", "No"),
        (question(where="in Telegram"), "dismiss", "Dismissed"),
    ):
        desk, status = Desk(), status_of(waiting(ask))
        (decision,) = desk.feed(press(action, 1.0), status, 1.0)
        assert isinstance(decision, Decision)
        assert (decision.action, decision.label, decision.gesture) == (action, label, "press")
        assert decision.kind == ("answer" if action.startswith("answer:") else action)
        # Answered once: a second press is not sent again.
        assert desk.feed(press(action, 2.0), status, 2.0) == []


def test_a_locked_approval_is_refused_from_the_device_and_deny_still_works() -> None:
    desk, status = Desk(), status_of(waiting(permission("rm -rf /")))
    (refusal,) = desk.feed(press("allow", 1.0), status, 1.0)
    assert isinstance(refusal, Refusal)
    assert "dangerous (rm -rf)" in refusal.reason and "keyboard" in refusal.reason
    assert desk.view().armed == ()  # nothing armed: a hold cannot get it through either
    assert desk.feed(release(2.0), status, 2.0) == []
    note = desk.view().note_for(REF)
    assert note is not None and not note.ok
    (decision,) = desk.feed(press("deny", 3.0), status, 3.0)
    assert isinstance(decision, Decision) and decision.action == "deny"
    # Under "all" the same request may be approved, with the gesture.
    options = AnswerOptions(allow_from_device="all")
    desk, status = Desk(options), status_of(waiting(permission("rm -rf /")), options=options)
    desk.feed(press("allow", 1.0), status, 1.0)
    (decision,) = desk.feed(release(1.7), status, 1.7)
    assert isinstance(decision, Decision)


def test_a_press_for_a_request_that_changed_meanwhile_does_nothing() -> None:
    desk, status = Desk(), status_of(waiting(permission(ask_id="r1")))
    desk.feed(press("allow", 1.0), status, 1.0)
    newer = status_of(waiting(permission("rm -rf /", ask_id="r2")))
    desk.sync(newer)
    assert desk.view().armed == ()
    assert desk.feed(release(2.0), newer, 2.0) == []
    # The request the key showed is gone by the time the release comes.
    desk.feed(press("allow", 3.0), status, 3.0)
    (refusal,) = desk.feed(release(3.7), newer, 3.7)
    assert isinstance(refusal, Refusal) and "gone" in refusal.reason


def test_where_to_answer_instead() -> None:
    desk, status = Desk(), status_of(waiting(question(where="in Telegram")))
    (refusal,) = desk.feed(press("answer:1", 1.0), status, 1.0)
    assert isinstance(refusal, Refusal) and refusal.reason == "answer in Telegram"


def test_stop_needs_the_gesture_too() -> None:
    desk, status = Desk(), status_of(waiting(None, stoppable=True))
    assert desk.feed(press("stop", 1.0), status, 1.0) == []
    (decision,) = desk.feed(press("stop", 2.0), status, 2.0)
    assert isinstance(decision, Decision)
    assert (decision.kind, decision.ask, decision.label) == ("stop", None, "Stop")
    (refusal,) = Desk().feed(press("stop", 1.0), status_of(waiting(None)), 1.0)
    assert isinstance(refusal, Refusal) and "cannot be stopped" in refusal.reason


def test_a_pedal_goes_first_next_confirm() -> None:
    desk = Desk()
    status = status_of(waiting(question(), "a"), waiting(permission(), "b"))
    a, b = SessionRef(SRC, "a"), SessionRef(SRC, "b")

    def pedal(action: str, t: float, pressed: bool = True) -> list[Any]:
        event = InputEvent("pedal", "pedal:1", pressed, Target("control", b, action), t)
        return desk.feed(event, status, t)

    assert pedal("ask_next", 1.0) == []  # no cursor yet: it goes to the focused request first
    cursor = desk.view().cursor
    assert cursor is not None and (cursor.ref, cursor.index) == (b, 0)
    pedal("ask_next", 1.1, pressed=False)
    assert pedal("ask_next", 2.0) == []
    cursor = desk.view().cursor
    assert cursor is not None and cursor.index == 1  # Deny
    pedal("ask_next", 2.1, pressed=False)
    pedal("ask_next", 3.0)
    cursor = desk.view().cursor
    assert cursor is not None and cursor.index == 0  # wraps to Allow
    # Confirm on Allow is deliberate: held for the hold time.
    assert pedal("ask_confirm", 4.0) == []
    (decision,) = pedal("ask_confirm", 4.8, pressed=False)
    assert isinstance(decision, Decision) and (decision.ref, decision.action) == (b, "allow")
    assert desk.view().cursor is None
    # "first" with no target goes to the first waiting request in order.
    event = InputEvent("pedal", "pedal:0", True, Target("control", None, "ask_first"), 5.0)
    desk.feed(event, status, 5.0)
    cursor = desk.view().cursor
    assert cursor is not None and cursor.ref == a
    event = InputEvent("pedal", "pedal:2", True, Target("control", None, "ask_confirm"), 6.0)
    (decision,) = desk.feed(event, status, 6.0)
    assert isinstance(decision, Decision) and (decision.ref, decision.label) == (a, "Yes")


def test_a_press_without_a_session_finds_the_request() -> None:
    desk, status = Desk(), status_of(waiting(None, "busy"), waiting(question(), "s1"))
    (decision,) = desk.feed(press("answer:3", 1.0, ref=None), status, 1.0)
    assert isinstance(decision, Decision) and (decision.ref, decision.label) == (REF, "Later")
    assert desk.feed(InputEvent("d", "k", True, GLOBAL, 2.0), status, 2.0) == []


def test_status_json_carries_the_open_request() -> None:
    ask = replace(permission("rm -rf build", always=True), expires=1000.0 + 42.0)
    status = status_of(waiting(ask, stoppable=True))
    doc = status_to_json(status, 1000.0)
    item = doc["sessions"][0]
    assert item["stoppable"] is True
    assert item["ask"] == {
        "id": "r1",
        "kind": "permission",
        "text": "Bash wants to run rm -rf build",
        "tool": "Bash",
        "command": "rm -rf build",
        "paths": [],
        "cwd": "/home/me/project",
        "choices": [
            {"id": "allow", "label": "Allow", "kind": "allow"},
            {"id": "always", "label": "Always", "kind": "always"},
            {"id": "deny", "label": "Deny", "kind": "deny"},
        ],
        "risky": "",
        "danger": "rm -rf",
        "locked": "dangerous (rm -rf)",
        "where": "",
        "expires_in": 42.0,
    }
    back = status_from_json(doc)
    assert back.sessions[0].ask == status.sessions[0].ask
    assert back.sessions[0].stoppable


def test_a_request_mirrored_from_another_bridge_is_answered_there() -> None:
    doc = status_to_json(status_of(waiting(permission(), stoppable=True)), 1000.0)
    (session,) = status_from_json(doc, origin="agentlight/laptop").sessions
    assert session.ask is not None and session.ask.where == "on agentlight/laptop"
    assert not session.ask.answerable and not session.stoppable


def test_status_command_shows_the_open_request() -> None:
    import argparse

    from bridge.commands.status import render

    status = status_of(waiting(permission("rm -rf build")))
    args = argparse.Namespace(json=False, format=None)
    text = render(status, args, now=0.0)
    assert "Bash: rm -rf build" in text
    assert "Allow / Deny" in text and "dangerous (rm -rf)" in text


# -- the engine's door -----------------------------------------------------------------


def engine_with(
    answers: AnswerOptions | None = None, fail: str | None = None
) -> tuple[EngineRun, Recording, MockDriver]:
    """An engine (not started) over a mock deck, with a recording source."""
    mock = MockDriver("deck")
    run = EngineRun([mock], answers=answers)
    source = Recording(run.publish, SRC, fail=fail)
    run.sources.append(source)
    return run, source, mock


async def waiting_on(ask: Ask, fail: str | None = None) -> tuple[EngineRun, Recording, MockDriver]:
    """:func:`engine_with`'s engine, started, its source showing one session waiting on ``ask``."""
    run, source, mock = engine_with(fail=fail)
    run.start()
    source.show(waiting(ask))
    await asyncio.sleep(0)
    return run, source, mock


def test_the_engine_hands_a_held_allow_to_the_source_and_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "agentlight.engine")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        run, source, mock = await waiting_on(permission("API_TOKEN=xyz123 make deploy"))
        engine = run.engine
        t0 = loop.time()
        assert engine.send_input(press("allow", t0))
        frame = await mock.wait_for(lambda f: f.desk is not None and bool(f.desk.armed))
        assert frame.desk is not None and frame.desk.armed[0].held
        await asyncio.sleep(0.7)
        assert engine.send_input(release(loop.time()))
        await source.decided(within=1.0)
        (decision,) = source.decisions
        assert (decision.action, decision.gesture) == ("allow", "hold")
        # Once answered, the devices say so.
        frame = await mock.wait_for(lambda f: f.desk is not None and bool(f.desk.notes))
        assert frame.desk is not None and frame.desk.notes[-1].text == "Allow sent"
        # The note goes by itself on the virtual clock.
        await mock.wait_for(lambda f: f.desk is not None and not f.desk.notes, timeout=10.0)
        await run.stop()

    run_virtual(main, real_budget=20.0)
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("answer:"))
    assert line == (
        "answer: hooks/s1 permission Bash: API_TOKEN=*** make deploy -> Allow (hold on deck key:3)"
    )
    assert "xyz123" not in caplog.text


def test_the_engine_refuses_a_dangerous_allow_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "agentlight.engine")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        run, source, mock = await waiting_on(permission("git push --force"))
        engine = run.engine
        for t in (0.0, 1.0):  # press, press again: still refused
            engine.send_input(press("allow", loop.time() + t))
            await asyncio.sleep(1.0)
        frame = await mock.wait_for(lambda f: f.desk is not None and bool(f.desk.notes))
        assert frame.desk is not None and not frame.desk.notes[-1].ok
        assert source.decisions == []
        await run.stop()

    run_virtual(main, real_budget=20.0)
    refused = [r.getMessage() for r in caplog.records if "answer refused" in r.getMessage()]
    assert refused and "git push --force" in refused[0] and "keyboard" in refused[0]


def test_a_failure_offers_the_request_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "agentlight.engine")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        run, source, mock = await waiting_on(permission(), fail="the agent went away")
        engine = run.engine
        engine.send_input(press("deny", loop.time()))
        await source.decided(within=1.0)
        frame = await mock.wait_for(lambda f: f.desk is not None and bool(f.desk.notes))
        assert frame.desk is not None and frame.desk.notes[-1].text.startswith("not sent")
        assert not engine.desk.view().is_answered(REF, "r1")
        await run.stop()

    run_virtual(main, real_budget=20.0)
    assert "NOT SENT: the agent went away" in caplog.text


def test_a_reload_judges_open_requests_again() -> None:
    async def main() -> None:
        run, source, _ = engine_with()
        engine = run.engine
        source.show(waiting(permission("rm -rf build")))
        (session,) = engine.status.sessions
        assert session.ask is not None and session.ask.locked
        engine.set_answers(AnswerOptions(allow_from_device="all"))
        (session,) = engine.status.sessions
        assert session.ask is not None and session.ask.locked == ""

    run_virtual(main, real_budget=20.0)


def test_a_key_drawn_for_an_older_request_never_answers_a_newer_one() -> None:
    desk, status = Desk(), status_of(waiting(permission(ask_id="r2")))
    stale = InputEvent("deck", "key:4", True, Target("session", REF, "deny", "r1"), 1.0)
    (refusal,) = desk.feed(stale, status, 1.0)
    assert isinstance(refusal, Refusal) and "gone" in refusal.reason
    fresh = InputEvent("deck", "key:4", True, Target("session", REF, "deny", "r2"), 2.0)
    (decision,) = desk.feed(fresh, status, 2.0)
    assert isinstance(decision, Decision) and decision.ask is not None
    assert decision.ask.id == "r2"


def test_the_api_names_the_request_an_answer_is_for() -> None:
    from bridge.api.documents import InputError, input_event

    status = status_of(waiting(permission(ask_id="r2")))
    body = {"target": "session", "source": SRC, "key": "s1", "action": "deny", "ask": "r2"}
    event = input_event(body, status, 1.0)
    assert (event.target.name, event.target.ask) == ("deny", "r2")
    assert input_event({**body, "ask": None}, status, 1.0).target.ask == ""
    with pytest.raises(InputError):
        input_event({**body, "ask": "no spaces allowed"}, status, 1.0)
