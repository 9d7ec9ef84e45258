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
        from bridge.infra.secret import redact_text

        # A password pasted into any field may be echoed in the message: never shown.
        message = redact_text(message)
        self.file = file
        self.key = key
        self.detail = message
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class ConfigErrors(ConfigError):
    """Several config errors found in one pass, so a file can be fixed in one go.

    ``str()`` is one error per line; :attr:`errors` lists them.
    """

    def __init__(self, errors: list[ConfigError]) -> None:
        flat: list[ConfigError] = []
        for err in errors:
            flat.extend(err.errors if isinstance(err, ConfigErrors) else [err])
        self.errors: list[ConfigError] = flat
        first = flat[0]
        super().__init__(first.detail, file=first.file, key=first.key)
        self.args = ("\n".join(str(e) for e in flat),)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)

    @staticmethod
    def raise_if(errors: list[ConfigError]) -> None:
        """Raise the one error, or all of them, if there are any."""
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise ConfigErrors(errors)


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


class DriverFault(DriverError):
    """A driver's own code raised something it did not mean to (a bug, not the device).

    The engine logs it once with its traceback and restarts the device with back-off.
    """


class DriverUnavailable(DriverError, ConnectionError):
    """The device is gone (unplugged, busy); the engine reopens it with back-off."""
