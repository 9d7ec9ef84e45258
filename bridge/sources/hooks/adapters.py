"""One adapter per coding agent: its hook payload → :class:`HookEvent` values.

Pure functions, no I/O. Each reads the agent's documented payload (the sources
are named in ``tests/fixtures/hooks/README.md``, with real payloads kept as
fixtures) and tolerates everything else: a field missing or of the wrong type is
as if absent, an event name it does not know becomes a ``NOTE`` (news that the
session is alive) and is reported back, so the source can log it once.

What only ``agentlight hook`` knows travels in the reserved key ``_agentlight``
(``{"pid": <the agent's process id>}``); an agent's own payload never has it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bridge.sources.hooks.events import (
    MAX_NAME,
    HookEvent,
    Kind,
    field,
    ident,
    path,
    pid_of,
    text,
    tokens,
)

#: The key ``agentlight hook`` adds to a payload (never an agent's own field).
RESERVED = "_agentlight"


@dataclass(frozen=True, slots=True)
class Adapted:
    """What one payload said: its events, and the event name if it was not known."""

    events: tuple[HookEvent, ...] = ()
    unknown: str | None = None
    #: Why nothing could be read (no session id, not an object), for one log line.
    refused: str | None = None


Adapter = Callable[[Any], Adapted]


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _refuse(why: str) -> Adapted:
    return Adapted(refused=why)


def _pid(payload: dict[str, Any]) -> int | None:
    extra = payload.get(RESERVED)
    return pid_of(extra.get("pid")) if isinstance(extra, dict) else None


def _command_hook(agent: str, payload: Any, *session_keys: str) -> HookEvent | Adapted:
    """The note a command hook's event starts from, or the refusal when there is none.

    Claude Code, Codex, Gemini CLI and Cursor send the same envelope: the hook's
    name, the session (under the first of ``session_keys`` present), its folder,
    its transcript, and the process ``agentlight hook`` found.
    """
    if not isinstance(payload, dict):
        return _refuse("the payload is not a JSON object")
    sid = ident(field(payload, *session_keys))
    if sid is None:
        return _refuse(f"the payload has no {session_keys[0]}")
    return HookEvent(
        agent,
        sid,
        Kind.NOTE,
        name=text(payload.get("hook_event_name"), MAX_NAME) or "",
        cwd=path(payload.get("cwd")),
        transcript=path(payload.get("transcript_path")),
        pid=_pid(payload),
    )


def _tool_detail(tool_input: Any) -> str | None:
    """The one line that says what a tool does: its command, path, pattern or URL."""
    if isinstance(tool_input, str):
        return text(tool_input)
    if not isinstance(tool_input, dict):
        return None
    for key in (
        "command",
        "cmd",
        "file_path",
        "filePath",
        "path",
        "absolute_path",
        "notebook_path",
        "pattern",
        "url",
        "query",
        "description",
        "prompt",
    ):
        value = tool_input.get(key)
        if isinstance(value, list):  # Codex's command is sometimes argv
            value = " ".join(v for v in value if isinstance(v, str))
        found = text(value)
        if found:
            return found
    return None


# -- Claude Code and Codex CLI: the same event vocabulary ------------------------------

# Notification types that mean "the agent waits for the user to decide".
_ASKING = frozenset(
    {"permission_prompt", "elicitation_dialog", "agent_needs_input", "elicitation", "question"}
)
# Events that change no state: they prove the session alive.
_CLAUDE_NOTES = frozenset(
    {
        "MessageDisplay",
        "PostToolBatch",
        "UserPromptExpansion",
        "TaskCreated",
        "TaskCompleted",
        "TeammateIdle",
        "Setup",
        "ConfigChange",
        "InstructionsLoaded",
        "CwdChanged",
        "FileChanged",
        "WorktreeCreate",
        "WorktreeRemove",
    }
)
# A prompt that is not the user's: a background subagent's result coming back.
_NOT_A_PROMPT = ("<task-notification>",)


def _claude_like(agent: str, payload: Any) -> Adapted:
    base = _command_hook(agent, payload, "session_id")
    if isinstance(base, Adapted):
        return base
    name, sid = base.name, base.session
    # A subagent's own tool calls carry its id: they belong to its child session.
    sub = ident(payload.get("agent_id"))
    child = replace(base, session=f"{sid}/{sub}", parent=sid, transcript=None) if sub else None
    tool = text(payload.get("tool_name"), MAX_NAME)
    detail = _tool_detail(payload.get("tool_input"))
    on = child or base

    def one(event: HookEvent) -> Adapted:
        return Adapted((event,))

    match name:
        case "SessionStart":
            source = payload.get("source")
            return one(replace(base, kind=Kind.NOTE if source == "compact" else Kind.START))
        case "UserPromptSubmit":
            prompt = payload.get("prompt")
            if isinstance(prompt, str) and prompt.lstrip().startswith(_NOT_A_PROMPT):
                return one(replace(base, kind=Kind.THINKING))
            return one(replace(base, kind=Kind.PROMPT, prompt=text(prompt)))
        case "PreToolUse":
            return one(replace(on, kind=Kind.TOOL, tool=tool, detail=detail))
        case "PostToolUse" | "PostToolUseFailure" | "PermissionDenied" | "ElicitationResult":
            if payload.get("is_interrupt") is True:
                return one(replace(on, kind=Kind.INTERRUPTED))
            return one(replace(on, kind=Kind.THINKING))
        case "PermissionRequest":
            return one(replace(on, kind=Kind.WAITING, tool=tool, detail=detail))
        case "Elicitation":
            return one(replace(on, kind=Kind.WAITING, detail=text(payload.get("message"))))
        case "Notification":
            kind = payload.get("notification_type")
            if kind == "idle_prompt":
                return one(replace(base, kind=Kind.USER_TURN))
            if kind in _ASKING:
                return one(replace(on, kind=Kind.WAITING, detail=text(payload.get("message"))))
            return one(base)
        case "Stop":
            return one(replace(on, kind=Kind.DONE))
        case "StopFailure":
            code = text(payload.get("error"), MAX_NAME)
            message = text(payload.get("error_details")) or text(
                payload.get("last_assistant_message")
            )
            error = f"{code}: {message}" if code and message else (message or code or "failed")
            return one(replace(on, kind=Kind.ERROR, error=text(error)))
        case "Interrupt":  # Codex
            return one(replace(on, kind=Kind.INTERRUPTED))
        case "SubagentStart":
            if child is None:
                return one(base)
            label = text(payload.get("agent_type"), MAX_NAME)
            return one(replace(child, kind=Kind.THINKING, label=label))
        case "SubagentStop":
            return one(replace(child, kind=Kind.DONE) if child else base)
        case "PreCompact":
            return one(replace(base, kind=Kind.THINKING, detail="compacting"))
        case "PostCompact":
            manual = payload.get("trigger") == "manual"
            return one(replace(base, kind=Kind.USER_TURN if manual else Kind.THINKING))
        case "SessionEnd":
            return one(replace(base, kind=Kind.END))
        case _ if name in _CLAUDE_NOTES:
            return one(on)
        case _:
            return Adapted((on,), unknown=name or "(no hook_event_name)")


def claude(payload: Any) -> Adapted:
    """Claude Code: command hooks (stdin) and ``http`` hooks (the same JSON, POSTed)."""
    return _claude_like("claude", payload)


def codex(payload: Any) -> Adapted:
    """Codex CLI: ``hooks.json`` hooks, and the older ``notify`` program's JSON."""
    if isinstance(payload, dict) and "type" in payload and "hook_event_name" not in payload:
        return _codex_notify(payload)
    return _claude_like("codex", payload)


