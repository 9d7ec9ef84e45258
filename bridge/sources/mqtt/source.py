"""MQTT source: mirrors other agentlight bridges that publish to a broker.

It subscribes to ``<prefix>/status`` and ``<prefix>/availability`` (``prefix``
may hold ``+`` wildcards, one per level) and keeps one entry per *origin*, the
topic prefix a message came from. Sessions keep their origin in their source
name, so two bridges' sessions never mix. The source's global state is the most
severe over its origins, a bridge whose availability says ``offline`` counting
as disconnected. Prefixes this process publishes itself are skipped.

Everything on the broker is untrusted: a payload that is too big, not JSON, not
the status form, or from a newer version is refused with one log line per
origin (until it sends a good one again; past :data:`NAMED_REFUSALS` origins at
once, one line for all of them), and the last good status stays.

Bounds (issue 30): at most :data:`MAX_ORIGINS` origins, topic prefixes at most
256 characters; each origin's status is read up to ``max_sessions`` sessions,
and at most four times that many are held over all origins. When either would be
passed, origins are evicted: first those that sent nothing good (junk), then the
least recently heard, so junk published first never locks a real bridge out.
At most ``max_sessions`` are shown; what is dropped (sessions, bridges forgotten)
is said once per episode and counted in the source's detail.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from bridge.net.mqtt import OWN_PREFIXES, Link, LinkState
from bridge.pipeline import bounds
from bridge.pipeline.model import (
    GLOBAL_SEVERITY,
    AgentStatus,
    ConnectionState,
    GlobalState,
    Session,
    Snapshot,
)
from bridge.sources.base import Publish, Source
from bridge.sources.mqtt.options import Options as MqttOptions
from bridge.text.textsafe import clean

if TYPE_CHECKING:
    import aiomqtt

log = logging.getLogger("agentlight.sources.mqtt")

_CONNECTION = {
    LinkState.CONNECTING: ConnectionState.CONNECTING,
    LinkState.CONNECTED: ConnectionState.CONNECTED,
    LinkState.DISCONNECTED: ConnectionState.DISCONNECTED,
    LinkState.AUTH_FAILED: ConnectionState.AUTH_FAILED,
}
#: Origins remembered at most; a broker full of junk topics must not grow us.
MAX_ORIGINS = 256
#: Sessions held over all origins, as a multiple of max_sessions.
HELD = 4
#: Origins whose refusals are each named in the log at once; past this, one line
#: for all (a flood of junk topics is not a log line per topic).
NAMED_REFUSALS = 16


@dataclass
class _Origin:
    status: AgentStatus | None = None
    online: bool | None = None
    # Kinds of refusal already logged; cleared by the next good payload, so a
    # flood of bad ones (even varied) costs a line per kind, not per message.
    refused: set[str] = field(default_factory=set)
    heard: int = 0  # when it last sent anything (a message count)
    held: int = 0  # sessions in its status

    @property
    def junk(self) -> bool:
        """Nothing good heard from it: no status, no availability."""
        return self.status is None and self.online is None


def _shown(text: str, limit: int = 80) -> str:
    """Broker text for a log line: escaped (no terminal control) and cut short."""
    return clean(text, limit)


class MqttSource(Source):
    """Reads other bridges' status from an MQTT broker."""

    TYPE = "mqtt"
    Options = MqttOptions

    def __init__(
        self,
        name: str,
        options: MqttOptions,
        publish: Publish,
        *,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(name, options, publish)
        self.o = options
        self.link = Link(
            name, options, role="sub", on_state=self._link_state, rand=rand, deliver=self._message
        )
        # In the order first heard (so sessions keep their places); `heard` says how recently.
        self._origins: dict[str, _Origin] = {}
        self._held = 0  # sessions in all origins' statuses
        self._messages = 0
        self.refused = 0  # payloads refused, for tests
        self.evicted = 0  # origins evicted to make room, for tests
        # Origins evicted in the episode now biting (said once, counted in the detail);
        # the episode ends when there is room again (fewer origins, sessions held).
        self._evicting = 0
        self._refusing = 0  # origins whose refusal is live (their `refused` is not empty)
        self._long_said = False
        self._overflow = bounds.Overflow(log, name)

    async def run(self) -> None:
        try:
            import aiomqtt  # noqa: F401
        except ImportError:
            from bridge.net.mqtt import INSTALL_HINT

            # Said once and shown; restarting would only repeat it.
            log.error("%s: %s", self.name, INSTALL_HINT)
            self.publish(ConnectionState.DISCONNECTED, None, INSTALL_HINT)
            await asyncio.Event().wait()
        await self.link.run(self._session)

    def _link_state(self, state: LinkState, reason: str) -> None:
        if state is LinkState.CONNECTED:
            self._origins.clear()  # retained messages arrive again on subscribe
            self._held = 0
            self._evicting = 0
            self._refusing = 0
            self._fold()
        else:
            self.publish(_CONNECTION[state], None, reason)

    async def _session(self, client: aiomqtt.Client) -> None:
        qos = self.o.qos
        await client.subscribe(
            [(f"{self.o.prefix}/status", qos), (f"{self.o.prefix}/availability", qos)]
        )
        # Messages are handled as they are read (self._message); this only waits for
        # the link to drop, which ends the iteration with an error.
        async for _ in client.messages:
            pass

    def _message(self, message: aiomqtt.Message) -> None:
        payload = message.payload
        if isinstance(payload, bytes | bytearray):
            self.handle(message.topic.value, bytes(payload))

    # -- messages ---------------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> None:
        """Take one message; public so fuzz tests can drive it without a broker."""
        origin, _, kind = topic.rpartition("/")
        if not origin or origin in OWN_PREFIXES or kind not in ("status", "availability"):
            return
        if len(origin) > bounds.KEY_CHARS:
            self.refused += 1
            if not self._long_said:
                self._long_said = True
                log.warning(
                    "%s: ignoring topics whose prefix is over %d characters",
                    self.name,
                    bounds.KEY_CHARS,
                )
            return
        self._messages += 1
        entry = self._origins.get(origin)
        changed = False
        if entry is None:
            if not payload:
                return  # a retained message being cleared for an origin we never knew
            if len(self._origins) >= MAX_ORIGINS:
                changed = self._evict(1, keep=None, why="bridges")
            entry = self._origins[origin] = _Origin()
        entry.heard = self._messages
        changed |= (
            self._take_status(origin, entry, payload)
            if kind == "status"
            else self._take_availability(origin, entry, payload)
        )
        if entry.junk and (not payload or not entry.refused):
            # Both retained messages cleared (or junk then nothing): forget it.
            self._forget(origin, entry)
            self._room_again()
        if changed:
            self._fold()

    def _evict(self, sessions: int, *, keep: str | None, why: str) -> bool:
        """Make room: drop origins (not ``keep``) until one origin slot is free
        (``sessions`` = 1 with ``keep`` None) or ``sessions`` more can be held.

        Junk goes first, then the least recently heard. True when a shown one went.
        """
        changed = False
        limit = HELD * self.o.max_sessions

        def full() -> bool:
            if keep is None:
                return len(self._origins) >= MAX_ORIGINS
            return self._held + sessions > limit

        while full():
            others = [(o, e) for o, e in self._origins.items() if o != keep]
            if not others:
                return changed
            origin, entry = min(others, key=lambda item: (not item[1].junk, item[1].heard))
            self._forget(origin, entry)
            self.evicted += 1
            changed |= not entry.junk
            self._once_evicted(why)
        return changed

    def _forget(self, origin: str, entry: _Origin) -> None:
        del self._origins[origin]
        self._held -= entry.held
        if entry.refused:
            self._refusing -= 1

    def _once_evicted(self, why: str) -> None:
        self._evicting += 1
        if self._evicting == 1:
            log.warning(
                "%s: too many %s on %s (at most %d bridges, %d sessions held); "
                "forgetting the least recently heard",
                self.name,
                why,
                _shown(self.o.prefix),
                MAX_ORIGINS,
                HELD * self.o.max_sessions,
            )

    def _take_availability(self, origin: str, entry: _Origin, payload: bytes) -> bool:
        if payload == b"online":
            online: bool | None = True
        elif payload == b"offline":
            online = False
        elif not payload:
            online = None
        else:
            return self._refuse(
                origin, entry, "availability", "availability is neither online nor offline"
            )
        if online is False and entry.online is not False:
            log.info("%s: %s went offline", self.name, _shown(origin))
        changed = online != entry.online
        entry.online = online
        return changed

    def _take_status(self, origin: str, entry: _Origin, payload: bytes) -> bool:
        from bridge.pipeline.status_json import status_from_json

        if not payload:
            changed = entry.status is not None
            self._set_status(entry, None)
            return changed
        if len(payload) > self.o.max_payload_bytes:
            return self._refuse(
                origin,
                entry,
                "size",
                f"status over max_payload_bytes ({self.o.max_payload_bytes})",
            )
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError):
            return self._refuse(origin, entry, "json", "status is not JSON")
        try:
            status = status_from_json(data, origin=origin, max_sessions=self.o.max_sessions)
        except (ValueError, TypeError, KeyError, RecursionError) as err:
            return self._refuse(origin, entry, "form", f"status refused: {_shown(str(err), 120)}")
        if entry.refused:
            if self._refusing <= NAMED_REFUSALS:
                log.info("%s: %s sends a valid status again", self.name, _shown(origin))
            entry.refused.clear()
            self._refusing -= 1
        if len(status.sessions) > self.o.max_sessions:
            status = replace(status, sessions=status.sessions[: self.o.max_sessions])
        changed = status != entry.status
        grows = len(status.sessions) - entry.held
        if grows > 0:
            changed |= self._evict(grows, keep=origin, why="sessions")
        self._set_status(entry, status)
        return changed

    def _set_status(self, entry: _Origin, status: AgentStatus | None) -> None:
        held = len(status.sessions) if status is not None else 0
        self._held += held - entry.held
        entry.held = held
        entry.status = status
        self._room_again()

    def _refuse(self, origin: str, entry: _Origin, kind: str, why: str) -> bool:
        self.refused += 1
        if kind not in entry.refused:
            if not entry.refused:
                self._refusing += 1
            entry.refused.add(kind)
            if self._refusing <= NAMED_REFUSALS:
                log.warning(
                    "%s: ignoring a message from %s: %s; keeping its last good status",
                    self.name,
                    _shown(origin),
                    why,
                )
            elif self._refusing == NAMED_REFUSALS + 1:
                log.warning(
                    "%s: more than %d bridges on %s send what cannot be read; "
                    "not naming each until fewer do",
                    self.name,
                    NAMED_REFUSALS,
                    _shown(self.o.prefix),
                )
        return False

    # -- the model ---------------------------------------------------------------

    def _fold(self) -> None:
        states: list[GlobalState] = []
        sessions: list[Session] = []
        offline: list[str] = []
        known = 0
        for origin, entry in self._origins.items():
            if entry.status is None and entry.online is None:
                continue  # only junk so far
            known += 1
            if entry.online is False:
                offline.append(origin)
                states.append(GlobalState.DISCONNECTED)
            elif entry.status is not None:
                states.append(entry.status.state)
                sessions.extend(entry.status.sessions)
        if offline and len(offline) == known:
            who = ", ".join(offline[:3]) + (" …" if len(offline) > 3 else "")
            self.publish(ConnectionState.DISCONNECTED, None, f"{who} offline")
            return
        if not states:
            self.publish(
                ConnectionState.CONNECTED,
                None,
                f"waiting for a bridge on {self.o.prefix}/status",
            )
            return
        state = next((g for g in GLOBAL_SEVERITY if g in states), states[0])
        cap = self.o.max_sessions
        self._overflow.note("sessions", max(0, len(sessions) - cap), cap, "max_sessions")
        shown = tuple(sessions[:cap])
        busy = sum(1 for s in shown if s.state.value not in ("done", "interrupted"))
        snapshot = Snapshot(state, shown, active_sessions=busy)
        parts = [f"{', '.join(offline[:3])}{' …' if len(offline) > 3 else ''} offline"]
        parts = (parts if offline else []) + ([self._overflow.detail()] if self._overflow else [])
        if self._evicting:
            parts.append(f"{self._evicting} bridges forgotten to make room")
        self.publish(ConnectionState.CONNECTED, snapshot, "; ".join(parts) or None)

    def _room_again(self) -> None:
        """End the eviction episode once origins and held sessions are well under their
        caps (three quarters, half: a bridge churning at the cap is one episode, not a
        line per eviction)."""
        if (
            self._evicting
            and len(self._origins) <= MAX_ORIGINS * 3 // 4
            and self._held <= HELD * self.o.max_sessions // 2
        ):
            self._evicting = 0
            log.info("%s: room for every bridge on %s again", self.name, _shown(self.o.prefix))


__all__ = ["MqttSource"]
