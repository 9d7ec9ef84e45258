"""The door for agents' hooks: ``POST /v1/hooks/<agent>`` goes to whoever registered ``agent``.

The API knows no agent. A source that takes hook events (a ``hooks`` source)
registers a handler per agent name with the :class:`HookRoutes` the composition
root gives it; the API hands each request's JSON body to that handler and sends
back what it returns. An agent nobody registered is answered 404.

A handler may take its time (a coding agent can wait for a decision): the API
puts no deadline on it beyond its own shutdown.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

#: An agent's name in the path: what ``/v1/hooks/<agent>`` accepts.
AGENT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


@dataclass(frozen=True, slots=True)
class HookRequest:
    """One hook event: the agent named in the path, the JSON body, the client's address."""

    agent: str
    payload: Any
    peer: str | None = None


@dataclass(frozen=True, slots=True)
class HookReply:
    """What the API answers: an HTTP status and a JSON body."""

    status: int = 200
    body: Any = field(default_factory=dict)


HookHandler = Callable[[HookRequest], Awaitable[HookReply]]


class HookRoutes:
    """Agent name → handler, changed at run time (a source added or removed on reload)."""

    def __init__(self) -> None:
        self._handlers: dict[str, HookHandler] = {}

    def register(self, agent: str, handler: HookHandler) -> Callable[[], None]:
        """Send ``/v1/hooks/<agent>`` to ``handler``; returns a function that undoes it."""
        if not AGENT_NAME.fullmatch(agent):
            raise ValueError(f"agent: got {agent!r}, expected {AGENT_NAME.pattern}")
        if agent in self._handlers:
            raise ValueError(f"agent {agent!r} already has a hook handler")
        self._handlers[agent] = handler

        def unregister() -> None:
            if self._handlers.get(agent) is handler:
                del self._handlers[agent]

        return unregister

    def get(self, agent: str) -> HookHandler | None:
        return self._handlers.get(agent)

    @property
    def agents(self) -> list[str]:
        return sorted(self._handlers)


__all__ = ["AGENT_NAME", "HookHandler", "HookReply", "HookRequest", "HookRoutes"]