def _codex_notify(payload: dict[str, Any]) -> Adapted:
    sid = ident(field(payload, "thread-id", "thread_id", "session_id"))
    if sid is None:
        return _refuse("the notify payload has no thread-id")
    kind = text(payload.get("type"), MAX_NAME) or ""
    messages = payload.get("input-messages")
    prompt = text(messages[0]) if isinstance(messages, list) and messages else None
    base = HookEvent(
        "codex", sid, Kind.NOTE, name=kind, cwd=path(payload.get("cwd")), pid=_pid(payload)
    )
    if kind == "agent-turn-complete":
        return Adapted((replace(base, kind=Kind.DONE, prompt=prompt),))
    if kind in ("approval-requested", "approval_requested"):
        return Adapted((replace(base, kind=Kind.WAITING),))
    return Adapted((base,), unknown=kind or "(no type)")


# -- Gemini CLI ----------------------------------------------------------------------

_GEMINI_NOTES = frozenset({"BeforeModel", "AfterModel", "BeforeToolSelection"})


def gemini(payload: Any) -> Adapted:
    """Gemini CLI: command hooks in ``settings.json``."""
    base = _command_hook("gemini", payload, "session_id")
    if isinstance(base, Adapted):
        return base
    name = base.name
    tool = text(payload.get("tool_name"), MAX_NAME)
    match name:
        case "SessionStart":
            event = replace(base, kind=Kind.START)
        case "SessionEnd":
            event = replace(base, kind=Kind.END)
        case "BeforeAgent":
            event = replace(base, kind=Kind.PROMPT, prompt=text(payload.get("prompt")))
        case "AfterAgent":
            event = replace(base, kind=Kind.DONE)
        case "BeforeTool":
            detail = _tool_detail(payload.get("tool_input"))
            event = replace(base, kind=Kind.TOOL, tool=tool, detail=detail)
        case "AfterTool" | "PreCompress":
            event = replace(base, kind=Kind.THINKING)
        case "Notification":
            details = payload.get("details")
            detail = _tool_detail(details) or text(payload.get("message"))
            asked = payload.get("notification_type") == "ToolPermission"
            event = replace(base, kind=Kind.WAITING if asked else Kind.NOTE, detail=detail)
        case _ if name in _GEMINI_NOTES:
            event = base
        case _:
            return Adapted((base,), unknown=name or "(no hook_event_name)")
    return Adapted((event,))


