"""The demo's tour: every state agentlight can show, each long enough to read.

Unlike :func:`~bridge.simulator.scenario.run_scenario` (the agent alone, for
``simulate``), the tour also drives the server: it stops and restarts it (the
bridge shows *disconnected*, then *connecting*) and refuses the bridge's key
once (*auth failed*), so the bridge's own states are part of the show.

Every step lasts ``seconds / speed`` but never less than :data:`MIN_STEP`, so
``--speed 4`` is quicker without states flashing past unread.

It asks the user twice: a PocketPaw question with options (left open after the
run, as PocketPaw's agent leaves it), and, through ``permission`` (the demo's
Claude Code session), a permission request; a device can answer both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bridge.simulator.agent import SimAgent
from bridge.simulator.server import SimServer

__all__ = [
    "DEMO_KEY",
    "MIN_OUTAGE_STEP",
    "MIN_STEP",
    "OPTIONS",
    "QUESTION",
    "Permission",
    "Tour",
    "error_ttl_for",
    "step_seconds",
]

#: The status key the demo's server asks for and its bridge sends.
DEMO_KEY = "agentlight-demo"
#: No state is shown for less than this many seconds, at any speed.
MIN_STEP = 1.5
#: The bridge's own states take a moment to notice (a reconnect, a retry): longer.
MIN_OUTAGE_STEP = 3.0
#: Seconds (at speed 1) an errored session stays before the server drops it.
ERROR_SECONDS = 5.0

_WEB = "websocket:demo-web-1"
_DISCORD = "discord:demo-guild-7"
_TELEGRAM = "telegram:demo-chat-42"
#: The demo's question and its options (PocketPaw's AskUserQuestion).
QUESTION = "Deploy the fixed script now?"
OPTIONS = ("Yes, deploy", "Not yet")

Sleep = Callable[[float], Awaitable[None]]


class Permission(Protocol):
    """A coding agent's permission request, put up at ``begin`` and over by ``end``."""

    def begin(self) -> None: ...

    async def end(self) -> None: ...


def step_seconds(seconds: float, speed: float, floor: float | None = None) -> float:
    return max(seconds / speed, MIN_STEP if floor is None else floor)


def error_ttl_for(speed: float) -> float:
    """How long the demo server keeps an errored session (the bridge uses the same)."""
    return step_seconds(ERROR_SECONDS, speed)


@dataclass
class Tour:
    """Walks ``agent`` and ``server`` through every state, in a loop.

    :param on_step: called with a short description as each step begins
        (for tests; the demo itself says nothing).
    """

    agent: SimAgent
    server: SimServer
    speed: float = 1.0
    sleep: Sleep = asyncio.sleep
    on_step: Callable[[str], None] | None = None
    permission: Permission | None = None

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be positive, got {self.speed!r}")

    async def run(self, *, loop: bool = True) -> None:
        while True:
            await self.once()
            if not loop:
                return

    async def _step(self, what: str, seconds: float, floor: float | None = None) -> None:
        if self.on_step is not None:
            self.on_step(what)
        await self.sleep(step_seconds(seconds, self.speed, floor))

    async def once(self) -> None:
        a = self.agent
        await self._step("idle", 3.0)

        # One chat, start to finish: thinking, two tools, an answer, a question.
        a.agent_start(_WEB, "Fix the flaky deploy script")
        await self._step("thinking", 3.0)
        a.tool_start(_WEB, "bash")
        await self._step("tool bash", 3.0)
        a.token_usage(_WEB, 1500, 320)
        a.tool_result(_WEB)
        await self._step("streaming", 2.5)
        a.tool_start(_WEB, "web_search")
        await self._step("tool web_search", 2.5)
        a.ask_user_question(_WEB, QUESTION, list(OPTIONS))
        await self._step("waiting_for_user: a question", 4.0)
        # PocketPaw's agent asks, then ends its turn: the question stays open.
        a.agent_end(_WEB)
        await self._step("the question, after the run", 4.0)
        # Answered (from a device, or as if in the dashboard): a new run.
        a.agent_start(_WEB)
        a.thinking(_WEB)
        await self._step("thinking", 2.0)
        a.agent_end(_WEB)
        await self._step("idle", 2.0)

        # A coding agent asks permission for a command.
        if self.permission is not None:
            self.permission.begin()
        await self._step("permission request", 6.0)
        if self.permission is not None:
            await self.permission.end()
        await self._step("after the permission request", 2.0)

        # Two channels at once; one hits a rate limit (degraded), then a state
        # this version does not know.
        a.agent_start(_DISCORD, "Summarise the release notes")
        a.tool_start(_DISCORD, "read_file")
        a.agent_start(_TELEGRAM)
        a.tool_start(_TELEGRAM, "python")
        await self._step("active: read_file + python", 3.0)
        a.error(_TELEGRAM, "Rate limit exceeded")
        # The server drops the errored run ERROR_SECONDS later, without a frame;
        # the bridge re-reads its snapshot then (same error_ttl).
        await self._step("error", ERROR_SECONDS)
        a.set_raw_session(
            {
                "session_key": _DISCORD,
                "session_id": _DISCORD.partition(":")[2],
                "channel": "discord",
                "title": "Summarise the release notes",
                "state": "compacting",  # unknown to this version
                "tool_name": None,
                "duration_seconds": 0.0,
                "token_usage": None,
                "error_message": None,
            }
        )
        await self._step("unknown state", 3.0)
        a.agent_end(_DISCORD)
        a.agent_end(_TELEGRAM)
        await self._step("idle", 2.0)

        # The bridge's own states: the server goes away and comes back...
        await self.server.stop()
        await self._step("server stopped (disconnected)", 4.0, MIN_OUTAGE_STEP)
        await self.server.start()
        await self._step("server back (connecting, idle)", 2.5)
        # ...and refuses the bridge's key once.
        self.server.set_api_key(DEMO_KEY + "-changed")
        await self.server.drop_streams()
        await self._step("key refused (auth_failed)", 4.0, MIN_OUTAGE_STEP)
        self.server.set_api_key(DEMO_KEY)
        await self._step("key accepted again", 2.5)
