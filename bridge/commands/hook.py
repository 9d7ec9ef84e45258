"""``agentlight hook AGENT``: what a coding agent's command hook runs.

It reads the hook's JSON from stdin (or, for Codex's ``notify``, from its last
argument), adds what only a local process knows (the agent's process id, under
the reserved key ``_agentlight``), and POSTs it to the running bridge's
``/v1/hooks/<agent>``, found through the API's discovery file.

It must never disturb the agent: it prints nothing on stdout (agents read a
hook's stdout as instructions or context), exits 0 whatever happens (agentlight
not running, a slow or broken bridge), gives up after 1 s in all, and starts
light: only the stdlib's ``json``, ``os``, ``socket`` and ``http.client`` are
imported, nothing of agentlight's pipeline.

One exception: Claude Code's ``PermissionRequest``, which a bridge holds until a
device answers it (Claude's own dialog stays usable meanwhile). For it the
command waits for the bridge's reply, up to :data:`HOLD_WAIT` seconds, and prints
a decision on stdout when there is one (Allow, Always, Deny); with no decision
it prints nothing, as always.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from bridge.infra.local_api import TOTAL_LIMIT, find_bridge, post

#: Most bytes read from stdin (a tool's output can be huge; what we forward is not).
MAX_STDIN = 16 * 1024 * 1024
#: Payload fields that can be large and that no adapter reads: dropped before sending.
HEAVY = frozenset(
    {
        "tool_response",
        "tool_output",
        "tool_calls",
        "prompt_response",
        "llm_request",
        "llm_response",
        "result_json",
        "output",
        "edits",
        "attachments",
        "content",
        "last_assistant_message",
    }
)
#: Keep a heavy field whose text is this short (an error message, a last line).
_KEEP_BELOW = 2000
#: Processes a hook's command runs under that are not the agent itself.
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "fish", "ksh", "mksh", "busybox", "env"})
RESERVED = "_agentlight"  # the same key as bridge.sources.hooks.adapters.RESERVED


#: Agents whose permission requests the bridge holds (``bridge.sources.hooks.permissions``).
HELD_AGENTS = frozenset({"claude"})
#: Seconds the command waits for a held request's decision: under the 600 s timeout
#: ``agentlight hooks install claude`` gives PermissionRequest (the bridge lets go at 570).
HOLD_WAIT = 590.0

#: What an agent name may be (the API's ``/v1/hooks/<agent>``).
_AGENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def main(args: Any) -> int:
    """Run as a command hook (parsed by the command line); always 0."""
    return run_argv([args.agent, *([args.payload] if args.payload is not None else [])])


def run_argv(argv: list[str]) -> int:
    """``agentlight hook AGENT [PAYLOAD]`` without argparse: always exit 0.

    The command line's parser exits 2 on a usage error, and for Claude Code a hook
    exiting 2 *blocks* the tool call: a typo in a settings file must not stop an
    agent from working. So ``bridge.cli`` hands ``hook`` straight here.
    """
    started = time.monotonic()
    verbose = "-v" in argv
    words = [a for a in argv if a != "-v"]
    try:
        agent = words[0] if words else ""
        if not agent or len(agent) > 32 or not set(agent) <= _AGENT_CHARS:
            if verbose:
                print(f"agentlight hook: not an agent name: {agent!r}", file=sys.stderr)
            return 0
        run(agent, words[-1] if len(words) > 1 else None, started)
    except Exception as err:  # never disturb the agent, whatever went wrong
        if verbose:
            print(f"agentlight hook: {type(err).__name__}: {err}", file=sys.stderr)
    return 0


def run(agent: str, argv_payload: str | None, started: float) -> int | None:
    """Forward one payload; the HTTP status, or None when nothing was sent."""
    bridge = find_bridge()
    raw = argv_payload.encode() if argv_payload is not None else _read_stdin()
    if bridge is None:
        return None  # agentlight is not running: silent, at once
    payload = _payload(raw)
    if payload is None:
        return None
    payload[RESERVED] = {"pid": agent_pid()}
    url, token = bridge
    if agent in HELD_AGENTS and payload.get("hook_event_name") == "PermissionRequest":
        body: list[bytes] = []
        status = post(url, f"/v1/hooks/{agent}", payload, token, started + HOLD_WAIT, body_out=body)
        _print_decision(body[0] if status == 200 and body else b"")
        return status
    return post(url, f"/v1/hooks/{agent}", payload, token, started + TOTAL_LIMIT)


def _print_decision(body: bytes) -> None:
    """A held request's reply on stdout, for the agent: only a decision, never noise."""
    try:
        reply = json.loads(body)
    except (ValueError, RecursionError):
        return
    if isinstance(reply, dict) and isinstance(reply.get("hookSpecificOutput"), dict):
        sys.stdout.write(json.dumps(reply, separators=(",", ":")) + "\n")
        sys.stdout.flush()


def _read_stdin() -> bytes:
    stream = sys.stdin.buffer if sys.stdin is not None else None
    if stream is None or sys.stdin.isatty():
        return b""
    return stream.read(MAX_STDIN)


def _payload(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    for key in HEAVY & data.keys():
        value = data[key]
        if not (isinstance(value, str) and len(value) < _KEEP_BELOW):
            del data[key]
    return data


# -- the agent's process ----------------------------------------------------------------


def agent_pid() -> int:
    """Our parent, or past the shells a hook's command runs under: the agent itself."""
    pid = os.getppid()
    for _ in range(4):
        parent = _proc_parent(pid)
        if parent is None:
            break
        comm, ppid = parent
        if comm not in SHELLS or ppid <= 1:
            break
        pid = ppid
    return pid


def _proc_parent(pid: int) -> tuple[str, int] | None:
    """(name, parent pid) of ``pid`` from ``/proc`` (Linux); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    head, _, rest = stat.rpartition(")")
    comm = head.partition("(")[2]
    fields = rest.split()
    try:
        return comm, int(fields[1])
    except (IndexError, ValueError):
        return None


__all__ = ["HEAVY", "RESERVED", "SHELLS", "agent_pid", "main", "run_argv"]
