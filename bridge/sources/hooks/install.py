"""Wiring agentlight into each agent's settings: what ``agentlight hooks install`` adds.

Pure functions over file *contents* (the command does the reading, writing and
backups), so a test can check every agent's round trip byte for byte:

- :func:`install` merges agentlight's entries into a settings text and leaves
  everything else as it was: the file is parsed, the entries appended, and the
  whole re-written in the layout it had (its indentation, its final newline).
  A file whose layout cannot be reproduced that way (written by hand, with
  comments, odd spacing) is not touched: :class:`SettingsError` says so, and the
  README has the snippet to paste.
- :func:`uninstall` removes exactly those entries (an event list or ``hooks``
  table they alone filled goes too), so install then uninstall gives back the
  same bytes.
- A second install changes nothing; an entry whose command changed (agentlight
  moved) is updated in place.

Ours are recognised by their command: ``… hook <agent>`` run by agentlight.
OpenCode has no hook settings: its "install" is a plugin file of our own.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A settings file agentlight will not change (unparseable, or of an unexpected shape)."""


@dataclass(frozen=True, slots=True)
class Agent:
    """Where and how one agent's hooks are configured.

    :param user: the user's settings file, relative to the home directory.
    :param project: a project's settings file, relative to the project.
    :param events: the events agentlight's hook is installed for.
    :param entry: the handler object for a command.
    :param group: the list entry holding a handler (``None``: the handler itself).
    :param version: top-level keys a new file gets (Cursor's ``version``).
    :param note: what else the user must do, said after installing.
    :param timeouts: events whose handler gets another ``timeout`` than the entry's:
        a permission request is held until a device answers it.
    """

    name: str
    user: str
    project: str
    events: tuple[str, ...]
    entry: Callable[[str], dict[str, Any]]
    group: bool = True
    version: tuple[tuple[str, Any], ...] = ()
    note: str = ""
    timeouts: tuple[tuple[str, int], ...] = ()


def _command_entry(timeout: int) -> Callable[[str], dict[str, Any]]:
    return lambda command: {"type": "command", "command": command, "timeout": timeout}


AGENTS: dict[str, Agent] = {
    "claude": Agent(
        "claude",
        user=".claude/settings.json",
        # settings.local.json: the command names this machine's agentlight, not the team's
        project=".claude/settings.local.json",
        events=(
            "SessionStart",
            "UserPromptSubmit",
            "PreToolUse",
            "PostToolUse",
            "PostToolUseFailure",
            "PermissionRequest",
            "PermissionDenied",
            "Notification",
            "Elicitation",
            "ElicitationResult",
            "Stop",
            "StopFailure",
            "SubagentStart",
            "SubagentStop",
            "PreCompact",
            "PostCompact",
            "SessionEnd",
        ),
        entry=_command_entry(5),
        # Held by agentlight until a device answers (it lets go at 570 s): see
        # bridge/sources/hooks/permissions.py.
        timeouts=(("PermissionRequest", 600),),
    ),
    "codex": Agent(
        "codex",
        user=".codex/hooks.json",
        project=".codex/hooks.json",
        events=(
            "SessionStart",
            "UserPromptSubmit",
            "PreToolUse",
            "PermissionRequest",
            "PostToolUse",
            "Stop",
            "StopFailure",
            "Interrupt",
            "SubagentStart",
            "SubagentStop",
            "PreCompact",
            "PostCompact",
            "SessionEnd",
        ),
        # Codex caps SessionEnd and Interrupt hooks at 3 s (and warns above it).
        entry=_command_entry(3),
        note=(
            "Codex runs hooks only with `codex_hooks = true` under [features] in "
            "~/.codex/config.toml, and asks you to trust new hooks once (/hooks)."
        ),
    ),
    "gemini": Agent(
        "gemini",
        user=".gemini/settings.json",
        project=".gemini/settings.json",
        events=(
            "SessionStart",
            "BeforeAgent",
            "BeforeTool",
            "AfterTool",
            "Notification",
            "AfterAgent",
            "PreCompress",
            "SessionEnd",
        ),
        # Gemini's timeout is in milliseconds.
        entry=lambda command: {
            "type": "command",
            "command": command,
            "name": "agentlight",
            "timeout": 5000,
        },
    ),
    "cursor": Agent(
        "cursor",
        user=".cursor/hooks.json",
        project=".cursor/hooks.json",
        events=(
            "sessionStart",
            "beforeSubmitPrompt",
            "preToolUse",
            "postToolUse",
            "postToolUseFailure",
            "subagentStart",
            "subagentStop",
            "stop",
            "sessionEnd",
        ),
        entry=lambda command: {"command": command},
        group=False,
        version=(("version", 1),),
    ),
}