# -- Cursor ---------------------------------------------------------------------------

_CURSOR_NOTES = frozenset(
    {
        "afterAgentResponse",
        "afterAgentThought",
        "afterFileEdit",
        "beforeReadFile",
        "preCompact",
        "beforeTabFileRead",
        "afterTabFileEdit",
    }
)
_CURSOR_STOP = {"completed": Kind.DONE, "aborted": Kind.INTERRUPTED, "error": Kind.ERROR}


def cursor(payload: Any) -> Adapted:
    """Cursor: ``.cursor/hooks.json`` command hooks."""
    base = _command_hook("cursor", payload, "conversation_id", "session_id")
    if isinstance(base, Adapted):
        return base
    name, sid = base.name, base.session
    roots = payload.get("workspace_roots")
    if isinstance(roots, list) and roots:  # the workspace, before where the hook ran
        base = replace(base, cwd=path(roots[0]))
    tool = text(payload.get("tool_name"), MAX_NAME)
    sub = ident(field(payload, "subagent_id", "agent_id"))
    match name:
        case "sessionStart":
            event = replace(base, kind=Kind.START)
        case "sessionEnd":
            event = replace(base, kind=Kind.END)
        case "beforeSubmitPrompt":
            event = replace(base, kind=Kind.PROMPT, prompt=text(payload.get("prompt")))
        case "preToolUse" | "beforeMCPExecution":
            detail = _tool_detail(payload.get("tool_input"))
            event = replace(base, kind=Kind.TOOL, tool=tool, detail=detail)
        case "beforeShellExecution":
            detail = text(payload.get("command"))
            event = replace(base, kind=Kind.TOOL, tool="Shell", detail=detail)
        case "postToolUse" | "postToolUseFailure" | "afterShellExecution" | "afterMCPExecution":
            event = replace(base, kind=Kind.THINKING)
        case "subagentStart" | "subagentStop" if sub:
            kind = Kind.THINKING if name == "subagentStart" else Kind.DONE
            label = text(field(payload, "subagent_type", "agent_type"), MAX_NAME)
            event = replace(
                base, session=f"{sid}/{sub}", parent=sid, kind=kind, label=label, transcript=None
            )
        case "stop":
            status = payload.get("status")
            kind = _CURSOR_STOP.get(status if isinstance(status, str) else "", Kind.DONE)
            error = text(payload.get("error_message")) or "the agent stopped with an error"
            event = replace(base, kind=kind, error=error if kind is Kind.ERROR else None)
        case _ if name in _CURSOR_NOTES or name in ("subagentStart", "subagentStop"):
            event = base
        case _:
            return Adapted((base,), unknown=name or "(no hook_event_name)")
    return Adapted((event,))


