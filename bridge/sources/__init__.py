"""Sources, registered by config ``type`` and imported only when used.

Adding a source: write ``bridge/sources/<name>.py`` with a :class:`~bridge.sources.base.Source`
subclass (``TYPE``, ``Options`` dataclass, ``run()``), add one row below, and
test it against a real local server.

HTTP sources build on :mod:`bridge.sources.http` (client, status codes, capped
bodies, Retry-After and back-off) and, for SSE, :mod:`bridge.sources.sse`.
"""

from __future__ import annotations

import importlib
from typing import Any

SOURCES: dict[str, str] = {
    "pocketpaw": "bridge.sources.pocketpaw:PocketPawSource",
    "agp": "bridge.sources.agp:AgpSource",
    "mqtt": "bridge.sources.mqtt:MqttSource",
}


def source_class(type_name: str) -> Any:
    """Import and return the class registered for ``type_name`` (KeyError if none)."""
    module_name, _, attr = SOURCES[type_name].partition(":")
    return getattr(importlib.import_module(module_name), attr)


def source_options(type_name: str) -> Any:
    """The ``Options`` dataclass of a source type, without importing its I/O libraries."""
    module_name = SOURCES[type_name].partition(":")[0]
    return importlib.import_module(module_name + "_options").Options
