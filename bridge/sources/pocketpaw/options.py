"""Config options of the PocketPaw source (kept apart so ``check`` needs no httpx)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bridge.infra.errors import ConfigError
from bridge.infra.secret import Secret, redact_url
from bridge.infra.validate import require_seconds

API_KEY_ENV = "POCKETPAW_STATUS_API_KEY"
TOKEN_ENV = "POCKETPAW_TOKEN"
# A token is a few dozen bytes; a file over this is not one.
_MAX_TOKEN_FILE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Options:
    """``[[sources]]`` keys for ``type = "pocketpaw"``.

    :param url: the server's base URL (``pocketpaw serve`` listens on 8888).
    :param api_key: the status API key, sent as ``X-Status-Key``; falls back to
        the ``POCKETPAW_STATUS_API_KEY`` environment variable.
    :param token: PocketPaw's dashboard token, sent as a Bearer token; needed
        when the bridge is not on the server's machine. Falls back to
        ``POCKETPAW_TOKEN``.
    :param token_file: a file holding the token (a copy of the server's
        ``~/.pocketpaw/access_token``); used when ``token`` is not set.
    :param stale_after: seconds without a frame or keepalive before the stream
        counts as dead (the server is quiet for up to ~79 s on a live stream,
        so the bridge checks the snapshot before reconnecting).
    :param poll_interval: seconds between snapshot polls when the stream is
        unavailable.
    :param stream_retry: while polling, seconds between attempts to get the
        stream back.
    :param fallback_after: failed stream attempts in a row before polling.
    :param reconnect_min: first reconnect delay, seconds.
    :param reconnect_max: reconnect delay cap, seconds.
    :param auth_retry: seconds between attempts after a 401/403.
    :param error_ttl: seconds after which the server drops an errored session
        without telling the stream; the bridge re-reads the snapshot then.
    :param connect_timeout: seconds to connect.
    :param request_timeout: seconds for a snapshot request.
    :param max_frame_bytes: largest accepted frame or snapshot body.
    :param events: follow PocketPaw's event bus (``/api/v1/events/stream``) besides
        the status stream, so changes show within milliseconds instead of ~1 s and
        backend failures show at all: ``"auto"`` (on when the server is on this
        machine or a dashboard token is set), ``"on"`` or ``"off"``.
    :param max_sessions: most sessions shown from one frame or snapshot; the
        rest are dropped (one log line, the count in the source's detail), so
        a server listing tens of thousands cannot stall the bridge.
    :param answers: devices may answer the agent's questions (the chosen option
        goes to the chat as your message, ``POST /api/v1/chat``) and stop a run
        (``POST /api/v1/chat/stop``, else the chat command ``/kill``), for chats of
        the web dashboard; other channels are answered in their own app.
        Questions are seen on the event bus (``events``).
    :param question_ttl: seconds a question stays on the devices unanswered.
    """

    url: str = "http://127.0.0.1:8888"
    api_key: Secret | None = None
    token: Secret | None = None
    token_file: str | None = None
    stale_after: float = 75.0
    poll_interval: float = 2.0
    stream_retry: float = 60.0
    fallback_after: int = 3
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    auth_retry: float = 60.0
    error_ttl: float = 30.0
    connect_timeout: float = 5.0
    request_timeout: float = 10.0
    max_frame_bytes: int = 2 * 1024 * 1024
    max_sessions: int = 1000
    events: str = "auto"
    answers: bool = True
    question_ttl: float = 1800.0

    def preflight(self) -> list[str]:
        """What ``run`` will fail on, found without the server (``agentlight check``).

        PocketPaw answers another machine only with its dashboard token: none from
        the config, the credential or the environment is a 401 on every request.
        """
        from bridge.infra.credentials import read_credential

        token = (
            self.token
            or self.token_file
            or read_credential("pocketpaw-token")
            or env_secret(TOKEN_ENV)
        )
        if token is None and not is_local(self.url):
            return [
                f"{self.url} is another machine: PocketPaw answers it only with its "
                "dashboard token (401, auth_failed); set token_file to a copy of the server's "
                "~/.pocketpaw/access_token (or token, or POCKETPAW_TOKEN)"
            ]
        return []

    def __post_init__(self) -> None:
        for name in ("api_key", "token"):
            value = getattr(self, name)
            # Code (tests, embedding apps) may pass plain strings; wrap them too.
            if isinstance(value, str):
                value = Secret(value)
            blank = value is None or not value.reveal().strip()
            object.__setattr__(self, name, None if blank else credential(value, name))
        check_url(self.url)
        # What run will read is checked here, so `check` finds the same problems.
        if self.token_file is not None:
            read_token_file(self.token_file)
        if self.api_key is None:
            env_secret(API_KEY_ENV)
        if self.token is None:
            env_secret(TOKEN_ENV)
        require_seconds(
            self, "stale_after", "poll_interval", "stream_retry", "reconnect_min", "reconnect_max",
            "auth_retry", "error_ttl", "connect_timeout", "request_timeout", "question_ttl",
        )  # fmt: skip
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("reconnect_max: expected a value >= reconnect_min")
        if self.fallback_after < 1:
            raise ValueError(f"fallback_after: got {self.fallback_after!r}, expected >= 1")
        if self.events not in ("auto", "on", "off"):
            raise ValueError(f"events: got {self.events!r}, expected \"auto\", \"on\" or \"off\"")
        if isinstance(self.max_sessions, bool) or self.max_sessions < 1:
            raise ValueError(f"max_sessions: got {self.max_sessions!r}, expected a count >= 1")
        if self.max_frame_bytes < 1024:
            raise ValueError(f"max_frame_bytes: got {self.max_frame_bytes!r}, expected >= 1024")


def credential(value: Secret, name: str) -> Secret:
    """Strip a key or token and check it can go in an HTTP header (without echoing it)."""
    text = value.reveal().strip()
    if not text or not all(33 <= ord(ch) <= 126 for ch in text):
        raise ValueError(
            f"{name}: expected printable ASCII without spaces (the value is not shown)"
        )
    return Secret(text)


def env_secret(name: str) -> Secret | None:
    """The credential in environment variable ``name``, checked (never echoed)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return credential(Secret(value), name)
    except ValueError as err:
        raise ConfigError(str(err).partition(": ")[2], file="environment", key=name) from None