#: OpenCode loads every file in its plugin directories: ours is one file.
OPENCODE_USER = ".config/opencode/plugins/agentlight.js"
OPENCODE_PROJECT = ".opencode/plugins/agentlight.js"


def hook_command(agent: str, program: str) -> str:
    """The command line agentlight's hook runs (``program``: how agentlight is started)."""
    return f"{program} hook {shlex.quote(agent)}"


def is_ours(command: Any, agent: str) -> bool:
    """Whether a hook command is one :func:`install` wrote for ``agent``."""
    if not isinstance(command, str):
        return False
    words = command.split()
    return (
        len(words) >= 3
        and words[-2:] == ["hook", agent]
        and any("agentlight" in w or w == "bridge" for w in words[:-2])
    )


# -- layout ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Layout:
    indent: int | str
    newline: bool

    def dump(self, data: Any) -> str:
        text = json.dumps(data, indent=self.indent, ensure_ascii=False)
        return text + "\n" if self.newline else text


def _layout(text: str) -> Layout:
    newline = text.endswith("\n")
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            lead = line[: len(line) - len(stripped)]
            return Layout("\t" if lead.startswith("\t") else len(lead), newline)
    return Layout(2, newline)


def _parse(text: str, where: str) -> tuple[dict[str, Any], Layout]:
    """The settings object and its layout; an empty file is an empty object."""
    if not text.strip():
        return {}, Layout(2, True)
    try:
        data = json.loads(text)
    except ValueError as err:
        raise SettingsError(
            f"{where} is not valid JSON ({err}); agentlight changed nothing"
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(f"{where} does not hold a JSON object; agentlight changed nothing")
    layout = _layout(text)
    if layout.dump(data) != text:
        raise SettingsError(
            f"{where} is laid out by hand (agentlight would re-indent it): agentlight changed "
            "nothing; add the hooks by hand (README: 'Coding agents')"
        )
    return data, layout


# -- install / uninstall -------------------------------------------------------------------


def install(agent: Agent, text: str, command: str, where: str = "the settings file") -> str:
    """``text`` with agentlight's hook for every event of ``agent`` (the same text if
    they are all there)."""
    data, layout = _parse(text, where)
    if not data:
        data = dict(agent.version)
    hooks = data.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise SettingsError(f"{where}: 'hooks' is not an object; agentlight changed nothing")
    for event in agent.events:
        entries = hooks.setdefault(event, [])
        if not isinstance(entries, list):
            raise SettingsError(f"{where}: hooks.{event} is not a list; agentlight changed nothing")
        handler = agent.entry(command)
        timeout = dict(agent.timeouts).get(event)
        if timeout is not None:
            handler = {**handler, "timeout": timeout}
        if not _update(entries, agent, handler):
            entries.append({"hooks": [handler]} if agent.group else handler)
    return layout.dump(data)


def _handlers(entries: list[Any], agent: Agent) -> list[tuple[list[Any], int]]:
    """(list, index) of every handler of ours in an event's entries."""
    found: list[tuple[list[Any], int]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if agent.group:
            inner = entry.get("hooks")
            if isinstance(inner, list):
                found += [
                    (inner, i)
                    for i, h in enumerate(inner)
                    if isinstance(h, dict) and is_ours(h.get("command"), agent.name)
                ]
        elif is_ours(entry.get("command"), agent.name):
            found.append((entries, entries.index(entry)))
    return found


def _update(entries: list[Any], agent: Agent, handler: dict[str, Any]) -> bool:
    """Bring our handler in ``entries`` up to date; False when there is none."""
    found = _handlers(entries, agent)
    for owner, index in found:
        if owner[index] != handler:
            owner[index] = {**owner[index], **handler}
    return bool(found)


def uninstall(agent: Agent, text: str, where: str = "the settings file") -> str:
    """``text`` without agentlight's hooks (the same text when there are none)."""
    data, layout = _parse(text, where)
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return text
    changed = False
    for event in list(hooks):
        entries = hooks[event]
        if not isinstance(entries, list):
            continue
        for entry in list(entries):
            if not isinstance(entry, dict):
                continue
            if agent.group:
                inner = entry.get("hooks")
                if not isinstance(inner, list):
                    continue
                kept = [
                    h
                    for h in inner
                    if not (isinstance(h, dict) and is_ours(h.get("command"), agent.name))
                ]
                if len(kept) != len(inner):
                    changed = True
                    if kept:
                        entry["hooks"] = kept
                    else:
                        entries.remove(entry)
            elif is_ours(entry.get("command"), agent.name):
                entries.remove(entry)
                changed = True
        if not entries:
            del hooks[event]
    if not changed:
        return text
    if not hooks:
        del data["hooks"]
    if set(data) == {k for k, _ in agent.version} and data == dict(agent.version):
        return ""  # only what a new file got: the file was ours alone
    return layout.dump(data)


def wired(agent: Agent, text: str) -> tuple[int, int]:
    """(events wired, events agentlight would wire) in a settings text."""
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return 0, len(agent.events)
    hooks = data.get("hooks") if isinstance(data, dict) else None
    if not isinstance(hooks, dict):
        return 0, len(agent.events)
    count = sum(
        1
        for event in agent.events
        if isinstance(hooks.get(event), list) and _handlers(hooks[event], agent)
    )
    return count, len(agent.events)


def settings_path(agent: str, project: str | None, home: str | None = None) -> Path:
    """The file ``hooks install`` changes for ``agent``."""
    home_dir = Path(home or os.path.expanduser("~"))
    if agent == "opencode":
        return Path(project) / OPENCODE_PROJECT if project else home_dir / OPENCODE_USER
    spec = AGENTS[agent]
    return Path(project) / spec.project if project else home_dir / spec.user


# -- OpenCode: a plugin file ---------------------------------------------------------------

#: Bus events the plugin forwards (the rest would be a POST per streamed token).
OPENCODE_EVENTS = (
    "session.created",
    "session.updated",
    "session.deleted",
    "session.status",
    "session.idle",
    "session.error",
    "message.updated",
    "message.part.updated",
    "permission.asked",
    "permission.updated",
    "permission.replied",
    "question.asked",
    "question.replied",
    "question.rejected",
)

OPENCODE_PLUGIN = """\
// agentlight: shows this OpenCode's sessions on agentlight's devices.
// Written by `agentlight hooks install opencode`; `agentlight hooks uninstall opencode`
// removes it (only while it is unchanged). It reads the running agentlight's
// discovery file and POSTs selected bus events to its local API; when agentlight
// is not running it does nothing.
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { tmpdir } from "node:os"

const EVENTS = new Set(__EVENTS__)
const SYSTEM_DIR = "/run/agentlight"

// Only this user (or root) can have put a file here: another user may make the /tmp
// fallback first, with an api.json naming their own server.
function trusted(dir) {
  if (process.platform === "win32" || dir === SYSTEM_DIR) return true
  try {
    const st = lstatSync(dir)
    const owner = st.uid === process.getuid() || st.uid === 0
    return st.isDirectory() && owner && (st.mode & 0o022) === 0
  } catch { return false }
}

// When a process started (Linux): a killed bridge's pid may now be another process's.
function started(pid) {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, "latin1")
    const value = Number(raw.slice(raw.lastIndexOf(")") + 1).trim().split(/\\s+/)[19])
    return Number.isInteger(value) ? value : null
  } catch { return null }
}

function running(found) {
  if (!Number.isInteger(found.pid) || found.pid <= 0) return false
  try { process.kill(found.pid, 0) } catch (err) { if (err.code !== "EPERM") return false }
  if (Number.isInteger(found.started)) {
    const now = started(found.pid)
    if (now !== null && now !== found.started) return false
  }
  return true
}

function read(file) {
  const flags = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0)
  const fd = openSync(file, flags)
  try {
    const st = fstatSync(fd)
    if (!st.isFile() || st.size > 65536) return null
    return JSON.parse(readFileSync(fd, "utf8"))
  } finally { closeSync(fd) }
}

function bridge() {
  const env = process.env
  const dirs = []
  if (env.RUNTIME_DIRECTORY) dirs.push(env.RUNTIME_DIRECTORY.split(":")[0])
  else if (env.XDG_RUNTIME_DIR) dirs.push(join(env.XDG_RUNTIME_DIR, "agentlight"))
  else if (process.platform === "darwin") dirs.push(join(env.TMPDIR || tmpdir(), "agentlight"))
  else if (process.platform === "win32") dirs.push(join(env.LOCALAPPDATA || "", "agentlight"))
  else dirs.push(join(env.TMPDIR || "/tmp", `agentlight-${process.getuid?.() ?? ""}`))
  if (process.platform === "linux" && !dirs.includes(SYSTEM_DIR)) dirs.push(SYSTEM_DIR)
  for (const dir of dirs) {
    if (!trusted(dir)) continue
    try {
      const found = read(join(dir, "api.json"))
      const url = found && typeof found.url === "string" ? found.url : ""
      if (url.startsWith("http://") && running(found)) return found
    } catch {}
  }
  return null
}

export const AgentLight = async ({ directory }) => ({
  event: async ({ event }) => {
    if (!event || !EVENTS.has(event.type)) return
    const found = bridge()
    if (!found) return
    const headers = { "Content-Type": "application/json" }
    if (found.token) headers.Authorization = `Bearer ${found.token}`
    const body = JSON.stringify({
      type: event.type,
      properties: event.properties,
      directory,
      _agentlight: { pid: process.pid },
    })
    try {
      await fetch(`${found.url}/v1/hooks/opencode`, {
        method: "POST", headers, body, signal: AbortSignal.timeout(1000),
      })
    } catch {}
  },
})
""".replace("__EVENTS__", json.dumps(list(OPENCODE_EVENTS)))


#: SHA-256 of the plugin files earlier versions wrote: still agentlight's own, so
#: install replaces them and uninstall removes them.
_OPENCODE_PLUGIN_BEFORE = frozenset(
    {"7fd69c02b654a04f0951a42f5ad69e788d3477c9803a6ea238d10eb2ce8dba99"}
)


def opencode_plugin_age(text: str) -> str:
    """ "current" for the plugin this version writes, "older" for one an earlier version
    wrote, "" for a file that is not agentlight's (or was changed)."""
    if text == OPENCODE_PLUGIN:
        return "current"
    import hashlib

    if hashlib.sha256(text.encode()).hexdigest() in _OPENCODE_PLUGIN_BEFORE:
        return "older"
    return ""


__all__ = [
    "AGENTS",
    "OPENCODE_EVENTS",
    "OPENCODE_PLUGIN",
    "Agent",
    "SettingsError",
    "hook_command",
    "install",
    "is_ours",
    "opencode_plugin_age",
    "settings_path",
    "uninstall",
    "wired",
]
