"""One MQTT connection kept up: options, TLS, credentials, connect and reconnect.

Shared by the ``mqtt`` device (which publishes) and the ``mqtt`` source (which
subscribes). aiomqtt does not reconnect by itself, so :class:`Link` does: it
connects, hands the connected client to a session coroutine, and when the
connection drops (or never comes up) says so once and tries again with
back-off. aiomqtt is imported only when a link runs, so ``agentlight check``
and ``--help`` never load it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.infra.backoff import Backoff
from bridge.infra.secret import Secret
from bridge.infra.validate import require_seconds

if TYPE_CHECKING:
    import ssl

    import aiomqtt

log = logging.getLogger("agentlight.mqtt")

PASSWORD_ENV = "AGENTLIGHT_MQTT_PASSWORD"
#: The systemd credential (``LoadCredential=mqtt_password:...``) read when no
#: password is configured.
PASSWORD_CREDENTIAL = "mqtt_password"
INSTALL_HINT = "the mqtt extra is not installed: pip install 'agentlight[mqtt]'"
# A connection that lived this long was healthy: the next failure starts the
# back-off again from the bottom.
_HEALTHY = 5.0

#: Prefixes the ``mqtt`` devices of this process publish under. The ``mqtt``
#: source skips them, so a bridge never reads back what it published itself.
OWN_PREFIXES: set[str] = set()


def short_hostname() -> str:
    """This machine's name without its domain, safe as one MQTT topic level."""
    name = socket.gethostname().split(".")[0].strip() or "localhost"
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


@dataclass(frozen=True, slots=True)
class LinkOptions:
    """Connection keys shared by the ``mqtt`` device and source.

    :param host: the broker's host name or address.
    :param port: the broker's port; default 1883, or 8883 with TLS.
    :param username: the user name, if the broker asks for one.
    :param password: the password; falls back to the systemd credential
        ``mqtt_password``, then the ``AGENTLIGHT_MQTT_PASSWORD`` variable
        (:mod:`bridge.infra.credentials`). Never logged.
    :param tls: connect with TLS (implied by any ``tls_*`` file).
    :param tls_ca: a CA bundle to trust instead of the system's.
    :param tls_cert: a client certificate (PEM), for brokers that ask for one.
    :param tls_key: the client certificate's key (PEM).
    :param tls_insecure: skip the host name check (a self-signed broker reached
        by address). The certificate chain is still checked.
    :param client_id: the MQTT client id; default ``agentlight-<role>-<host>-<pid>``.
    :param qos: MQTT quality of service, 0, 1 or 2.
    :param keepalive: seconds between keepalive pings; the broker declares a
        silent client gone after 1.5 times this.
    :param connect_timeout: seconds to connect (and for one acknowledged publish).
    :param reconnect_min: first reconnect delay, seconds.
    :param reconnect_max: reconnect delay cap, seconds.
    """

    host: str = "localhost"
    port: int | None = None
    username: str | None = None
    password: Secret | None = None
    tls: bool = False
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_insecure: bool = False
    client_id: str | None = None
    qos: int = 1
    keepalive: int = 30
    connect_timeout: float = 5.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.password, str):  # code may pass a plain string
            object.__setattr__(self, "password", Secret(self.password))
        if self.password is not None and not self.password.reveal():
            object.__setattr__(self, "password", None)
        host = self.host.strip()
        if not host or any(ch.isspace() or ch in "/?#@" for ch in host):
            raise ValueError(
                f"host: got {self.host!r}, expected a host name or address (no scheme or path)"
            )
        object.__setattr__(self, "host", host)
        if self.port is not None and not 1 <= self.port <= 65535:
            raise ValueError(f"port: got {self.port!r}, expected 1 to 65535")
        if self.password is not None and not self.username:
            raise ValueError("password: set username too (MQTT sends no password alone)")
        for name in ("tls_ca", "tls_cert", "tls_key"):
            path = getattr(self, name)
            if path is None:
                continue
            object.__setattr__(self, "tls", True)
            full = Path(path).expanduser()
            if not full.is_file() or not os.access(full, os.R_OK):
                raise ValueError(f"{name}: cannot read {path!r}; expected a PEM file")
        if self.tls_key is not None and self.tls_cert is None:
            raise ValueError("tls_key: set tls_cert too (the key belongs to a certificate)")
        if self.client_id is not None and not 1 <= len(self.client_id) <= 128:
            raise ValueError("client_id: expected 1 to 128 characters")
        if self.qos not in (0, 1, 2):
            raise ValueError(f"qos: got {self.qos!r}, expected 0, 1 or 2")
        if not 5 <= self.keepalive <= 3600:
            raise ValueError(f"keepalive: got {self.keepalive!r}, expected 5 to 3600 seconds")
        require_seconds(self, "connect_timeout", "reconnect_min", "reconnect_max")
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("reconnect_max: expected a value >= reconnect_min")

    @property
    def broker(self) -> str:
        """``host:port`` for messages (never credentials)."""
        return f"{self.host}:{self.effective_port}"

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 8883 if self.tls else 1883


