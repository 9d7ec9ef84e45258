"""Coding agents' permission requests, held until a device answers them.

Claude Code runs a ``PermissionRequest`` hook as its permission dialog opens and
races the two: whichever answers first wins, the keyboard included (observed with
the real Claude Code 2.1.332, command and ``http`` hooks alike: the dialog is up
and usable while the hook is held). So the hook's reply can wait for a device:
the request is held, the session shows Allow (Always, where Claude offers
"always allow" suggestions) and Deny, and the press becomes the reply::

    {"hookSpecificOutput": {"hookEventName": "PermissionRequest",
                            "decision": {"behavior": "allow"}}}
    {"hookSpecificOutput": {"hookEventName": "PermissionRequest",
                            "decision": {"behavior": "allow",
                                         "updatedPermissions": <its suggestions>}}}
    {"hookSpecificOutput": {"hookEventName": "PermissionRequest",
                            "decision": {"behavior": "deny", "message": "..."}}}

A held request is let go with no decision (``{}``: the dialog stays, the user
answers at the keyboard) before the hook's timeout (``hold_for``), when the
session moves on (the tool ran or failed: answered at the keyboard; the turn
ended; a new prompt), ends or is gone, when its hook's connection closes, and
when agentlight stops or reloads. Claude Code keeps a held hook's connection
open after the keyboard answered, so moving on is what tells.

Codex runs its ``PermissionRequest`` hooks *before* it shows its approval prompt
and waits for them (``codex-rs/hooks/src/events/permission_request.rs``): holding
one would block its terminal. So Codex's are answered ``{}`` at once and the
session says to answer in Codex's terminal; no agent but Claude Code is held.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bridge.pipeline.asks import permission_choices, sanitise
from bridge.pipeline.model import Ask, AskKind, ChoiceKind, Session, SessionState
from bridge.sources.hooks.events import MAX_NAME, path, text

__all__ = ["HELD_AGENTS", "NOT_HELD", "NO_DECISION", "Held", "Permissions", "reply_for"]

log = logging.getLogger("agentlight.sources.hooks")

#: Agents whose permission dialog stays usable while their hook is held.
HELD_AGENTS = frozenset({"claude"})
#: Agents whose hook runs before their own prompt (holding would block it): where to answer.
NOT_HELD = {"codex": "in Codex's terminal"}
#: The reply that decides nothing: the agent asks in its own terminal.
NO_DECISION: dict[str, Any] = {}
# Events after which a held request is over (the turn moved on, or ended).
_TURN_OVER = frozenset({"Stop", "StopFailure", "UserPromptSubmit", "SessionEnd", "SessionStart"})
# Events that say how a tool call ended: the request for that call was answered.
_TOOL_DONE = frozenset({"PostToolUse", "PostToolUseFailure", "PermissionDenied"})
# Tools whose input names a file they write (checked against the project).
_WRITES = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})
# The agent's suggestions kept for "always allow": a few, small.
_MAX_SUGGESTIONS = 16
_MAX_SUGGESTION_BYTES = 8 * 1024
_TOOL_INPUT_BYTES = 16 * 1024


def reply_for(action: str, suggestions: list[Any] | None, message: str) -> dict[str, Any]:
    """Claude Code's ``PermissionRequest`` reply for a device's choice."""
    if action == ChoiceKind.ALLOW.value:
        decision: dict[str, Any] = {"behavior": "allow"}
    elif action == ChoiceKind.ALWAYS.value:
        decision = {"behavior": "allow", "updatedPermissions": suggestions or []}
    elif action == ChoiceKind.DENY.value:
        decision = {"behavior": "deny", "message": message}
    else:
        return {}
    return {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}}


@dataclass(eq=False)
class Held:
    """One permission request whose hook waits for its reply."""

    agent: str
    session: str
    ask: Ask
    tool: str
    tool_input: str  # its JSON, to tell which tool call a later event is about
    suggestions: list[Any] | None
    reply: asyncio.Future[dict[str, Any]]
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class Permissions:
    """The held requests of one hooks source.

    :param hold_for: seconds a request is held at most (less than the hook's timeout).
    :param enabled: devices may answer (else every request is answered ``{}`` at once).
    :param on_change: called when a request is held or let go (publish again).
    :param clock: wall-clock time (an ask's ``expires``).
    """

    def __init__(
        self,
        *,
        hold_for: float,
        enabled: bool,
        on_change: Callable[[], None],
        clock: Callable[[], float],
    ) -> None:
        self.hold_for = hold_for
        self.enabled = enabled
        self._on_change = on_change
        self._clock = clock
        self._held: dict[str, list[Held]] = {}
        self._notices: dict[str, Ask] = {}
        self._count = 0
        #: Requests held so far, and let go without a decision, for tests and benchmarks.
        self.holds = 0
        self.released = 0

    # -- what the source shows ---------------------------------------------------------

    def decorate(self, session: Session) -> Session:
        """``session`` with the request it waits on (the oldest held), if any."""
        held = self._held.get(session.key)
        ask = held[0].ask if held else self._notices.get(session.key)
        if ask is None:
            return session
        state = SessionState.WAITING_FOR_USER
        return replace(session, ask=ask, state=state, tool=session.tool or ask.tool)

    @property
    def holding(self) -> int:
        return sum(len(h) for h in self._held.values())

    @property
    def noticing(self) -> bool:
        return bool(self._notices)

    # -- requests in -------------------------------------------------------------------

    def takes(self, agent: str, payload: Any) -> bool:
        """Whether ``payload`` is a permission request this source holds for a device."""
        return (
            self.enabled
            and agent in HELD_AGENTS
            and isinstance(payload, dict)
            and payload.get("hook_event_name") == "PermissionRequest"
        )

    async def hold(self, agent: str, session: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Hold the request until a device decides or it is let go; the hook's reply."""
        loop = asyncio.get_running_loop()
        tool = text(payload.get("tool_name"), MAX_NAME) or "a tool"
        tool_input = payload.get("tool_input")
        self._count += 1
        expires = self._clock() + self.hold_for
        ask = _ask(f"p{self._count}", tool, tool_input, payload, expires)
        held = Held(
            agent,
            session,
            ask,
            tool,
            _fingerprint(tool_input),
            _suggestions(payload.get("permission_suggestions")),
            loop.create_future(),
        )
        held.timer = loop.call_later(self.hold_for, self._let_go, held, "its hook's time is up")
        self._held.setdefault(session, []).append(held)
        self.holds += 1
        self._on_change()
        try:
            return await held.reply
        finally:
            # Answered, let go, or the hook's connection closed (this task cancelled).
            self._forget(held)

    def notice(self, agent: str, session: str, payload: dict[str, Any]) -> None:
        """A request an agent's hook cannot wait on: say where to answer it."""
        where = NOT_HELD.get(agent)
        if where is None or payload.get("hook_event_name") != "PermissionRequest":
            return
        tool = text(payload.get("tool_name"), MAX_NAME) or "a tool"
        self._count += 1
        ask = _ask(f"p{self._count}", tool, payload.get("tool_input"), payload, None)
        self._notices[session] = replace(ask, choices=(), where=where)
        self._on_change()

    def observe(self, agent: str, session: str, payload: Any) -> None:
        """Any payload: let go of what it shows was answered or is over."""
        if not isinstance(payload, dict):
            return
        name = payload.get("hook_event_name")
        if name in ("PermissionRequest", "Notification"):
            return  # the request itself, and the reminder of it 6 s later
        changed = self._notices.pop(session, None) is not None
        if name in _TURN_OVER:
            for held in list(self._held.get(session, ())):
                self._let_go(held, f"the session moved on ({name})")
        elif name in _TOOL_DONE:
            done = _fingerprint(payload.get("tool_input"))
            tool = text(payload.get("tool_name"), MAX_NAME)
            for held in list(self._held.get(session, ())):
                if held.tool == tool and held.tool_input == done:
                    self._let_go(held, f"answered in the terminal ({name})")
        if changed:
            self._on_change()

    def prune(self, alive: dict[str, SessionState]) -> None:
        """Let go of requests whose session has gone, or stopped waiting (an Esc on the
        dialog shows in the transcript as an interrupt)."""
        over = (SessionState.INTERRUPTED, SessionState.DONE, SessionState.ERROR)
        for session, held in list(self._held.items()):
            state = alive.get(session)
            if state is None or state in over:
                why = "the session ended" if state is None else f"the session is {state.value}"
                for h in list(held):
                    self._let_go(h, why)
        gone = [s for s in self._notices if s not in alive]
        for session in gone:
            del self._notices[session]
        if gone:
            self._on_change()

    def release_all(self, why: str) -> None:
        """agentlight stops or reloads: every held request gets its no-decision reply."""
        for held in [h for hs in self._held.values() for h in hs]:
            self._let_go(held, why)

    # -- a device decides --------------------------------------------------------------

    def decide(self, session: str, ask_id: str, action: str, who: str) -> str | None:
        """Reply to the held request ``ask_id`` of ``session``; None once sent, else why not."""
        held = next((h for h in self._held.get(session, ()) if h.ask.id == ask_id), None)
        if held is None:
            notice = self._notices.get(session)
            if notice is not None and notice.id == ask_id:
                if action == ChoiceKind.DISMISS.value:
                    del self._notices[session]
                    self._on_change()
                    return None
                return f"answer it {notice.where}"
            return "the request has gone (answered in the terminal, or let go)"
        if held.reply.done():
            return "the request was already answered"
        message = f"The user denied this from agentlight ({who})."
        held.reply.set_result(reply_for(action, held.suggestions, message))
        self._forget(held)
        return None

    # -- inside ------------------------------------------------------------------------

    def _let_go(self, held: Held, why: str) -> None:
        if held.reply.done():
            return
        held.reply.set_result({})
        self.released += 1
        log.info(
            "hooks: let go of %s's permission request for %s with no decision: %s",
            held.agent,
            held.tool,
            why,
        )
        self._forget(held)

    def _forget(self, held: Held) -> None:
        if held.timer is not None:
            held.timer.cancel()
            held.timer = None
        queue = self._held.get(held.session)
        if queue is None or held not in queue:
            return
        queue.remove(held)
        if not queue:
            del self._held[held.session]
        self._on_change()


def _ask(
    ask_id: str, tool: str, tool_input: Any, payload: dict[str, Any], expires: float | None
) -> Ask:
    command: str | None = None
    paths: tuple[str, ...] = ()
    if isinstance(tool_input, dict):
        target = path(tool_input.get("file_path")) or path(tool_input.get("notebook_path"))
        if tool in _WRITES and target:
            paths = (target,)
            command = sanitise(target)
        else:
            for key in ("command", "cmd", "url", "file_path", "path", "pattern", "query", "prompt"):
                value = tool_input.get(key)
                if isinstance(value, list):
                    value = " ".join(v for v in value if isinstance(v, str))
                if isinstance(value, str) and value.strip():
                    command = sanitise(value)
                    break
    elif isinstance(tool_input, str) and tool_input.strip():
        command = sanitise(tool_input)
    verb = "write" if paths else "run"
    words = f"{tool} wants to {verb} {command}" if command else f"{tool} wants permission"
    return Ask(
        ask_id,
        AskKind.PERMISSION,
        sanitise(words, 500),
        permission_choices(always=bool(_suggestions(payload.get("permission_suggestions")))),
        tool=tool,
        command=command,
        paths=paths,
        cwd=path(payload.get("cwd")),
        expires=expires,
    )


def _fingerprint(tool_input: Any) -> str:
    try:
        return json.dumps(tool_input, sort_keys=True, separators=(",", ":"))[:_TOOL_INPUT_BYTES]
    except (TypeError, ValueError):
        return ""


def _suggestions(value: Any) -> list[Any] | None:
    """The agent's "always allow" suggestions, passed back as they came (bounded)."""
    if not isinstance(value, list) or not value:
        return None
    kept = [s for s in value[:_MAX_SUGGESTIONS] if isinstance(s, dict)]
    try:
        if not kept or len(json.dumps(kept)) > _MAX_SUGGESTION_BYTES:
            return None
    except (TypeError, ValueError):
        return None
    return kept
