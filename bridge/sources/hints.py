"""What to try when the bridge cannot reach its agent: said once, in plain words.

The source logs what went wrong ("cannot reach http://…"); a newcomer also needs
to know what to do about it. :class:`Hints` sits between the sources and the
engine and, the first time a source is disconnected or refused, logs one line
naming the likely fixes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bridge.infra.config import Config
from bridge.pipeline.model import ConnectionState, SourceStatus

log = logging.getLogger("agentlight")

__all__ = ["Hints"]


class Hints:
    """A ``publish`` callback that passes everything on and adds hints once per source."""

    def __init__(self, config: Config, publish: Callable[[SourceStatus], None]) -> None:
        self._publish = publish
        self._said: set[tuple[str, ConnectionState]] = set()
        self._urls = {
            s.name: str(getattr(s.options, "url", "")) for s in config.sources
        }
        self._types = {s.name: s.type for s in config.sources}
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
        kind = self._types.get(status.name, "")
        url = self._urls.get(status.name, "")
        if kind != "pocketpaw":
            return ""
        if status.connection is ConnectionState.DISCONNECTED:
            detail = (status.detail or "").lower()
            if detail and "connect" not in detail and "refused" not in detail:
                return ""  # it answers, but wrongly: the source's own line says how
            where = (
                "agentlight run --url http://HOST:8888"
                if self._built_in
                else "the url in your config's [[sources]]"
            )
            return (
                f"no PocketPaw answers at {url}: is it running (`pocketpaw serve`)? "
                f"On another machine: {where}. Without PocketPaw: agentlight demo. "
                "Still trying in the background."
            )
        return (
            f"PocketPaw at {url} refused the bridge: from another machine it needs its "
            "dashboard token (set POCKETPAW_TOKEN, or token_file = a copy of the server's "
            "~/.pocketpaw/access_token); if the server sets POCKETPAW_STATUS_API_KEY, give "
            "the bridge the same key."
        )
