"""``agentlight hooks install|uninstall|status [AGENT]``: wire coding agents to agentlight.

``install`` merges agentlight's hook entries into the agent's settings file (the
user's, or a project's with ``--project DIR``), keeping everything else as it
was and a backup of the file as it was before (``<file>.agentlight.bak``);
``--dry-run`` prints the diff and changes nothing. ``uninstall`` removes exactly
what ``install`` added. A file agentlight cannot parse is left alone with a
message saying what to do. ``status`` lists every agent: wired or not, and the
last event the running bridge saw from it.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from bridge.commands.common import UsageError
from bridge.infra.local_api import find_bridge, runtime_dir
from bridge.sources.hooks.install import (
    AGENTS,
    OPENCODE_PLUGIN,
    SettingsError,
    hook_command,
    install,
    opencode_plugin_age,
    settings_path,
    uninstall,
    wired,
)
from bridge.sources.hooks.options import AGENTS as ALL_AGENTS
from bridge.sources.hooks.source import SEEN_FILE

#: Agents ``hooks`` can wire (``generic`` is for scripts: nothing to install).
WIRABLE = tuple(a for a in ALL_AGENTS if a != "generic")


def program() -> str:
    """How the agent's hook starts agentlight: this install's own command, by full path
    (an agent's hooks may run with another PATH than this shell's)."""
    found = shutil.which("agentlight")
    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "agentlight" and script.exists():
        return shlex.quote(str(script))
    if found:
        return shlex.quote(str(Path(found).resolve()))
    return f"{shlex.quote(sys.executable)} -m bridge"


def main(args: argparse.Namespace) -> int:
    if args.action == "status":
        return status(args.agent, args.project)
    if args.agent is None:
        raise UsageError(f"{args.action} needs an agent: one of {', '.join(WIRABLE)}")
    path = settings_path(args.agent, args.project)
    if args.project is not None and not Path(args.project).is_dir():
        raise UsageError(f"--project: {args.project} is not a directory")
    try:
        before = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as err:
        print(f"agentlight hooks: cannot read {path}: {err}", file=sys.stderr)
        return 1
    try:
        after = _changed(args.agent, args.action, before, str(path))
    except SettingsError as err:
        print(f"agentlight hooks: {err}", file=sys.stderr)
        return 1
    if after == before:
        have = "has" if args.action == "install" else "has none of"
        print(f"{args.agent}: {path} already {have} agentlight's hooks; nothing to do")
        return 0
    if args.dry_run:
        sys.stdout.writelines(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                str(path),
                str(path) + " (after)",
            )
        )
        return 0
    _write(path, before, after)
    verb = "wired to agentlight" if args.action == "install" else "no longer wired"
    print(f"{args.agent}: {verb} ({path})")
    note = AGENTS[args.agent].note if args.agent in AGENTS else ""
    if args.action == "install" and note:
        print(f"  note: {note}")
    if args.action == "install" and find_bridge() is None:
        print("  agentlight is not running: start it with `agentlight run` (a hooks source).")
    return 0


def _changed(agent: str, action: str, text: str, where: str) -> str:
    if agent == "opencode":
        ours = not text or opencode_plugin_age(text)
        if action == "install":
            if not ours:
                raise SettingsError(f"{where} exists and is not agentlight's; changed nothing")
            return OPENCODE_PLUGIN
        if not ours:
            raise SettingsError(f"{where} was changed since install; remove it by hand")
        return ""
    spec = AGENTS[agent]
    if action == "install":
        return install(spec, text, hook_command(agent, program()), where)
    return uninstall(spec, text, where)


def _write(path: Path, before: str, after: str) -> None:
    """Write ``after`` atomically (``""``: remove the file), keeping ``before`` as a backup."""
    if before:
        backup = path.with_name(path.name + ".agentlight.bak")
        backup.write_text(before, encoding="utf-8")
    if not after:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.agentlight.tmp")
    tmp.write_text(after, encoding="utf-8")
    if path.exists():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)


def seen() -> dict[str, tuple[str, float]]:
    """What the running bridge's hooks source last saw per agent (its small state file)."""
    try:
        data = json.loads((Path(runtime_dir()) / SEEN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, tuple[str, float]] = {}
    if isinstance(data, dict):
        for agent, value in data.items():
            if (
                isinstance(value, list)
                and len(value) == 2
                and isinstance(value[0], str)
                and isinstance(value[1], int | float)
            ):
                out[agent] = (value[0], float(value[1]))
    return out


def status(agent: str | None, project: str | None) -> int:
    from bridge.text.statusline import duration
    from bridge.text.textsafe import clean

    running = find_bridge()
    print(f"agentlight: {'running at ' + running[0] if running else 'not running'}")
    last = seen() if running else {}
    now = time.time()
    for name in (agent,) if agent else WIRABLE:
        path = settings_path(name, project)
        try:
            text = path.read_text(encoding="utf-8") if path.exists() else ""
        except (OSError, UnicodeDecodeError):
            text = ""
        if name == "opencode":
            age = opencode_plugin_age(text) if text else ""
            state = {
                "current": "wired",
                "older": "wired by an older agentlight (run `agentlight hooks install opencode`)",
            }.get(age, "changed" if text else "not wired")
        else:
            count, total = wired(AGENTS[name], text)
            state = (
                "wired" if count == total else (f"{count}/{total} events" if count else "not wired")
            )
        event = last.get(name)
        heard = (
            f"last event {clean(event[0], 40)} {duration(now - event[1])} ago"
            if event
            else "no event seen"
        )
        print(f"  {name:<9} {state:<12} {heard:<36} {path}")
    return 0


__all__ = ["SEEN_FILE", "WIRABLE", "main", "program", "seen", "status"]
