"""What to try when the bridge cannot reach its agent: said once, in plain words.

The source logs what went wrong ("cannot reach http://…"); a newcomer also needs
to know what to do about it. :class:`Hints` sits between the sources and the
engine and, the first time a source is disconnected or refused, logs the line
its family's hint (:attr:`bridge.sources.family.SourceFamily.hints`) gives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bridge.infra.config import Config, SourceConfig
from bridge.pipeline.model import ConnectionState, SourceStatus

log = logging.getLogger("agentlight")

__all__ = ["Hints"]


class Hints:
    """A ``publish`` callback that passes everything on and adds hints once per source."""

    def __init__(self, config: Config, publish: Callable[[SourceStatus], None]) -> None:
        self._publish = publish
        self._said: set[tuple[str, ConnectionState]] = set()
        self._sources: dict[str, SourceConfig] = {s.name: s for s in config.sources}
        self._built_in = config.file is None or config.file.startswith("<")

    def __call__(self, status: SourceStatus) -> None:
        self._publish(status)
        if status.connection not in (ConnectionState.DISCONNECTED, ConnectionState.AUTH_FAILED):
            return
        key = (status.name, status.connection)
        if key in self._said:
            return
        self._said.add(key)
        text = self.hint(status)
        if text:
            log.warning("%s", text)

    def hint(self, status: SourceStatus) -> str:
        """The hint of the family of the source that published ``status`` ("" for none)."""
        from bridge.sources import family_of

        entry = self._sources.get(status.name)
        if entry is None:
            return ""
        hint = family_of(entry.type).hint_function()
        if hint is None:
            return ""
        return hint(status, entry.options, built_in=self._built_in)
