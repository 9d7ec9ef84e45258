"""The hooks source: coding agents push their events; sessions never stick.

The local API hands each ``POST /v1/hooks/<agent>`` body to :meth:`HooksSource.handle`
(the composition root routes an agent to the running source whose
:meth:`HooksSource.takes_hooks` says yes). The agent's adapter reads it, the
:class:`~bridge.sources.hooks.state.Tracker` applies it, and the new snapshot is
published at once: an agent waits for every hook's reply before it goes on, so
nothing here waits for anything.

Between events, :meth:`run` ticks the tracker about once a second while a
session has a process to check or a transcript to watch, and otherwise sleeps
until the next end-of-turn or silence ceiling is due.

A Claude Code ``PermissionRequest`` is held here until a device decides
(:mod:`bridge.sources.hooks.permissions`): :meth:`handle` returns the hook's
reply then (Allow, Always, Deny), or ``{}`` (no decision: the agent asks in its
own terminal) when it is let go; every other payload is answered ``{}`` at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.infra.local_api import runtime_dir
from bridge.pipeline.bounds import Overflow
from bridge.pipeline.model import ConnectionState, Snapshot
from bridge.sources.base import Publish, Source
from bridge.sources.hooks.adapters import ADAPTERS, Adapted
from bridge.sources.hooks.options import Options as HooksOptions
from bridge.sources.hooks.permissions import Permissions
from bridge.sources.hooks.state import Limits, Tracker
from bridge.text.textsafe import clean

if TYPE_CHECKING:
    from bridge.pipeline.answers import Decision

log = logging.getLogger("agentlight.sources.hooks")

#: Distinct "unknown event" and "refused payload" lines logged at most (a
#: misbehaving agent sending a new name every time must not fill the log).
_MAX_LOGGED = 256
#: ``agentlight hooks status``'s file: agent → [last event, wall time].
SEEN_FILE = "hooks-seen.json"
#: Seconds between writes of it, at most (a busy agent sends many events a second).
SEEN_EVERY = 2.0
#: Permission requests held at once, at most: each holds an agent's hook (and an API
#: connection) open; past this one is answered at once with no decision (the agent
#: asks in its own terminal). Far more dialogs than anyone answers from a device.
MAX_HELD = 32


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
        seen_file: Path | None = None,
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
            machine=options.machine,
        )
        self._wake = asyncio.Event()
        self._logged: set[tuple[str, str]] = set()
        #: Per agent: the last event's name and wall time (``agentlight hooks status``).
        self.last_seen: dict[str, tuple[str, float]] = {}
        self.events = 0  # events taken, for tests and benchmarks
        # `agentlight hooks status` reads it; next to the API's discovery file.
        self.seen_file = seen_file or Path(runtime_dir()) / SEEN_FILE
        # Caps that bite (sessions over max_sessions, requests over MAX_HELD): said
        # once per episode, the count in the source's detail.
        self._overflow = Overflow(log, name)
        self._refused_holds = 0  # requests answered at once while MAX_HELD were held
        self._stopping = False
        self._seen_written = -SEEN_EVERY
        self._seen_due: asyncio.TimerHandle | None = None
        #: Permission requests held for a device to answer.
        self.permissions = Permissions(
            hold_for=options.hold_for,
            enabled=options.answers,
            on_change=self._publish,
            clock=clock,
        )

    # -- the API's side --------------------------------------------------------------

    def takes_hooks(self, agent: str) -> bool:
        """Whether ``POST /v1/hooks/<agent>`` is for this source (the composition root asks)."""
        return agent in self.o.agents

    async def handle(self, agent: str, payload: Any) -> dict[str, Any]:
        """Take one hook payload from ``agent``; returns the reply body: ``{}``, or for
        a held permission request the device's decision (awaited)."""
        self.take(agent, payload)
        adapter = ADAPTERS.get(agent)
        events = adapter(payload).events if adapter is not None else ()
        if not events or agent not in self.o.agents:
            return {}
        session = events[0].session
        self.permissions.observe(agent, session, payload)
        if self.permissions.takes(agent, payload):
            if self.permissions.holding >= MAX_HELD:
                self._refused_holds += 1
                self._publish()  # said once per episode, the count in the detail
                return {}
            return await self.permissions.hold(agent, session, payload)
        if session in self.tracker.sessions:
            # Only for a session shown (so at most max_sessions notices); pruned
            # with it once it goes.
            self.permissions.notice(agent, session, payload)
        return {}

    async def answer(self, decision: Decision) -> str | None:
        """A device's Allow, Always, Deny or dismiss, as the held hook's reply."""
        if decision.ask is None:
            return "coding agents' runs cannot be stopped from a device"
        who = f"{decision.device} {decision.control}"
        return self.permissions.decide(decision.ref.key, decision.ask.id, decision.action, who)

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
        if changed or self.tracker.refusing:
            self._publish()  # also a refused session: its count in the detail
        self._note_seen(loop)
        self._wake.set()  # a new process to check, a transcript to watch, a ceiling moved
        return changed

    def _note_seen(self, loop: asyncio.AbstractEventLoop) -> None:
        """Write what was last seen per agent, at most every SEEN_EVERY seconds."""
        if self._seen_due is not None:
            return
        wait = self._seen_written + SEEN_EVERY - loop.time()
        if wait <= 0:
            self._write_seen(loop)
        else:
            self._seen_due = loop.call_later(wait, self._write_seen, loop)

    def _write_seen(self, loop: asyncio.AbstractEventLoop) -> None:
        self._seen_due = None
        self._seen_written = loop.time()
        data = {agent: [name, round(at, 3)] for agent, (name, at) in self.last_seen.items()}
        path = self.seen_file
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as err:
            self._log_once("*", "seen", f"cannot write {path}: {err}")

    def _log_once(self, agent: str, key: str, message: str) -> None:
        if (agent, key) in self._logged or len(self._logged) >= _MAX_LOGGED:
            return
        self._logged.add((agent, key))
        log.warning("%s: %s: %s", self.name, clean(agent, 40), clean(message, 200))

    # -- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            # Stopping or reloading: no held hook is left to time out. Published no
            # more: each request let go would publish (and the engine remap) again,
            # while the devices are to go dark.
            self._stopping = True
            self.permissions.release_all("agentlight is stopping or reloading")

    async def _run(self) -> None:
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
            if self.permissions.holding or self.permissions.noticing:
                # A dead agent, or an Esc on its dialog (the transcript): let go.
                shown = self.tracker.sessions.items()
                self.permissions.prune({k: t.state for k, t in shown if t.state is not None})
            else:
                # An event: maybe something to watch sooner. Never later: a busy
                # agent's stream of events must not starve the checks.
                due = min(due, loop.time() + self.tracker.next_wake(loop.time()))

    def snapshot(self) -> Snapshot:
        snapshot = self.tracker.snapshot()  # titles name the machine, if set
        if self.permissions.holding or self.permissions.noticing:
            from dataclasses import replace

            sessions = tuple(self.permissions.decorate(s) for s in snapshot.sessions)
            snapshot = replace(snapshot, sessions=sessions)
        return snapshot

    def _publish(self) -> None:
        if self._stopping:
            return
        limit = self.tracker.limits.max_sessions
        self._overflow.note("sessions", self.tracker.refused(), limit, "max_sessions")
        if self.permissions.holding < MAX_HELD:
            self._refused_holds = 0  # room again: the episode is over
        self._overflow.note("permission requests", self._refused_holds, MAX_HELD, "held at once")
        detail = self._overflow.detail() or None
        self.publish(ConnectionState.CONNECTED, self.snapshot(), detail)


__all__ = ["MAX_HELD", "SEEN_FILE", "HooksSource"]
