"""Sources, registered by config ``type`` and imported only when used.

Adding a source: write ``bridge/sources/<name>.py`` with a :class:`~bridge.sources.base.Source`
subclass (``TYPE``, ``Options`` dataclass, ``run()``), add one row below, and
test it against a real local server.

HTTP sources build on :mod:`bridge.sources.http` (client, status codes, capped
bodies, Retry-After and back-off) and, for SSE, :mod:`bridge.sources.sse`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.pipeline.model import SourceStatus

SOURCES: dict[str, str] = {
    "pocketpaw": "bridge.sources.pocketpaw.source:PocketPawSource",
    "agp": "bridge.sources.agp.source:AgpSource",
    "mqtt": "bridge.sources.mqtt.source:MqttSource",
}


def source_class(type_name: str) -> Any:
    """Import and return the class registered for ``type_name`` (KeyError if none)."""
    module_name, _, attr = SOURCES[type_name].partition(":")
    return getattr(importlib.import_module(module_name), attr)


def source_options(type_name: str) -> Any:
    """The ``Options`` dataclass of a source type, without importing its I/O libraries."""
    package = SOURCES[type_name].partition(":")[0].rpartition(".")[0]
    return importlib.import_module(package + ".options").Options


# The option naming where each source connects: what it says while it starts
# ("connecting to …"). `agentlight run` shows that look before a source's module
# (and its HTTP stack) is imported; the source then publishes the same status.
CONNECTS_TO: dict[str, str] = {
    "pocketpaw": "url",
    "agp": "url",
    "mqtt": "broker",
}


def starting_status(name: str, type_name: str, options: Any) -> SourceStatus:
    """The status source ``name`` publishes first, built without importing it."""
    from bridge.pipeline.model import ConnectionState, SourceStatus

    where = getattr(options, CONNECTS_TO.get(type_name, ""), None)
    detail = f"connecting to {where}" if where else None
    return SourceStatus(name, ConnectionState.CONNECTING, None, detail)
