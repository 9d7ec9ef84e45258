"""The hooks source: coding agents push their events; sessions never stick.

The local API hands each ``POST /v1/hooks/<agent>`` body to :meth:`HooksSource.handle`
(the composition root registers :meth:`HooksSource.hook_handlers` with the API's
routes). The agent's adapter reads it, the :class:`~bridge.sources.hooks.state.Tracker`
applies it, and the new snapshot is published at once: an agent waits for every
hook's reply before it goes on, so nothing here waits for anything.

Between events, :meth:`run` ticks the tracker about once a second while a
session has a process to check or a transcript to watch, and otherwise sleeps
until the next end-of-turn or silence ceiling is due.

A later issue (answering permission requests from a device) will hold a
``PermissionRequest`` here until a device decides: :meth:`handle` is a
coroutine that returns the reply body for that reason, and answers ``{}`` (no
decision: the agent asks in its own terminal) today.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bridge.pipeline.model import ConnectionState, Snapshot
from bridge.sources.base import Publish, Source
from bridge.sources.hooks.adapters import ADAPTERS, Adapted
from bridge.sources.hooks.options import Options as HooksOptions
from bridge.sources.hooks.state import Limits, Tracker
from bridge.text.textsafe import clean

log = logging.getLogger("agentlight.sources.hooks")

#: Distinct "unknown event" and "refused payload" lines logged at most (a
#: misbehaving agent sending a new name every time must not fill the log).
_MAX_LOGGED = 256


class HooksSource(Source):
    """Sessions of coding agents, from their hooks."""

    TYPE = "hooks"
    Options = HooksOptions

    def __init__(
        self,
        name: str,
        options: HooksOptions,
        publish: Publish,
        *,
        clock: Callable[[], float] = time.time,
        alive: Callable[[int], bool] | None = None,
    ) -> None:
        super().__init__(name, options, publish)
        self.o = options
        self._clock = clock
        self.tracker = Tracker(
            name,
            Limits(
                thinking_ceiling=options.thinking_ceiling,
                tool_ceiling=options.tool_ceiling,
                show_done_for=options.show_done_for,
                show_interrupted_for=options.show_interrupted_for,
                max_sessions=options.max_sessions,
                transcripts=options.transcripts,
            ),
            alive=alive,
        )
        self._wake = asyncio.Event()
        self._logged: set[tuple[str, str]] = set()
        #: Per agent: the last event's name and wall time (``agentlight hooks status``).
        self.last_seen: dict[str, tuple[str, float]] = {}
        self.events = 0  # events taken, for tests and benchmarks

    # -- the API's side --------------------------------------------------------------

    def hook_handlers(self) -> dict[str, Callable[[Any], Awaitable[Any]]]:
        """Agent name → what the API calls with a ``HookRequest`` (its ``payload``)."""
        from bridge.api.hooks import HookReply  # only with the API, which needs it anyway

        def handler(agent: str) -> Callable[[Any], Awaitable[Any]]:
            async def on_hook(request: Any) -> Any:
                return HookReply(200, await self.handle(agent, request.payload))

            return on_hook

        return {agent: handler(agent) for agent in self.o.agents}

    async def handle(self, agent: str, payload: Any) -> dict[str, Any]:
        """Take one hook payload from ``agent``; returns the reply body (``{}``)."""
        self.take(agent, payload)
        return {}

    def take(self, agent: str, payload: Any) -> bool:
        """Apply one payload now; True when what is shown changed (published)."""
        adapter = ADAPTERS.get(agent)
        if adapter is None or agent not in self.o.agents:
            self._log_once(agent, "agent", "hooks from an agent this source does not take")
            return False
        adapted: Adapted = adapter(payload)
        if adapted.refused:
            self._log_once(agent, adapted.refused, f"ignoring a payload: {adapted.refused}")
            return False
        if adapted.unknown:
            self._log_once(
                agent, "event:" + adapted.unknown, f"event {adapted.unknown!r} is new to agentlight"
            )
        loop = asyncio.get_running_loop()
        now, wall = loop.time(), self._clock()
        changed = False
        for event in adapted.events:
            self.events += 1
            self.last_seen[agent] = (event.name or event.kind.value, wall)
            changed |= self.tracker.apply(event, now, wall)
        if changed:
            self._publish()
        self._wake.set()  # a new process to check, a transcript to watch, a ceiling moved
        return changed

    def _log_once(self, agent: str, key: str, message: str) -> None:
        if (agent, key) in self._logged or len(self._logged) >= _MAX_LOGGED:
            return
        self._logged.add((agent, key))
        log.warning("%s: %s: %s", self.name, clean(agent, 40), clean(message, 200))

    # -- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        # What every source says first (the bridge showed it before building us).
        self.publish(ConnectionState.CONNECTING)
        self._publish()
        due = loop.time() + self.tracker.next_wake(loop.time())
        while True:
            self._wake.clear()
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for swallows a cancel
                # that comes as the event is set (the bridge could not stop us).
                async with asyncio.timeout(max(0.0, due - loop.time())):
                    await self._wake.wait()
            except TimeoutError:
                if self.tracker.tick(loop.time(), self._clock()):
                    self._publish()
                due = loop.time() + self.tracker.next_wake(loop.time())
            else:
                # An event: maybe something to watch sooner. Never later: a busy
                # agent's stream of events must not starve the checks.
                due = min(due, loop.time() + self.tracker.next_wake(loop.time()))

    def snapshot(self) -> Snapshot:
        snapshot = self.tracker.snapshot()
        machine = self.o.machine
        if machine:
            from dataclasses import replace

            sessions = tuple(
                replace(s, title=f"{machine} · {s.title}" if s.title else machine)
                for s in snapshot.sessions
            )
            snapshot = replace(snapshot, sessions=sessions)
        return snapshot

    def _publish(self) -> None:
        self.publish(ConnectionState.CONNECTED, self.snapshot())


__all__ = ["HooksSource"]
