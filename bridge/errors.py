"""One root for every error agentlight raises on purpose.

Leaf errors also subclass a builtin where one fits, so callers that catch
``ValueError`` or ``ConnectionError`` keep working (the gpiozero way).
"""

from __future__ import annotations


class AgentlightError(Exception):
    """Root of every agentlight error."""


class ConfigError(AgentlightError, ValueError):
    """A config or theme file is wrong.

    The message names the file, the key, the bad value and what was expected.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
    ) -> None:
        self.file = file
        self.key = key
        self.detail = message
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class ThemeError(ConfigError):
    """A theme is wrong (a kind of config error)."""


class SourceError(AgentlightError):
    """A source could not read status."""


class SourceUnavailable(SourceError, ConnectionError):
    """The server is not reachable right now; retrying may help."""


class AuthFailed(SourceError, PermissionError):
    """The server refused our credentials; retrying soon will not help."""


class DriverError(AgentlightError):
    """A device driver failed to open, show or close."""


class DriverUnavailable(DriverError, ConnectionError):
    """The device is gone (unplugged, busy); the engine reopens it with back-off."""
