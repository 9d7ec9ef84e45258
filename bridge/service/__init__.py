"""Running under a service manager: sd_notify, the watchdog, credentials, live reload.

Nothing here is imported unless the bridge runs under systemd (``NOTIFY_SOCKET``
set), a source resolves a secret, or a reload is asked for; importing this
package costs nothing.

- :mod:`bridge.service.notify` — the sd_notify datagram protocol.
- :mod:`bridge.service.supervisor` — READY after the first look, STATUS, WATCHDOG.
- :mod:`bridge.infra.credentials` — secrets from config, systemd credentials or
  the environment (``resolve_secret``), and the world-readable config warning.
- :mod:`bridge.service.reload` — apply a changed config to a running engine.
"""