def read_token_file(path: str) -> Secret | None:
    """The token in ``path`` (None when the file is empty), checked.

    Errors never repeat the value: users paste the token itself where the
    path should go.
    """
    from bridge.infra.files import FileRefused, read_limited

    file = Path(path).expanduser()
    hidden = "the value is not shown, in case it is a token pasted instead of a path"
    try:
        # Non-blocking and capped: a FIFO or /dev/zero here hung start-up or ate all memory.
        data = read_limited(file, limit=_MAX_TOKEN_FILE, what="that file", show_path=False)
        value = data.decode("utf-8").strip()
    except FileRefused as err:
        raise ValueError(
            f"token_file: {err} holding PocketPaw's dashboard token ({hidden})"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise ValueError(
            f"token_file: cannot read that file ({reason}; {hidden}); expected the path of a "
            "file holding PocketPaw's dashboard token (relative paths start at the config "
            "file's directory)"
        ) from None
    if not value:
        return None
    try:
        return credential(Secret(value), "token_file")
    except ValueError:
        raise ValueError(
            "token_file: the file does not hold a token: expected printable ASCII without "
            "spaces (the contents are not shown)"
        ) from None


def check_url(url: str) -> None:
    """An http(s) URL with a host and a valid port, no credentials or query in it.

    Messages show the URL with userinfo and query values replaced, however
    malformed it is (a password in ``htp://user:pw@host`` is still a password).
    """
    shown = repr(redact_url(url))
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # e.g. an unbalanced [ in the host
        raise ValueError(f"url: got {shown}, expected an http:// or https:// URL") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise ValueError(f"url: got {shown}, expected an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"url: got {shown}; it must not contain user:password@, use api_key and token"
        )
    if parts.query or parts.fragment:
        raise ValueError(
            f"url: got {shown}; it must not contain ?query or #fragment, use api_key and token"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError when out of range
    except ValueError:
        raise ValueError(f"url: got {shown}, the port is not a number from 1 to 65535") from None
    path = parts.path.rstrip("/")
    if path.endswith(("/api/v1/agent/status", "/api/v1/agent/status/stream")):
        base = url[: url.index("/api/v1/agent/status")]
        raise ValueError(
            f"url: got {shown}, a status endpoint; give the server's base URL "
            f"{redact_url(base)!r} (the bridge adds /api/v1/agent/status itself)"
        )


def is_local(url: str) -> bool:
    """Whether ``url`` points at this machine (PocketPaw's "genuine localhost")."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
