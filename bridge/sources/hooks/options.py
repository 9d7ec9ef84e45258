"""Config options of the hooks source (kept apart so ``check`` imports no server)."""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Every agent an adapter exists for (the path's ``<agent>``, the sessions' channel).
AGENTS: tuple[str, ...] = ("claude", "codex", "gemini", "cursor", "opencode", "generic")


@dataclass(frozen=True, slots=True)
class Options:
    """``[[sources]]`` keys for ``type = "hooks"``.

    :param agents: the agents whose hooks this source takes (default: all of them).
    :param thinking_ceiling: seconds a session may think with no news before it is
        shown as stale. 5 minutes: a model's answer, even a long one, streams in
        well under that, and an Esc before the model's first byte leaves no trace
        at all, so this is how long such a session can look busy.
    :param tool_ceiling: the same for a running tool. 10 minutes: test suites
        and builds run long, and a tool's hook fires only when it ends.
    :param show_done_for: seconds a finished turn shows "done" before the
        session rests (not shown until its next prompt).
    :param show_interrupted_for: the same for an interrupted turn.
    :param transcripts: watch working sessions' transcripts for interrupts
        (one ``stat`` per session per second).
    :param machine: a name put before every session's title, for several
        machines feeding one light (e.g. the host name).
    :param max_sessions: most sessions remembered at once (resting ones included).
    :param answers: hold Claude Code's permission requests for a device to answer
        (Allow, Always, Deny); its own dialog stays usable meanwhile. False answers
        every request at once with no decision.
    :param hold_for: seconds a permission request is held at most; then it is let
        go with no decision. Keep it under the hook's ``timeout`` (``agentlight hooks
        install claude`` sets 600 for PermissionRequest).
    """

    agents: tuple[str, ...] = AGENTS
    thinking_ceiling: float = 300.0
    tool_ceiling: float = 600.0
    show_done_for: float = 10.0
    show_interrupted_for: float = 10.0
    transcripts: bool = True
    machine: str | None = None
    max_sessions: int = 200
    answers: bool = True
    hold_for: float = 570.0

    def __post_init__(self) -> None:
        unknown = [a for a in self.agents if a not in AGENTS]
        if unknown or not self.agents:
            raise ValueError(
                f"agents: got {list(self.agents)!r}, expected some of {', '.join(AGENTS)}"
            )
        for key in ("thinking_ceiling", "tool_ceiling", "show_done_for", "show_interrupted_for"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{key}: got {value!r}, expected seconds")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{key}: got {value!r}, expected seconds >= 0")
        for key in ("thinking_ceiling", "tool_ceiling"):
            if getattr(self, key) < 5:
                raise ValueError(f"{key}: got {getattr(self, key)!r}, expected at least 5 s")
        if self.machine is not None and not (0 < len(self.machine) <= 40):
            raise ValueError(f"machine: got {self.machine!r}, expected 1 to 40 characters")
        if isinstance(self.hold_for, bool) or not 1 <= self.hold_for <= 3600:
            raise ValueError(f"hold_for: got {self.hold_for!r}, expected 1 to 3600 seconds")
        if not 1 <= self.max_sessions <= 10_000:
            raise ValueError(f"max_sessions: got {self.max_sessions!r}, expected 1 to 10000")
