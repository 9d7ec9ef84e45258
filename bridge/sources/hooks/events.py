"""What a coding agent's hook says, in one shape for every agent.

Each agent's adapter (:mod:`bridge.sources.hooks.adapters`) turns one hook
payload into a few :class:`HookEvent` values; the session tracker
(:mod:`bridge.sources.hooks.state`) turns those into the normalized model. An
event says what happened (:class:`Kind`), never how it is shown.

Everything in an event came from another process: strings are cut to a bound
and numbers checked here, once, so nothing downstream has to wonder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bridge.pipeline.model import TokenUsage

#: Bounds on what an event carries (characters): enough for a key, a line of a
#: status bar or a log line, never a payload's whole tool output.
MAX_ID = 128
MAX_NAME = 64
MAX_TEXT = 200
MAX_PATH = 1024
#: The largest token count believed (more is a broken or hostile payload).
MAX_TOKENS = 10**12


class Kind(StrEnum):
    """What a hook event says about its session."""

    #: The session exists (opened, resumed, cleared): nothing is running yet.
    START = "start"
    #: The user handed the agent a prompt: it is thinking.
    PROMPT = "prompt"
    #: The agent works without a tool (a tool just finished, it streams, it retries).
    THINKING = "thinking"
    #: A tool started (``tool``, with the command or path as ``detail``).
    TOOL = "tool"
    #: The agent waits for the user: a permission, a question (``tool``/``detail``).
    WAITING = "waiting"
    #: The turn ended well: done, then the session rests.
    DONE = "done"
    #: The turn ended because the user stopped it: interrupted, then it rests.
    INTERRUPTED = "interrupted"
    #: The agent waits for the next prompt (an idle reminder): it rests.
    USER_TURN = "user_turn"
    #: The turn failed (``error`` says how).
    ERROR = "error"
    #: The session is over: it leaves.
    END = "end"
    #: News that changes no state (a message shown, a batch of tools done,
    #: token counts): it proves the session alive and may carry fields.
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class HookEvent:
    """One thing an agent's hook said about one session.

    :param agent: the adapter that read it (``claude``, ``codex``, …): the channel.
    :param session: the agent's own session id (a subagent: ``<parent>/<id>``).
    :param kind: what happened.
    :param name: the agent's own event name, for logs and ``hooks status``.
    :param parent: for a subagent, the session that started it.
    :param tool: the tool's name.
    :param detail: what the tool does (a command, a path), or a question.
    :param error: the failure's message.
    :param cwd: the project directory (its name titles the session).
    :param prompt: the user's prompt (its first words title the session).
    :param transcript: where the agent writes its transcript.
    :param pid: the agent's process, where ``agentlight hook`` found it.
    :param tokens: token counts, where the payload has them.
    :param label: a title the payload gives outright (``agentlight notify --title``).
    """

    agent: str
    session: str
    kind: Kind
    name: str = ""
    parent: str | None = None
    tool: str | None = None
    detail: str | None = None
    error: str | None = None
    cwd: str | None = None
    prompt: str | None = None
    transcript: str | None = None
    pid: int | None = None
    tokens: TokenUsage | None = None
    label: str | None = None


# -- reading untrusted payloads ---------------------------------------------------


def text(value: Any, limit: int = MAX_TEXT) -> str | None:
    """A string field cut to ``limit`` characters (whitespace runs folded), or None.

    Numbers are accepted as text (ids are sometimes numbers); anything else is None.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    # Look at a bounded prefix only: a 10 MB prompt costs no more than a short one.
    value = " ".join(value[: limit * 4].split())
    if not value:
        return None
    return value if len(value) <= limit else value[: limit - 1] + "…"


def ident(value: Any) -> str | None:
    """A session or agent id: a non-empty string (or number), bounded."""
    return text(value, MAX_ID)


def path(value: Any) -> str | None:
    """A file system path, bounded (longer ones are refused, not cut: a cut path lies)."""
    if not isinstance(value, str) or not value or len(value) > MAX_PATH or "\x00" in value:
        return None
    return value


def count(value: Any) -> int | None:
    """A non-negative whole count, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            return None
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_TOKENS:
        return value
    return None


def pid_of(value: Any) -> int | None:
    """A process id as ``agentlight hook`` adds it (1 and 0 are not an agent's)."""
    n = count(value)
    return n if n is not None and 1 < n < 2**22 else None


def tokens(input_: Any, output: Any, reasoning: Any = 0) -> TokenUsage | None:
    """Token counts when at least input and output are good numbers."""
    i, o, r = count(input_), count(output), count(reasoning)
    if i is None or o is None:
        return None
    return TokenUsage(i, o, r or 0)


def field(payload: dict[str, Any], *names: str) -> Any:
    """The first of ``names`` present in ``payload`` (agents disagree on spelling)."""
    for name in names:
        if name in payload:
            return payload[name]
    return None


__all__ = [
    "MAX_ID",
    "MAX_NAME",
    "MAX_PATH",
    "MAX_TEXT",
    "HookEvent",
    "Kind",
    "count",
    "field",
    "ident",
    "path",
    "pid_of",
    "text",
    "tokens",
]
