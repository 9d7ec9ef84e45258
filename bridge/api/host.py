"""The API for the life of one run: started as the config says, changed on reload, stopped.

The composition root (:mod:`bridge.app`) makes one :class:`ApiHost` when the config
has an ``[api]`` table (or a reload adds one) and calls :meth:`ApiHost.apply` with
each config's table; the HTTP library is imported on the first start. A source
that takes agents' hook events registers its handlers with :attr:`ApiHost.hooks`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bridge.api import discovery
from bridge.api.hooks import HookRoutes
from bridge.api.options import INSTALL_HINT, ApiOptions, resolve_token
from bridge.infra.errors import AgentlightError, ConfigError
from bridge.infra.secret import Secret

if TYPE_CHECKING:
    from bridge.api.server import ApiServer
    from bridge.engine import Engine

log = logging.getLogger("agentlight.api")


class ApiStartError(AgentlightError):
    """The API could not listen (the port is taken, the address is not this machine's)."""


class ApiHost:
    """Keeps the API running as the config says.

    :param hooks: where ``POST /v1/hooks/<agent>`` goes; the composition root may make
        it first and hand it to the sources that take hook events too (default: a new one).
    :param started: when the bridge started (``time.monotonic()``), for ``uptime``.
    :param environ: where to look for the discovery directory (default ``os.environ``).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        hooks: HookRoutes | None = None,
        started: float | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.engine = engine
        self.hooks = HookRoutes() if hooks is None else hooks
        self.options: ApiOptions | None = None
        self.server: ApiServer | None = None
        self._started = time.monotonic() if started is None else started
        self._environ = environ
        # What POST /v1/input needs when no token is configured: made once per run
        # (a reload keeps it), handed out only through the discovery file.
        self._run_token = Secret(secrets.token_urlsafe(32))
        self.discovery_path = discovery.runtime_dir(environ) / discovery.FILE_NAME
        self._wrote = False

    @property
    def url(self) -> str | None:
        return self.server.url if self.server is not None else None

    async def apply(self, options: ApiOptions | None) -> None:
        """Serve as ``options`` says (None: stop). An unchanged table changes nothing.

        :raises ConfigError: no token for a non-loopback address, a bad token or
            the library missing; the running API (if any) is left as it was.
        :raises ApiStartError: the new address cannot be listened on; the old API
            is stopped first only when it holds the same address.
        """
        if options == self.options and (options is None or self.server is not None):
            return
        if options is None:
            await self.close()
            return
        token = resolve_token(options)
        if token is None and not options.loopback:
            raise ConfigError(
                f"listening on {options.listen} (beyond this machine) needs a token: set "
                "token or token_file, the systemd credential agentlight-api-token, or "
                "$AGENTLIGHT_API_TOKEN",
                key="api.token",
            )
        try:
            from bridge.api.server import ApiServer
        except ImportError as err:
            raise ConfigError(f"{INSTALL_HINT} ({err})", key="api") from None
        new = ApiServer(
            self.engine,
            options,
            token=token,
            input_token=token or self._run_token,
            hooks=self.hooks,
            started=self._started,
        )
        old = self.server
        if old is not None and (old.options.host, old.options.port) == (options.host, options.port):
            await self._stop_server()  # the address must be free for the new one
        try:
            await new.start()
        except OSError as err:
            await new.stop()
            raise ApiStartError(
                f"api: cannot listen on {options.listen}: {err.strerror or err}"
                + (" (is another agentlight running?)" if _in_use(err) else "")
            ) from None
        if self.server is not None:
            await self._stop_server()
        self.server, self.options = new, options
        self._write_discovery(token or self._run_token)
        log.info("api: listening on %s", new.url)

    async def close(self) -> None:
        """Stop serving and remove the discovery file."""
        await self._stop_server()
        self.options = None

    async def _stop_server(self) -> None:
        server, self.server = self.server, None
        if self._wrote:
            self._wrote = False
            try:
                discovery.remove(self.discovery_path)
            except OSError as err:
                log.warning("api: cannot remove %s: %s", self.discovery_path, err)
        if server is not None:
            await server.stop()

    def _write_discovery(self, token: Secret) -> None:
        assert self.server is not None
        try:
            discovery.write(self.discovery_path, self.server.url, token)
        except OSError as err:
            # Clients can still be told the URL; the bridge itself is fine.
            log.warning(
                "api: cannot write the discovery file %s (clients will not find the API by "
                "themselves): %s",
                self.discovery_path,
                err,
            )
            return
        self._wrote = True


def _in_use(err: OSError) -> bool:
    import errno

    return err.errno == errno.EADDRINUSE


__all__ = ["ApiHost", "ApiStartError"]
