"""A scripted set of AgP sessions that passes through every status, for demos.

Each round starts fresh session IDs (``research-1``, ``booking-1``, ...): a watcher
stops polling a session once it is final, so a looping demo needs new ones.
``on_session(id, True)`` is called when a top-level session starts and
``on_session(id, False)`` when the round that made it is over, so a demo can list
them in a ``sessions_from`` directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bridge.simulator.agp import SimAgp

OnSession = Callable[[str, bool], None]

# (seconds from the round's start, action); names are suffixed with the round number.
_ROUND: tuple[tuple[float, str, str, str], ...] = (
    # (at, session, what, detail)
    (0.0, "research", "create", ""),
    # Queued behind AgP's concurrency limit for a while: "pending" long enough to see.
    (1.0, "queued", "create", ""),
    (2.0, "research", "status", "running"),
    (4.0, "booking", "create", ""),
    (5.0, "booking", "status", "running"),
    (8.0, "research-web", "spawn", "research"),
    (8.5, "research-pdf", "spawn", "research"),
    (13.0, "research-pdf", "status", "completed"),
    (15.0, "booking", "status", "paused"),
    (19.0, "research-web", "failed", "Page did not load: the site timed out"),
    (21.0, "queued", "status", "running"),
    (23.0, "booking", "status", "running"),
    (26.0, "research", "status", "idle"),
    (29.0, "booking", "status", "completed"),
    (30.0, "queued", "status", "completed"),
    (31.0, "cleanup", "create", ""),
    (32.0, "cleanup", "status", "running"),
    (36.0, "cleanup", "status", "interrupted"),
    (37.0, "nightly", "create", ""),
    (38.0, "nightly", "status", "running"),
    (44.0, "nightly", "timed_out", "Session exceeded its time limit"),
    (48.0, "research", "status", "completed"),
)
ROUND_SECONDS = 56.0
STEP_EVERY = 1.5


async def run_agp_scenario(
    agp: SimAgp,
    *,
    speed: float = 1.0,
    loop: bool = True,
    on_session: OnSession | None = None,
) -> None:
    """Play rounds of the scenario (forever with ``loop``) until cancelled."""
    speed = speed if speed > 0 else 1.0
    ticker = asyncio.create_task(_tick_steps(agp, STEP_EVERY / speed))
    try:
        number = 0
        while True:
            number += 1
            started = await _round(agp, number, speed, on_session)
            if not loop:
                return
            for sid in started:
                if on_session is not None:
                    on_session(sid, False)
            # Forget the round, subagents too: a simulator left running stays small.
            for sid in [s for s in agp.sessions if s.endswith(f"-{number}")]:
                agp.remove(sid)
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)


async def _round(agp: SimAgp, number: int, speed: float, on_session: OnSession | None) -> list[str]:
    started: list[str] = []
    clock = 0.0
    for at, name, what, detail in _ROUND:
        await asyncio.sleep((at - clock) / speed)
        clock = at
        sid = f"{name}-{number}"
        if what == "create":
            agp.create(sid, "pending")
            started.append(sid)
            if on_session is not None:
                on_session(sid, True)
        elif what == "spawn":
            agp.create(sid, "running", parent=f"{detail}-{number}")
        elif what == "status":
            agp.set(sid, detail)
        else:  # failed / timed_out, with the error as detail
            agp.set(sid, what, error=detail)
    await asyncio.sleep((ROUND_SECONDS - clock) / speed)
    return started


async def _tick_steps(agp: SimAgp, every: float) -> None:
    """Running sessions take a step (and use some tokens) every ``every`` seconds."""
    while True:
        await asyncio.sleep(every)
        for session in list(agp.sessions.values()):
            if session.status == "running":
                agp.step(session.id)