def check_topic_prefix(prefix: str, *, key: str = "prefix", wildcards: bool = False) -> str:
    """A topic prefix to put ``/status`` after: no empty levels, ``+`` only if allowed."""
    text = prefix.strip()
    if not text or text.startswith("/") or text.endswith("/") or "//" in text:
        raise ValueError(f"{key}: got {prefix!r}, expected levels like 'agentlight/desk'")
    if text.startswith("$"):
        raise ValueError(f"{key}: got {prefix!r}; topics starting with $ belong to the broker")
    if "\x00" in text or len(text.encode()) > 1024:
        raise ValueError(f"{key}: got an unusable topic (NUL or over 1024 bytes)")
    for level in text.split("/"):
        if "#" in level:
            raise ValueError(f"{key}: '#' cannot come before /status; use '+' for one level")
        if "+" in level and (level != "+" or not wildcards):
            raise ValueError(
                f"{key}: got {prefix!r}; '+' is not allowed here"
                if not wildcards
                else f"{key}: got {prefix!r}; '+' must be a whole level, like 'agentlight/+'"
            )
    return text


def resolve_password(options: LinkOptions) -> Secret | None:
    """The configured password, else the systemd credential, else the environment.

    Raises :class:`~bridge.infra.errors.ConfigError` (naming the credential, never its
    value) when the credential exists but cannot be read.
    """
    from bridge.infra.credentials import resolve_secret

    return resolve_secret(options.password, PASSWORD_ENV, PASSWORD_CREDENTIAL)


def tls_context(options: LinkOptions) -> ssl.SSLContext | None:
    """The TLS context for ``options`` (None without TLS). Reads the PEM files."""
    if not options.tls:
        return None
    import ssl  # only with TLS: it costs start-up time on a Pi Zero

    cafile = str(Path(options.tls_ca).expanduser()) if options.tls_ca else None
    context = ssl.create_default_context(cafile=cafile)
    if options.tls_cert is not None:
        context.load_cert_chain(
            str(Path(options.tls_cert).expanduser()),
            str(Path(options.tls_key).expanduser()) if options.tls_key else None,
        )
    if options.tls_insecure:
        context.check_hostname = False
    return context


_LINKS = itertools.count(1)


def default_client_id(role: str) -> str:
    # Unique per link: a broker drops the older of two clients with one id, and
    # two links in one process would knock each other off in a loop.
    return f"agentlight-{role}-{short_hostname()}-{os.getpid()}-{next(_LINKS)}"


class LinkState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    AUTH_FAILED = "auth_failed"


# CONNACK codes that mean "your credentials": 4/5 in MQTT 3.1.1; 134, 135 and
# 140 (bad user name or password, not authorized, bad auth method) in MQTT 5.
_AUTH_CODES = frozenset({4, 5, 134, 135, 140})