# -- OpenCode: its plugin forwards bus events ----------------------------------------

# Bus events that say nothing about a session's state (there are many, and more
# come with every release: only these are known to be of no interest).
_OPENCODE_NOTES = frozenset(
    {
        "message.part.delta",
        "message.part.removed",
        "message.removed",
        "session.diff",
        "session.compacted",
        "todo.updated",
        "file.edited",
        "file.watcher.updated",
        "lsp.updated",
        "lsp.client.diagnostics",
        "installation.updated",
        "installation.update-available",
        "server.connected",
        "server.heartbeat",
        "command.executed",
        "tui.prompt.append",
        "tui.command.execute",
        "tui.toast.show",
        "vcs.branch.updated",
        "project.updated",
        "pty.created",
        "pty.updated",
        "pty.exited",
        "pty.deleted",
        "mcp.tools.changed",
    }
)
_OPENCODE_RUNNING = frozenset({"pending", "running"})


def opencode(payload: Any) -> Adapted:
    """OpenCode: what agentlight's plugin forwards, ``{"type", "properties", "directory"}``."""
    if not isinstance(payload, dict):
        return _refuse("the payload is not a JSON object")
    name = text(payload.get("type"), MAX_NAME) or ""
    props = _obj(payload.get("properties"))
    info = _obj(props.get("info"))
    part = _obj(props.get("part"))
    sid = ident(
        props.get("sessionID")
        or part.get("sessionID")
        or (info.get("sessionID") if "role" in info else info.get("id"))
    )
    if sid is None:
        if name in _OPENCODE_NOTES or name.startswith(("server.", "installation.", "lsp.")):
            return Adapted()
        return _refuse(f"the {name or 'untyped'} event names no session")
    base = HookEvent(
        "opencode",
        sid,
        Kind.NOTE,
        name=name,
        cwd=path(payload.get("directory")),
        pid=_pid(payload),
    )
    match name:
        case "session.created" | "session.updated":
            parent = ident(info.get("parentID"))
            event = replace(
                base,
                kind=Kind.START if name == "session.created" else Kind.NOTE,
                cwd=path(info.get("directory")) or base.cwd,
                label=text(info.get("title")),
                parent=parent,
            )
        case "session.deleted":
            event = replace(base, kind=Kind.END)
        case "session.status":
            status = _obj(props.get("status"))
            state = status.get("type")
            if state == "idle":
                event = replace(base, kind=Kind.DONE)
            elif state == "retry":
                event = replace(base, kind=Kind.THINKING, detail=text(status.get("message")))
            elif state == "busy":
                event = replace(base, kind=Kind.THINKING)
            else:
                return Adapted((base,), unknown=f"session.status {text(state, MAX_NAME)}")
        case "session.idle":
            event = replace(base, kind=Kind.DONE)
        case "session.error":
            error = _obj(props.get("error"))
            data = _obj(error.get("data"))
            if error.get("name") == "MessageAbortedError":
                event = replace(base, kind=Kind.INTERRUPTED)
            else:
                message = text(data.get("message") or error.get("message") or error.get("name"))
                event = replace(base, kind=Kind.ERROR, error=message or "error")
        case "message.part.updated":
            if part.get("type") != "tool":
                event = base
            else:
                state = _obj(part.get("state"))
                if state.get("status") in _OPENCODE_RUNNING:
                    detail = _tool_detail(state.get("input")) or text(state.get("title"))
                    tool = text(part.get("tool"), MAX_NAME)
                    event = replace(base, kind=Kind.TOOL, tool=tool, detail=detail)
                else:
                    event = replace(base, kind=Kind.THINKING)
        case "message.updated":
            used = _obj(info.get("tokens"))
            counted = tokens(used.get("input"), used.get("output"), used.get("reasoning"))
            event = replace(base, tokens=counted) if info.get("role") == "assistant" else base
        case "permission.updated" | "permission.asked" | "question.asked":
            tool = text(field(props, "permission", "type"), MAX_NAME)
            patterns = props.get("patterns") or props.get("pattern")
            if isinstance(patterns, list):
                patterns = " ".join(p for p in patterns if isinstance(p, str))
            detail = text(props.get("title")) or text(patterns)
            event = replace(base, kind=Kind.WAITING, tool=tool, detail=detail)
        case "permission.replied" | "question.replied" | "question.rejected":
            event = replace(base, kind=Kind.THINKING)
        case _ if name in _OPENCODE_NOTES:
            event = base
        case _:
            return Adapted((base,), unknown=name or "(no type)")
    return Adapted((event,))


