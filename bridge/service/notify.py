"""The sd_notify protocol: one datagram of ``KEY=value`` lines to ``$NOTIFY_SOCKET``.

Written here rather than taken from a library: the protocol is a single
``sendto`` on a unix datagram socket (see sd_notify(3)); systemd-python wraps
libsystemd (headers and a compiler on the Pi), and sdnotify is these same few
lines as a dependency. The address is a filesystem path, or ``@name`` for the
abstract namespace. Sending never raises: a service manager that went away must
not take the bridge with it; the first failure is logged, the rest at debug.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger("agentlight.service")

#: Longest STATUS= text sent; ``systemctl status`` shows one line anyway.
STATUS_MAX = 200


class Notifier:
    """Sends sd_notify messages to one socket address (or nowhere when None).

    :param address: ``$NOTIFY_SOCKET``: ``/path`` or ``@abstract``; None disables
        every call (the bridge not run by systemd).
    """

    def __init__(self, address: str | None) -> None:
        self.address = address or None
        self._target = _target(self.address) if self.address else None
        self._sock: socket.socket | None = None
        self._failed = False
        self.sent = 0  # datagrams delivered, for tests and benchmarks

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        return self._target is not None

    def __repr__(self) -> str:
        return f"Notifier({self.address!r})"

    # -- messages -----------------------------------------------------------

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *_status(status))

    def reloading(self, status: str | None = None) -> bool:
        # MONOTONIC_USEC is what Type=notify-reload (systemd >= 253) matches the
        # reload against; older managers ignore the extra field.
        return self.send(
            "RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}", *_status(status)
        )

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *_status(status))

    def status(self, text: str) -> bool:
        return self.send(*_status(text))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    # -- transport ----------------------------------------------------------

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; True if it was delivered."""
        if self._target is None or not assignments:
            return False
        data = "\n".join(assignments).encode("utf-8", "replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(data, self._target)
        except OSError as err:
            self._fail(err)
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _fail(self, err: OSError) -> None:
        if self._failed:
            log.debug("sd_notify to %s failed: %s", self.address, err)
            return
        self._failed = True
        log.warning(
            "cannot notify the service manager at %s: %s; service status and watchdog "
            "pings will be missing (check NOTIFY_SOCKET)",
            self.address,
            err.strerror or err,
        )
        # A fresh socket next time: the manager may have re-created its end.
        with contextlib.suppress(OSError):
            self.close()


def under_service_manager(environ: Mapping[str, str] | None = None) -> bool:
    """True when systemd started us (it sets ``INVOCATION_ID`` for every unit).

    There SIGHUP means "reload" (``systemctl reload``); in a terminal it keeps
    its own meaning, the terminal went away: stop.
    """
    env = os.environ if environ is None else environ
    return bool(env.get("INVOCATION_ID") or env.get("NOTIFY_SOCKET"))


def watchdog_interval(
    environ: Mapping[str, str] | None = None, pid: int | None = None
) -> float | None:
    """Seconds of ``$WATCHDOG_USEC`` meant for this process, or None when unset.

    ``$WATCHDOG_PID``, when set, names the process the watchdog is for; any other
    process (a child that inherited the environment) must not ping it.
    """
    env = os.environ if environ is None else environ
    raw = env.get("WATCHDOG_USEC", "").strip()
    if not raw:
        return None
    owner = env.get("WATCHDOG_PID", "").strip()
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    try:
        usec = int(raw)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: expected a whole number of microseconds", raw)
        return None
    return usec / 1_000_000 if usec > 0 else None


def clean_status(text: str) -> str:
    """One printable line: a newline would start a new assignment in the datagram."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    flat = " ".join(flat.split())
    return flat if len(flat) <= STATUS_MAX else flat[: STATUS_MAX - 1] + "…"


def _status(text: str | None) -> tuple[str, ...]:
    return () if text is None else (f"STATUS={clean_status(text)}",)


def _target(address: str) -> str | bytes | None:
    if address.startswith("@"):
        return b"\0" + address[1:].encode("utf-8")
    if address.startswith("/"):
        return address
    # vsock: and other forms are newer than this code; say so once and stay quiet.
    log.warning("NOTIFY_SOCKET=%r is not a unix socket path; not notifying", address)
    return None
