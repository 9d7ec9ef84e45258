"""A scripted demo day for the simulator: every global and session state, in a loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bridge.simulator.agent import SimAgent

__all__ = ["DEMO_TOOLS", "reply_to_chat", "run_scenario"]

DEMO_TOOLS = ("bash", "web_search", "read_file", "python")

_WEB = "websocket:demo-web-1"
_DISCORD = "discord:demo-guild-7"
_TELEGRAM = "telegram:demo-chat-42"

Sleep = Callable[[float], Awaitable[None]]


async def reply_to_chat(agent: SimAgent, session_key: str, seconds: float = 2.0) -> None:
    """What the simulated agent does with a chat message (an answer from a device): a
    short run on that chat."""
    agent.agent_start(session_key)
    agent.thinking(session_key)
    await asyncio.sleep(seconds)
    agent.agent_end(session_key)


async def run_scenario(
    agent: SimAgent,
    *,
    speed: float = 1.0,
    loop: bool = True,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Drive ``agent`` through idle → active → degraded → idle, forever unless ``loop=False``.

    Visits every session state (thinking, tool_running, streaming, waiting_for_user,
    error). Pauses are 1.5-4 s divided by ``speed``; the errored session is left for the
    agent's ``error_ttl`` to drop (that wait is real agent time, not scaled), so a cycle
    always ends idle and the next can reuse the same session keys.

    :param sleep: injectable so tests can run a cycle against a fake clock instantly.
    """
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed!r}")

    while True:
        await _one_cycle(agent, speed, sleep)
        if not loop:
            return


async def _one_cycle(agent: SimAgent, speed: float, sleep: Sleep) -> None:
    async def pause(seconds: float) -> None:
        await sleep(seconds / speed)

    await pause(3.0)  # idle

    # One web chat, start to finish.
    agent.agent_start(_WEB, "Fix the flaky deploy script")
    await pause(2.0)
    agent.tool_start(_WEB, "bash")
    await pause(3.0)
    agent.token_usage(_WEB, 1500, 320)
    agent.tool_result(_WEB)
    await pause(1.5)
    agent.tool_start(_WEB, "web_search")
    await pause(2.5)
    agent.tool_result(_WEB)
    agent.token_usage(_WEB, 900, 140)
    await pause(1.5)
    agent.ask_user_question(_WEB, "Deploy the fixed script now?", ["Yes, deploy", "Not yet"])
    await pause(4.0)  # a human takes a while to answer
    agent.thinking(_WEB)
    await pause(2.0)
    agent.agent_end(_WEB)
    await pause(2.0)

    # Two chat channels at once; one of them hits a rate limit.
    agent.agent_start(_DISCORD, "Summarise the release notes")
    await pause(1.5)
    agent.tool_start(_DISCORD, "read_file")
    agent.agent_start(_TELEGRAM)
    await pause(2.0)
    agent.tool_start(_TELEGRAM, "python")
    agent.token_usage(_DISCORD, 2400, 60)
    await pause(2.5)
    agent.tool_result(_DISCORD)
    agent.token_usage(_TELEGRAM, 800, 50)
    await pause(1.5)
    agent.error(_TELEGRAM, "Rate limit exceeded")
    await pause(3.0)
    agent.tool_start(_DISCORD, "bash")
    await pause(2.0)
    agent.tool_result(_DISCORD)
    await pause(1.5)
    agent.agent_end(_DISCORD)

    # Nobody ends the errored run: the tracker drops it error_ttl after the error,
    # silently. Waited in agent time so a fast demo never reuses a key too early.
    elapsed_since_error = (3.0 + 2.0 + 1.5) / speed
    await sleep(max(0.0, agent.error_ttl - elapsed_since_error))
    await pause(1.5)  # idle again