# -- any script: agentlight notify, POST /v1/hooks/generic ------------------------------

#: ``state`` values of the generic form, and what each says.
GENERIC_STATES: dict[str, Kind] = {
    "start": Kind.START,
    "thinking": Kind.THINKING,
    "working": Kind.THINKING,
    "streaming": Kind.THINKING,
    "tool_running": Kind.TOOL,
    "tool": Kind.TOOL,
    "waiting_for_user": Kind.WAITING,
    "waiting": Kind.WAITING,
    "done": Kind.DONE,
    "interrupted": Kind.INTERRUPTED,
    "error": Kind.ERROR,
    "idle": Kind.USER_TURN,
    "end": Kind.END,
}


def generic(payload: Any) -> Adapted:
    """The documented form for any script::

        {"session": "nightly-build", "state": "tool_running", "tool": "pytest",
         "title": "nightly build", "error": null, "detail": "tests/", "pid": 4242}

    ``state``: one of :data:`GENERIC_STATES`; ``session`` and ``state`` are required.
    """
    if not isinstance(payload, dict):
        return _refuse("the payload is not a JSON object")
    sid = ident(payload.get("session"))
    if sid is None:
        return _refuse("the payload has no session")
    state = payload.get("state")
    kind = GENERIC_STATES.get(state) if isinstance(state, str) else None
    if kind is None:
        known = ", ".join(GENERIC_STATES)
        return _refuse(f"state: got {text(state, MAX_NAME)!r}, expected one of {known}")
    pid = _pid(payload) or pid_of(payload.get("pid"))
    error = text(payload.get("error"))
    event = HookEvent(
        "generic",
        sid,
        kind,
        name=state if isinstance(state, str) else "",
        tool=text(payload.get("tool"), MAX_NAME),
        detail=text(payload.get("detail")),
        error=(error or "error") if kind is Kind.ERROR else None,
        cwd=path(payload.get("cwd")),
        pid=pid,
        label=text(payload.get("title")),
        tokens=tokens(payload.get("input_tokens"), payload.get("output_tokens")),
    )
    return Adapted((event,))


#: Agent name (the path's ``<agent>``, the session's channel) → its adapter.
ADAPTERS: dict[str, Adapter] = {
    "claude": claude,
    "codex": codex,
    "gemini": gemini,
    "cursor": cursor,
    "opencode": opencode,
    "generic": generic,
}

__all__ = ["ADAPTERS", "GENERIC_STATES", "RESERVED", "Adapted", "Adapter"]
