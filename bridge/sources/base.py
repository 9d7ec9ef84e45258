"""The source interface: read status somewhere, publish :class:`SourceStatus`.

A source knows nothing about looks or devices. It calls ``publish`` whenever
its connection state or snapshot changes; the engine folds all sources into
one :class:`~bridge.pipeline.model.AgentStatus`.

Subclasses **must** override :meth:`Source.run` (loop until cancelled, never
raise for a server problem: publish a connection state instead), and set
``TYPE`` and ``Options`` (a frozen dataclass of config keys).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from bridge.pipeline.model import ConnectionState, Snapshot, SourceStatus

if TYPE_CHECKING:
    from bridge.pipeline.answers import Decision
    from bridge.pipeline.inputs import InputEvent

Publish = Callable[[SourceStatus], None]
Advise = Callable[[SourceStatus], str]
"""What to try about a status (disconnected or refused): a sentence, or "" for nothing."""


def _no_advice(status: SourceStatus) -> str:
    return ""


class Source(ABC):
    TYPE: ClassVar[str] = ""
    Options: ClassVar[type[Any]]

    def __init__(self, name: str, options: Any, publish: Publish) -> None:
        self.name = name
        self.options = options
        self._publish_cb = publish
        self._last: SourceStatus | None = None
        #: Set by the composition root (``run``: the family's hint, the first time
        #: per state). The source's own line about an episode carries it, so a
        #: newcomer reads what happened and what to do in one line, not two.
        self.advise: Advise = _no_advice

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @property
    def status(self) -> SourceStatus | None:
        return self._last

    def publish(
        self,
        connection: ConnectionState,
        snapshot: Snapshot | None = None,
        detail: str | None = None,
    ) -> None:
        status = SourceStatus(self.name, connection, snapshot, detail)
        if status != self._last:
            self._last = status
            self._publish_cb(status)

    def advice(self, connection: ConnectionState, detail: str | None) -> str:
        """What to try, to end the log line that says this source is now ``connection``
        because of ``detail``: "; " and the advice, or "" for none."""
        text = self.advise(SourceStatus(self.name, connection, None, detail))
        return f"; {text}" if text else ""

    def warn_unreachable(self, log: logging.Logger, url: str, detail: str) -> None:
        """The one warning of an episode in which the server at ``url`` cannot be
        reached: what happened, then what to try (:meth:`advice`)."""
        advice = self.advice(ConnectionState.DISCONNECTED, detail)
        log.warning("%s: cannot reach %s: %s%s", self.name, url, detail, advice)

    @abstractmethod
    async def run(self) -> None:
        """Read status until cancelled."""

    async def on_input(self, event: InputEvent) -> None:  # noqa: B027 - optional hook
        """A press on a device, for sources that can act on a session (answer, focus).

        ``event.target.session`` names the session the key showed, if any; a
        source ignores events for sessions that are not its own. Default: nothing.
        """

    async def answer(self, decision: Decision) -> str | None:
        """Carry out a choice made on a device for one of this source's sessions.

        The engine calls it for a session whose ``ask`` (or ``stoppable``) this source
        published, once the press passed the rules and the gesture
        (:mod:`bridge.pipeline.answers`): ``decision.action`` is the choice's id
        (``allow``, ``deny``, ``answer:2``, ``dismiss``) or ``stop``, and
        ``decision.ask`` the request as published. Return None once the answer is on
        its way, or why it cannot be (shown on the device; the request is offered
        again). Return quickly: a slow reply is awaited elsewhere, not here. An ask
        id once answered is never published again (the desk answers it once).
        Default: this source cannot answer.
        """
        return "this source cannot answer from a device"
