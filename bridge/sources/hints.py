"""What to try when the bridge cannot reach its agent: said once, in plain words.

The source's own line says what went wrong ("cannot reach http://…"); a newcomer
also needs to know what to do about it, in that same line: two warnings at once
for one failure read as two failures. :class:`Hints` hands each source its
family's hint (:attr:`bridge.sources.family.SourceFamily.hints`) through
:attr:`bridge.sources.base.Source.advise`, the first time the source is
disconnected or refused, and the source ends its line with it. A source that
logs no line of its own (or never asks) gets the hint as a line of its own when
it publishes that state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bridge.infra.config import Config, SourceConfig
from bridge.pipeline.model import ConnectionState, SourceStatus

log = logging.getLogger("agentlight")

__all__ = ["Hints"]


class Hints:
    """A ``publish`` callback that passes everything on; the hints of ``config``'s sources.

    :param publish: where statuses go on to (the engine); None for none (``status``).
    """

    def __init__(
        self, config: Config, publish: Callable[[SourceStatus], None] | None = None
    ) -> None:
        self._publish = publish
        self._said: set[tuple[str, ConnectionState]] = set()
        self._sources: dict[str, SourceConfig] = {s.name: s for s in config.sources}
        self._built_in = config.file is None or config.file.startswith("<")

    def __call__(self, status: SourceStatus) -> None:
        if self._publish is not None:
            self._publish(status)
        text = self.once(status)
        if text:  # the source did not say it in a line of its own: say what, and the fix
            said = f"{status.detail}; {text}" if status.detail else text
            log.warning("%s: %s", status.name, said)

    def once(self, status: SourceStatus) -> str:
        """The hint for ``status`` the first time its source is in its state, else "".

        A source's :data:`~bridge.sources.base.Advise`: its later episodes' lines say
        what happened alone.
        """
        if status.connection not in (ConnectionState.DISCONNECTED, ConnectionState.AUTH_FAILED):
            return ""
        key = (status.name, status.connection)
        if key in self._said:
            return ""
        text = self.hint(status)
        if text:
            self._said.add(key)
        return text

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