def describe_failure(
    err: BaseException, options: LinkOptions, *, lost: bool = False
) -> tuple[LinkState, str]:
    """What a failed or lost connection means, in one line naming the fix."""
    import ssl

    from aiomqtt.exceptions import MqttConnectError

    if isinstance(err, MqttConnectError):
        rc = getattr(err.rc, "value", err.rc)
        if rc in _AUTH_CODES:
            who = f"user {options.username!r}" if options.username else "anonymous clients"
            return (
                LinkState.AUTH_FAILED,
                f"broker {options.broker} refused {who}; check username and password",
            )
        return LinkState.DISCONNECTED, f"broker {options.broker} refused the connection: {err}"
    # aiomqtt wraps a lost connection ("Disconnected during message iteration");
    # the cause says what happened.
    cause = err.__cause__ if isinstance(err.__cause__, Exception) else err
    text = str(cause) or type(cause).__name__
    # aiomqtt turns a failed handshake into MqttError(str(SSLError)), cause dropped.
    if isinstance(cause, ssl.SSLError) or text.startswith("[SSL"):
        reason = re.sub(r"^\[SSL[^\]]*\]\s*|\s*\(_ssl\.c:\d+\)$", "", text) or "handshake failed"
        return (
            LinkState.DISCONNECTED,
            f"TLS to {options.broker} failed ({reason}); check tls_ca, or tls_insecure "
            "for a certificate that does not name this host",
        )
    if isinstance(err, TimeoutError) or "timed out" in text.lower():
        text = "timed out"
    if lost:
        return (
            LinkState.DISCONNECTED,
            f"lost the connection to broker {options.broker} ({text})",
        )
    return (
        LinkState.DISCONNECTED,
        f"broker {options.broker} unreachable ({text}); is Mosquitto running there?",
    )


Session = Callable[["aiomqtt.Client"], Awaitable[None]]
OnState = Callable[[LinkState, str], None]
Deliver = Callable[["aiomqtt.Message"], None]


def _direct_queue(deliver: Deliver) -> type[asyncio.Queue[Any]]:
    """A "queue" for aiomqtt that hands each message to ``deliver`` as it is read.

    aiomqtt queues every message it reads, without limit, until ``client.messages``
    takes it: a broker pushing 256 retained 1 MiB statuses at subscribe time filled
    memory faster than they were parsed (105 MB). Handled as read instead, one message
    is held at a time, and the socket is read no faster than messages are handled (the
    broker and the kernel hold the rest: back-pressure). ``deliver`` runs in the
    socket's reader callback, on the loop, so each message is one bounded step.
    """

    class Direct(asyncio.Queue[Any]):
        def put_nowait(self, item: Any) -> None:
            try:
                deliver(item)
            except Exception:  # never break paho's read loop (it would drop the link)
                log.exception("unexpected error handling an MQTT message")

    return Direct


