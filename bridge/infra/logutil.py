"""Logging helpers: say a thing once, not once per frame."""

from __future__ import annotations

import logging


class OnceLog:
    """Logs each distinct message key once (bounded, so hostile input can't grow it)."""

    def __init__(self, logger: logging.Logger, limit: int = 256) -> None:
        self._logger = logger
        self._seen: set[str] = set()
        self._limit = limit

    def warning(self, key: str, msg: str, *args: object) -> None:
        self._log(logging.WARNING, key, msg, *args)

    def info(self, key: str, msg: str, *args: object) -> None:
        self._log(logging.INFO, key, msg, *args)

    def reset(self) -> None:
        """Forget what was said (a new episode, or a test)."""
        self._seen.clear()

    def _log(self, level: int, key: str, msg: str, *args: object) -> None:
        if key in self._seen:
            return
        if len(self._seen) >= self._limit:
            # Full: hostile input with endless new keys must not flood the log.
            self._logger.debug(msg, *args)
            return
        self._seen.add(key)
        self._logger.log(level, msg, *args)