class Link:
    """Keeps one MQTT connection up and runs ``session(client)`` while it is.

    :param name: the device or source name, for log lines.
    :param role: ``pub`` or ``sub``; part of the default client id.
    :param will: (topic, payload) the broker publishes, retained, if we vanish.
    :param on_state: told every change of the link's state, with a one-line reason.
    :param deliver: called with each message as it is read (see :func:`_direct_queue`);
        then ``client.messages`` yields nothing and only ends when the link drops.
    """

    def __init__(
        self,
        name: str,
        options: LinkOptions,
        *,
        role: str,
        on_state: OnState,
        will: tuple[str, str] | None = None,
        rand: Callable[[], float] = random.random,
        deliver: Deliver | None = None,
    ) -> None:
        self.name = name
        self._deliver = deliver
        self.options = options
        self.client_id = options.client_id or default_client_id(role)
        # Read once, when the bridge is built: an unreadable credential is a
        # config error said before anything starts, not a failure per attempt.
        self._password = resolve_password(options)
        self.will = will
        self._on_state = on_state
        self._backoff = Backoff(options.reconnect_min, options.reconnect_max, rand=rand)
        self._failing: str | None = None  # the reason last logged, this episode
        self._warned: LinkState | None = None  # the state this episode's warning said
        self._dropped = False  # a connection was lost this episode
        self._said_back = False
        self.state = LinkState.CONNECTING
        self.connects = 0  # successful connections, for tests and benchmarks

    def client(self) -> aiomqtt.Client:
        """A new, unconnected aiomqtt client for these options."""
        import aiomqtt

        opts = self.options
        password = self._password
        will = (
            aiomqtt.Will(self.will[0], self.will[1], qos=opts.qos, retain=True)
            if self.will is not None
            else None
        )
        return aiomqtt.Client(
            opts.host,
            opts.effective_port,
            username=opts.username,
            password=password.reveal() if password is not None else None,
            identifier=self.client_id,
            will=will,
            keepalive=opts.keepalive,
            timeout=opts.connect_timeout,
            tls_context=tls_context(opts),
            queue_type=_direct_queue(self._deliver) if self._deliver is not None else None,
            # paho's own lines (CONNECT packets; an ERROR for every connection reset by
            # a broker restarting) are debug: the link says one warning per episode.
            logger=paho_logger(),
        )

    async def run(self, session: Session) -> None:
        """Connect, run ``session``, reconnect with back-off; returns when ``session`` does."""
        import ssl

        import aiomqtt

        self._set(LinkState.CONNECTING, f"connecting to {self.options.broker}")
        while True:
            started: float | None = None
            try:
                client = self.client()
                async with client:
                    started = time.monotonic()
                    self.connects += 1
                    if self._failing is not None and not self._said_back:
                        log.info("%s: connected to %s again", self.name, self.options.broker)
                        self._said_back = True
                    else:
                        log.debug("%s: connected to %s", self.name, self.options.broker)
                    self._set(LinkState.CONNECTED, f"connected to {self.options.broker}")
                    await session(client)
                    return
            except (aiomqtt.MqttError, OSError, ssl.SSLError, TimeoutError) as err:
                state, reason = describe_failure(err, self.options, lost=started is not None)
            if started is not None and time.monotonic() - started >= _HEALTHY:
                # A healthy connection ended: a new episode, said out loud again.
                self._backoff.reset()
                self._failing = None
                self._warned = None
                self._dropped = False
            self._said_back = False
            delay = self._backoff.next()
            if state is LinkState.AUTH_FAILED:
                # Retrying fast will not fix a password; don't hammer the broker.
                delay = max(delay, self.options.reconnect_max)
            # One warning per episode (and per kind: a refused password is news). A
            # first lost connection may be a blip (info): if the broker stays away,
            # the next try's line is the warning, and it names the fix ("is Mosquitto
            # running there?"); a second loss (a flapping link) is the warning itself.
            first_drop = started is not None and not self._dropped
            self._dropped |= started is not None
            if state is not self._warned and not first_drop:
                level, self._warned = logging.WARNING, state
            elif reason != self._failing:
                level = logging.INFO
            else:
                level = logging.DEBUG
            if level > logging.DEBUG:
                log.log(level, "%s: %s; retrying in %.1f s", self.name, reason, delay)
            else:
                log.debug("%s: still failing (%s); retrying in %.1f s", self.name, reason, delay)
            self._failing = reason
            self._set(state, reason)
            # The failure stays the state until a connection comes up: a light
            # that flips to "connecting" at every attempt says nothing new.
            await asyncio.sleep(delay)

    def _set(self, state: LinkState, reason: str) -> None:
        self.state = state
        self._on_state(state, reason)


class _AsDebug(logging.Filter):
    """Every record through it becomes a debug record (kept only when debug is on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger("agentlight.mqtt").isEnabledFor(logging.DEBUG)


def paho_logger() -> logging.Logger:
    """The logger paho writes to, its lines demoted to debug."""
    logger = logging.getLogger("agentlight.mqtt.paho")
    if not any(isinstance(f, _AsDebug) for f in logger.filters):
        logger.addFilter(_AsDebug())
    return logger


def require_aiomqtt() -> Any:
    """Import aiomqtt or raise ImportError naming the extra to install."""
    try:
        import aiomqtt
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    return aiomqtt
